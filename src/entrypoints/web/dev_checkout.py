"""The development checkout (SPEC §12.5): a small YooKassa inside the app, so that a newcomer can
click through an upgrade with ``make run`` and no shop. Registered only when
``PROMPTCORE_BILLING=dev-checkout``, which the settings refuse in production (and so does
``init_app``, should a production ``Settings`` ever be built by hand).

Two parts:

- ``/dev/checkout/api/v3``: the YooKassa API calls the adapter makes — ``POST /payments`` (a
  checkout with a redirect confirmation, or a charge of a saved card with ``payment_method_id``,
  which succeeds at once), ``GET /payments/{id}``, ``POST /payments/{id}/cancel``,
  ``POST /refunds`` and ``GET /refunds/{id}`` — with HTTP Basic auth of the dummy credentials the
  container gives the adapter, an ``Idempotence-Key`` on every POST (a repeated key answers the
  first answer again; the same key with another request is a 400), and YooKassa's object and error
  shapes. The container points the real ``YooKassaGateway`` here, so the adapter, its retries,
  parsing and errors, and the real webhook path all run over HTTP as they do in production. Being
  called with Basic auth and no page session, this blueprint is the one exemption from the page
  CSRF check (see ``web/__init__.py``).
- ``/dev/checkout/pay/<id>``: the page a checkout's ``confirmation_url`` points at: the amount,
  the plan, Pay (a test card •••• 4242) and Decline (with a reason such as insufficient funds).
  Submitting (a page form, so with its CSRF token) stores the new status, posts the notification
  to the app's own ``/api/v1/billing/yookassa/webhook`` over HTTP — from loopback, which
  dev-checkout adds to the webhook networks — and sends the buyer to the payment's return URL.

**Where the state lives.** Not in memory: ``promptcore serve`` runs several worker processes,
and the call that creates a payment, the page that pays it and the webhook's ``GET`` that reads
it back land on any of them. Not in the app's database either: a table there would be created by
a migration in every production database for a tool production refuses, and this stand-in plays
YooKassa, whose records are not ours. So it is an SQLite file of its own,
``<PROMPTCORE_VAR_DIR>/dev_checkout.sqlite3`` (whatever database the app itself uses): SQLite's
file locking makes it safe across the worker processes, every change is one ``BEGIN IMMEDIATE``
transaction (so "same key, same object" holds however many requests race), and deleting the
file resets the checkout.

**Calls to itself.** A checkout request waits on the adapter's call to this API, and Pay waits on
the webhook, whose handler waits on its ``GET /payments/{id}``: up to three requests of one
server at once. ``serve`` therefore runs at least ``MIN_THREADS`` threads per worker in this mode
(``make run`` has 200); every call also has a timeout, so even a starved server answers (a 503
from the checkout; after Pay the return page asks the payment again, §12.3) rather than hangs.
Notifications that YooKassa would send on its own while the app is still waiting for its answer
— a renewal charged with a saved card, a refund — are posted from a short-lived thread after
they are stored, not inside the API call.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Blueprint, Flask, abort, redirect, render_template, request
from flask_babel import gettext as _

from promptcore.domain.billing import Money
from promptcore.domain.errors import ValidationFailed

from ..config import DEV_CHECKOUT_SECRET_KEY, DEV_CHECKOUT_SHOP_ID, Settings
from ..deps import services
from . import DEV_CHECKOUT_API
from .i18n import current_language

log = logging.getLogger("promptcore.dev_checkout")

__all__ = ["MIN_THREADS", "DevCheckoutStore", "init_app"]

API_PREFIX = "/dev/checkout/api/v3"
WEBHOOK_PATH = "/api/v1/billing/yookassa/webhook"
STORE_FILE = "dev_checkout.sqlite3"
# Threads per worker `serve` insists on in this mode: Pay → webhook → GET /payments, plus room.
MIN_THREADS = 8
WEBHOOK_TIMEOUT = (3.05, 20.0)  # connect, read: above the adapter's 10 s per attempt
IDEMPOTENCE_KEY_MAX = 64
DESCRIPTION_MAX = 128
REFUND_DESCRIPTION_MAX = 250
TEST_CARD = {"first6": "424242", "last4": "4242", "expiry_month": "12", "expiry_year": "2030",
             "card_type": "Visa", "issuer_country": "RU"}
# What Decline offers, and who cancels for that reason (YooKassa's ``cancellation_details``).
DECLINE_REASONS = ("insufficient_funds", "card_expired", "general_decline", "3d_secure_failed", "fraud_suspected")
_PARTY = {"fraud_suspected": "yoo_money"}  # the others: payment_network
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

pages = Blueprint("dev_checkout", __name__, url_prefix="/dev/checkout")
api = Blueprint(DEV_CHECKOUT_API, __name__, url_prefix=API_PREFIX)


def init_app(app: Flask, settings: Settings) -> None:
    if settings.billing != "dev-checkout":
        return
    if settings.is_production:  # the settings refuse it already; never serve it there
        raise RuntimeError("the development checkout is never served in production")
    app.extensions["promptcore.dev_checkout"] = DevCheckoutStore(Path(settings.var_dir) / STORE_FILE)
    app.register_blueprint(pages)
    app.register_blueprint(api)
    log.info("development checkout at %s%s (no money moves)", settings.base_url, API_PREFIX)


def _store() -> DevCheckoutStore:
    from flask import current_app

    return current_app.extensions["promptcore.dev_checkout"]


def _base_url() -> str:
    return services().settings().base_url.rstrip("/")


def _now() -> datetime:
    return services().clock().now()


# -- the store --------------------------------------------------------------------------------


class ApiError(Exception):
    """A YooKassa error answer: ``{type: error, id, code, description, parameter}``."""

    CODES = {400: "invalid_request", 401: "invalid_credentials", 404: "not_found", 405: "method_not_allowed"}

    def __init__(self, status: int, description: str, parameter: str | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.parameter = status, description, parameter

    def body(self) -> dict[str, Any]:
        body = {"type": "error", "id": str(uuid.uuid4()), "code": self.CODES.get(self.status, "error"),
                "description": self.description}
        if self.parameter:
            body["parameter"] = self.parameter
        return body


class DevCheckoutStore:
    """Payments, refunds, saved cards and idempotent answers in one SQLite file, shared by every
    worker process. Objects are kept in YooKassa's JSON shape; ``extra`` holds what YooKassa
    keeps but does not show (the return URL, whether to save the card)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS objects (id TEXT PRIMARY KEY, kind TEXT NOT NULL, "
                       "body TEXT NOT NULL, extra TEXT NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
                       "body TEXT NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS methods (id TEXT PRIMARY KEY, body TEXT NOT NULL)")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: taken up front (``BEGIN IMMEDIATE``), so two processes never
        both read a key as unseen and both create an object."""
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    @staticmethod
    def get(db: sqlite3.Connection, kind: str, object_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        row = db.execute("SELECT body, extra FROM objects WHERE id = ? AND kind = ?", (object_id, kind)).fetchone()
        return (json.loads(row[0]), json.loads(row[1])) if row else None

    @staticmethod
    def put(db: sqlite3.Connection, kind: str, obj: dict[str, Any], extra: dict[str, Any]) -> None:
        db.execute("INSERT INTO objects (id, kind, body, extra) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (id) DO UPDATE SET body = excluded.body, extra = excluded.extra",
                   (obj["id"], kind, json.dumps(obj, ensure_ascii=False), json.dumps(extra)))

    def read(self, kind: str, object_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        with self.transaction() as db:
            return self.get(db, kind, object_id)

    def idempotent(self, key: str, fingerprint: str,
                   make: Callable[[sqlite3.Connection], dict[str, Any]]) -> dict[str, Any]:
        """The first answer under ``key``, made by ``make`` in the same transaction if the key
        is new; a key seen with another request is refused, as YooKassa does."""
        with self.transaction() as db:
            row = db.execute("SELECT fingerprint, body FROM answers WHERE key = ?", (key,)).fetchone()
            if row is not None:
                if row[0] != fingerprint:
                    raise ApiError(400, "Idempotence key duplicated: it was used for another request",
                                   "Idempotence-Key")
                return json.loads(row[1])
            answer = make(db)
            db.execute("INSERT INTO answers (key, fingerprint, body) VALUES (?, ?, ?)",
                       (key, fingerprint, json.dumps(answer, ensure_ascii=False)))
            return answer


# -- YooKassa's shapes ------------------------------------------------------------------------


def _new_id(kind: str = "000f") -> str:
    """An id shaped like YooKassa's: ``2d9e1a9c-000f-5000-9000-1b68e7b15f3f``."""
    h = secrets.token_hex(10)
    return f"{h[:8]}-{kind}-5000-9000-{h[8:20]}"


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _method(method_id: str, saved: bool) -> dict[str, Any]:
    return {"type": "bank_card", "id": method_id, "saved": saved,
            "title": f"Bank card *{TEST_CARD['last4']}", "card": dict(TEST_CARD)}


