"""Core errors of the payment provider (SPEC §12): what a ``PaymentGateway`` raises.

Every message here is safe to show and to log: it never carries the shop's secret key, the
``Authorization`` header or anything of the HTTP request. The entrypoints map them through
their one error table; until they list them, the base classes decide (``ServiceUnavailable`` →
503, ``NotFound`` → 404, ``PromptcoreError`` → 400).

==============================  ===========================================================
YooKassa says                    the gateway raises
==============================  ===========================================================
timeout, connection error,       ``PaymentProviderUnavailable`` (after the retries, within
429, 5xx (retried)               the deadline); an unreadable or unexpected answer likewise
401, 403                         ``PaymentProviderMisconfigured`` (a subclass of the above:
                                 users see "unavailable", the log says "credentials")
400 (``invalid_request`` ...)    ``PaymentRejected`` with YooKassa's code, description and
                                 parameter
404                              ``PaymentNotFound``
==============================  ===========================================================
"""

from __future__ import annotations

from .errors import Forbidden, NotFound, PromptcoreError, ServiceUnavailable

__all__ = [
    "PaymentNotFound",
    "PaymentProviderMisconfigured",
    "PaymentProviderUnavailable",
    "PaymentRejected",
]


class PaymentProviderUnavailable(ServiceUnavailable):
    """The payment provider could not be reached or did not answer usefully in time (timeouts,
    connection errors, 429 and 5xx after the retries, an unreadable answer). Whether an
    operation that was sent took effect is unknown: repeat it with the same idempotence key."""

    default_message = "Payments are unavailable right now. Try again in a moment."

    def __init__(self, message: str | None = None, *, reason: str | None = None) -> None:
        # ``reason`` is short and for the log and metrics ("timeout", "503", "unreadable answer").
        self.reason = reason
        super().__init__(message)


class PaymentProviderMisconfigured(PaymentProviderUnavailable):
    """The provider refused the shop itself (HTTP 401 bad credentials, 403 an operation the shop
    may not do). An operator has to act; users are told only that payments are unavailable, so
    the message is the same as its base class's."""

    def __init__(self, *, provider_status: int, code: str | None = None) -> None:
        self.provider_status = provider_status
        self.code = code
        super().__init__(reason=f"http {provider_status}")


class PaymentRejected(PromptcoreError):
    """The provider refused this request as invalid (HTTP 400: ``invalid_request`` and friends),
    e.g. a refund above what is left or an unknown saved payment method. ``description`` and
    ``parameter`` are the provider's words (secrets redacted); nothing was created."""

    default_message = "The payment provider refused the request."

    def __init__(
        self,
        description: str | None = None,
        *,
        parameter: str | None = None,
        code: str | None = None,
        provider_status: int = 400,
    ) -> None:
        self.description = description
        self.parameter = parameter
        self.code = code
        self.provider_status = provider_status
        message = self.default_message
        if description:
            message = f"{message[:-1]}: {description}"
            if parameter:
                message += f" ({parameter})"
        super().__init__(message)


class PaymentNotFound(NotFound):
    """The provider knows no payment (or refund) with that id (HTTP 404, or an id that cannot
    be one of theirs)."""

    default_message = "Payment not found."

    def __init__(self, provider_id: str | None = None, message: str | None = None) -> None:
        self.provider_id = provider_id
        super().__init__(message)


class BillingUnavailable(ServiceUnavailable):
    """Payments are not set up on this server (``PROMPTCORE_BILLING=off``, §12.5): plans can be
    listed, nothing can be bought."""

    default_message = "Payments are not set up on this server."


class WebhookForbidden(Forbidden):
    """A webhook from an address outside ``PROMPTCORE_YOOKASSA_WEBHOOK_NETWORKS`` (§12.3)."""

    default_message = "Notifications are accepted from the payment provider's networks only."


__all__ += ["BillingUnavailable", "WebhookForbidden"]
