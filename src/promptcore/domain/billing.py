"""Billing (SPEC §12): money, plans, and the payment and subscription state machines.

Pure rules, no I/O. Services load a ``Payment`` or a ``Subscription``, call one method with the
provider's word or the clock, store the result, and act on the returned change (send mail,
extend a subscription). Every method that can be called twice with the same input — a webhook
delivered again, a worker run repeated — changes nothing the second time.

Money is integer minor units (kopecks) from end to end; no float is ever accepted or produced.
All times are timezone-aware and kept in UTC.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, Mapping

from .errors import ValidationFailed
from .users import validate_email

# --------------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------------

DEFAULT_CURRENCY = "RUB"
# Every currency YooKassa takes (RUB, USD, EUR, ...) has two decimals; so do we.
MINOR_PER_MAJOR = 100
# A parsed amount has at most this many digits before the decimal point (10^15 − 1 roubles):
# far above any real price, low enough that no input can make int() work hard.
MAX_MAJOR_DIGITS = 15

NBSP = "\u00a0"
NARROW_NBSP = "\u202f"
# "490", "490.5", "490.00", "1 990.00" (groups of three separated by a space, a no-break space or a
# narrow no-break space). ASCII digits only; no sign, exponent, underscore or comma.
_AMOUNT_RE = re.compile(
    r"(?P<whole>[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+|[0-9]+)(?:\.(?P<frac>[0-9]{1,2}))?"
)
_CURRENCY_RE = re.compile(r"[A-Z]{3}")

_RU_SYMBOLS = {"RUB": "₽", "USD": "$", "EUR": "€"}
_EN_PREFIX_SYMBOLS = {"USD": "$", "EUR": "€"}


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were added, subtracted or compared."""