def _money(value: Any, parameter: str = "amount") -> Money:
    try:
        money = Money.from_amount(value, field_name=parameter)
    except (ValidationFailed, TypeError, ValueError):
        raise ApiError(400, 'amount must be {"value": "490.00", "currency": "RUB"}', parameter) from None
    if money.is_zero or money.currency != "RUB" or value.get("value") != money.to_decimal_string():
        raise ApiError(400, "amount.value must be above zero with two decimals, in RUB", f"{parameter}.value")
    return money


def _succeed(obj: dict[str, Any], method: dict[str, Any], now: datetime) -> None:
    obj.update(status="succeeded", paid=True, refundable=True, captured_at=_iso(now), payment_method=method,
               authorization_details={"rrn": "000000000000", "auth_code": "000000"})
    obj.pop("confirmation", None)
    if "receipt_registration" in obj:
        obj["receipt_registration"] = "succeeded"


def _cancel(obj: dict[str, Any], reason: str) -> None:
    obj.update(status="canceled", paid=False, refundable=False,
               cancellation_details={"party": _PARTY.get(reason, "payment_network"), "reason": reason})
    obj.pop("confirmation", None)
    if "receipt_registration" in obj:
        obj["receipt_registration"] = "canceled"


# -- notifications ----------------------------------------------------------------------------


