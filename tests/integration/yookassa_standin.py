"""A real HTTP server on loopback that stands in for the YooKassa API v3 (SPEC §12).

It keeps payments, refunds and saved cards in memory, checks HTTP Basic auth and the
``Idempotence-Key`` header like YooKassa does, serves a confirmation page with Pay and Decline
buttons at each payment's ``confirmation_url``, and posts webhook notifications to the app on
every state change. A test decides how a payment ends (``pay``, ``decline``, ``expire``) and can
inject faults (500s, slow answers, dropped connections, revoked credentials) and forged,
duplicate or out-of-order notifications.

Use it as a context manager::

    with YooKassaStandin(webhook_url=f"{app_url}/billing/yookassa/webhook") as kassa:
        settings = {"PROMPTCORE_YOOKASSA_API_URL": kassa.api_url, ...}
        ...  # the app creates a payment
        kassa.pay(payment_id)  # → succeeded; the webhook has been delivered when this returns

as a pytest fixture (``from tests.integration.yookassa_standin import yookassa``), or as a
script for manual runs::

    python -m tests.integration.yookassa_standin --port 9200 --webhook-url http://127.0.0.1:5000/billing/yookassa/webhook

Money is kept as integer minor units (kopecks) and converted from and to YooKassa's
``"490.00"`` strings; no float is ever involved.
"""

from __future__ import annotations

import argparse
import base64
import copy
import html
import json
import queue
import re
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from tests.integration.loopback_server import LoopbackHandler, LoopbackServer

DEFAULT_SHOP_ID = "123456"
DEFAULT_SECRET_KEY = "test_standin_secret_key"
# An address inside YooKassa's published webhook networks (185.71.76.0/27), for X-Forwarded-For.
YOOKASSA_WEBHOOK_IP = "185.71.76.10"

PAYMENT_EVENTS = ("payment.waiting_for_capture", "payment.succeeded", "payment.canceled")
REFUND_EVENTS = ("refund.succeeded",)

# Who cancels a payment for a given reason (``cancellation_details.party``).
_PARTY = {
    "canceled_by_merchant": "merchant",
    "expired_on_confirmation": "yoo_money",
    "expired_on_capture": "yoo_money",
    "fraud_suspected": "yoo_money",
    "internal_timeout": "yoo_money",
    "permission_revoked": "yoo_money",
    "identification_required": "yoo_money",
    "country_forbidden": "yoo_money",
}  # anything else (insufficient_funds, card_expired, general_decline, ...): payment_network
DECLINE_REASONS = (
    "insufficient_funds",
    "card_expired",
    "general_decline",
    "call_issuer",
    "3d_secure_failed",
    "fraud_suspected",
)
_PAYMENT_MODES = {
    "full_prepayment",
    "partial_prepayment",
    "advance",
    "full_payment",
    "partial_payment",
    "credit",
    "credit_payment",
}
_ERROR_CODES = {
    400: "invalid_request",
    401: "invalid_credentials",
    403: "forbidden",
    404: "not_found",
    429: "too_many_requests",
}
_MONEY = re.compile(r"^(0|[1-9][0-9]*)\.([0-9]{2})$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]{1,3})?$")
_PATH_PAYMENT = re.compile(r"^/v3/payments/([^/]+)$")
_PATH_PAYMENT_ACTION = re.compile(r"^/v3/payments/([^/]+)/(capture|cancel)$")
_PATH_REFUND = re.compile(r"^/v3/refunds/([^/]+)$")
_PATH_CHECKOUT = re.compile(r"^/checkout/([^/]+)$")


# -- money ----------------------------------------------------------------------------------


def parse_money(value: Any) -> int:
    """``"490.00"`` → ``49000``. Only strings with exactly two decimals are money here."""
    if not isinstance(value, str):
        raise ValueError("amount value must be a string like '490.00'")
    m = _MONEY.match(value)
    if m is None:
        raise ValueError("amount value must have exactly two decimals, like '490.00'")
    return int(m.group(1)) * 100 + int(m.group(2))


def format_money(minor: int) -> str:
    """``49000`` → ``"490.00"``."""
    if not isinstance(minor, int) or isinstance(minor, bool):
        raise TypeError("money is integer minor units")
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    return f"{sign}{minor // 100}.{minor % 100:02d}"


def amount_json(minor: int, currency: str = "RUB") -> dict[str, str]:
    return {"value": format_money(minor), "currency": currency}


def new_id(kind: str = "000f") -> str:
    """An id shaped like YooKassa's: ``2d9e1a9c-000f-5000-9000-1b68e7b15f3f``."""
    h = secrets.token_hex(10)
    return f"{h[:8]}-{kind}-5000-{'89ab'[int(h[8], 16) % 4]}000-{h[8:20]}"


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class ApiError(Exception):
    def __init__(self, status: int, description: str, parameter: str | None = None, code: str | None = None):
        super().__init__(description)
        self.status = status
        self.code = code or _ERROR_CODES.get(status, "internal_server_error")
        self.description = description
        self.parameter = parameter

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.description, self.parameter)


def error_body(code: str, description: str, parameter: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "id": new_id("0000"), "code": code, "description": description}
    if parameter is not None:
        body["parameter"] = parameter
    return body


# -- records ----------------------------------------------------------------------------------


@dataclass
class Recorded:
    """One request the stand-in received (API calls and confirmation pages alike)."""

    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw: bytes
    json: Any
    at: float  # time.monotonic() when the request was read
    idempotence_key: str | None
    has_authorization: bool
    status: int | None = None  # what was answered; None while pending or when dropped
    dropped: bool = False

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lower), None)

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/v3/")


