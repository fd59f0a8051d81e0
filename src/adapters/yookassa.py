"""YooKassa payment gateway (SPEC §12): the API v3 behind the core's ``PaymentGateway`` port.

Calls go through the shared transport (``adapters/http.py``): one pooled ``requests`` session,
tenacity retries on connection errors, timeouts, 408, 429 and 5xx with exponential backoff and
jitter, ``Retry-After`` honoured, and one overall deadline per operation. On top of that every
attempt has its own ``timeout``, so an answer that hangs costs one attempt, not the deadline. A
``202 processing`` answer (YooKassa has not finished the operation) is asked again with the same
key after its ``retry_after``, within the same deadline. 400, 401, 403 and 404 are never retried.

- HTTP Basic auth with the shop id and the secret key.
- Every POST carries the caller's ``Idempotence-Key``, and every retry of that operation the same
  key: the adapter never makes one up, so a retry — ours, the worker's, a second click — can never
  charge twice (YooKassa answers a repeated key with the first result).
- Bodies are JSON; amounts are ``{"value": "490.00", "currency": "RUB"}`` strings made from
  ``Money`` (a float anywhere in a body is a bug and raises ``TypeError`` before sending);
  ``capture: true``; a checkout has ``confirmation {type: redirect, return_url}``; the 54-FZ
  receipt comes from ``domain.billing.receipt`` with the configured ``vat_code``.
- YooKassa's error body ``{type, id, code, description, parameter}`` becomes a core error:
  400 → ``PaymentRejected`` (code, description, parameter); 401/403 →
  ``PaymentProviderMisconfigured`` (logged as an error; users see "unavailable"); 404 →
  ``PaymentNotFound``; timeouts, connection errors, 429/5xx after the retries, 202 past the
  deadline, any other status and an unreadable answer → ``PaymentProviderUnavailable``.
- The secret key never appears in ``repr``/``str``, log records, exception messages or exception
  chains: it lives only inside the auth object (whose ``repr`` is masked) and the header it sets;
  provider text that is logged or raised is redacted as well, and core errors are raised outside
  ``except`` blocks, so no requests exception (which carries the prepared request and its
  ``Authorization`` header) hangs off their ``__context__``.

The official ``yookassa`` SDK is deliberately not used: it keeps the shop id and secret key in a
process-global ``Configuration`` (one shop per process, credentials shared by every caller) and
sends its requests with no timeout, so a hung connection would hold a request thread for ever;
its retries do not share a deadline either. Here credentials are per instance, every call is
bounded, and the retry policy is the project's own.
"""

from __future__ import annotations

import base64
import inspect
import json
import logging
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from adapters.http import Answer, Deadline, HttpTransport, OnRetry, Timer, TransportFailed
from promptcore.domain.billing import VAT_CODES, Money, PaymentStatus, clip_description, receipt
from promptcore.domain.billing_errors import (
    PaymentNotFound,
    PaymentProviderMisconfigured,
    PaymentProviderUnavailable,
    PaymentRejected,
)
from promptcore.domain.errors import PromptcoreError
from promptcore.ports.billing import PaymentGateway, ProviderPayment, ProviderRefund

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_API_URL", "YooKassaGateway"]

DEFAULT_API_URL = "https://api.yookassa.ru/v3"
DEFAULT_TIMEOUT = 10.0  # seconds for one attempt: connect, send, the whole answer
DEFAULT_DEADLINE = 30.0  # seconds for one operation: every attempt and every wait
DEFAULT_MAX_ATTEMPTS = 4
IDEMPOTENCE_KEY_MAX = 64  # YooKassa's limit
METADATA_MAX_KEYS = 16
METADATA_KEY_MAX = 32
METADATA_VALUE_MAX = 512
REFUND_DESCRIPTION_MAX = 250
RETURN_URL_MAX = 2048
LOGGED_TEXT_MAX = 300
PROCESSING_WAIT_DEFAULT = 1.0  # seconds, when a 202 names no retry_after
PROCESSING_WAIT_MIN = 0.1
MIN_ATTEMPT_SECONDS = 0.05