@dataclass(frozen=True)
class Money:
    """A non-negative amount in integer minor units (kopecks) of one currency.

    Addition, subtraction and ordering work only within one currency (else ``CurrencyMismatch``);
    equality is plain: amounts in different currencies are simply unequal. A float, a bool or a
    Decimal is refused at construction, so none can creep in through arithmetic either.
    """

    minor: int
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        if type(self.minor) is not int:  # bool is an int subclass; float/Decimal are not ints
            raise TypeError(f"Money needs integer minor units, not {type(self.minor).__name__}")
        if self.minor < 0:
            raise ValueError("Money is never negative")
        if not isinstance(self.currency, str) or not _CURRENCY_RE.fullmatch(self.currency):
            raise ValueError(f"not a currency code: {self.currency!r}")

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str = DEFAULT_CURRENCY) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: Any, currency: str = DEFAULT_CURRENCY, *, field_name: str = "amount") -> Money:
        """Read a decimal string: ``"490"``, ``"490.5"``, ``"490.00"``, ``"1 990.00"`` (→ 199000).

        Only a ``str`` is accepted: a float (or an int, whose unit — roubles or kopecks? — would
        be a guess) raises ``ValidationFailed``, as do a sign, more than two decimals, an exponent,
        ``NaN``/``Infinity``, a comma, a misplaced group separator and non-ASCII digits.
        Surrounding whitespace is ignored.
        """
        if not isinstance(text, str):
            raise ValidationFailed.on(field_name, 'Give the amount as a string such as "490.00".')
        match = _AMOUNT_RE.fullmatch(text.strip())
        if match is None:
            raise ValidationFailed.on(
                field_name, 'Enter an amount such as "490.00": digits, at most two after the point.'
            )
        whole = re.sub(r"[ \u00a0\u202f]", "", match["whole"])
        if len(whole.lstrip("0")) > MAX_MAJOR_DIGITS:
            raise ValidationFailed.on(field_name, "The amount is too large.")
        frac = (match["frac"] or "").ljust(2, "0")
        return cls(int(whole) * MINOR_PER_MAJOR + int(frac), currency)

    @classmethod
    def from_amount(cls, data: Mapping[str, Any], *, field_name: str = "amount") -> Money:
        """Read YooKassa's amount object ``{"value": "490.00", "currency": "RUB"}``."""
        if not isinstance(data, Mapping):
            raise ValidationFailed.on(field_name, "An amount needs a value and a currency.")
        currency = data.get("currency")
        if not isinstance(currency, str) or not _CURRENCY_RE.fullmatch(currency):
            raise ValidationFailed.on(field_name, "Unknown currency.")
        return cls.parse(data.get("value"), currency, field_name=field_name)

    # -- formatting --------------------------------------------------------------------------

    def to_decimal_string(self) -> str:
        """YooKassa's form: always two decimals, a point, no grouping — ``"1990.00"``."""
        whole, frac = divmod(self.minor, MINOR_PER_MAJOR)
        return f"{whole}.{frac:02d}"

    def to_amount(self) -> dict[str, str]:
        """YooKassa's amount object: ``{"value": "490.00", "currency": "RUB"}``."""
        return {"value": self.to_decimal_string(), "currency": self.currency}

    def human(self, language: str = "ru") -> str:
        """For people, following CLDR, with no-break spaces (U+00A0) so it never wraps:

        - ``ru``: ``"1 990,00 ₽"`` — groups of three, decimal comma, the sign after the number
          (``$``/``€`` likewise; another currency by its code);
        - anything else (``en``): ``"RUB 1,990.00"`` — the code before the number, comma groups,
          decimal point; ``"$1,990.00"`` and ``"€1,990.00"`` for dollars and euros.
        """
        whole, frac = divmod(self.minor, MINOR_PER_MAJOR)
        if language == "ru":
            number = f"{whole:,}".replace(",", NBSP) + f",{frac:02d}"
            return f"{number}{NBSP}{_RU_SYMBOLS.get(self.currency, self.currency)}"
        number = f"{whole:,}.{frac:02d}"
        if self.currency in _EN_PREFIX_SYMBOLS:
            return f"{_EN_PREFIX_SYMBOLS[self.currency]}{number}"
        return f"{self.currency}{NBSP}{number}"

    def __str__(self) -> str:
        return f"{self.to_decimal_string()} {self.currency}"

    # -- arithmetic --------------------------------------------------------------------------

    @property
    def is_zero(self) -> bool:
        return self.minor == 0

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} do not mix")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.minor + self._same(other).minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        """The difference; ``ValueError`` if it would be negative (money is never negative)."""
        return Money(self.minor - self._same(other).minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.minor < self._same(other).minor

    def __le__(self, other: Money) -> bool:
        return self.minor <= self._same(other).minor

    def __gt__(self, other: Money) -> bool:
        return self.minor > self._same(other).minor

    def __ge__(self, other: Money) -> bool:
        return self.minor >= self._same(other).minor


# --------------------------------------------------------------------------------------------
# Owners and plans
# --------------------------------------------------------------------------------------------


class OwnerKind(str, Enum):
    USER = "user"
    TEAM = "team"


@dataclass(frozen=True)
class Owner:
    """Who pays and holds a subscription: a user, or a team (§14; its owners pay for it)."""

    kind: OwnerKind
    id: int

    def __post_init__(self) -> None:
        if type(self.id) is not int or self.id <= 0:
            raise ValueError("an owner id is a positive integer")

    @classmethod
    def user(cls, user_id: int) -> Owner:
        return cls(OwnerKind.USER, user_id)

    @classmethod
    def team(cls, team_id: int) -> Owner:
        return cls(OwnerKind.TEAM, team_id)

    @property
    def is_team(self) -> bool:
        return self.kind is OwnerKind.TEAM


FREE_PLAN = "free"
DEFAULT_PERIOD_DAYS = 30
PLAN_SLUG_RE = re.compile(r"[a-z][a-z0-9_-]{1,31}")
PLAN_TITLE_MAX = 64


@dataclass(frozen=True)
class Plan:
    """A plan (§12.1): a daily limit for a price per period. A team plan's limit is a pool shared
    by the team's members (§14) and only a team can hold it; a personal plan only a user.
    A hidden plan (``is_public=False``) is not offered on ``/pricing``."""

    slug: str
    title_ru: str
    title_en: str
    daily_limit: int
    price: Money
    period_days: int = DEFAULT_PERIOD_DAYS
    is_public: bool = True
    is_team: bool = False

    def __post_init__(self) -> None:
        errors: dict[str, list[str]] = {}
        if not isinstance(self.slug, str) or not PLAN_SLUG_RE.fullmatch(self.slug):
            errors["slug"] = ["2–32 characters: lower-case letters, digits, '-' or '_', a letter first."]
        for name in ("title_ru", "title_en"):
            title = getattr(self, name)
            if not isinstance(title, str) or not title.strip() or len(title) > PLAN_TITLE_MAX:
                errors[name] = [f"A title of 1–{PLAN_TITLE_MAX} characters."]
        if type(self.daily_limit) is not int or self.daily_limit < 0:
            errors["daily_limit"] = ["A whole number, zero or more."]
        if not isinstance(self.price, Money):
            errors["price"] = ["A price in Money."]
        if type(self.period_days) is not int or not 1 <= self.period_days <= 366:
            errors["period_days"] = ["A whole number of days, 1–366."]
        if errors:
            raise ValidationFailed(errors, next(iter(errors.values()))[0])

    def title(self, language: str) -> str:
        return self.title_ru if language == "ru" else self.title_en

    @property
    def period(self) -> timedelta:
        return timedelta(days=self.period_days)

    @property
    def is_free(self) -> bool:
        return self.price.is_zero

    def fits(self, owner: Owner) -> bool:
        """A team plan is for teams only; a personal plan for users only."""
        return self.is_team == owner.is_team


# The seed of the ``plans`` table (§12.1); a migration inserts exactly these rows.
SEED_PLANS: tuple[Plan, ...] = (
    Plan(slug=FREE_PLAN, title_ru="Бесплатный", title_en="Free", daily_limit=3, price=Money(0)),
    Plan(slug="pro", title_ru="Про", title_en="Pro", daily_limit=100, price=Money(490_00)),
    Plan(slug="team", title_ru="Команда", title_en="Team", daily_limit=500, price=Money(1_990_00), is_team=True),
)


def _require_plan_for(plan: Plan, owner: Owner) -> None:
    if not plan.fits(owner):
        text = "That plan is for teams." if plan.is_team else "That plan is for personal accounts."
        raise ValidationFailed.on("plan", text)


# --------------------------------------------------------------------------------------------
# Times
# --------------------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("billing needs timezone-aware datetimes")
    return moment.astimezone(timezone.utc)


# --------------------------------------------------------------------------------------------
# Payments
# --------------------------------------------------------------------------------------------

# The worker asks YooKassa again about a payment pending this long, and gives up on one of ours
# (marks it canceled) after the second delay (§12.3).
PENDING_RECHECK_AFTER = timedelta(minutes=10)
PENDING_GIVE_UP_AFTER = timedelta(hours=1)
# YooKassa limits a payment's (and a receipt item's) description to 128 characters.
DESCRIPTION_MAX = 128
# The cancellation reason we record when we cancel a payment ourselves (YooKassa never answered,
# or the payment stayed pending too long).
REASON_GAVE_UP = "gave_up"
REASON_PROVIDER_UNAVAILABLE = "provider_unavailable"


class PaymentStatus(str, Enum):
    """YooKassa's payment statuses. They only move forward:

    pending → waiting_for_capture → succeeded | canceled, and pending → succeeded | canceled.
    ``succeeded`` and ``canceled`` are final.
    """

    PENDING = "pending"
    WAITING_FOR_CAPTURE = "waiting_for_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"

    @property
    def rank(self) -> int:
        return _PAYMENT_RANK[self]

    @property
    def is_final(self) -> bool:
        return self in (PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED)


_PAYMENT_RANK = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.WAITING_FOR_CAPTURE: 1,
    PaymentStatus.SUCCEEDED: 2,
    PaymentStatus.CANCELED: 2,
}


class RefundState(str, Enum):
    """Derived from a succeeded payment's refunded amount."""

    NONE = "none"
    PARTIALLY_REFUNDED = "partially_refunded"
    FULLY_REFUNDED = "fully_refunded"