def _notify(base_url: str, event: str, obj: dict[str, Any]) -> int | None:
    """Post a notification to the app's own webhook over HTTP and wait for the answer; the
    status, or None when it could not be delivered (logged: the return page and the worker
    still learn the outcome by asking, §12.3)."""
    body = {"type": "notification", "event": event, "object": obj}
    with requests.Session() as session:
        session.trust_env = False  # loopback, never through a proxy from the environment
        try:
            answer = session.post(base_url + WEBHOOK_PATH, json=body, timeout=WEBHOOK_TIMEOUT)
        except requests.RequestException as exc:
            log.warning("dev checkout: %s for %s not delivered: %s", event, obj.get("id"), type(exc).__name__)
            return None
    if answer.status_code != 200:
        log.warning("dev checkout: %s for %s answered %d", event, obj.get("id"), answer.status_code)
    return answer.status_code


def _notify_later(event: str, obj: dict[str, Any]) -> None:
    """The notification YooKassa sends on its own: posted from a thread of its own, so the API
    call that caused it answers first (the app is waiting for that answer)."""
    threading.Thread(target=_notify, args=(_base_url(), event, obj), name="dev-checkout-notify",
                     daemon=True).start()


# -- the API ----------------------------------------------------------------------------------


@api.errorhandler(ApiError)
def _api_error(error: ApiError):
    return error.body(), error.status


def _authorize() -> None:
    expected = "Basic " + base64.b64encode(f"{DEV_CHECKOUT_SHOP_ID}:{DEV_CHECKOUT_SECRET_KEY}".encode()).decode()
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "Login or password is incorrect: the shop id and secret key the container gives "
                            "the adapter in dev-checkout mode", "Authorization")


def _body() -> dict[str, Any]:
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return body