# YooKassa's ids (payments, refunds, payment methods) are UUID-like. Anything else — a path
# separator, a dot, a query — is never sent into a URL: it cannot name one of theirs.
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_REFUND_STATUSES = frozenset({"pending", "succeeded", "canceled"})
_PAYMENT_STATUSES = frozenset(s.value for s in PaymentStatus)
_LAST4_RE = re.compile(r"[0-9]{4}")


class _BasicAuth(AuthBase):
    """Sets ``Authorization: Basic base64(shop_id:secret_key)``. The only place the secret is
    kept. Passing it as ``auth`` also stops requests from using ~/.netrc instead."""

    __slots__ = ("_header", "_secrets")

    def __init__(self, shop_id: str, secret_key: str) -> None:
        token = base64.b64encode(f"{shop_id}:{secret_key}".encode()).decode("ascii")
        self._header = f"Basic {token}"
        # Longest first, so the header is masked whole rather than around its token.
        self._secrets = tuple(sorted({self._header, token, secret_key}, key=len, reverse=True))

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = self._header
        return r

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def __repr__(self) -> str:
        return "<YooKassa credentials ***>"

    def __reduce__(self) -> Any:  # never pickled (and so never copied into a cache or a queue)
        raise TypeError("YooKassa credentials cannot be pickled")


