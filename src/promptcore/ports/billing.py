"""Billing: the payment provider (SPEC §12.2–§12.4).

``PaymentGateway`` is what the billing use cases ask of YooKassa (``adapters/yookassa.py``), or of
any provider with the same shape: create a payment (a checkout with a redirect, or a charge of a
saved method), read it back, cancel it, refund it. Answers are snapshots of the provider's
objects (``ProviderPayment``, ``ProviderRefund``); the use cases apply them to the domain's
``Payment`` and ``Subscription`` (``domain/billing.py``), which decide what changes.

Failures are the core errors of ``domain/billing_errors.py``:

- ``PaymentProviderUnavailable``: timeouts, connection errors, 429/5xx after the retries, an
  unreadable answer. The outcome of a create is unknown: call again with the same key.
- ``PaymentProviderMisconfigured`` (a subclass of the above): the shop's credentials or rights.
- ``PaymentRejected``: the provider refused the request as invalid; nothing was done.
- ``PaymentNotFound``: no such payment or refund.

Every operation that creates something takes an ``idempotence_key`` (1–64 characters) that the
caller keeps (the ``payments`` row's key, the renewal key derived from subscription and period,
a refund's stored key): the gateway sends exactly that key on every attempt, so a retry — by the
gateway, by the worker, by a user clicking twice — never creates a second payment or refund.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ..domain.billing import Money, Owner, Payment, PaymentMethod, Plan, Subscription, card_title

__all__ = ["BillingEventRepository", "PaymentGateway", "PaymentRepository", "PlanRepository", "ProviderPayment",
           "ProviderRefund", "RefundRecord", "RefundRepository", "SubscriptionRepository"]


@dataclass(frozen=True)
class ProviderPayment:
    """A payment as the provider reports it (YooKassa's payment object).

    ``status`` is the provider's word (``pending``, ``waiting_for_capture``, ``succeeded``,
    ``canceled``: ``domain.billing.PaymentStatus`` reads it). ``refunded`` is the total refunded
    so far (zero in the payment's currency when nothing was). ``metadata`` comes back as strings.
    """

    id: str
    status: str
    paid: bool
    amount: Money
    confirmation_url: str | None = None
    payment_method_id: str | None = None
    payment_method_title: str | None = None  # the provider's title, e.g. "Bank card *4242"
    payment_method_saved: bool = False
    card_last4: str | None = None
    cancellation_party: str | None = None
    cancellation_reason: str | None = None
    refunded: Money | None = None  # None at construction means zero in the amount's currency
    metadata: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    test: bool = False

    def __post_init__(self) -> None:
        if self.refunded is None:
            object.__setattr__(self, "refunded", Money.zero(self.amount.currency))

    def saved_method(self) -> PaymentMethod | None:
        """The method renewals can charge, when the provider saved it: its id and a title to show
        (``card •••• 4242`` for a card, else the provider's title). None when nothing was saved."""
        if not self.payment_method_saved or not self.payment_method_id:
            return None
        title: str | None = None
        if self.card_last4 is not None:
            try:
                title = card_title(self.card_last4)
            except ValueError:
                title = None
        title = title or (self.payment_method_title or "").strip()[:100] or "saved payment method"
        return PaymentMethod(self.payment_method_id, title)


@dataclass(frozen=True)
class ProviderRefund:
    """A refund as the provider reports it: ``pending``, ``succeeded`` or ``canceled``."""

    id: str
    status: str
    amount: Money
    payment_id: str
    cancellation_party: str | None = None
    cancellation_reason: str | None = None


class PaymentGateway(ABC):
    """The payment provider. Implementations are thread-safe and bound every call by a deadline;
    they raise only the errors of ``domain/billing_errors.py`` (plus ``ValueError`` for arguments
    that break this contract, and ``ValidationFailed`` on ``customer_email`` for an address the
    54-FZ receipt cannot carry)."""

    name: str = "payments"

    @abstractmethod
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
        """Create a payment captured at once, of one of two kinds — exactly one of:

        - ``return_url``: a checkout. The answer is ``pending`` with a ``confirmation_url`` to
          send the user to; ``save_payment_method`` asks the provider to keep the method for
          renewals (the user chose automatic renewal).
        - ``payment_method_id``: a charge of a saved method without the user (a renewal). The
          answer may already be final: ``succeeded``, or ``canceled`` with the reason.

        ``description`` is clipped to the provider's limit (128 characters). ``metadata``
        (at most 16 keys) comes back with the payment and its notifications. ``customer_email``,
        when given, gets the 54-FZ receipt: one service item for the whole amount.
        The same ``idempotence_key`` with the same arguments answers the same payment."""

    @abstractmethod
    def get_payment(self, provider_id: str) -> ProviderPayment:
        """The payment as the provider sees it now (a webhook is only a hint; this is the truth).
        ``PaymentNotFound`` when it does not exist."""

    @abstractmethod
    def cancel_payment(self, provider_id: str, idempotence_key: str) -> ProviderPayment:
        """Cancel a payment ``waiting_for_capture`` (never one of ours, which capture at once,
        but the provider allows it); a payment in another state is ``PaymentRejected``."""

    @abstractmethod
    def create_refund(
        self,
        provider_payment_id: str,
        amount: Money,
        idempotence_key: str,
        *,
        description: str | None = None,
        customer_email: str | None = None,
    ) -> ProviderRefund:
        """Refund ``amount`` of a succeeded payment (all or part of what is left). With
        ``customer_email`` a 54-FZ refund receipt is sent (its item is ``description``, which is
        then required). More than is left is ``PaymentRejected``."""

    @abstractmethod
    def get_refund(self, refund_id: str) -> ProviderRefund:
        """A refund as the provider sees it now; ``PaymentNotFound`` when it does not exist."""

    def close(self) -> None:
        """Release connections (a no-op unless the implementation keeps some)."""
        return None


# --------------------------------------------------------------------------------------------
# Storage (SPEC §10, §12): plans, subscriptions, payments, refunds and the webhook events seen.
# Repositories never commit; the billing use cases hold the transaction.
# --------------------------------------------------------------------------------------------


class PlanRepository(ABC):
    @abstractmethod
    def list(self) -> list[Plan]:
        """Every plan, hidden ones included: personal plans before team plans, cheapest first."""
    @abstractmethod
    def get(self, slug: str) -> Plan | None: ...
    @abstractmethod
    def save(self, plan: Plan) -> None:
        """Insert the plan, or update the one with its slug."""


class SubscriptionRepository(ABC):
    @abstractmethod
    def get(self, owner: Owner) -> Subscription | None:
        """The owner's one subscription (of any status), or None."""
    @abstractmethod
    def lock(self, owner: Owner) -> Subscription | None:
        """As ``get``, holding the row until the transaction ends (one change at a time)."""
    @abstractmethod
    def add(self, subscription: Subscription, now: datetime) -> Subscription:
        """Store a new subscription and set its id. One per owner: a second is a programming
        error (the caller locked the owner's row or the paying user first)."""
    @abstractmethod
    def update(self, subscription: Subscription, now: datetime) -> None: ...
    @abstractmethod
    def needing_attention(self, until: datetime, limit: int) -> list[Subscription]:
        """``active`` and ``past_due`` subscriptions whose period end or grace end is at or before
        ``until`` (the worker passes now plus the ends-soon notice), soonest first: the ones
        that may renew, expire or be about to end."""


class PaymentRepository(ABC):
    @abstractmethod
    def add(self, payment: Payment) -> Payment:
        """Store a new payment and set its id. Its idempotence key is unique."""
    @abstractmethod
    def get(self, payment_id: int) -> Payment | None: ...
    @abstractmethod
    def lock(self, payment_id: int) -> Payment | None: ...
    @abstractmethod
    def lock_by_provider_id(self, provider_id: str) -> Payment | None: ...
    @abstractmethod
    def by_idempotence_key(self, key: str) -> Payment | None: ...
    @abstractmethod
    def update(self, payment: Payment) -> None: ...
    @abstractmethod
    def pending_checkout(self, user_id: int) -> Payment | None:
        """The user's newest checkout that is not final (pending or waiting for capture)."""
    @abstractmethod
    def of_owner(self, owner: Owner, limit: int) -> list[Payment]:
        """The owner's payments, newest first."""
    @abstractmethod
    def open_of_owner(self, owner: Owner) -> Payment | None:
        """The owner's newest payment that is not final (pending or waiting for capture: a
        checkout or a renewal under way), by anyone."""
    @abstractmethod
    def search(self, query: str | None, before_id: int | None, limit: int) -> list[Payment]:
        """Every payment, newest (highest id) first, below ``before_id`` when given; ``query``
        matches our id, the provider's id, or part of the paying user's e-mail address."""
    @abstractmethod
    def unsettled(self, created_before: datetime, limit: int) -> list[Payment]:
        """Payments not final that were created at or before ``created_before``, oldest first."""


@dataclass
class RefundRecord:
    """A refund we asked for: its key is stored before the provider is called, so a retry sends
    the same key. ``status``: ``new`` (not confirmed by the provider yet), then the provider's
    ``pending``, ``succeeded`` or ``canceled``."""

    payment_id: int
    amount: Money
    idempotence_key: str
    created_at: datetime
    updated_at: datetime
    status: str = "new"
    provider_id: str | None = None
    id: int | None = None


class RefundRepository(ABC):
    @abstractmethod
    def add(self, refund: RefundRecord) -> RefundRecord: ...
    @abstractmethod
    def update(self, refund: RefundRecord) -> None: ...
    @abstractmethod
    def unconfirmed(self, payment_id: int) -> RefundRecord | None:
        """The payment's newest refund still ``new`` (its outcome unknown), or None."""
    @abstractmethod
    def of_payment(self, payment_id: int) -> list[RefundRecord]:
        """The payment's refunds, oldest first."""


class BillingEventRepository(ABC):
    @abstractmethod
    def record(self, key: str, now: datetime) -> bool:
        """Remember an event under its unique key; True if it is new, False if it was seen (then
        nothing is written). Concurrent recorders of one key: exactly one gets True."""