class PaymentPurpose(str, Enum):
    CHECKOUT = "checkout"  # the user went through YooKassa's payment page
    RENEWAL = "renewal"  # the worker charged the saved method


def new_idempotence_key() -> str:
    """A fresh Idempotence-Key for a checkout (retries of one request reuse the stored key)."""
    return str(uuid.uuid4())


def clip_description(text: str) -> str:
    """A description YooKassa accepts: whitespace collapsed, at most 128 characters (cut with an
    ellipsis when longer)."""
    text = " ".join(str(text).split())
    if len(text) <= DESCRIPTION_MAX:
        return text
    return text[: DESCRIPTION_MAX - 1].rstrip() + "…"


@dataclass(frozen=True)
class PaymentChange:
    """What one call did to a payment. ``changed`` is False for a duplicate or stale event."""

    status_before: PaymentStatus
    status_after: PaymentStatus
    refunded_before: Money
    refunded_after: Money
    amount: Money

    @property
    def changed(self) -> bool:
        return self.status_before is not self.status_after or self.refunded_before != self.refunded_after

    @property
    def succeeded_now(self) -> bool:
        """True exactly once in a payment's life: extend the subscription, send the receipt."""
        return self.status_before is not PaymentStatus.SUCCEEDED and self.status_after is PaymentStatus.SUCCEEDED

    @property
    def canceled_now(self) -> bool:
        return self.status_before is not PaymentStatus.CANCELED and self.status_after is PaymentStatus.CANCELED

    @property
    def refunded_now(self) -> Money:
        """How much more was refunded by this call (zero if nothing)."""
        return self.refunded_after - self.refunded_before

    @property
    def fully_refunded_now(self) -> bool:
        """True exactly once: the refunded total reached the amount (a full refund ends the
        subscription, §12.4)."""
        return self.refunded_before < self.amount and self.refunded_after == self.amount