def _idempotent(make: Callable[[sqlite3.Connection, dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    _authorize()
    key = request.headers.get("Idempotence-Key", "")
    if not key:
        raise ApiError(400, "Idempotence-Key header is missing", "Idempotence-Key")
    if len(key) > IDEMPOTENCE_KEY_MAX or not key.isascii() or not key.isprintable():
        raise ApiError(400, f"Idempotence-Key is 1–{IDEMPOTENCE_KEY_MAX} printable ASCII characters",
                       "Idempotence-Key")
    body = _body()
    fingerprint = request.path + "\n" + json.dumps(body, sort_keys=True, ensure_ascii=False)
    return _store().idempotent(key, fingerprint, lambda db: make(db, body))


def _lookup_id(value: str) -> str:
    if not _ID_RE.fullmatch(value):
        raise ApiError(404, "Resource not found")
    return value


@api.post("/payments")
def create_payment():
    created: list[dict[str, Any]] = []

    def make(db: sqlite3.Connection, body: dict[str, Any]) -> dict[str, Any]:
        obj, extra, charged = _new_payment(db, body)
        _store().put(db, "payment", obj, extra)
        if charged:
            created.append(obj)
        return obj

    answer = _idempotent(make)
    for obj in created:  # a saved card was charged at once: YooKassa tells the webhook too
        _notify_later(f"payment.{obj['status']}", obj)
    return answer


def _new_payment(db: sqlite3.Connection, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], bool]:
    amount = _money(body.get("amount"))
    if body.get("capture") is not True:
        raise ApiError(400, "The development checkout captures at once: send capture: true", "capture")
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > DESCRIPTION_MAX):
        raise ApiError(400, f"description is a string of at most {DESCRIPTION_MAX} characters", "description")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict) or len(metadata) > 16 or \
            any(isinstance(v, (dict, list, bool, float)) for v in metadata.values()):
        raise ApiError(400, "metadata is an object of at most 16 string or integer values", "metadata")
    save = body.get("save_payment_method", False)
    if not isinstance(save, bool):
        raise ApiError(400, "save_payment_method is true or false", "save_payment_method")
    receipt = body.get("receipt")
    if receipt is not None:
        customer = receipt.get("customer") if isinstance(receipt, dict) else None
        if not isinstance(customer, dict) or not customer.get("email") or not receipt.get("items"):
            raise ApiError(400, "A receipt needs customer.email and items", "receipt")

    now = _now()
    obj: dict[str, Any] = {
        "id": _new_id(), "status": "pending", "paid": False, "amount": amount.to_amount(),
        "created_at": _iso(now), "metadata": {str(k): str(v) for k, v in metadata.items()},
        "recipient": {"account_id": DEV_CHECKOUT_SHOP_ID, "gateway_id": "dev-checkout"},
        "refundable": False, "test": True,
    }
    if description:
        obj["description"] = description
    if receipt is not None:
        obj["receipt_registration"] = "pending"

    method_id, confirmation = body.get("payment_method_id"), body.get("confirmation")
    if method_id is not None:  # a renewal: charge the saved test card at once
        if confirmation is not None or save:
            raise ApiError(400, "A saved payment method is charged without a confirmation", "payment_method_id")
        row = db.execute("SELECT body FROM methods WHERE id = ?", (str(method_id),)).fetchone()
        if row is None:
            raise ApiError(400, "Payment method with this id doesn't exist or is not saved", "payment_method_id")
        _succeed(obj, json.loads(row[0]), now)
        return obj, {"return_url": None, "save": False}, True
    if not isinstance(confirmation, dict) or confirmation.get("type") != "redirect":
        raise ApiError(400, "confirmation {type: redirect, return_url} is required", "confirmation")
    return_url = confirmation.get("return_url")
    if not isinstance(return_url, str) or not return_url or len(return_url) > 2048:
        raise ApiError(400, "return_url is required for confirmation type redirect", "confirmation.return_url")
    obj["confirmation"] = {"type": "redirect", "return_url": return_url,
                           "confirmation_url": f"{_base_url()}/dev/checkout/pay/{obj['id']}"}
    return obj, {"return_url": return_url, "save": save}, False


@api.get("/payments/<payment_id>")
def get_payment(payment_id: str):
    _authorize()
    found = _store().read("payment", _lookup_id(payment_id))
    if found is None:
        raise ApiError(404, f"Payment {payment_id} not found")
    return found[0]


@api.post("/payments/<payment_id>/cancel")
def cancel_payment(payment_id: str):
    def make(db: sqlite3.Connection, body: dict[str, Any]) -> dict[str, Any]:
        found = _store().get(db, "payment", _lookup_id(payment_id))
        if found is None:
            raise ApiError(404, f"Payment {payment_id} not found")
        raise ApiError(400, f"Payment is {found[0]['status']}; only a payment waiting_for_capture can be "
                            "canceled (the development checkout captures at once)", "status")

    return _idempotent(make)


