"""Billing rules (SPEC §12): money, plans, the payment and subscription state machines, receipts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcore.domain.billing import (
    FREE_PLAN,
    RENEWAL_LEAD,
    SEED_PLANS,
    CurrencyMismatch,
    Money,
    Owner,
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    Plan,
    RefundState,
    Subscription,
    SubscriptionStatus,
    card_title,
    effective_plan,
    receipt,
)
from promptcore.domain.errors import ValidationFailed

UTC = timezone.utc
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NBSP = "\u00a0"
PLANS = {plan.slug: plan for plan in SEED_PLANS}
PRO, TEAM, FREE = PLANS["pro"], PLANS["team"], PLANS[FREE_PLAN]
PLUS = Plan(slug="plus", title_ru="Плюс", title_en="Plus", daily_limit=300, price=Money(990_00))
USER = Owner.user(7)
CARD = PaymentMethod("pm-1", card_title("4242"))

minor_units = st.integers(min_value=0, max_value=10**9)
# Moments within ±90 days of T0, to the microsecond.
offsets = st.integers(min_value=-90 * 86400 * 10**6, max_value=90 * 86400 * 10**6)
moments = offsets.map(lambda us: T0 + timedelta(microseconds=us))


def grouped(minor: int, sep: str) -> str:
    """"1 990.00"-style: the whole part in groups of three."""
    whole, frac = divmod(minor, 100)
    return f"{whole:,}".replace(",", sep) + f".{frac:02d}"


# --------------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------------


@given(minor_units)
def test_money_round_trips_through_the_provider_string(minor):
    money = Money(minor)
    text = money.to_decimal_string()
    assert re.fullmatch(r"(0|[1-9][0-9]*)\.[0-9]{2}", text)
    assert Money.parse(text) == money
    assert Money.from_amount(money.to_amount()) == money
    assert money.to_amount() == {"value": text, "currency": "RUB"}


@given(minor_units, st.sampled_from([" ", NBSP, "\u202f"]))
def test_grouped_amounts_parse_to_the_same_money(minor, sep):
    assert Money.parse(grouped(minor, sep)) == Money(minor)


@given(st.integers(min_value=0, max_value=10**7), st.sampled_from(["", ".0", ".00"]))
def test_whole_amounts_with_or_without_decimals(whole, tail):
    assert Money.parse(f"{whole}{tail}") == Money(whole * 100)


@pytest.mark.parametrize(
    "text, minor",
    [("490.00", 49000), ("490", 49000), ("1 990.00", 199000), ("490.5", 49050), ("0.01", 1),
     ("  490.00 ", 49000), (f"1{NBSP}990", 199000), ("12 345 678.90", 1234567890), ("0", 0)],
)
def test_money_parse_examples(text, minor):
    assert Money.parse(text) == Money(minor)


@pytest.mark.parametrize(
    "value",
    ["", " ", "490.001", "-1", "-0.01", "+1", "1e3", "1E3", "NaN", "nan", "Infinity", "-inf", ".5", "5.",
     "1,5", "1,990.00", "1_000", "１２", "٣", "19 90.00", "1  990", "1 9900", "0x10", "490 RUB", "₽490",
     "1" * 16 + ".00", None, 490, 490.0, Decimal("490.00"), True, [], {}],
)
def test_money_parse_rejects(value):
    with pytest.raises(ValidationFailed) as caught:
        Money.parse(value)
    assert "amount" in caught.value.errors


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_is_never_money(value):
    with pytest.raises(ValidationFailed):
        Money.parse(value)
    with pytest.raises(TypeError):
        Money(value)


@pytest.mark.parametrize("minor", [1.0, Decimal(1), True, "100"])
def test_money_needs_integer_minor_units(minor):
    with pytest.raises(TypeError):
        Money(minor)


def test_money_is_never_negative_and_has_a_currency_code():
    with pytest.raises(ValueError):
        Money(-1)
    with pytest.raises(ValueError):
        Money(1, "rub")
    with pytest.raises(ValueError):
        Money(1) - Money(2)
    with pytest.raises(ValidationFailed):
        Money.from_amount({"value": "1.00", "currency": "rubles"})
    assert Money.from_amount({"value": "1.00", "currency": "USD"}) == Money(100, "USD")


@given(minor_units, minor_units)
def test_arithmetic_and_order_are_those_of_the_integers(a, b):
    x, y = Money(a), Money(b)
    assert (x + y).minor == a + b and type((x + y).minor) is int
    assert (x < y) == (a < b) and (x <= y) == (a <= b) and (x > y) == (a > b) and (x >= y) == (a >= b)
    if a >= b:
        assert (x - y).minor == a - b


def test_currencies_do_not_mix():
    rub, usd = Money(100), Money(100, "USD")
    assert rub != usd
    for operation in (lambda: rub + usd, lambda: rub - usd, lambda: rub < usd, lambda: rub >= usd):
        with pytest.raises(CurrencyMismatch):
            operation()
    with pytest.raises(TypeError):
        rub + 1  # noqa: B018


@pytest.mark.parametrize(
    "minor, currency, ru, en",
    [
        (49000, "RUB", f"490,00{NBSP}₽", f"RUB{NBSP}490.00"),
        (199000, "RUB", f"1{NBSP}990,00{NBSP}₽", f"RUB{NBSP}1,990.00"),
        (0, "RUB", f"0,00{NBSP}₽", f"RUB{NBSP}0.00"),
        (123456789, "RUB", f"1{NBSP}234{NBSP}567,89{NBSP}₽", f"RUB{NBSP}1,234,567.89"),
        (1050, "USD", f"10,50{NBSP}$", "$10.50"),
        (1050, "KZT", f"10,50{NBSP}KZT", f"KZT{NBSP}10.50"),
    ],
)
def test_human_forms(minor, currency, ru, en):
    money = Money(minor, currency)
    assert money.human("ru") == ru
    assert money.human("en") == en


@given(minor_units)
def test_human_forms_carry_the_same_number(minor):
    money = Money(minor)
    ru_digits = money.human("ru").removesuffix(f"{NBSP}₽").replace(NBSP, "").replace(",", ".")
    en_digits = money.human("en").removeprefix(f"RUB{NBSP}").replace(",", "")
    assert Money.parse(ru_digits) == Money.parse(en_digits) == money


# --------------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------------


def test_seed_plans_are_those_of_the_spec():
    assert [p.slug for p in SEED_PLANS] == ["free", "pro", "team"]
    assert (FREE.daily_limit, FREE.price, FREE.is_free, FREE.is_team) == (3, Money(0), True, False)
    assert (PRO.daily_limit, PRO.price, PRO.period_days, PRO.is_team) == (100, Money(490_00), 30, False)
    assert (TEAM.daily_limit, TEAM.price, TEAM.period_days, TEAM.is_team) == (500, Money(1_990_00), 30, True)
    assert all(p.is_public for p in SEED_PLANS)
    assert PRO.title("ru") == "Про" and PRO.title("en") == "Pro"


@pytest.mark.parametrize(
    "changes",
    [{"slug": "Pro"}, {"slug": "p"}, {"slug": "1pro"}, {"title_en": " "}, {"title_ru": "x" * 65},
     {"daily_limit": -1}, {"daily_limit": 1.5}, {"period_days": 0}, {"period_days": 367}, {"price": 490}],
)
def test_an_invalid_plan_is_refused(changes):
    fields = dict(slug="pro", title_ru="Про", title_en="Pro", daily_limit=100, price=Money(490_00)) | changes
    with pytest.raises(ValidationFailed):
        Plan(**fields)


# --------------------------------------------------------------------------------------------
# Payments
# --------------------------------------------------------------------------------------------


def new_payment(plan: Plan = PRO, owner: Owner = USER, **kwargs) -> Payment:
    return Payment.start(owner, plan, T0, **kwargs)


def test_a_payment_starts_pending_at_the_plan_price():
    payment = new_payment(save_method=True)
    assert payment.status is PaymentStatus.PENDING
    assert payment.amount == PRO.price and payment.plan_slug == "pro"
    assert payment.purpose is PaymentPurpose.CHECKOUT and payment.save_method
    assert payment.refunded == Money(0) and payment.refund_state is RefundState.NONE
    assert payment.created_at == payment.updated_at == T0
    assert 1 <= len(payment.idempotence_key) <= 64
    assert new_payment().idempotence_key != payment.idempotence_key
    assert new_payment(idempotence_key="renewal-1-x-0").idempotence_key == "renewal-1-x-0"


def test_what_cannot_be_bought():
    with pytest.raises(ValidationFailed):
        new_payment(FREE)
    with pytest.raises(ValidationFailed):
        new_payment(TEAM, USER)
    with pytest.raises(ValidationFailed):
        new_payment(PRO, Owner.team(3))
    assert new_payment(TEAM, Owner.team(3)).amount == Money(1_990_00)


def expected_final(statuses: list[PaymentStatus]) -> PaymentStatus:
    """The first final status seen wins; before one, the furthest along."""
    reached = PaymentStatus.PENDING
    for status in statuses:
        if status.is_final:
            return status
        reached = max(reached, status, key=lambda s: s.rank)
    return reached


@given(st.lists(st.sampled_from(list(PaymentStatus)), max_size=12))
def test_payment_status_only_moves_forward(statuses):
    payment = new_payment()
    succeeded = canceled = 0
    previous = payment.status
    for i, status in enumerate(statuses):
        change = payment.apply_status(status.value, T0 + timedelta(seconds=i + 1), cancellation_reason="r")
        assert payment.status.rank >= previous.rank
        if previous.is_final:
            assert payment.status is previous and not change.changed
        succeeded += change.succeeded_now
        canceled += change.canceled_now
        previous = payment.status
    assert payment.status is expected_final(statuses)
    assert succeeded == (payment.status is PaymentStatus.SUCCEEDED)
    assert canceled == (payment.status is PaymentStatus.CANCELED)
    assert (payment.cancellation_reason == "r") == (payment.status is PaymentStatus.CANCELED)
    # The same events delivered again change nothing.
    for status in statuses:
        assert not payment.apply_status(status, T0 + timedelta(days=1)).changed


def test_updated_at_moves_only_on_a_change():
    payment = new_payment()
    payment.apply_status("succeeded", T0 + timedelta(minutes=1))
    payment.apply_status("canceled", T0 + timedelta(minutes=2))
    payment.apply_status("pending", T0 + timedelta(minutes=3))
    assert payment.updated_at == T0 + timedelta(minutes=1)
    assert payment.status is PaymentStatus.SUCCEEDED and payment.cancellation_reason is None


def test_an_unknown_status_is_refused():
    with pytest.raises(ValueError):
        new_payment().apply_status("refunded", T0)


def test_a_payment_we_gave_up_on_still_succeeds_when_the_provider_says_so():
    payment = new_payment()
    assert payment.give_up(T0 + timedelta(hours=1)).canceled_now
    assert payment.canceled_by_us and payment.cancellation_reason == "gave_up"
    assert not payment.apply_status("canceled", T0 + timedelta(hours=2), cancellation_reason="expired").changed
    change = payment.apply_status("succeeded", T0 + timedelta(hours=2))
    assert change.succeeded_now and payment.status is PaymentStatus.SUCCEEDED
    assert not payment.canceled_by_us and payment.cancellation_reason is None
    assert not payment.give_up(T0 + timedelta(hours=3)).changed
    # A payment the provider canceled stays canceled.
    other = new_payment()
    other.apply_status("canceled", T0, cancellation_reason="insufficient_funds")
    assert not other.apply_status("succeeded", T0).changed
    assert other.cancellation_reason == "insufficient_funds"


def test_the_worker_rechecks_and_gives_up_on_pending_payments():
    payment = new_payment()
    assert not payment.needs_recheck(T0 + timedelta(minutes=9))
    assert payment.needs_recheck(T0 + timedelta(minutes=10))
    assert not payment.should_give_up(T0 + timedelta(minutes=59))
    assert payment.should_give_up(T0 + timedelta(hours=1))
    payment.apply_status("succeeded", T0)
    assert not payment.needs_recheck(T0 + timedelta(days=1)) and not payment.should_give_up(T0 + timedelta(days=1))


def test_the_provider_id_is_set_once():
    payment = new_payment()
    payment.attach_provider_id("2d9e-1", T0)
    payment.attach_provider_id("2d9e-1", T0)
    with pytest.raises(ValueError):
        payment.attach_provider_id("2d9e-2", T0)
    assert payment.provider_id == "2d9e-1"


@given(st.lists(st.integers(min_value=0, max_value=PRO.price.minor), max_size=10))
def test_the_refunded_total_only_grows(totals):
    payment = new_payment()
    payment.apply_status("succeeded", T0)
    full = 0
    for total in totals:
        change = payment.record_refunded(Money(total), T0)
        full += change.fully_refunded_now
        assert change.refunded_after >= change.refunded_before
    top = max(totals, default=0)
    assert payment.refunded == Money(top)
    assert payment.refundable == PRO.price - Money(top)
    assert full == (top == PRO.price.minor)
    assert payment.refund_state is (
        RefundState.NONE if top == 0
        else RefundState.FULLY_REFUNDED if top == PRO.price.minor
        else RefundState.PARTIALLY_REFUNDED
    )


def test_refund_rules():
    pending = new_payment()
    with pytest.raises(ValueError):
        pending.record_refunded(Money(100), T0)
    with pytest.raises(ValidationFailed):
        pending.check_refund()
    payment = new_payment()
    payment.apply_status("succeeded", T0)
    with pytest.raises(ValueError):
        payment.record_refunded(PRO.price + Money(1), T0)
    with pytest.raises(CurrencyMismatch):
        payment.record_refunded(Money(1, "USD"), T0)
    assert payment.check_refund() == PRO.price
    assert payment.check_refund(Money(100_00)) == Money(100_00)
    for bad in (Money(0), PRO.price + Money(1), Money(100, "USD")):
        with pytest.raises(ValidationFailed):
            payment.check_refund(bad)
    payment.record_refunded(Money(400_00), T0)
    assert payment.check_refund() == Money(90_00)
    with pytest.raises(ValidationFailed):
        payment.check_refund(Money(90_01))


def test_times_must_be_aware():
    with pytest.raises(ValueError):
        Payment.start(USER, PRO, datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        Subscription.begin(USER, PRO, datetime(2025, 1, 1))


# --------------------------------------------------------------------------------------------
# Subscriptions
# --------------------------------------------------------------------------------------------


def subscription(end: datetime, *, status: SubscriptionStatus = SubscriptionStatus.ACTIVE, method: bool = True,
                 plan: str = "pro", **kwargs) -> Subscription:
    return Subscription(
        owner=USER, plan_slug=plan, status=status, period_start=end - timedelta(days=30), period_end=end,
        payment_method_id=CARD.id if method else None, payment_method_title=CARD.title if method else None,
        id=11, **kwargs,
    )


def test_a_first_subscription_runs_one_period_from_now():
    sub = Subscription.begin(USER, PRO, T0, CARD)
    assert sub.status is SubscriptionStatus.ACTIVE
    assert (sub.period_start, sub.period_end) == (T0, T0 + timedelta(days=30))
    assert (sub.payment_method_id, sub.payment_method_title) == ("pm-1", "card •••• 4242")
    assert sub.effective_plan(T0) == "pro"
    with pytest.raises(ValidationFailed):
        Subscription.begin(USER, TEAM, T0)


@given(moments, moments, st.sampled_from(list(SubscriptionStatus)))
def test_the_same_plan_extends_from_the_later_of_now_and_the_end(end, now, status):
    sub = subscription(end, status=status)
    change = sub.activate_or_extend(PRO, now)
    assert sub.period_end == max(now, end) + timedelta(days=30)
    assert sub.period_end >= end and sub.period_end >= now + timedelta(days=30)  # never shortens
    assert sub.period_start == max(now, end)
    assert sub.status is SubscriptionStatus.ACTIVE and change.extended
    assert sub.effective_plan(now) == "pro"


@given(moments, moments)
def test_a_different_plan_applies_at_once_for_a_fresh_period(end, now):
    sub = subscription(end)
    sub.activate_or_extend(PLUS, now)
    assert sub.plan_slug == "plus"
    assert (sub.period_start, sub.period_end) == (now, now + timedelta(days=30))
    assert sub.effective_plan(now) == "plus"


def test_a_payment_clears_grace_retries_and_a_pending_cancel_and_may_save_a_method():
    sub = subscription(T0, method=False)
    sub.cancel(T0 - timedelta(days=2))
    sub.activate_or_extend(PRO, T0 - timedelta(days=1), PaymentMethod("pm-2", card_title("1111")))
    assert not sub.cancel_at_period_end and sub.payment_method_id == "pm-2" and sub.renews
    sub.activate_or_extend(PRO, T0)  # without a new method the saved one stays
    assert sub.payment_method_id == "pm-2"
    failing = subscription(T0)
    failing.renewal_failed(T0, 3)
    failing.activate_or_extend(PRO, T0 + timedelta(days=1))
    assert failing.status is SubscriptionStatus.ACTIVE
    assert (failing.grace_until, failing.renewal_attempt, failing.next_renewal_at) == (None, 0, None)


@given(moments)
def test_renewal_is_due_from_one_day_before_the_end(now):
    end = T0
    assert subscription(end).renewal_due(now) == (now >= end - RENEWAL_LEAD)
    assert not subscription(end, method=False).renewal_due(now)
    canceled = subscription(end)
    canceled.cancel(T0 - timedelta(days=100))
    assert not canceled.renewal_due(now)
    for status in (SubscriptionStatus.CANCELED, SubscriptionStatus.EXPIRED):
        assert not subscription(end, status=status).renewal_due(now)


@given(moments, moments)
def test_the_renewal_key_is_stable_within_a_period_and_new_across_periods(end_a, end_b):
    a, b = subscription(end_a), subscription(end_b)
    assert a.renewal_idempotence_key() == a.renewal_idempotence_key() == subscription(end_a).renewal_idempotence_key()
    assert len(a.renewal_idempotence_key()) <= 64
    if abs(end_a - end_b) >= timedelta(seconds=1):
        assert a.renewal_idempotence_key() != b.renewal_idempotence_key()
    before = a.renewal_idempotence_key()
    a.activate_or_extend(PRO, end_a)
    assert a.renewal_idempotence_key() != before
    # Another subscription with the same period end has its own key.
    other = subscription(end_b)
    other.id = 12
    assert other.renewal_idempotence_key() != b.renewal_idempotence_key()


def test_a_failed_renewal_is_retried_daily_under_a_new_key():
    sub = subscription(T0)
    first = sub.renewal_idempotence_key()
    now = T0 - timedelta(hours=20)
    assert sub.renewal_due(now)
    sub.renewal_failed(now, 3, idempotence_key=first)
    second = sub.renewal_idempotence_key()
    assert second != first
    assert not sub.renewal_due(now + timedelta(hours=23))
    assert sub.renewal_due(now + timedelta(days=1))
    # A stale report of the first failure changes nothing.
    assert not sub.renewal_failed(now + timedelta(days=1), 3, idempotence_key=first).changed
    with pytest.raises(ValueError):
        Subscription.begin(USER, PRO, T0).renewal_idempotence_key()  # no id yet


@given(moments, st.integers(min_value=0, max_value=14), st.integers(min_value=1, max_value=5))
def test_grace_then_expiry(now, grace_days, failures):
    end = T0
    sub = subscription(end)
    first = sub.renewal_failed(now, grace_days)
    assert first.became_past_due
    grace_until = max(now, end) + timedelta(days=grace_days)
    assert sub.status is SubscriptionStatus.PAST_DUE and sub.grace_until == grace_until
    for i in range(1, failures):  # later failures keep the deadline
        later = now + timedelta(days=i)
        assert not sub.renewal_failed(later, grace_days).became_past_due
        assert sub.grace_until == grace_until
    assert sub.renewal_attempt == failures
    assert sub.effective_plan(grace_until - timedelta(microseconds=1)) == "pro"
    assert sub.effective_plan(grace_until) == FREE_PLAN
    assert not sub.renewal_due(grace_until)
    assert not sub.expire_if_due(grace_until - timedelta(microseconds=1)).changed
    change = sub.expire_if_due(grace_until)
    assert change.ended_now and sub.status is SubscriptionStatus.EXPIRED
    assert not sub.renewal_failed(grace_until, grace_days).changed  # too late to matter


@given(moments, st.booleans(), st.booleans())
def test_an_active_subscription_at_its_end(now, canceled, has_method):
    sub = subscription(T0, method=has_method)
    if canceled:
        sub.cancel(T0 - timedelta(days=200))
    change = sub.expire_if_due(now)
    if now < T0:
        assert not change.changed and sub.effective_plan(now) == "pro"
    elif canceled:
        assert sub.status is SubscriptionStatus.CANCELED and change.ended_now
    elif not has_method:
        assert sub.status is SubscriptionStatus.EXPIRED and change.ended_now
    else:  # the renewal's outcome decides; the plan holds meanwhile
        assert not change.changed and sub.effective_plan(now) == "pro"


OPERATIONS = st.sampled_from(["expire", "fail", "cancel", "resume", "refund_partial", "refund_full", "forget"])


def run(sub: Subscription, operation: str, now: datetime) -> None:
    try:
        {
            "expire": lambda: sub.expire_if_due(now),
            "fail": lambda: sub.renewal_failed(now, 3),
            "cancel": lambda: sub.cancel(now),
            "resume": lambda: sub.resume(now),
            "refund_partial": lambda: sub.refund(False, now),
            "refund_full": lambda: sub.refund(True, now),
            "forget": lambda: sub.forget_payment_method(),
        }[operation]()
    except ValidationFailed:
        pass


@settings(max_examples=300)
@given(st.lists(st.tuples(OPERATIONS, st.integers(min_value=0, max_value=10 * 86400)), max_size=15),
       st.booleans())
def test_without_a_payment_a_subscription_never_comes_back(steps, has_method):
    """Whatever happens without a new successful payment: the period never grows, an ended
    subscription stays ended, and expiry never changes which plan counts."""
    sub = subscription(T0 + timedelta(days=2), method=has_method)
    now = T0
    ended = False
    for operation, seconds in steps:
        now += timedelta(seconds=seconds)
        end_before, plan_before = sub.period_end, sub.effective_plan(now)
        run(sub, operation, now)
        assert sub.period_end <= end_before
        if operation == "expire":
            assert sub.effective_plan(now) == plan_before
        if ended:
            assert sub.status.is_ended and sub.effective_plan(now) == FREE_PLAN
        ended = sub.status.is_ended
    if ended:
        sub.activate_or_extend(PRO, now)  # only a new payment brings it back
        assert sub.status is SubscriptionStatus.ACTIVE and sub.effective_plan(now) == "pro"


@given(moments)
def test_cancel_keeps_the_plan_to_the_end_and_resume_undoes_it_before_then(now):
    sub = subscription(T0)
    sub.cancel(T0 - timedelta(days=10))
    assert not sub.cancel(T0 - timedelta(days=9)).changed  # twice is once
    assert sub.cancel_at_period_end and not sub.renews
    assert sub.effective_plan(now) == ("pro" if now < T0 else FREE_PLAN)
    if now < T0:
        assert sub.resume(now).changed and sub.renews
        assert not sub.resume(now).changed
    else:
        with pytest.raises(ValidationFailed):
            sub.resume(now)
        sub.expire_if_due(now)
        assert sub.status is SubscriptionStatus.CANCELED
        with pytest.raises(ValidationFailed):
            sub.cancel(now)
        with pytest.raises(ValidationFailed):
            sub.resume(now)


def test_cancel_while_past_due_ends_it_as_canceled_at_the_grace_end():
    sub = subscription(T0)
    sub.renewal_failed(T0, 3)
    sub.cancel(T0 + timedelta(days=1))
    assert not sub.renewal_due(T0 + timedelta(days=2))
    sub.resume(T0 + timedelta(days=2))  # still within the grace
    sub.cancel(T0 + timedelta(days=2))
    sub.expire_if_due(T0 + timedelta(days=3))
    assert sub.status is SubscriptionStatus.CANCELED


@given(moments, st.sampled_from([SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE]))
def test_a_full_refund_ends_it_at_once(now, status):
    sub = subscription(T0 + timedelta(days=100), status=status, grace_until=T0 + timedelta(days=103))
    assert not sub.refund(False, now).changed
    change = sub.refund(True, now)
    assert change.ended_now and sub.status is SubscriptionStatus.CANCELED
    assert sub.period_end <= now and sub.period_start <= sub.period_end
    assert sub.effective_plan(now) == FREE_PLAN and not sub.renewal_due(now) and sub.payment_method_id is None
    assert not sub.refund(True, now).changed


def test_effective_plan_without_a_subscription_is_free():
    assert effective_plan(None, T0) == FREE_PLAN
    assert effective_plan(subscription(T0 + timedelta(days=1)), T0) == "pro"
    assert effective_plan(subscription(T0 + timedelta(days=1), status=SubscriptionStatus.EXPIRED), T0) == FREE_PLAN


def test_renewal_can_be_turned_off_and_on():
    sub = subscription(T0)
    sub.forget_payment_method()
    assert not sub.renews and not sub.renewal_due(T0)
    sub.remember_payment_method(CARD)
    assert sub.renews and sub.renewal_due(T0)
    with pytest.raises(ValueError):
        card_title("42")


# --------------------------------------------------------------------------------------------
# Receipts
# --------------------------------------------------------------------------------------------


@given(st.text(min_size=1, max_size=400).filter(lambda s: s.strip()), st.integers(min_value=1, max_value=10**9),
       st.integers(min_value=1, max_value=12))
def test_receipt_shape(description, minor, vat_code):
    body = receipt("Buyer@Example.com", description, Money(minor), vat_code)
    assert body["customer"] == {"email": "buyer@example.com"}
    [item] = body["items"]
    assert set(item) == {"description", "quantity", "amount", "vat_code", "payment_mode", "payment_subject"}
    assert 1 <= len(item["description"]) <= 128
    assert item["quantity"] == "1.00"
    assert item["amount"] == {"value": Money(minor).to_decimal_string(), "currency": "RUB"}
    assert Money.from_amount(item["amount"]) == Money(minor)
    assert item["vat_code"] == vat_code
    assert (item["payment_mode"], item["payment_subject"]) == ("full_payment", "service")


def test_receipt_example_and_refusals():
    assert receipt("a@example.com", "Pro plan, 30 days", Money(490_00), 1) == {
        "customer": {"email": "a@example.com"},
        "items": [{
            "description": "Pro plan, 30 days", "quantity": "1.00",
            "amount": {"value": "490.00", "currency": "RUB"}, "vat_code": 1,
            "payment_mode": "full_payment", "payment_subject": "service",
        }],
    }
    assert len(receipt("a@example.com", "x" * 300, Money(1), 1)["items"][0]["description"]) == 128
    with pytest.raises(ValidationFailed):
        receipt("not an address", "Pro", Money(1), 1)
    for vat in (0, 13, True, "1"):
        with pytest.raises(ValueError):
            receipt("a@example.com", "Pro", Money(1), vat)
    with pytest.raises(ValueError):
        receipt("a@example.com", "Pro", Money(0), 1)
    with pytest.raises(ValueError):
        receipt("a@example.com", "   ", Money(1), 1)