@dataclass
class Payment:
    """One attempt to take money for one period of a plan (§12.2–§12.4).

    The status moves only forward (see ``PaymentStatus``); the refunded amount only grows, up to
    the amount. ``canceled_by_us`` marks a payment we canceled ourselves without YooKassa's word
    (it never answered, or the payment stayed pending past ``PENDING_GIVE_UP_AFTER``): if
    YooKassa later says it ``succeeded``, the money was taken and that word wins.
    """

    owner: Owner
    plan_slug: str
    amount: Money
    idempotence_key: str
    created_at: datetime
    updated_at: datetime
    purpose: PaymentPurpose = PaymentPurpose.CHECKOUT
    save_method: bool = False
    status: PaymentStatus = PaymentStatus.PENDING
    provider_id: str | None = None
    cancellation_reason: str | None = None
    canceled_by_us: bool = False
    refunded: Money | None = None  # None at construction means zero in the payment's currency
    id: int | None = None
    # Who paid (the owner for a user; the owner who checked out for a team), and where YooKassa
    # sends them to pay (a checkout's confirmation URL, while it is pending).
    user_id: int | None = None
    confirmation_url: str | None = None

    def __post_init__(self) -> None:
        self.created_at = _utc(self.created_at)
        self.updated_at = _utc(self.updated_at)
        self.status = PaymentStatus(self.status)
        self.purpose = PaymentPurpose(self.purpose)
        if self.refunded is None:
            self.refunded = Money.zero(self.amount.currency)
        if self.refunded > self.amount:
            raise ValueError("refunded more than the amount")
        if not self.idempotence_key or len(self.idempotence_key) > 64:
            raise ValueError("an idempotence key has 1–64 characters")

    @classmethod
    def start(
        cls,
        owner: Owner,
        plan: Plan,
        now: datetime,
        *,
        purpose: PaymentPurpose = PaymentPurpose.CHECKOUT,
        save_method: bool = False,
        idempotence_key: str | None = None,
    ) -> Payment:
        """A new ``pending`` payment for one period of ``plan`` at its price. A free plan cannot
        be bought; a team plan only by a team, a personal plan only by a user."""
        if plan.is_free:
            raise ValidationFailed.on("plan", "That plan is free.")
        _require_plan_for(plan, owner)
        now = _utc(now)
        return cls(
            owner=owner,
            plan_slug=plan.slug,
            amount=plan.price,
            idempotence_key=idempotence_key or new_idempotence_key(),
            created_at=now,
            updated_at=now,
            purpose=purpose,
            save_method=save_method,
        )

    # -- reading -----------------------------------------------------------------------------

    @property
    def is_final(self) -> bool:
        return self.status.is_final

    @property
    def refund_state(self) -> RefundState:
        assert self.refunded is not None
        if self.refunded.is_zero:
            return RefundState.NONE
        if self.refunded < self.amount:
            return RefundState.PARTIALLY_REFUNDED
        return RefundState.FULLY_REFUNDED

    @property
    def refundable(self) -> Money:
        """What can still be refunded: the rest of a succeeded payment, else nothing."""
        assert self.refunded is not None
        if self.status is not PaymentStatus.SUCCEEDED:
            return Money.zero(self.amount.currency)
        return self.amount - self.refunded

    def needs_recheck(self, now: datetime) -> bool:
        """Pending for over ``PENDING_RECHECK_AFTER``: the worker asks YooKassa again."""
        return not self.is_final and _utc(now) - self.created_at >= PENDING_RECHECK_AFTER

    def should_give_up(self, now: datetime) -> bool:
        """Pending for over ``PENDING_GIVE_UP_AFTER``: the worker cancels it on our side."""
        return not self.is_final and _utc(now) - self.created_at >= PENDING_GIVE_UP_AFTER

    def check_refund(self, amount: Money | None = None) -> Money:
        """The amount an admin refund of ``amount`` would return (None: all that is left).
        Raises ``ValidationFailed`` on ``amount`` unless the payment succeeded and
        0 < amount ≤ what is left, in the payment's currency."""
        left = self.refundable
        if left.is_zero:
            raise ValidationFailed.on("amount", "Nothing of this payment can be refunded.")
        if amount is None:
            return left
        if amount.currency != left.currency:
            raise ValidationFailed.on("amount", "A refund is in the payment's currency.")
        if amount.is_zero or amount > left:
            raise ValidationFailed.on("amount", f"Refund between 0.01 and {left.to_decimal_string()}.")
        return amount

    # -- changing ----------------------------------------------------------------------------

    def _snapshot(self) -> tuple[PaymentStatus, Money]:
        assert self.refunded is not None
        return self.status, self.refunded

    def _change(self, before: tuple[PaymentStatus, Money], now: datetime) -> PaymentChange:
        assert self.refunded is not None
        change = PaymentChange(before[0], self.status, before[1], self.refunded, self.amount)
        if change.changed:
            self.updated_at = now
        return change

    def attach_provider_id(self, provider_id: str, now: datetime) -> None:
        """Remember YooKassa's id of this payment. Setting the same id again is a no-op; a
        different one means two provider payments for one of ours and is refused."""
        if not provider_id:
            raise ValueError("empty provider id")
        if self.provider_id == provider_id:
            return
        if self.provider_id is not None:
            raise ValueError(f"payment {self.id} is already {self.provider_id}, not {provider_id}")
        self.provider_id = provider_id
        self.updated_at = _utc(now)

    def apply_status(
        self,
        status: PaymentStatus | str,
        now: datetime,
        *,
        cancellation_reason: str | None = None,
    ) -> PaymentChange:
        """Apply the status YooKassa reports. It takes effect only if it is further along than
        the current one (and the current one is not final); a repeat or an older status is a
        no-op. One exception: a payment we canceled ourselves still becomes ``succeeded`` when
        YooKassa says so — the money was taken. ``cancellation_reason`` (YooKassa's
        ``cancellation_details.reason``) is recorded when the payment becomes canceled.
        An unknown status string raises ``ValueError``."""
        status = PaymentStatus(status)
        now = _utc(now)
        before = self._snapshot()
        if self.status is PaymentStatus.CANCELED and self.canceled_by_us and status is PaymentStatus.SUCCEEDED:
            self.status = status
            self.canceled_by_us = False
            self.cancellation_reason = None
        elif not self.status.is_final and status.rank > self.status.rank:
            self.status = status
            if status is PaymentStatus.CANCELED:
                self.cancellation_reason = cancellation_reason
        return self._change(before, now)

    def give_up(self, now: datetime, reason: str = REASON_GAVE_UP) -> PaymentChange:
        """Cancel on our side a payment whose outcome YooKassa did not give us (the checkout call
        failed, or it stayed pending too long). A final payment is left as it is."""
        now = _utc(now)
        before = self._snapshot()
        if not self.status.is_final:
            self.status = PaymentStatus.CANCELED
            self.canceled_by_us = True
            self.cancellation_reason = reason
        return self._change(before, now)

    def record_refunded(self, total_refunded: Money, now: datetime) -> PaymentChange:
        """Apply YooKassa's refunded total for this payment (its ``refunded_amount``, or the sum of
        its succeeded refunds). The total only grows: a smaller or equal figure is a stale event
        and a no-op. Only a succeeded payment can be refunded; more than the amount is refused."""
        now = _utc(now)
        assert self.refunded is not None
        if total_refunded.currency != self.amount.currency:
            raise CurrencyMismatch("a refund is in the payment's currency")
        if total_refunded > self.amount:
            raise ValueError("refunded more than the amount")
        before = self._snapshot()
        if total_refunded > self.refunded:
            if self.status is not PaymentStatus.SUCCEEDED:
                raise ValueError("only a succeeded payment can be refunded")
            self.refunded = total_refunded
        return self._change(before, now)