@dataclass
class SavedMethod:
    """A card saved for recurring charges (``payment_method_id``)."""

    id: str
    last4: str = "4242"
    first6: str = "424242"
    card_type: str = "Visa"
    expiry_month: str = "12"
    expiry_year: str = "2030"
    outcome: str | None = None  # None: the stand-in's recurring_outcome; else "succeeded"/"pending"/a reason

    @property
    def title(self) -> str:
        return f"Bank card *{self.last4}"

    def to_json(self, saved: bool = True) -> dict[str, Any]:
        return {
            "type": "bank_card",
            "id": self.id,
            "saved": saved,
            "title": self.title,
            "card": {
                "first6": self.first6,
                "last4": self.last4,
                "expiry_month": self.expiry_month,
                "expiry_year": self.expiry_year,
                "card_type": self.card_type,
                "issuer_country": "RU",
            },
        }


@dataclass
class Payment:
    """A payment as the stand-in keeps it; amounts are integer kopecks."""

    id: str
    amount: int
    currency: str
    status: str
    created_at: datetime
    capture: bool
    description: str | None = None
    metadata: dict[str, Any] | None = None
    return_url: str | None = None
    confirmation_url: str | None = None
    save_payment_method: bool = False
    payment_method: SavedMethod | None = None
    method_saved: bool = False
    paid: bool = False
    captured_at: datetime | None = None
    expires_at: datetime | None = None
    cancellation: dict[str, str] | None = None
    refunded: int = 0
    receipt: dict[str, Any] | None = None
    receipt_registration: str | None = None
    recurring: bool = False
    idempotence_key: str | None = None
    request: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)  # the object after each change
    shop_id: str = DEFAULT_SHOP_ID

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "paid": self.paid,
            "amount": amount_json(self.amount, self.currency),
            "created_at": iso(self.created_at),
            "description": self.description,
            "metadata": dict(self.metadata or {}),
            "recipient": {"account_id": self.shop_id, "gateway_id": "100500"},
            "refundable": self.status == "succeeded" and self.refunded < self.amount,
            "test": True,
        }
        if obj["description"] is None:
            del obj["description"]
        if self.confirmation_url is not None and self.status == "pending":
            obj["confirmation"] = {
                "type": "redirect",
                "confirmation_url": self.confirmation_url,
                "return_url": self.return_url,
            }
        if self.payment_method is not None:
            obj["payment_method"] = self.payment_method.to_json(saved=self.method_saved)
        if self.paid:
            obj["authorization_details"] = {
                "rrn": "603668680243",
                "auth_code": "000000",
                "three_d_secure": {"applied": not self.recurring},
            }
        if self.captured_at is not None:
            obj["captured_at"] = iso(self.captured_at)
        if self.expires_at is not None and self.status == "waiting_for_capture":
            obj["expires_at"] = iso(self.expires_at)
        if self.cancellation is not None:
            obj["cancellation_details"] = dict(self.cancellation)
        if self.refunded:
            obj["refunded_amount"] = amount_json(self.refunded, self.currency)
        if self.receipt_registration is not None:
            obj["receipt_registration"] = self.receipt_registration
        return obj


@dataclass
class Refund:
    id: str
    payment_id: str
    amount: int
    currency: str
    status: str
    created_at: datetime
    description: str | None = None
    receipt_registration: str | None = None

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": self.id,
            "payment_id": self.payment_id,
            "status": self.status,
            "created_at": iso(self.created_at),
            "amount": amount_json(self.amount, self.currency),
        }
        if self.description is not None:
            obj["description"] = self.description
        if self.receipt_registration is not None:
            obj["receipt_registration"] = self.receipt_registration
        return obj


@dataclass
class Notification:
    """A webhook the stand-in sent (or would have sent: ``url`` None when no webhook_url)."""

    event: str
    body: Any  # the JSON body (a dict for real notifications; anything for a forged one)
    url: str | None
    headers: dict[str, str]
    data: bytes = b""  # the bytes posted
    status: int | None = None  # the app's answer; None when not sent or the connection failed
    answer: bytes = b""
    error: str | None = None
    attempts: int = 0

    @property
    def object(self) -> dict[str, Any]:
        return (self.body.get("object") if isinstance(self.body, dict) else None) or {}

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class _Fault:
    kind: str  # "fail" | "delay" | "drop"
    status: int = 500
    seconds: float = 0.0
    create_before_failing: bool = False


# -- the server -------------------------------------------------------------------------------


