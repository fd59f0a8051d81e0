"""Plans, subscriptions, payments, refunds and billing events: the fakes (tests/fake_billing.py)
and the SQL repositories agree."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from promptcore.domain.billing import (
    SEED_PLANS,
    Money,
    Owner,
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    Subscription,
    SubscriptionStatus,
)
from promptcore.ports import RefundRecord
from tests.contract.support import MOSCOW, T0, add_user

PRO = SEED_PLANS[1]


def _payment(uow, owner: Owner, user_id: int | None, key: str, at=T0, **kw) -> Payment:
    payment = Payment.start(owner, PRO, at, idempotence_key=key, **kw)
    payment.user_id = user_id
    return uow.payments.add(payment)


def test_the_seed_plans_are_there_and_a_plan_can_be_changed(backend):
    with backend.uow() as uow:
        assert uow.plans.list() == list(SEED_PLANS)
        assert uow.plans.get("pro") == PRO and uow.plans.get("nope") is None
        uow.plans.save(dataclasses.replace(PRO, daily_limit=150, price=Money(590_00), is_public=False))
        uow.plans.save(dataclasses.replace(PRO, slug="max", daily_limit=1000, price=Money(990_00)))
        uow.commit()
    with backend.uow() as uow:
        assert uow.plans.get("pro") == dataclasses.replace(PRO, daily_limit=150, price=Money(590_00), is_public=False)
        assert [p.slug for p in uow.plans.list()] == ["free", "pro", "max", "team"]


def test_a_subscription_comes_back_as_stored_one_per_owner(backend):
    owner = Owner.user(7)
    sub = Subscription.begin(owner, PRO, T0.astimezone(MOSCOW), PaymentMethod("pm-1", "card •••• 4242"))
    with backend.uow() as uow:
        assert uow.subscriptions.get(owner) is None
        uow.subscriptions.add(sub, T0)
        uow.commit()
    assert isinstance(sub.id, int)
    with backend.uow() as uow:
        assert uow.subscriptions.lock(owner) == sub
        assert uow.subscriptions.get(Owner.user(8)) is None
        sub.cancel(T0)
        sub.renewal_failed(T0 + timedelta(days=30), 3)
        uow.subscriptions.update(sub, T0)
        uow.commit()
    with backend.uow() as uow:
        stored = uow.subscriptions.get(owner)
    assert stored == sub and stored.status is SubscriptionStatus.PAST_DUE and stored.grace_until is not None
    assert stored.period_end.tzinfo is not None


def test_subscriptions_needing_attention(backend):
    subs = {}
    with backend.uow() as uow:
        for n, days in enumerate((1, 5, 40), start=1):
            subs[days] = uow.subscriptions.add(Subscription.begin(Owner.user(n), dataclasses.replace(
                PRO, period_days=days), T0), T0)
        ended = Subscription.begin(Owner.user(9), PRO, T0)
        ended.refund(True, T0)
        uow.subscriptions.add(ended, T0)
        uow.commit()
    with backend.uow() as uow:
        assert [s.id for s in uow.subscriptions.needing_attention(T0 + timedelta(days=5), 10)] == [
            subs[1].id, subs[5].id]
        assert [s.id for s in uow.subscriptions.needing_attention(T0 + timedelta(days=5), 1)] == [subs[1].id]


def test_a_payment_comes_back_as_stored_and_changes(backend):
    with backend.uow() as uow:
        user_id = add_user(uow)
        payment = _payment(uow, Owner.user(user_id), user_id, "key-1", save_method=True)
        uow.commit()
    with backend.uow() as uow:
        assert uow.payments.get(payment.id) == payment
        assert uow.payments.by_idempotence_key("key-1") == payment
        assert uow.payments.pending_checkout(user_id) == payment
        payment.attach_provider_id("pay-1", T0)
        payment.confirmation_url = "https://yookassa.test/pay-1"
        payment.apply_status(PaymentStatus.SUCCEEDED, T0 + timedelta(minutes=1))
        payment.record_refunded(Money(100_00), T0 + timedelta(minutes=2))
        uow.payments.update(payment)
        uow.commit()
    with backend.uow() as uow:
        assert uow.payments.lock_by_provider_id("pay-1") == payment
        assert uow.payments.lock(payment.id).refunded == Money(100_00)
        assert uow.payments.pending_checkout(user_id) is None
        assert uow.payments.lock_by_provider_id("pay-2") is None and uow.payments.get(10**6) is None


def test_payments_of_an_owner_search_and_unsettled(backend):
    with backend.uow() as uow:
        ann = add_user(uow, "ann@example.com")
        bob = add_user(uow, "bob@example.com")
        a1 = _payment(uow, Owner.user(ann), ann, "a1", at=T0)
        a2 = _payment(uow, Owner.user(ann), ann, "a2", at=T0 + timedelta(minutes=30),
                      purpose=PaymentPurpose.RENEWAL)
        b1 = _payment(uow, Owner.user(bob), bob, "b1", at=T0 + timedelta(minutes=5))
        b1.attach_provider_id("pay-b1", T0)
        b1.apply_status("canceled", T0, cancellation_reason="insufficient_funds")
        uow.payments.update(b1)
        uow.commit()
    with backend.uow() as uow:
        assert [p.id for p in uow.payments.of_owner(Owner.user(ann), 10)] == [a2.id, a1.id]
        assert [p.id for p in uow.payments.search(None, None, 10)] == [b1.id, a2.id, a1.id]
        assert [p.id for p in uow.payments.search(None, b1.id, 1)] == [a2.id]
        assert [p.id for p in uow.payments.search("BOB@", None, 10)] == [b1.id]
        assert [p.id for p in uow.payments.search("pay-b1", None, 10)] == [b1.id]
        assert [p.id for p in uow.payments.search(str(a1.id), None, 10)] == [a1.id]
        assert [p.id for p in uow.payments.search("%", None, 10)] == []
        assert [p.id for p in uow.payments.unsettled(T0 + timedelta(minutes=30), 10)] == [a1.id, a2.id]
        assert [p.id for p in uow.payments.unsettled(T0 + timedelta(minutes=29), 10)] == [a1.id]
        # a renewal is not a checkout
        assert uow.payments.pending_checkout(ann).id == a1.id
        assert uow.payments.get(b1.id).cancellation_reason == "insufficient_funds"


def test_open_of_owner_is_the_newest_payment_under_way_by_anyone(backend):
    team, other = Owner.team(41), Owner.team(42)
    team_plan = SEED_PLANS[-1]
    with backend.uow() as uow:
        ann = add_user(uow, "ann@example.com")
        dan = add_user(uow, "dan@example.com")
        assert uow.payments.open_of_owner(team) is None
        paid = uow.payments.add(dataclasses.replace(Payment.start(team, team_plan, T0, idempotence_key="t1"),
                                                    user_id=ann))
        paid.attach_provider_id("pay-t1", T0)
        paid.apply_status("succeeded", T0)
        uow.payments.update(paid)
        _payment(uow, Owner.user(dan), dan, "d1")  # someone's own checkout is not the team's
        uow.commit()
    with backend.uow() as uow:
        assert uow.payments.open_of_owner(team) is None and uow.payments.open_of_owner(other) is None
        first = uow.payments.add(dataclasses.replace(
            Payment.start(team, team_plan, T0 + timedelta(minutes=1), idempotence_key="t2"), user_id=ann))
        second = uow.payments.add(dataclasses.replace(
            Payment.start(team, team_plan, T0 + timedelta(minutes=2), idempotence_key="t3"), user_id=dan))
        uow.commit()
    with backend.uow() as uow:
        assert uow.payments.open_of_owner(team).id == second.id
        second.attach_provider_id("pay-t3", T0)
        second.apply_status("waiting_for_capture", T0)  # still under way
        uow.payments.update(second)
        first.attach_provider_id("pay-t2", T0)
        first.apply_status("canceled", T0)
        uow.payments.update(first)
        uow.commit()
    with backend.uow() as uow:
        assert uow.payments.open_of_owner(team).id == second.id
        second.apply_status("succeeded", T0)
        uow.payments.update(second)
        uow.commit()
    with backend.uow() as uow:
        assert uow.payments.open_of_owner(team) is None


def test_refunds_keep_their_key_and_status(backend):
    with backend.uow() as uow:
        user_id = add_user(uow)
        payment = _payment(uow, Owner.user(user_id), user_id, "k")
        first = uow.refunds.add(RefundRecord(payment.id, Money(100_00), "r-1", T0, T0))
        uow.commit()
    with backend.uow() as uow:
        assert uow.refunds.unconfirmed(payment.id) == first
        first.status, first.provider_id, first.updated_at = "succeeded", "refund-1", T0 + timedelta(seconds=1)
        uow.refunds.update(first)
        second = uow.refunds.add(RefundRecord(payment.id, Money(50_00), "r-2", T0, T0))
        uow.commit()
    with backend.uow() as uow:
        assert uow.refunds.of_payment(payment.id) == [first, second]
        assert uow.refunds.unconfirmed(payment.id) == second


def test_a_billing_event_is_new_once(backend):
    with backend.uow() as uow:
        assert uow.billing_events.record("payment.succeeded:pay-1:succeeded", T0) is True
        assert uow.billing_events.record("payment.succeeded:pay-1:succeeded", T0) is False
        uow.commit()
    with backend.uow() as uow:
        assert uow.billing_events.record("payment.succeeded:pay-1:succeeded", T0) is False
        assert uow.billing_events.record("payment.canceled:pay-1:canceled", T0) is True
        # not committed: forgotten
    with backend.uow() as uow:
        assert uow.billing_events.record("payment.canceled:pay-1:canceled", T0) is True