# --------------------------------------------------------------------------------------------
# Subscriptions
# --------------------------------------------------------------------------------------------

# Renewal begins this long before the period end (§12.4); after a failure it is retried daily.
RENEWAL_LEAD = timedelta(days=1)
RENEWAL_RETRY_EVERY = timedelta(days=1)
PAYMENT_METHOD_TITLE_MAX = 100


class SubscriptionStatus(str, Enum):
    """``active``: paid (or its renewal is under way); ``past_due``: a renewal failed, the plan
    holds until ``grace_until``; ``canceled``: ended after the owner canceled, or refunded;
    ``expired``: ended without renewal. The last two end only by a new successful payment."""

    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    EXPIRED = "expired"

    @property
    def is_ended(self) -> bool:
        return self in (SubscriptionStatus.CANCELED, SubscriptionStatus.EXPIRED)


@dataclass(frozen=True)
class PaymentMethod:
    """A payment method YooKassa saved for renewals: its id and a title to show."""

    id: str
    title: str

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id or len(self.id) > 64:
            raise ValueError("a payment method id has 1–64 characters")
        if not isinstance(self.title, str) or not self.title or len(self.title) > PAYMENT_METHOD_TITLE_MAX:
            raise ValueError(f"a payment method title has 1–{PAYMENT_METHOD_TITLE_MAX} characters")