class _Handler(LoopbackHandler):
    timeout = 60

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def _handle(self) -> None:
        standin = self.server.standin
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        try:
            parsed = json.loads(raw) if raw else None
            bad_json = False
        except ValueError:
            parsed, bad_json = None, True
        rec = Recorded(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers=dict(self.headers.items()),
            raw=raw,
            json=parsed,
            at=time.monotonic(),
            idempotence_key=self.headers.get("Idempotence-Key"),
            has_authorization=self.headers.get("Authorization") is not None,
        )
        standin._record(rec)
        if rec.path.startswith("/checkout/"):
            self._checkout(rec)
            return
        fault = standin._take_fault()
        if fault is not None and not fault.create_before_failing and fault.kind in ("fail", "drop"):
            self._fault(rec, fault)
            return
        status, payload, headers = standin._api(rec, bad_json)
        if fault is not None:
            if fault.kind == "delay":
                if standin._stopping.wait(fault.seconds):
                    self.close_connection = True
                    return
            else:
                self._fault(rec, fault)
                return
        self._send_json(rec, status, payload, headers)

    def _fault(self, rec: Recorded, fault: _Fault) -> None:
        if fault.kind == "drop":
            rec.dropped = True
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        code = _ERROR_CODES.get(fault.status, "internal_server_error")
        headers = {"Retry-After": "1"} if fault.status == 429 else {}
        self._send_json(rec, fault.status, error_body(code, f"Stand-in fault: HTTP {fault.status}"), headers)

    # -- the confirmation page ------------------------------------------------------------

    def _checkout(self, rec: Recorded) -> None:
        standin = self.server.standin
        m = _PATH_CHECKOUT.match(rec.path)
        payment = standin.payments.get(m.group(1)) if m else None
        if payment is None:
            self._send_html(rec, 404, "<h1>Payment not found</h1>")
            return
        if self.command == "POST":
            form = parse_qs(rec.raw.decode("utf-8", "replace"))
            action = (form.get("action") or [""])[0]
            if payment.status == "pending":
                if action == "pay":
                    standin.pay(payment.id, wait=standin.webhook_before_redirect)
                elif action == "decline":
                    reason = (form.get("reason") or ["insufficient_funds"])[0] or "insufficient_funds"
                    standin.decline(payment.id, reason, wait=standin.webhook_before_redirect)
            if payment.return_url:
                rec.status = 303
                self.send_response(303)
                self.send_header("Location", payment.return_url)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        elif self.command != "GET":
            self._send_html(rec, 405, "<h1>Method not allowed</h1>")
            return
        self._send_html(rec, 200, standin._checkout_page(payment))

    # -- writing ---------------------------------------------------------------------------

    def _send_json(self, rec: Recorded, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self._send(rec, status, data, {"Content-Type": "application/json;charset=UTF-8", **(headers or {})})

    def _send_html(self, rec: Recorded, status: int, body: str) -> None:
        self._send(rec, status, body.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def _send(self, rec: Recorded, status: int, data: bytes, headers: dict[str, str]) -> None:
        rec.status = status
        try:
            self._send_bytes(status, data, headers)
        except OSError:
            self.close_connection = True  # the client gave up (e.g. its timeout)


class YooKassaStandin(LoopbackServer):
    """The stand-in server.

    - ``shop_id`` / ``secret_key``: the Basic auth credentials it accepts.
    - ``webhook_url``: where notifications go (None: recorded in ``notifications``, not sent).
    - ``webhook_forwarded_for``: when set, each notification carries ``X-Forwarded-For`` with it
      (for an app behind a trusted proxy); ``webhook_headers`` adds any other headers.
    - ``webhook_attempts`` / ``webhook_retry_delay``: redeliveries when the app does not answer 2xx.
    - ``webhook_before_redirect``: the confirmation page redirects only after the webhook.
    - ``require_receipt``: the shop sends 54-FZ receipts through YooKassa; a payment without
      ``receipt`` is refused. ``require_refund_receipt`` does the same for refunds.
    - ``recurring_allowed``: False answers 403 to ``save_payment_method``/``payment_method_id``.
    - ``recurring_outcome``: what a charge of a saved card without confirmation does at once:
      ``"succeeded"``, ``"pending"`` (a test ends it with pay/decline) or a decline reason.
    - ``currencies``: the currencies the shop accepts.
    - ``clock``: returns an aware datetime, for ``created_at`` and friends.
    """

    thread_name = "yookassa-standin"
    request_queue_size = 128

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        shop_id: str = DEFAULT_SHOP_ID,
        secret_key: str = DEFAULT_SECRET_KEY,
        webhook_url: str | None = None,
        webhook_forwarded_for: str | None = None,
        webhook_headers: dict[str, str] | None = None,
        webhook_attempts: int = 1,
        webhook_retry_delay: float = 0.05,
        webhook_timeout: float = 5.0,
        webhook_before_redirect: bool = True,
        require_receipt: bool = False,
        require_refund_receipt: bool = False,
        recurring_allowed: bool = True,
        recurring_outcome: str = "succeeded",
        currencies: tuple[str, ...] = ("RUB",),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(host, port, lock=threading.RLock())
        self.shop_id = shop_id
        self.secret_key = secret_key
        self.webhook_url = webhook_url
        self.webhook_forwarded_for = webhook_forwarded_for
        self.webhook_headers = dict(webhook_headers or {})
        self.webhook_attempts = max(1, webhook_attempts)
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout
        self.webhook_before_redirect = webhook_before_redirect
        self.require_receipt = require_receipt
        self.require_refund_receipt = require_refund_receipt
        self.recurring_allowed = recurring_allowed
        self.recurring_outcome = recurring_outcome
        self.currencies = tuple(currencies)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.credentials_invalid = False

        self.payments: dict[str, Payment] = {}
        self.refunds: dict[str, Refund] = {}
        self.saved_methods: dict[str, SavedMethod] = {}
        self.notifications: list[Notification] = []
        self._received: list[Recorded] = []
        self._idempotency: dict[str, tuple[str, int, Any]] = {}
        self._faults: list[_Fault] = []

        self._outbox: queue.Queue[Notification | None] = queue.Queue()
        self._outbox_pending = 0
        self._outbox_cond = threading.Condition()
        self._sender: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def _handler_class(self) -> type[_Handler]:
        return _Handler

    def start(self) -> Self:
        super().start()
        self._sender = threading.Thread(target=self._send_loop, name=f"yookassa-webhooks:{self.port}", daemon=True)
        self._sender.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._sender is not None:
            self._outbox.put(None)
            self._sender.join(timeout=5)
            self._sender = None
        super().stop()

    # -- where it is ----------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """What the app's YooKassa API base URL should be (instead of https://api.yookassa.ru/v3)."""
        return f"{self.url}/v3"

    @property
    def auth(self) -> tuple[str, str]:
        return (self.shop_id, self.secret_key)

    # -- inspection -----------------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        """Every request received, oldest first (API calls and confirmation pages)."""
        with self._lock:
            return list(self._received)

    def api_requests(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        """API requests, optionally of one method and with ``path`` as a prefix."""
        return [
            r
            for r in self.requests
            if r.is_api and (method is None or r.method == method.upper()) and (path is None or r.path.startswith(path))
        ]

    def idempotence_keys(self, path: str = "/v3/payments") -> list[str | None]:
        """The Idempotence-Key of every POST whose path starts with ``path``, in order."""
        return [r.idempotence_key for r in self.api_requests("POST", path)]

    def payment(self, payment_id: str) -> dict[str, Any]:
        """The payment as YooKassa would answer GET /payments/{id}."""
        with self._lock:
            return self.payments[payment_id].to_json()

    def refund(self, refund_id: str) -> dict[str, Any]:
        with self._lock:
            return self.refunds[refund_id].to_json()

    @property
    def last_payment(self) -> Payment:
        with self._lock:
            return list(self.payments.values())[-1]

    def events(self, name: str | None = None) -> list[Notification]:
        with self._lock:
            return [n for n in self.notifications if name is None or n.event == name]

    def snapshot(self, payment_id: str, status: str) -> dict[str, Any]:
        """The payment object as it was when it had ``status`` (for out-of-order notifications)."""
        with self._lock:
            for obj in self.payments[payment_id].history:
                if obj["status"] == status:
                    return copy.deepcopy(obj)
        raise KeyError(f"payment {payment_id} was never {status}")

    def reset(self) -> None:
        with self._lock:
            self.payments.clear()
            self.refunds.clear()
            self.saved_methods.clear()
            self.notifications.clear()
            self._received.clear()
            self._idempotency.clear()
            self._faults.clear()
            self.credentials_invalid = False

    # -- deciding outcomes ----------------------------------------------------------------

    def pay(
        self,
        payment_id: str,
        *,
        last4: str = "4242",
        card_type: str = "Visa",
        wait: bool = True,
    ) -> dict[str, Any]:
        """The user pays: ``succeeded`` (``waiting_for_capture`` when ``capture`` was false)."""
        with self._lock:
            p = self._pending(payment_id)
            if p.payment_method is None:
                p.payment_method = _card(last4, card_type)
            self._succeed(p)
        if wait:
            self.wait_webhooks()
        return self.payment(payment_id)

    def decline(
        self,
        payment_id: str,
        reason: str = "insufficient_funds",
        *,
        party: str | None = None,
        wait: bool = True,
    ) -> dict[str, Any]:
        """The payment fails: ``canceled`` with ``cancellation_details {party, reason}``."""
        with self._lock:
            p = self._pending(payment_id)
            self._cancel(p, reason, party)
        if wait:
            self.wait_webhooks()
        return self.payment(payment_id)

    def expire(self, payment_id: str, *, wait: bool = True) -> dict[str, Any]:
        """The user never paid (or the shop never captured): canceled by YooKassa."""
        with self._lock:
            p = self.payments[payment_id]
            if p.status == "pending":
                self._cancel(p, "expired_on_confirmation", "yoo_money")
            elif p.status == "waiting_for_capture":
                self._cancel(p, "expired_on_capture", "yoo_money")
            else:
                raise ValueError(f"payment {payment_id} is {p.status}")
        if wait:
            self.wait_webhooks()
        return self.payment(payment_id)

    def add_saved_method(
        self,
        *,
        last4: str = "4242",
        card_type: str = "Visa",
        outcome: str | None = None,
        method_id: str | None = None,
    ) -> str:
        """A card saved earlier, for renewal tests; returns its ``payment_method_id``."""
        method = _card(last4, card_type, method_id)
        method.outcome = outcome
        with self._lock:
            self.saved_methods[method.id] = method
        return method.id

    def set_recurring_outcome(self, outcome: str, method_id: str | None = None) -> None:
        """``"succeeded"``, ``"pending"`` or a decline reason, for every saved card or one."""
        with self._lock:
            if method_id is None:
                self.recurring_outcome = outcome
            else:
                self.saved_methods[method_id].outcome = outcome

    # -- faults ---------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, create_before_failing: bool = False) -> None:
        """The next ``n`` API requests answer ``status``. With ``create_before_failing`` the
        request is carried out first (a POST creates its object under its Idempotence-Key), so
        the answer is lost but a retry with the same key gets the object."""
        with self._lock:
            fault = _Fault("fail", status=status, create_before_failing=create_before_failing)
            self._faults.extend(copy.copy(fault) for _ in range(n))

    def delay_next(self, seconds: float, n: int = 1) -> None:
        """The next ``n`` API requests are carried out at once but answered after ``seconds``."""
        with self._lock:
            self._faults.extend(_Fault("delay", seconds=seconds, create_before_failing=True) for _ in range(n))

    def drop_next(self, n: int = 1, create_before_failing: bool = False) -> None:
        """The next ``n`` API requests get their connection closed without an answer."""
        with self._lock:
            self._faults.extend(_Fault("drop", create_before_failing=create_before_failing) for _ in range(n))

    def set_credentials_invalid(self, invalid: bool = True) -> None:
        """Every API request answers 401 invalid_credentials (a revoked or wrong secret key)."""
        self.credentials_invalid = invalid

    # -- webhooks -------------------------------------------------------------------------

    def wait_webhooks(self, timeout: float = 10.0) -> bool:
        """Wait until every queued notification is delivered (or has failed for good)."""
        deadline = time.monotonic() + timeout
        with self._outbox_cond:
            while self._outbox_pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._outbox_cond.wait(left)
        return True

    def post_notification(
        self,
        event: str,
        object_override: dict[str, Any] | None = None,
        *,
        payment_id: str | None = None,
        refund_id: str | None = None,
        as_of: str | None = None,
        body: Any = None,
        url: str | None = None,
        forwarded_for: str | None = "",
        headers: dict[str, str] | None = None,
    ) -> Notification:
        """Post one notification now and return what the app answered.

        The object is the current payment (or refund) — or its snapshot ``as_of`` a status, for
        out-of-order events — updated with ``object_override`` (a lie, e.g. ``{"status":
        "succeeded"}`` for a pending payment, or a made-up ``id``). ``body`` replaces the whole
        body (anything JSON-able, or bytes). ``forwarded_for`` overrides ``webhook_forwarded_for``
        (None: no X-Forwarded-For header)."""
        obj: dict[str, Any] = {}
        with self._lock:
            if payment_id is not None:
                obj = self.snapshot(payment_id, as_of) if as_of else self.payment(payment_id)
            elif refund_id is not None:
                obj = self.refund(refund_id)
        obj.update(object_override or {})
        payload = body if body is not None else {"type": "notification", "event": event, "object": obj}
        note = self._notification(event, payload, url or self.webhook_url, forwarded_for, headers)
        with self._lock:
            self.notifications.append(note)
        self._deliver(note)
        return note

    def resend(self, note: Notification | None = None) -> Notification:
        """Post a notification again, byte for byte (a duplicate); the last one by default."""
        with self._lock:
            note = note or self.notifications[-1]
            again = Notification(note.event, copy.deepcopy(note.body), note.url, dict(note.headers), note.data)
            self.notifications.append(again)
        self._deliver(again)
        return again

    # -- used by the handler --------------------------------------------------------------

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self._received.append(rec)

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def _api(self, rec: Recorded, bad_json: bool) -> tuple[int, Any, dict[str, str]]:
        try:
            with self._lock:
                return 200, self._route(rec, bad_json), {}
        except ApiError as e:
            return e.status, e.body(), {}
        except Exception as e:  # a bug in the stand-in: say so rather than hang up
            return 500, error_body("internal_server_error", f"Stand-in bug: {e!r}"), {}

    def _route(self, rec: Recorded, bad_json: bool) -> Any:
        if not rec.is_api:
            raise ApiError(404, "Resource not found")
        self._check_auth(rec)
        method, path = rec.method, rec.path.rstrip("/")
        if method == "GET":
            if path == "/v3/payments":
                return self._list(list(self.payments.values()), rec)
            if m := _PATH_PAYMENT.match(path):
                return self._get_payment(m.group(1)).to_json()
            if path == "/v3/refunds":
                return self._list(list(self.refunds.values()), rec)
            if m := _PATH_REFUND.match(path):
                refund = self.refunds.get(m.group(1))
                if refund is None:
                    raise ApiError(404, f"Refund {m.group(1)} not found")
                return refund.to_json()
        if method == "POST":
            handler: Callable[[dict[str, Any]], Any] | None = None
            target = ""
            if path == "/v3/payments":
                handler = self._create_payment
            elif m := _PATH_PAYMENT_ACTION.match(path):
                target = m.group(1)
                handler = self._capture if m.group(2) == "capture" else self._cancel_api
            elif path == "/v3/refunds":
                handler = self._create_refund
            if handler is not None:
                return self._idempotent(rec, bad_json, handler, target)
        known = (
            path in ("/v3/payments", "/v3/refunds")
            or _PATH_PAYMENT.match(path)
            or _PATH_PAYMENT_ACTION.match(path)
            or _PATH_REFUND.match(path)
        )
        if known:
            raise ApiError(405, f"Method {method} is not allowed for {path}", code="method_not_allowed")
        raise ApiError(404, "Resource not found")

    def _check_auth(self, rec: Recorded) -> None:
        header = rec.header("Authorization") or ""
        expected = "Basic " + base64.b64encode(f"{self.shop_id}:{self.secret_key}".encode()).decode()
        if self.credentials_invalid or not secrets.compare_digest(header.encode(), expected.encode()):
            raise ApiError(
                401,
                "Login or password is incorrect. Check the shop id and the secret key",
                "Authorization",
            )

    def _idempotent(
        self,
        rec: Recorded,
        bad_json: bool,
        handler: Callable[..., Any],
        target: str,
    ) -> Any:
        key = rec.idempotence_key
        if not key:
            raise ApiError(400, "Idempotence-Key header is missing", "Idempotence-Key")
        if len(key) > 64:
            raise ApiError(400, "Idempotence-Key is longer than 64 characters", "Idempotence-Key")
        if bad_json:
            raise ApiError(400, "Request body is not valid JSON")
        body = rec.json if rec.json is not None else {}
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object")
        ctype = (rec.header("Content-Type") or "").split(";")[0].strip().lower()
        if rec.raw and ctype != "application/json":
            raise ApiError(415, "Content-Type must be application/json", code="unsupported_media_type")
        fingerprint = rec.path.rstrip("/") + "\n" + json.dumps(body, sort_keys=True, ensure_ascii=False)
        seen = self._idempotency.get(key)
        if seen is not None:
            if seen[0] != fingerprint:
                raise ApiError(400, "Idempotence key duplicated", "Idempotence-Key")
            return copy.deepcopy(seen[2])
        answer = handler(body, target, key) if target else handler(body, key)
        self._idempotency[key] = (fingerprint, 200, copy.deepcopy(answer))
        return answer

    @staticmethod
    def _list(items: list[Any], rec: Recorded) -> dict[str, Any]:
        status = (rec.query.get("status") or [None])[0]
        payment_id = (rec.query.get("payment_id") or [None])[0]
        try:
            limit = int((rec.query.get("limit") or ["10"])[0])
        except ValueError:
            raise ApiError(400, "limit must be an integer", "limit") from None
        chosen = [
            i
            for i in reversed(items)
            if (status is None or i.status == status)
            and (payment_id is None or getattr(i, "payment_id", None) == payment_id)
        ]
        return {"type": "list", "items": [i.to_json() for i in chosen[: max(1, min(limit, 100))]]}

    def _get_payment(self, payment_id: str) -> Payment:
        payment = self.payments.get(payment_id)
        if payment is None:
            raise ApiError(404, f"Payment {payment_id} not found")
        return payment

    # payments

    def _create_payment(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        amount, currency = _money_param(body.get("amount"), "amount", self.currencies)
        capture = body.get("capture", False)
        if not isinstance(capture, bool):
            raise ApiError(400, "capture must be true or false", "capture")
        description = body.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 128):
            raise ApiError(400, "description must be a string of at most 128 characters", "description")
        metadata = _metadata(body.get("metadata"))
        save = body.get("save_payment_method", False)
        if not isinstance(save, bool):
            raise ApiError(400, "save_payment_method must be true or false", "save_payment_method")
        method_id = body.get("payment_method_id")
        if method_id is not None and not isinstance(method_id, str):
            raise ApiError(400, "payment_method_id must be a string", "payment_method_id")
        if (save or method_id) and not self.recurring_allowed:
            raise ApiError(
                403,
                "Recurring payments are not available for this shop",
                "payment_method_id" if method_id else "save_payment_method",
            )
        method: SavedMethod | None = None
        if method_id is not None:
            method = self.saved_methods.get(method_id)
            if method is None:
                raise ApiError(400, "Payment method with this id doesn't exist or is not saved", "payment_method_id")
        confirmation = body.get("confirmation")
        return_url = None
        if confirmation is not None:
            if not isinstance(confirmation, dict):
                raise ApiError(400, "confirmation must be an object", "confirmation")
            if confirmation.get("type") != "redirect":
                raise ApiError(400, "The stand-in supports only confirmation type redirect", "confirmation.type")
            return_url = confirmation.get("return_url")
            if not isinstance(return_url, str) or not return_url or len(return_url) > 2048:
                raise ApiError(400, "return_url is required for confirmation type redirect", "confirmation.return_url")
        elif method is None:
            raise ApiError(400, "confirmation is required for this payment", "confirmation")
        receipt = body.get("receipt")
        if receipt is None and self.require_receipt:
            raise ApiError(400, "Receipt is missing or illegal", "receipt")
        if receipt is not None:
            _check_receipt(receipt, amount, currency)
        now = self.clock()
        p = Payment(
            id=new_id("000f"),
            amount=amount,
            currency=currency,
            status="pending",
            created_at=now,
            capture=capture,
            description=description,
            metadata=metadata,
            return_url=return_url,
            save_payment_method=save,
            payment_method=method,
            method_saved=method is not None,
            receipt=copy.deepcopy(receipt),
            receipt_registration="pending" if receipt is not None else None,
            recurring=method is not None,
            idempotence_key=key,
            request=copy.deepcopy(body),
            shop_id=self.shop_id,
        )
        if return_url is not None:
            p.confirmation_url = f"{self.url}/checkout/{p.id}"
        self.payments[p.id] = p
        p.history.append(p.to_json())
        if method is not None and confirmation is None:
            outcome = method.outcome or self.recurring_outcome
            if outcome == "succeeded":
                self._succeed(p)
            elif outcome != "pending":
                self._cancel(p, outcome, None)
        return p.to_json()

    def _capture(self, body: dict[str, Any], payment_id: str, key: str) -> dict[str, Any]:
        p = self._get_payment(payment_id)
        if p.status != "waiting_for_capture":
            raise ApiError(400, f"Payment is {p.status}; only a payment waiting_for_capture can be captured", "status")
        if "amount" in body:
            amount, currency = _money_param(body.get("amount"), "amount", (p.currency,))
            if amount > p.amount:
                raise ApiError(400, "Capture amount is greater than the payment amount", "amount.value")
            p.amount = amount
        self._capture_now(p)
        return p.to_json()

    def _cancel_api(self, body: dict[str, Any], payment_id: str, key: str) -> dict[str, Any]:
        p = self._get_payment(payment_id)
        if p.status != "waiting_for_capture":
            raise ApiError(400, f"Payment is {p.status}; only a payment waiting_for_capture can be canceled", "status")
        self._cancel(p, "canceled_by_merchant", "merchant")
        return p.to_json()

    # refunds

    def _create_refund(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        payment_id = body.get("payment_id")
        if not isinstance(payment_id, str) or not payment_id:
            raise ApiError(400, "payment_id is required", "payment_id")
        p = self.payments.get(payment_id)
        if p is None:
            raise ApiError(400, f"Payment {payment_id} doesn't exist", "payment_id")
        amount, currency = _money_param(body.get("amount"), "amount", (p.currency,))
        if p.status != "succeeded":
            raise ApiError(400, f"Payment is {p.status}; only a succeeded payment can be refunded", "payment_id")
        if amount > p.amount - p.refunded:
            raise ApiError(
                400,
                f"Refund amount is greater than what is left to refund ({format_money(p.amount - p.refunded)})",
                "amount.value",
            )
        description = body.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 250):
            raise ApiError(400, "description must be a string of at most 250 characters", "description")
        receipt = body.get("receipt")
        if receipt is None and self.require_refund_receipt:
            raise ApiError(400, "Receipt is missing or illegal", "receipt")
        if receipt is not None:
            _check_receipt(receipt, amount, currency)
        refund = Refund(
            id=new_id("0015"),
            payment_id=p.id,
            amount=amount,
            currency=currency,
            status="succeeded",
            created_at=self.clock(),
            description=description,
            receipt_registration="succeeded" if receipt is not None else None,
        )
        self.refunds[refund.id] = refund
        p.refunded += amount
        p.history.append(p.to_json())
        self._emit("refund.succeeded", refund.to_json())
        return refund.to_json()

    # state changes (under the lock)

    def _pending(self, payment_id: str) -> Payment:
        p = self.payments[payment_id]
        if p.status != "pending":
            raise ValueError(f"payment {payment_id} is {p.status}, not pending")
        return p

    def _succeed(self, p: Payment) -> None:
        p.paid = True
        if p.save_payment_method and p.payment_method is not None:
            p.method_saved = True
            self.saved_methods.setdefault(p.payment_method.id, p.payment_method)
        if p.capture:
            self._capture_now(p)
        else:
            p.status = "waiting_for_capture"
            p.expires_at = self.clock() + timedelta(days=7)
            p.history.append(p.to_json())
            self._emit("payment.waiting_for_capture", p.to_json())

    def _capture_now(self, p: Payment) -> None:
        p.status = "succeeded"
        p.captured_at = self.clock()
        if p.receipt_registration == "pending":
            p.receipt_registration = "succeeded"
        p.history.append(p.to_json())
        self._emit("payment.succeeded", p.to_json())

    def _cancel(self, p: Payment, reason: str, party: str | None) -> None:
        p.status = "canceled"
        p.paid = False
        p.cancellation = {"party": party or _PARTY.get(reason, "payment_network"), "reason": reason}
        if p.receipt_registration == "pending":
            p.receipt_registration = "canceled"
        p.history.append(p.to_json())
        self._emit("payment.canceled", p.to_json())

    def _emit(self, event: str, obj: dict[str, Any]) -> None:
        body = {"type": "notification", "event": event, "object": obj}
        note = self._notification(event, body, self.webhook_url, "", None)
        self.notifications.append(note)
        if note.url is not None:
            with self._outbox_cond:
                self._outbox_pending += 1
            self._outbox.put(note)

    # webhook delivery

    def _notification(
        self,
        event: str,
        payload: Any,
        url: str | None,
        forwarded_for: str | None,
        headers: dict[str, str] | None,
    ) -> Notification:
        sent = {"Content-Type": "application/json", **self.webhook_headers}
        source = self.webhook_forwarded_for if forwarded_for == "" else forwarded_for
        if source:
            sent["X-Forwarded-For"] = source
        sent.update(headers or {})
        data = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        return Notification(event, payload, url, sent, data)

    def _send_loop(self) -> None:
        while True:
            note = self._outbox.get()
            if note is None:
                return
            try:
                self._deliver(note)
            finally:
                with self._outbox_cond:
                    self._outbox_pending -= 1
                    self._outbox_cond.notify_all()

    def _deliver(self, note: Notification) -> None:
        if note.url is None:
            return
        for attempt in range(1, self.webhook_attempts + 1):
            note.attempts = attempt
            request = urllib.request.Request(note.url, data=note.data, headers=note.headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.webhook_timeout) as answer:
                    note.status, note.answer, note.error = answer.status, answer.read(), None
            except urllib.error.HTTPError as e:
                note.status, note.answer, note.error = e.code, e.read(), None
            except (OSError, urllib.error.URLError) as e:
                note.status, note.answer, note.error = None, b"", str(e)
            if note.delivered or attempt == self.webhook_attempts or self._stopping.is_set():
                return
            self._stopping.wait(self.webhook_retry_delay)

    # the confirmation page

    def _checkout_page(self, p: Payment) -> str:
        esc = html.escape
        money = f"{format_money(p.amount)} {p.currency}"
        action = f"/checkout/{esc(p.id)}"
        if p.status == "pending":
            options = "".join(f'<option value="{r}">{r}</option>' for r in DECLINE_REASONS)
            controls = (
                f'<form method="post" action="{action}">'
                '<input type="hidden" name="action" value="pay">'
                f'<button type="submit" id="pay" name="pay">Pay {esc(money)}</button></form>'
                f'<form method="post" action="{action}">'
                '<input type="hidden" name="action" value="decline">'
                f'<label>Reason <select name="reason" id="reason">{options}</select></label> '
                '<button type="submit" id="decline" name="decline">Decline</button></form>'
            )
        else:
            back = f'<a id="return" href="{esc(p.return_url)}">Return to the shop</a>' if p.return_url else ""
            controls = f"<p>This payment is already {esc(p.status)}.</p>{back}"
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<title>YooKassa stand-in: payment</title></head><body>"
            f"<h1>Payment of {esc(money)}</h1>"
            f'<p id="description">{esc(p.description or "")}</p>'
            f'<p>Status: <span id="status">{esc(p.status)}</span></p>'
            f"{controls}</body></html>"
        )


# -- request validation -------------------------------------------------------------------------


def _card(last4: str, card_type: str, method_id: str | None = None) -> SavedMethod:
    first6 = {"MasterCard": "555555", "Mir": "220000"}.get(card_type, "424242")
    return SavedMethod(method_id or new_id("000f"), last4=last4, first6=first6, card_type=card_type)


def _money_param(value: Any, name: str, currencies: tuple[str, ...]) -> tuple[int, str]:
    if not isinstance(value, dict):
        raise ApiError(400, f"{name} is required: an object with value and currency", name)
    try:
        minor = parse_money(value.get("value"))
    except ValueError as e:
        raise ApiError(400, str(e), f"{name}.value") from None
    if minor <= 0:
        raise ApiError(400, "amount value must be greater than zero", f"{name}.value")
    currency = value.get("currency")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise ApiError(400, "currency must be an ISO-4217 code like RUB", f"{name}.currency")
    if currency not in currencies:
        raise ApiError(400, f"Currency {currency} is not available for this operation", f"{name}.currency")
    return minor, currency


def _metadata(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError(400, "metadata must be an object", "metadata")
    if len(value) > 16:
        raise ApiError(400, "metadata can have at most 16 keys", "metadata")
    out: dict[str, str] = {}
    for key, item in value.items():
        if len(key) > 32:
            raise ApiError(400, "metadata keys are at most 32 characters", "metadata")
        if isinstance(item, dict | list) or isinstance(item, float):
            raise ApiError(400, "metadata values must be strings (or integers)", "metadata")
        text = "" if item is None else str(item).lower() if isinstance(item, bool) else str(item)
        if len(text) > 512:
            raise ApiError(400, "metadata values are at most 512 characters", "metadata")
        out[key] = text  # YooKassa gives metadata back as strings
    return out


def _check_receipt(receipt: Any, amount: int, currency: str) -> None:
    if not isinstance(receipt, dict):
        raise ApiError(400, "Receipt is missing or illegal", "receipt")
    customer = receipt.get("customer")
    if not isinstance(customer, dict) or not (customer.get("email") or customer.get("phone")):
        raise ApiError(400, "Receipt customer needs an email or a phone", "receipt.customer")
    email = customer.get("email")
    if email is not None and (not isinstance(email, str) or "@" not in email):
        raise ApiError(400, "Receipt customer email is invalid", "receipt.customer.email")
    items = receipt.get("items")
    if not isinstance(items, list) or not items or len(items) > 100:
        raise ApiError(400, "Receipt needs 1 to 100 items", "receipt.items")
    total = Decimal(0)
    for i, item in enumerate(items):
        where = f"receipt.items[{i}]"
        if not isinstance(item, dict):
            raise ApiError(400, "Receipt item must be an object", where)
        text = item.get("description")
        if not isinstance(text, str) or not text or len(text) > 128:
            raise ApiError(400, "Receipt item description is 1 to 128 characters", f"{where}.description")
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not (
            isinstance(quantity, int) or (isinstance(quantity, str) and _QUANTITY.match(quantity))
        ):
            raise ApiError(400, "Receipt item quantity must be like '1.00'", f"{where}.quantity")
        try:
            qty = Decimal(str(quantity))
        except InvalidOperation:
            raise ApiError(400, "Receipt item quantity must be like '1.00'", f"{where}.quantity") from None
        if qty <= 0:
            raise ApiError(400, "Receipt item quantity must be positive", f"{where}.quantity")
        minor, item_currency = _money_param(item.get("amount"), f"{where}.amount", (currency,))
        vat = item.get("vat_code")
        if isinstance(vat, bool) or not isinstance(vat, int) or not 1 <= vat <= 12:
            raise ApiError(400, "Receipt item vat_code must be an integer from 1 to 12", f"{where}.vat_code")
        mode = item.get("payment_mode")
        if mode is not None and mode not in _PAYMENT_MODES:
            raise ApiError(400, f"Unknown payment_mode {mode}", f"{where}.payment_mode")
        subject = item.get("payment_subject")
        if subject is not None and not isinstance(subject, str):
            raise ApiError(400, "payment_subject must be a string", f"{where}.payment_subject")
        total += qty * minor
    if total != amount:
        raise ApiError(
            400,
            f"Sum of the receipt items ({format_money(int(total))}) doesn't match the amount ({format_money(amount)})",
            "receipt",
        )


try:
    import pytest
except ImportError:  # pragma: no cover - script use without pytest installed
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def yookassa() -> Iterator[YooKassaStandin]:
        """A fresh stand-in per test."""
        with YooKassaStandin() as server:
            yield server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a YooKassa API v3 stand-in on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--shop-id", default=DEFAULT_SHOP_ID)
    parser.add_argument("--secret-key", default=DEFAULT_SECRET_KEY)
    parser.add_argument("--webhook-url", default=None, help="where to post notifications")
    parser.add_argument("--forwarded-for", default=None, help="X-Forwarded-For on every notification")
    parser.add_argument("--require-receipt", action="store_true")
    args = parser.parse_args(argv)
    server = YooKassaStandin(
        args.host,
        args.port,
        shop_id=args.shop_id,
        secret_key=args.secret_key,
        webhook_url=args.webhook_url,
        webhook_forwarded_for=args.forwarded_for,
        require_receipt=args.require_receipt,
    ).start()
    print(
        f"YooKassa stand-in on {server.api_url} (shop {args.shop_id}); webhooks to {args.webhook_url}; Ctrl-C stops it",
        flush=True,
    )
    server.serve_until_interrupted()


if __name__ == "__main__":
    main()