class _AttemptBoundTransport(HttpTransport):
    """``HttpTransport`` bounds an operation by one deadline, and each attempt may use all of what
    is left. YooKassa needs a shorter bound per attempt too — an answer that hangs must leave time
    to ask again with the same key — so here each attempt's deadline (connect, send, the whole
    answer) is cut to ``attempt_timeout``; the retries and waits still stop at the operation's."""

    def __init__(self, *args: Any, attempt_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attempt_timeout = float(attempt_timeout)

    def _cap(self, value: Any) -> Any:
        if isinstance(value, Deadline):
            return Deadline(self.timer, min(value.at, self.timer.monotonic() + self.attempt_timeout))
        return value

    def _attempt(self, *args: Any, **kwargs: Any) -> Answer:  # type: ignore[override]
        args = tuple(self._cap(a) for a in args)
        kwargs = {k: self._cap(v) for k, v in kwargs.items()}
        return super()._attempt(*args, **kwargs)  # type: ignore[misc]


# When the shared transport grows a per-attempt timeout of its own, it is used directly.
_TRANSPORT = (
    HttpTransport if "attempt_timeout" in inspect.signature(HttpTransport.__init__).parameters
    else _AttemptBoundTransport
)


class _Unreadable(ValueError):
    """An answer that does not have the shape of YooKassa's object (internal)."""


class YooKassaGateway(PaymentGateway):
    """``PaymentGateway`` on YooKassa's API v3. Thread-safe: one instance (and its connection
    pool) is meant to be shared by every request thread and the worker.

    ``timeout`` bounds one attempt, ``deadline`` (default ``max(30, timeout)``) one operation
    with all its retries and waits. ``transport`` replaces the HTTP transport (tests); it needs
    ``send``, ``deadline``, ``timer`` and ``close`` like ``adapters.http.HttpTransport``."""

    name = "yookassa"

    def __init__(
        self,
        shop_id: str,
        secret_key: str,
        api_url: str = DEFAULT_API_URL,
        timeout: float = DEFAULT_TIMEOUT,
        vat_code: int = 1,
        on_retry: OnRetry | None = None,
        *,
        deadline: float | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_base: float = 0.5,
        timer: Timer = time,
        transport: Any = None,
    ) -> None:
        if not isinstance(shop_id, str) or not shop_id.strip() or ":" in shop_id:
            raise ValueError("YooKassa needs a shop id (digits, no ':')")
        if not isinstance(secret_key, str) or not secret_key.strip():
            raise ValueError("YooKassa needs a secret key")
        if type(vat_code) is not int or vat_code not in VAT_CODES:
            raise ValueError("vat_code is one of YooKassa's codes, 1–12")
        if not timeout or timeout <= 0:
            raise ValueError("timeout must be positive")
        deadline = float(deadline) if deadline is not None else max(DEFAULT_DEADLINE, float(timeout))
        if deadline <= 0:
            raise ValueError("deadline must be positive")
        self.api_url = _check_api_url(api_url)
        self.shop_id = shop_id.strip()
        self.vat_code = vat_code
        self.timeout = min(float(timeout), deadline)
        self.deadline_seconds = deadline
        self.on_retry = on_retry
        self._auth = _BasicAuth(self.shop_id, secret_key.strip())  # the only place the secret is kept
        if transport is None:
            transport = _TRANSPORT(
                self.api_url,
                name="YooKassa",
                timeout=deadline,
                attempt_timeout=self.timeout,
                max_attempts=max_attempts,
                backoff_base=backoff_base,
                on_retry=on_retry,
                timer=timer,
            )
        self.transport = transport

    def __repr__(self) -> str:
        return f"YooKassaGateway(api_url={self.api_url!r}, shop_id={self.shop_id!r})"

    def __reduce__(self) -> Any:
        raise TypeError("YooKassaGateway cannot be pickled")

    def close(self) -> None:
        self.transport.close()

    # -- the port -----------------------------------------------------------------------

    def create_payment(
        self,
        *,
        amount: Money,
        description: str,
        idempotence_key: str,
        metadata: Mapping[str, str | int] | None = None,
        customer_email: str | None = None,
        return_url: str | None = None,
        save_payment_method: bool = False,
        payment_method_id: str | None = None,
    ) -> ProviderPayment:
        key = _check_key(idempotence_key)
        _check_amount(amount)
        if (return_url is None) == (payment_method_id is None):
            raise ValueError("give exactly one of return_url (a checkout) and payment_method_id (a saved method)")
        text = clip_description(description)
        if not text:
            raise ValueError("a payment needs a description")
        body: dict[str, Any] = {"amount": amount.to_amount(), "capture": True, "description": text}
        if return_url is not None:
            if not isinstance(return_url, str) or not return_url or len(return_url) > RETURN_URL_MAX:
                raise ValueError(f"return_url is a URL of at most {RETURN_URL_MAX} characters")
            body["confirmation"] = {"type": "redirect", "return_url": return_url}
            if save_payment_method:
                body["save_payment_method"] = True
        else:
            if save_payment_method:
                raise ValueError("save_payment_method is for checkouts; a saved method is saved already")
            if not isinstance(payment_method_id, str) or not _ID_RE.fullmatch(payment_method_id):
                raise ValueError("payment_method_id is not a YooKassa id")
            body["payment_method_id"] = payment_method_id
        if metadata:
            body["metadata"] = _check_metadata(metadata)
        if customer_email is not None:
            body["receipt"] = receipt(customer_email, text, amount, self.vat_code)
        kind = "checkout" if return_url is not None else "charge of a saved method"
        obj = self._call("POST", "/payments", body, key, what=f"create a payment ({kind})")
        payment = self._parse(_payment, obj, "payment")
        logger.info(
            "YooKassa payment %s created (%s, %s): %s", payment.id, kind, payment.amount, payment.status
        )
        return payment

    def get_payment(self, provider_id: str) -> ProviderPayment:
        provider_id = _check_lookup_id(provider_id, "payment")
        obj = self._call("GET", f"/payments/{provider_id}", what="read a payment", target=provider_id)
        payment = self._parse(_payment, obj, "payment")
        if payment.id != provider_id:
            self._unreadable("read a payment", "the answer is another payment")
        return payment

    def cancel_payment(self, provider_id: str, idempotence_key: str) -> ProviderPayment:
        key = _check_key(idempotence_key)
        provider_id = _check_lookup_id(provider_id, "payment")
        obj = self._call("POST", f"/payments/{provider_id}/cancel", {}, key, what="cancel a payment",
                         target=provider_id)
        payment = self._parse(_payment, obj, "payment")
        if payment.id != provider_id:
            self._unreadable("cancel a payment", "the answer is another payment")
        logger.info("YooKassa payment %s canceled: %s", payment.id, payment.status)
        return payment

    def create_refund(
        self,
        provider_payment_id: str,
        amount: Money,
        idempotence_key: str,
        *,
        description: str | None = None,
        customer_email: str | None = None,
    ) -> ProviderRefund:
        key = _check_key(idempotence_key)
        _check_amount(amount)
        if not isinstance(provider_payment_id, str) or not _ID_RE.fullmatch(provider_payment_id):
            raise PaymentNotFound()
        body: dict[str, Any] = {"payment_id": provider_payment_id, "amount": amount.to_amount()}
        text = " ".join(str(description).split())[:REFUND_DESCRIPTION_MAX] if description is not None else ""
        if text:
            body["description"] = text
        if customer_email is not None:
            if not text:
                raise ValueError("a refund receipt needs a description (its item)")
            body["receipt"] = receipt(customer_email, text, amount, self.vat_code)
        obj = self._call("POST", "/refunds", body, key, what="create a refund")
        refund = self._parse(_refund, obj, "refund")
        if refund.payment_id != provider_payment_id:
            self._unreadable("create a refund", "the refund is of another payment")
        logger.info(
            "YooKassa refund %s of payment %s created (%s): %s",
            refund.id, refund.payment_id, refund.amount, refund.status,
        )
        return refund

    def get_refund(self, refund_id: str) -> ProviderRefund:
        refund_id = _check_lookup_id(refund_id, "refund")
        obj = self._call("GET", f"/refunds/{refund_id}", what="read a refund", target=refund_id)
        refund = self._parse(_refund, obj, "refund")
        if refund.id != refund_id:
            self._unreadable("read a refund", "the answer is another refund")
        return refund

    # -- sending ------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        idempotence_key: str | None = None,
        *,
        what: str,
        target: str | None = None,
    ) -> dict[str, Any]:
        """One operation: attempts (the transport's retries) until a final answer, then 202
        ``processing`` answers asked again with the same key, all within one deadline. Returns
        the JSON object of a 2xx answer; raises the core error for anything else."""
        data = _encode(body) if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        deadline = self.transport.deadline()
        processing = 0
        while True:
            failure: str | None = None
            try:
                answer = self.transport.send(
                    method,
                    path,
                    data=data,
                    headers=headers,
                    auth=self._auth,
                    deadline=deadline,
                    idempotence_key=idempotence_key,
                )
            except TransportFailed as exc:
                failure = self._auth.redact(exc.reason)
            if failure is not None:
                logger.error("YooKassa unavailable, could not %s: %s", what, failure)
                raise PaymentProviderUnavailable(reason=_short_reason(failure))
            if not answer.ok:
                self._fail(answer, what, target)
            payload = self._json(answer.body, what)
            if not _is_processing(answer.status, payload):
                return payload
            # 202: YooKassa is still working on it; ask again with the same key after retry_after.
            processing += 1
            wait = _processing_wait(payload)
            if wait >= deadline.remaining() - MIN_ATTEMPT_SECONDS:
                logger.error("YooKassa still processing after %d answer(s); could not %s in time", processing, what)
                raise PaymentProviderUnavailable(reason="processing")
            logger.warning("YooKassa is processing the request to %s; asking again in %.2fs", what, wait)
            if self.on_retry is not None:
                try:
                    self.on_retry(processing, "processing")
                except Exception:  # a metrics hook must never break the call
                    logger.exception("on_retry hook failed")
            self.transport.timer.sleep(wait)

    def _json(self, raw: bytes, what: str) -> dict[str, Any]:
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            self._unreadable(what, "the answer is not a JSON object")
        return payload

    def _fail(self, answer: Answer, what: str, target: str | None) -> None:
        """Raise the core error for a final non-2xx answer (never retried: the transport has
        already retried what is worth retrying)."""
        status = answer.status
        code, description, parameter, error_id = self._error_details(answer.body)
        ref = f" [error id {error_id}]" if error_id else ""
        if status == 400:
            logger.warning(
                "YooKassa refused to %s (HTTP 400 %s): %s%s%s",
                what, code, description, f" (parameter {parameter})" if parameter else "", ref,
            )
            raise PaymentRejected(description, parameter=parameter, code=code, provider_status=status)
        if status in (401, 403):
            logger.error(
                "YooKassa refused the shop (HTTP %d %s) when asked to %s: %s%s. Check "
                "PROMPTCORE_YOOKASSA_SHOP_ID, PROMPTCORE_YOOKASSA_SECRET_KEY and the shop's settings.",
                status, code, what, description, ref,
            )
            raise PaymentProviderMisconfigured(provider_status=status, code=code)
        if status == 404:
            logger.info("YooKassa has no such object (HTTP 404) when asked to %s: %s%s", what, description, ref)
            raise PaymentNotFound(target)
        logger.error("YooKassa answered HTTP %d %s when asked to %s: %s%s", status, code, what, description, ref)
        raise PaymentProviderUnavailable(reason=f"http {status}")

    def _error_details(self, raw: bytes) -> tuple[str, str, str | None, str | None]:
        """(code, description, parameter, error id) of YooKassa's error body, redacted and
        clipped; what is missing gets a neutral stand-in."""
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            text = raw.decode("utf-8", "replace").strip() if raw else ""
            return "unknown", self._clean(text) or "no description", None, None

        def field(name: str) -> str | None:
            value = payload.get(name)
            if value is None:
                return None
            return self._clean(str(value)) or None

        return (
            field("code") or "unknown",
            field("description") or "no description",
            field("parameter"),
            field("id"),
        )

    def _clean(self, text: str) -> str:
        text = " ".join(self._auth.redact(text).split())
        if len(text) > LOGGED_TEXT_MAX:
            text = text[:LOGGED_TEXT_MAX] + "..."
        return text

    def _parse(self, parser: Any, obj: dict[str, Any], kind: str) -> Any:
        problem: str | None = None
        try:
            return parser(obj)
        except (_Unreadable, KeyError, TypeError, ValueError, PromptcoreError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        self._unreadable(f"read the {kind}", problem)

    def _unreadable(self, what: str, problem: str) -> Any:
        logger.error("YooKassa gave an unreadable answer when asked to %s: %s", what, self._clean(problem))
        raise PaymentProviderUnavailable(reason="unreadable answer")


# -- requests -------------------------------------------------------------------------------


def _check_api_url(url: str) -> str:
    if not isinstance(url, str):
        raise ValueError("the YooKassa API URL must be a string")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the YooKassa API URL must be an http(s) URL")
    if parts.username is not None or parts.password is not None:
        # Not echoed: it holds credentials.
        raise ValueError("the YooKassa API URL must not carry credentials; give the shop id and secret key")
    if parts.query or parts.fragment:
        raise ValueError("the YooKassa API URL takes no query or fragment")
    return url.strip().rstrip("/")


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > IDEMPOTENCE_KEY_MAX or not key.isprintable():
        raise ValueError(f"an idempotence key is 1–{IDEMPOTENCE_KEY_MAX} printable characters")
    if not key.isascii() or any(c.isspace() for c in key):
        raise ValueError("an idempotence key is ASCII without spaces")
    return key


def _check_amount(amount: Any) -> None:
    if not isinstance(amount, Money):
        raise TypeError("amounts are Money")
    if amount.is_zero:
        raise ValueError("an amount above zero")


def _check_lookup_id(value: Any, kind: str) -> str:
    """An id to put into a URL path. One that cannot be YooKassa's is not found, without a call
    (ids come from webhooks and URLs, which anyone can write)."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        logger.info("not a YooKassa %s id; not asked", kind)
        raise PaymentNotFound()
    return value


def _check_metadata(metadata: Mapping[str, Any]) -> dict[str, str]:
    if len(metadata) > METADATA_MAX_KEYS:
        raise ValueError(f"metadata has at most {METADATA_MAX_KEYS} keys")
    out: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or len(key) > METADATA_KEY_MAX:
            raise ValueError(f"metadata keys are strings of 1–{METADATA_KEY_MAX} characters")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError("metadata values are strings or integers")
        text = str(value)
        if len(text) > METADATA_VALUE_MAX:
            raise ValueError(f"metadata values are at most {METADATA_VALUE_MAX} characters")
        out[key] = text
    return out


def _no_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("a float in a YooKassa request body: amounts are Money, sent as strings")
    if isinstance(value, dict):
        for item in value.values():
            _no_floats(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _no_floats(item)


def _encode(body: dict[str, Any]) -> bytes:
    _no_floats(body)
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _short_reason(failure: str) -> str:
    """The transport's "giving up after 3 attempt(s), last failure: 503" → "503"."""
    return failure.rsplit(": ", 1)[-1] if ": " in failure else failure


def _is_processing(status: int, payload: dict[str, Any]) -> bool:
    return payload.get("type") == "processing" or (status == 202 and "status" not in payload)


def _processing_wait(payload: dict[str, Any]) -> float:
    """YooKassa's ``retry_after`` is in milliseconds."""
    value = payload.get("retry_after")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        return PROCESSING_WAIT_DEFAULT
    return max(PROCESSING_WAIT_MIN, min(float(value) / 1000.0, 60.0))


# -- answers --------------------------------------------------------------------------------


def _id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise _Unreadable(f"{what} is not an id")
    return value


def _opt_str(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Unreadable(f"{what} is not a string")
    return value


def _payment(obj: Mapping[str, Any]) -> ProviderPayment:
    status = obj.get("status")
    if status not in _PAYMENT_STATUSES:
        raise _Unreadable(f"unknown payment status {str(status)[:40]!r}")
    amount = Money.from_amount(obj.get("amount"))
    paid = obj.get("paid", False)
    if not isinstance(paid, bool):
        raise _Unreadable("paid is not a boolean")

    confirmation_url = None
    confirmation = obj.get("confirmation")
    if isinstance(confirmation, Mapping):
        confirmation_url = _opt_str(confirmation.get("confirmation_url"), "confirmation_url")

    method_id = method_title = last4 = None
    method_saved = False
    method = obj.get("payment_method")
    if isinstance(method, Mapping):
        method_id = _id(method.get("id"), "payment_method.id")
        method_title = _opt_str(method.get("title"), "payment_method.title")
        method_saved = method.get("saved") is True
        card = method.get("card")
        if isinstance(card, Mapping):
            candidate = card.get("last4")
            if isinstance(candidate, str) and _LAST4_RE.fullmatch(candidate):
                last4 = candidate

    party = reason = None
    details = obj.get("cancellation_details")
    if isinstance(details, Mapping):
        party = _opt_str(details.get("party"), "cancellation_details.party")
        reason = _opt_str(details.get("reason"), "cancellation_details.reason")

    refunded_raw = obj.get("refunded_amount")
    refunded = Money.from_amount(refunded_raw, field_name="refunded_amount") if refunded_raw else None
    if refunded is not None and refunded.currency != amount.currency:
        raise _Unreadable("refunded_amount in another currency")

    metadata_raw = obj.get("metadata") or {}
    if not isinstance(metadata_raw, Mapping):
        raise _Unreadable("metadata is not an object")
    metadata = {str(k): str(v) for k, v in metadata_raw.items() if v is not None}

    return ProviderPayment(
        id=_id(obj.get("id"), "id"),
        status=status,
        paid=paid,
        amount=amount,
        confirmation_url=confirmation_url,
        payment_method_id=method_id,
        payment_method_title=method_title,
        payment_method_saved=method_saved,
        card_last4=last4,
        cancellation_party=party,
        cancellation_reason=reason,
        refunded=refunded,
        metadata=metadata,
        description=_opt_str(obj.get("description"), "description"),
        test=obj.get("test") is True,
    )


def _refund(obj: Mapping[str, Any]) -> ProviderRefund:
    status = obj.get("status")
    if status not in _REFUND_STATUSES:
        raise _Unreadable(f"unknown refund status {str(status)[:40]!r}")
    party = reason = None
    details = obj.get("cancellation_details")
    if isinstance(details, Mapping):
        party = _opt_str(details.get("party"), "cancellation_details.party")
        reason = _opt_str(details.get("reason"), "cancellation_details.reason")
    return ProviderRefund(
        id=_id(obj.get("id"), "id"),
        status=status,
        amount=Money.from_amount(obj.get("amount")),
        payment_id=_id(obj.get("payment_id"), "payment_id"),
        cancellation_party=party,
        cancellation_reason=reason,
    )