def card_title(last4: str) -> str:
    """The title of a saved card: ``"card •••• 4242"``."""
    if not (isinstance(last4, str) and len(last4) == 4 and last4.isascii() and last4.isdigit()):
        raise ValueError("the last four digits of a card")
    return f"card •••• {last4}"


@dataclass(frozen=True)
class SubscriptionState:
    status: SubscriptionStatus
    plan_slug: str
    period_start: datetime
    period_end: datetime
    cancel_at_period_end: bool
    grace_until: datetime | None
    renewal_attempt: int
    payment_method_id: str | None


@dataclass(frozen=True)
class SubscriptionChange:
    """What one call did to a subscription; ``changed`` is False for a no-op."""

    before: SubscriptionState
    after: SubscriptionState

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def status_changed(self) -> bool:
        return self.before.status is not self.after.status

    @property
    def became_past_due(self) -> bool:
        """A renewal failed for the first time this period: the "renewal failed" e-mail."""
        return self.status_changed and self.after.status is SubscriptionStatus.PAST_DUE

    @property
    def ended_now(self) -> bool:
        """It has just become canceled or expired: the "expired" e-mail."""
        return not self.before.status.is_ended and self.after.status.is_ended

    @property
    def extended(self) -> bool:
        return self.after.period_end > self.before.period_end