@api.post("/refunds")
def create_refund():
    made: list[dict[str, Any]] = []

    def make(db: sqlite3.Connection, body: dict[str, Any]) -> dict[str, Any]:
        payment_id = body.get("payment_id")
        found = _store().get(db, "payment", payment_id) if isinstance(payment_id, str) else None
        if found is None:
            raise ApiError(400, f"Payment {payment_id} doesn't exist", "payment_id")
        payment, extra = found
        if payment["status"] != "succeeded":
            raise ApiError(400, f"Payment is {payment['status']}; only a succeeded payment can be refunded",
                           "payment_id")
        amount = _money(body.get("amount"))
        paid = Money.from_amount(payment["amount"])
        refunded = Money.from_amount(payment["refunded_amount"]) if "refunded_amount" in payment else Money.zero()
        if refunded + amount > paid:
            raise ApiError(400, f"The refund is more than is left ({(paid - refunded).to_decimal_string()})",
                           "amount.value")
        description = body.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > REFUND_DESCRIPTION_MAX):
            raise ApiError(400, f"description is a string of at most {REFUND_DESCRIPTION_MAX} characters",
                           "description")
        refund = {"id": _new_id("0015"), "payment_id": payment_id, "status": "succeeded",
                  "created_at": _iso(_now()), "amount": amount.to_amount()}
        if description:
            refund["description"] = description
        payment["refunded_amount"] = (refunded + amount).to_amount()
        payment["refundable"] = refunded + amount < paid
        _store().put(db, "payment", payment, extra)
        _store().put(db, "refund", refund, {})
        made.append(refund)
        return refund

    answer = _idempotent(make)
    for refund in made:
        _notify_later("refund.succeeded", refund)
    return answer


@api.get("/refunds/<refund_id>")
def get_refund(refund_id: str):
    _authorize()
    found = _store().read("refund", _lookup_id(refund_id))
    if found is None:
        raise ApiError(404, f"Refund {refund_id} not found")
    return found[0]


# -- the payment page -------------------------------------------------------------------------


def _decline_reasons() -> list[tuple[str, str]]:
    labels = {
        "insufficient_funds": _("Insufficient funds"),
        "card_expired": _("The card has expired"),
        "general_decline": _("Declined by the bank"),
        "3d_secure_failed": _("3-D Secure failed"),
        "fraud_suspected": _("Suspected fraud"),
    }
    return [(reason, labels[reason]) for reason in DECLINE_REASONS]


def _plan_title(obj: dict[str, Any]) -> str:
    """The plan of our payment named in the metadata, in the page's language; else YooKassa's
    description."""
    raw = obj.get("metadata", {}).get("payment_id", "")
    if raw.isdigit() and len(raw) <= 18:
        with services().read_uow() as uow:
            payment = uow.payments.get(int(raw))
            plan = uow.plans.get(payment.plan_slug) if payment is not None else None
        if plan is not None:
            return plan.title(current_language())
    return obj.get("description", "")


def _same_site(url: str | None) -> str | None:
    """The return URL, when it is on this site (anything else is only shown as text)."""
    if not url:
        return None
    base, target = urlsplit(_base_url()), urlsplit(url)
    return url if (target.scheme, target.netloc) == (base.scheme, base.netloc) else None


def _load(payment_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    found = _store().read("payment", payment_id) if _ID_RE.fullmatch(payment_id) else None
    if found is None or found[1].get("return_url") is None:  # renewals have no page
        abort(404)
    return found


@pages.get("/pay/<payment_id>")
def pay_page(payment_id: str):
    obj, extra = _load(payment_id)
    return render_template(
        "dev_checkout.html", payment=obj, amount=Money.from_amount(obj["amount"]).human(current_language()),
        plan_title=_plan_title(obj), renews=bool(extra.get("save")), reasons=_decline_reasons(),
        card_last4=TEST_CARD["last4"], return_url=_same_site(extra.get("return_url")))


@pages.post("/pay/<payment_id>")
def pay_submit(payment_id: str):
    """Pay or Decline (the CSRF token is checked before this runs, as on every page form)."""
    _load(payment_id)
    action = request.form.get("action")
    reason = request.form.get("reason") or "insufficient_funds"
    if action not in ("pay", "decline") or reason not in DECLINE_REASONS:
        abort(400)
    changed: list[dict[str, Any]] = []
    with _store().transaction() as db:
        obj, extra = _store().get(db, "payment", payment_id)  # type: ignore[misc]
        if obj["status"] == "pending":  # a second click on a settled payment changes nothing
            if action == "pay":
                method = _method(_new_id(), saved=bool(extra.get("save")))
                _succeed(obj, method, _now())
                if method["saved"]:
                    db.execute("INSERT OR REPLACE INTO methods (id, body) VALUES (?, ?)",
                               (method["id"], json.dumps(method)))
            else:
                _cancel(obj, reason)
            _store().put(db, "payment", obj, extra)
            changed.append(obj)
    for obj in changed:  # committed first: the webhook's GET /payments/{id} reads it back
        _notify(_base_url(), f"payment.{obj['status']}", obj)
    target = _same_site(extra.get("return_url"))
    if target is None:
        return redirect(f"/dev/checkout/pay/{payment_id}", 303)
    return redirect(target, 303)