@dataclass
class Subscription:
    """One per user or team (§12.4). It guards its own rules; services never assign fields.

    Periods are half-open: the plan counts from ``period_start`` up to (not including)
    ``period_end``. ``period_start`` is the start of the latest paid period, which after an early
    renewal is the old end (so up to ``RENEWAL_LEAD`` ahead of now).
    """

    owner: Owner
    plan_slug: str
    status: SubscriptionStatus
    period_start: datetime
    period_end: datetime
    cancel_at_period_end: bool = False
    payment_method_id: str | None = None
    payment_method_title: str | None = None
    grace_until: datetime | None = None
    # Renewal attempts that failed this period (part of the renewal key) and when to try again.
    renewal_attempt: int = 0
    next_renewal_at: datetime | None = None
    id: int | None = None
    # Given without a payment (``promptcore plans grant``: support, trials, tests); a paid period
    # clears it.
    granted: bool = False

    def __post_init__(self) -> None:
        self.status = SubscriptionStatus(self.status)
        self.period_start = _utc(self.period_start)
        self.period_end = _utc(self.period_end)
        if self.grace_until is not None:
            self.grace_until = _utc(self.grace_until)
        if self.next_renewal_at is not None:
            self.next_renewal_at = _utc(self.next_renewal_at)
        if (self.payment_method_id is None) != (self.payment_method_title is None):
            raise ValueError("a saved payment method has both an id and a title")

    @classmethod
    def begin(cls, owner: Owner, plan: Plan, now: datetime, method: PaymentMethod | None = None,
              *, granted: bool = False) -> Subscription:
        """The first subscription of an owner, after their first successful payment (or a grant):
        ``active`` on ``plan`` for one period from now."""
        _require_plan_for(plan, owner)
        now = _utc(now)
        return cls(
            granted=granted,
            owner=owner,
            plan_slug=plan.slug,
            status=SubscriptionStatus.ACTIVE,
            period_start=now,
            period_end=now + plan.period,
            payment_method_id=method.id if method else None,
            payment_method_title=method.title if method else None,
        )

    # -- reading -----------------------------------------------------------------------------

    @property
    def renews(self) -> bool:
        """Automatic renewal is on: a saved method and no cancel pending."""
        return self.payment_method_id is not None and not self.cancel_at_period_end

    def state(self) -> SubscriptionState:
        return SubscriptionState(
            self.status, self.plan_slug, self.period_start, self.period_end, self.cancel_at_period_end,
            self.grace_until, self.renewal_attempt, self.payment_method_id,
        )

    def effective_plan(self, now: datetime) -> str:
        """The slug of the plan that counts at ``now``:

        - ``active``: its plan before the period end — and after it too while a renewal is under
          way (a saved method, not canceled: the worker's outcome moves it on either way);
        - ``past_due``: its plan until ``grace_until``;
        - otherwise (``canceled``, ``expired``, or past the end without renewal): ``free``.
        """
        now = _utc(now)
        if self.status is SubscriptionStatus.ACTIVE and (now < self.period_end or self.renews):
            return self.plan_slug
        if self.status is SubscriptionStatus.PAST_DUE and self.grace_until is not None and now < self.grace_until:
            return self.plan_slug
        return FREE_PLAN

    def renewal_due(self, now: datetime) -> bool:
        """The worker should charge the saved method now: renewal is on (saved method, no cancel
        pending), the subscription is ``active`` or ``past_due`` within its grace, it is at most
        ``RENEWAL_LEAD`` before the period end, and a retry after a failure waits a day."""
        now = _utc(now)
        if not self.renews:
            return False
        if self.status is SubscriptionStatus.PAST_DUE:
            if self.grace_until is None or now >= self.grace_until:
                return False
        elif self.status is not SubscriptionStatus.ACTIVE:
            return False
        if now < self.period_end - RENEWAL_LEAD:
            return False
        return self.next_renewal_at is None or now >= self.next_renewal_at

    def renewal_idempotence_key(self) -> str:
        """The Idempotence-Key of this period's renewal charge: derived from the subscription id,
        the period end (to the second) and the number of failed attempts this period. The worker
        running twice sends the same key, so YooKassa charges once; the next period — or the
        daily retry after a charge that failed — gets a new key (a repeated key would only give
        back the failed payment)."""
        if self.id is None:
            raise ValueError("a subscription needs an id before it renews")
        end = self.period_end.strftime("%Y%m%dT%H%M%SZ")
        return f"renewal-{self.id}-{end}-{self.renewal_attempt}"

    # -- changing ----------------------------------------------------------------------------

    def _done(self, before: SubscriptionState) -> SubscriptionChange:
        return SubscriptionChange(before, self.state())

    def activate_or_extend(self, plan: Plan, now: datetime, method: PaymentMethod | None = None,
                           *, granted: bool = False) -> SubscriptionChange:
        """A payment for ``plan`` succeeded (call it once per payment: on ``succeeded_now``).

        - The same plan: the period runs ``plan.period_days`` from the later of now and the
          current end — never shorter than before, and paid days are never lost (§12.3).
        - A different plan: it applies at once, a fresh period from now (an upgrade, §12.1);
          what was left of the old plan's period is not carried over.
        Either way the subscription is ``active`` again (also from ``canceled``/``expired`` —
        the only way back), the grace and the retry count are cleared, a pending cancel is
        dropped (the owner has just paid to keep it), and ``method``, when given, becomes the
        saved method (without one the saved method, if any, stays). ``granted``: the period was
        given, not paid (``promptcore plans grant``); a paid one clears the mark."""
        _require_plan_for(plan, self.owner)
        now = _utc(now)
        before = self.state()
        self.granted = granted
        if plan.slug == self.plan_slug:
            base = max(now, self.period_end)
        else:
            base = now
            self.plan_slug = plan.slug
        self.period_start = base
        self.period_end = base + plan.period
        self.status = SubscriptionStatus.ACTIVE
        self.cancel_at_period_end = False
        self.grace_until = None
        self.renewal_attempt = 0
        self.next_renewal_at = None
        if method is not None:
            self.payment_method_id, self.payment_method_title = method.id, method.title
        return self._done(before)

    def renewal_failed(
        self, now: datetime, grace_days: int, *, idempotence_key: str | None = None
    ) -> SubscriptionChange:
        """A renewal charge was canceled. ``active`` → ``past_due`` with grace until
        ``grace_days`` after the later of now and the period end (the paid days are kept);
        a later failure keeps that deadline. The next attempt is a day later, under a new key.
        A failure that no longer applies — the subscription ended, or ``idempotence_key`` is
        not this period's current renewal key — is a no-op."""
        if type(grace_days) is not int or grace_days < 0:
            raise ValueError("grace days are a whole number, zero or more")
        now = _utc(now)
        before = self.state()
        if self.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE):
            return self._done(before)
        if idempotence_key is not None and idempotence_key != self.renewal_idempotence_key():
            return self._done(before)
        if self.status is SubscriptionStatus.ACTIVE:
            self.status = SubscriptionStatus.PAST_DUE
            self.grace_until = max(now, self.period_end) + timedelta(days=grace_days)
        self.renewal_attempt += 1
        self.next_renewal_at = now + RENEWAL_RETRY_EVERY
        return self._done(before)

    def expire_if_due(self, now: datetime) -> SubscriptionChange:
        """End what has run out (the worker calls it on a schedule):

        - ``past_due`` at or after ``grace_until`` → ``expired`` (``canceled`` if the owner
          canceled meanwhile);
        - ``active`` at or after the period end → ``canceled`` when the owner canceled,
          ``expired`` when there is no saved method; with renewal on it stays ``active`` —
          the renewal's outcome (success, or ``renewal_failed``) moves it on.
        Anything else is a no-op."""
        now = _utc(now)
        before = self.state()
        ended: SubscriptionStatus | None = None
        if self.status is SubscriptionStatus.PAST_DUE:
            if self.grace_until is None or now >= self.grace_until:
                ended = SubscriptionStatus.CANCELED if self.cancel_at_period_end else SubscriptionStatus.EXPIRED
        elif self.status is SubscriptionStatus.ACTIVE and now >= self.period_end:
            if self.cancel_at_period_end:
                ended = SubscriptionStatus.CANCELED
            elif self.payment_method_id is None:
                ended = SubscriptionStatus.EXPIRED
        if ended is not None:
            self.status = ended
            self.next_renewal_at = None
        return self._done(before)

    def cancel(self, now: datetime) -> SubscriptionChange:
        """The owner cancels: the plan stays until the period end (or the grace end when past
        due), then the subscription is ``canceled``; no renewal is attempted. Cancelling twice
        is a no-op; an ended subscription cannot be canceled (``ValidationFailed``)."""
        now = _utc(now)
        before = self.state()
        if self.status.is_ended:
            raise ValidationFailed.on("subscription", "There is no active subscription to cancel.")
        self.cancel_at_period_end = True
        return self._done(before)

    def resume(self, now: datetime) -> SubscriptionChange:
        """Undo a cancel while the plan still runs: before the period end (``active``) or before
        the grace end (``past_due``). Resuming what was not canceled is a no-op; resuming an
        ended subscription or too late raises ``ValidationFailed``."""
        now = _utc(now)
        before = self.state()
        if self.status.is_ended:
            raise ValidationFailed.on("subscription", "The subscription has ended; subscribe again.")
        if not self.cancel_at_period_end:
            return self._done(before)
        deadline = self.period_end
        if self.status is SubscriptionStatus.PAST_DUE and self.grace_until is not None:
            deadline = max(deadline, self.grace_until)
        if now >= deadline:
            raise ValidationFailed.on("subscription", "The period has ended; subscribe again.")
        self.cancel_at_period_end = False
        return self._done(before)

    def remember_payment_method(self, method: PaymentMethod) -> SubscriptionChange:
        """Save the method renewals charge (``PUT /billing/renewal {enabled: true}`` after a
        checkout that saved one)."""
        before = self.state()
        self.payment_method_id, self.payment_method_title = method.id, method.title
        return self._done(before)

    def forget_payment_method(self) -> SubscriptionChange:
        """Turn renewal off: the saved method is dropped; the plan runs to the period end and
        then expires."""
        before = self.state()
        self.payment_method_id = self.payment_method_title = None
        self.next_renewal_at = None
        return self._done(before)

    def refund(self, full: bool, now: datetime) -> SubscriptionChange:
        """A refund of its payment. A full refund ends the subscription at once: ``canceled``,
        the period cut to now, the saved method dropped (nothing will be charged again). A
        partial refund changes nothing here. An ended subscription is left as it is."""
        now = _utc(now)
        before = self.state()
        if not full or self.status.is_ended:
            return self._done(before)
        self.status = SubscriptionStatus.CANCELED
        self.period_end = min(self.period_end, now)
        self.period_start = min(self.period_start, self.period_end)
        self.cancel_at_period_end = False
        self.grace_until = None
        self.next_renewal_at = None
        self.payment_method_id = self.payment_method_title = None
        return self._done(before)


def effective_plan(subscription: Subscription | None, now: datetime) -> str:
    """The plan slug that counts at ``now`` for an owner with this subscription, or ``free``
    for one without (the admin's override and the team pool are decided elsewhere, §12.1)."""
    return FREE_PLAN if subscription is None else subscription.effective_plan(now)


# --------------------------------------------------------------------------------------------
# Receipts (54-FZ)
# --------------------------------------------------------------------------------------------

# YooKassa's vat_code: 1 no VAT, 2 0 %, 3 10 %, 4 20 %, 5 10/110, 6 20/120, 7 5 %, 8 7 %,
# 9 5/105, 10 7/107, 11 22 %, 12 22/122.
VAT_CODES = frozenset(range(1, 13))


def receipt(email: str, description: str, amount: Money, vat_code: int) -> dict[str, Any]:
    """The ``receipt`` object of a YooKassa payment or refund (54-FZ): one service item paid in
    full, quantity one. The e-mail is validated and normalised, the description clipped to 128
    characters; the amount must be above zero; ``vat_code`` one of YooKassa's codes."""
    address = validate_email(email)
    if type(vat_code) is not int or vat_code not in VAT_CODES:
        raise ValueError(f"unknown vat_code {vat_code!r}")
    if not isinstance(amount, Money) or amount.is_zero:
        raise ValueError("a receipt needs an amount above zero")
    text = clip_description(description)
    if not text:
        raise ValueError("a receipt item needs a description")
    return {
        "customer": {"email": address},
        "items": [
            {
                "description": text,
                "quantity": "1.00",
                "amount": amount.to_amount(),
                "vat_code": vat_code,
                "payment_mode": "full_payment",
                "payment_subject": "service",
            }
        ],
    }

