"""The billing use cases (services/billing.py) with fakes and a fake clock (SPEC §12)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from promptcore.domain.access import Actor
from promptcore.domain.billing import Money, Owner, PaymentStatus, SubscriptionStatus
from promptcore.domain.billing_errors import (
    BillingUnavailable,
    PaymentProviderUnavailable,
    PaymentRejected,
    WebhookForbidden,
)
from promptcore.domain.errors import EmailNotConfirmed, Forbidden, NotFound, ValidationFailed
from promptcore.domain.quota import QuotaPolicy
from promptcore.domain.users import Role, User, UserSettings
from promptcore.ports import ProviderPayment
from promptcore.services.billing import Billing
from promptcore.services.quota import Quota
from tests.fake_payments import FakePaymentGateway
from tests.fakes import FakeClock, FakeMailTemplates, FakeStore, FakeUnitOfWork, outbox_messages

YOOKASSA_IP = "185.71.76.10"
ADMIN = Actor(999, Role.ADMIN)


@pytest.fixture
def env():
    class Env:
        pass

    e = Env()
    e.store = FakeStore()
    e.clock = FakeClock()
    e.gateway = FakePaymentGateway()
    e.uow = lambda: FakeUnitOfWork(e.store)
    e.billing = Billing(e.uow, e.clock, e.gateway, FakeMailTemplates(), "http://test.local", default_limit=3,
                        grace_days=3)
    e.quota = Quota(e.uow, e.clock, QuotaPolicy(), default_limit=3)
    return e


def add_user(env, email="ann@example.com", confirmed=True, language="en") -> Actor:
    now = env.clock.now()
    with env.uow() as uow:
        user = uow.users.add(User(email=email, password_hash="h", name="Ann", daily_limit=None,
                                  settings=UserSettings(language=language), created_at=now, updated_at=now,
                                  is_email_confirmed=confirmed))
        uow.commit()
    return Actor(user.id)


def limit(env, actor: Actor) -> int:
    with env.uow() as uow:
        return env.quota.limit_of(uow.users.get(actor.user_id))


def notify(env, payment_id: str, event="payment.succeeded", address=YOOKASSA_IP, obj=None):
    body = {"type": "notification", "event": event, "object": obj or {"id": payment_id, "status": "succeeded"}}
    return env.billing.handle_webhook(body, address)


def paid_pro(env, actor, renew=False):
    result = env.billing.checkout(actor, "pro", renew)
    provider_id = env.store.payments[result.payment_id].provider_id
    env.gateway.pay(provider_id)
    assert notify(env, provider_id).outcome == "applied"
    return result.payment_id, provider_id


def mail_kinds(env) -> list[str]:
    return [m.kind for m in outbox_messages(env.store)]


def subscription(env, actor):
    with env.uow() as uow:
        return uow.subscriptions.get(Owner.user(actor.user_id))


# -- plans and checkout -------------------------------------------------------------------------


def test_plans_show_the_free_plan_at_the_configured_default(env):
    plans = {p.slug: p for p in env.billing.plans()}
    assert plans["free"].daily_limit == 3 and plans["pro"].price == Money(490_00)


def test_checkout_commits_a_pending_payment_then_asks_the_provider_with_its_key(env):
    actor = add_user(env)
    result = env.billing.checkout(actor, "pro", renew=True)
    payment = env.store.payments[result.payment_id]
    assert payment.status is PaymentStatus.PENDING and payment.save_method and payment.user_id == actor.user_id
    name, call = env.gateway.calls[-1]
    assert name == "create_payment" and call["idempotence_key"] == payment.idempotence_key
    assert call["save_payment_method"] is True and call["metadata"] == {"payment_id": payment.id,
                                                                        "user_id": actor.user_id}
    assert call["return_url"] == f"http://test.local/account/billing?payment={payment.id}"
    assert result.confirmation_url == env.gateway.payments[payment.provider_id].confirmation_url


def test_one_pending_checkout_per_user_answers_the_same_url(env):
    actor = add_user(env)
    first = env.billing.checkout(actor, "pro")
    second = env.billing.checkout(actor, "pro", renew=True)
    assert second == first and len(env.store.payments) == 1
    assert [c[0] for c in env.gateway.calls] == ["create_payment"]


def test_gateway_down_is_503_and_the_payment_canceled_by_us(env):
    actor = add_user(env)
    env.gateway.fail_next(PaymentProviderUnavailable())
    with pytest.raises(PaymentProviderUnavailable):
        env.billing.checkout(actor, "pro")
    (payment,) = env.store.payments.values()
    assert payment.status is PaymentStatus.CANCELED and payment.canceled_by_us
    assert payment.cancellation_reason == "provider_unavailable"
    # the next try is a new payment with a new key
    result = env.billing.checkout(actor, "pro")
    assert result.payment_id != payment.id


def test_a_provider_rejection_cancels_the_payment_too(env):
    actor = add_user(env)
    env.gateway.fail_next(PaymentRejected("bad receipt"))
    with pytest.raises(PaymentRejected):
        env.billing.checkout(actor, "pro")
    assert next(iter(env.store.payments.values())).canceled_by_us


def test_checkout_refuses_free_unknown_and_team_plans_and_unconfirmed_users(env):
    actor = add_user(env)
    for slug in ("free", "nope", "team"):
        with pytest.raises(ValidationFailed):
            env.billing.checkout(actor, slug)
    unconfirmed = add_user(env, "bob@example.com", confirmed=False)
    with pytest.raises(EmailNotConfirmed):
        env.billing.checkout(unconfirmed, "pro")
    assert env.store.payments == {}


def test_billing_off_answers_unavailable_but_lists_plans(env):
    billing = Billing(env.uow, env.clock, None, FakeMailTemplates(), "http://t", default_limit=3)
    actor = add_user(env)
    assert billing.plans()
    with pytest.raises(BillingUnavailable):
        billing.checkout(actor, "pro")


# -- the outcome --------------------------------------------------------------------------------


def test_a_paid_checkout_activates_pro_and_queues_the_receipt(env):
    actor = add_user(env)
    assert limit(env, actor) == 3
    paid_pro(env, actor, renew=True)
    sub = subscription(env, actor)
    assert sub.status is SubscriptionStatus.ACTIVE and sub.plan_slug == "pro"
    assert sub.period_end == env.clock.now() + timedelta(days=30)
    assert sub.payment_method_title == "card •••• 4242"
    assert limit(env, actor) == 100
    assert mail_kinds(env) == ["payment_received"]


def test_the_return_page_refreshes_a_pending_payment(env):
    actor = add_user(env)
    result = env.billing.checkout(actor, "pro")
    env.gateway.pay(env.store.payments[result.payment_id].provider_id)
    assert env.billing.payment(actor, result.payment_id).status is PaymentStatus.SUCCEEDED
    assert limit(env, actor) == 100


def test_a_strangers_payment_is_not_found(env):
    ann, bob = add_user(env), add_user(env, "bob@example.com")
    result = env.billing.checkout(ann, "pro")
    with pytest.raises(NotFound):
        env.billing.payment(bob, result.payment_id)
    with pytest.raises(NotFound):
        env.billing.payment(bob, 12345)


def test_a_declined_payment_keeps_the_reason_and_the_plan(env):
    actor = add_user(env)
    result = env.billing.checkout(actor, "pro")
    provider_id = env.store.payments[result.payment_id].provider_id
    env.gateway.decline(provider_id, "insufficient_funds")
    notify(env, provider_id, "payment.canceled")
    payment = env.store.payments[result.payment_id]
    assert payment.status is PaymentStatus.CANCELED and payment.cancellation_reason == "insufficient_funds"
    assert subscription(env, actor) is None and limit(env, actor) == 3


def test_webhook_duplicates_change_nothing(env):
    actor = add_user(env)
    _, provider_id = paid_pro(env, actor)
    end = subscription(env, actor).period_end
    env.clock.advance(minutes=5)
    assert notify(env, provider_id).outcome == "duplicate"
    assert subscription(env, actor).period_end == end and mail_kinds(env) == ["payment_received"]


def test_a_lying_body_is_not_believed(env):
    actor = add_user(env)
    result = env.billing.checkout(actor, "pro")
    provider_id = env.store.payments[result.payment_id].provider_id
    # the body says succeeded; YooKassa says pending
    assert notify(env, provider_id, obj={"id": provider_id, "status": "succeeded", "paid": True}).outcome \
        == "duplicate"
    assert env.store.payments[result.payment_id].status is PaymentStatus.PENDING and limit(env, actor) == 3


def test_out_of_order_events_never_move_a_payment_back(env):
    actor = add_user(env)
    payment_id, provider_id = paid_pro(env, actor)
    notify(env, provider_id, "payment.waiting_for_capture", obj={"id": provider_id, "status": "waiting_for_capture"})
    assert env.store.payments[payment_id].status is PaymentStatus.SUCCEEDED
    assert limit(env, actor) == 100


def test_unknown_ids_are_acknowledged_and_change_nothing(env):
    assert notify(env, "pay-unknown").outcome == "unknown"
    env.gateway.payments["pay-foreign"] = ProviderPayment(id="pay-foreign", status="succeeded", paid=True,
                                                          amount=Money(490_00))  # another shop's system
    assert notify(env, "pay-foreign").outcome == "unknown"
    assert env.store.subscriptions == {}


def test_webhooks_from_outside_the_networks_are_forbidden(env):
    actor = add_user(env)
    result = env.billing.checkout(actor, "pro")
    provider_id = env.store.payments[result.payment_id].provider_id
    env.gateway.pay(provider_id)
    calls = len(env.gateway.calls)
    for address in ("8.8.8.8", "127.0.0.1", "unknown", "185.71.76.32"):
        with pytest.raises(WebhookForbidden):
            notify(env, provider_id, address=address)
    assert len(env.gateway.calls) == calls and limit(env, actor) == 3
    assert notify(env, provider_id, address="2a02:5180::1").outcome == "applied"


def test_a_malformed_notification_is_422(env):
    for body in (None, [], {"type": "x"}, {"type": "notification", "event": "payment.succeeded"},
                 {"type": "notification", "event": "payment.succeeded", "object": {"id": 5}}):
        with pytest.raises(ValidationFailed):
            env.billing.handle_webhook(body, YOOKASSA_IP)


def test_the_provider_down_during_a_webhook_raises_so_it_is_delivered_again(env):
    actor = add_user(env)
    result = env.billing.checkout(actor, "pro")
    provider_id = env.store.payments[result.payment_id].provider_id
    env.gateway.pay(provider_id)
    env.gateway.fail_next(PaymentProviderUnavailable())
    with pytest.raises(PaymentProviderUnavailable):
        notify(env, provider_id)
    assert notify(env, provider_id).outcome == "applied" and limit(env, actor) == 100


def test_a_lost_checkout_answer_is_claimed_by_its_metadata(env):
    """YooKassa created the payment but the answer was lost: we canceled ours; the user paid
    anyway; the webhook's re-fetched metadata names our payment and the money wins."""
    actor = add_user(env)
    env.billing.checkout(actor, "pro")  # creates pay-1 (kept) ...
    payment = next(iter(env.store.payments.values()))
    provider_id = payment.provider_id
    payment.provider_id = None  # ... as if the answer had never been stored
    payment.status, payment.canceled_by_us = PaymentStatus.CANCELED, True
    env.gateway.pay(provider_id)
    assert notify(env, provider_id).outcome == "applied"
    assert env.store.payments[payment.id].status is PaymentStatus.SUCCEEDED and limit(env, actor) == 100


# -- the sweep ----------------------------------------------------------------------------------


def test_the_sweep_rechecks_after_ten_minutes_and_gives_up_after_an_hour(env):
    actor = add_user(env)
    paid = env.billing.checkout(actor, "pro")
    env.gateway.pay(env.store.payments[paid.payment_id].provider_id)
    env.clock.advance(minutes=5)
    env.billing.sweep()
    assert env.store.payments[paid.payment_id].status is PaymentStatus.PENDING  # not yet looked at
    env.clock.advance(minutes=6)
    env.billing.sweep()
    assert env.store.payments[paid.payment_id].status is PaymentStatus.SUCCEEDED

    bob = add_user(env, "bob@example.com")
    left = env.billing.checkout(bob, "pro")
    env.clock.advance(minutes=61)
    env.billing.sweep()
    payment = env.store.payments[left.payment_id]
    assert payment.status is PaymentStatus.CANCELED and payment.canceled_by_us
    assert payment.cancellation_reason == "gave_up"


# -- renewals -----------------------------------------------------------------------------------


def test_renewal_charges_the_saved_card_once_and_extends(env):
    actor = add_user(env)
    paid_pro(env, actor, renew=True)
    end = subscription(env, actor).period_end
    env.clock.current = end - timedelta(hours=12)
    env.billing.renewals()
    env.billing.renewals()  # a second run: the same key, no second charge
    creates = [c for c in env.gateway.calls if c[0] == "create_payment" and c[1]["payment_method_id"]]
    assert len({c[1]["idempotence_key"] for c in creates}) == 1
    assert len([p for p in env.gateway.payments.values() if p.payment_method_id and p.status == "succeeded"]) == 2
    assert subscription(env, actor).period_end == end + timedelta(days=30)
    assert mail_kinds(env) == ["payment_received", "payment_received"]


def test_a_failed_renewal_gives_grace_then_expires_to_free(env):
    actor = add_user(env)
    paid_pro(env, actor, renew=True)
    end = subscription(env, actor).period_end
    env.gateway.recurring_outcome = "insufficient_funds"
    env.clock.current = end - timedelta(hours=12)
    env.billing.renewals()
    sub = subscription(env, actor)
    assert sub.status is SubscriptionStatus.PAST_DUE and sub.grace_until == end + timedelta(days=3)
    assert mail_kinds(env)[-1] == "renewal_failed"
    env.clock.current = end + timedelta(days=1)
    assert limit(env, actor) == 100  # the grace keeps the plan
    env.billing.renewals()  # the daily retry fails again: no second e-mail
    assert mail_kinds(env).count("renewal_failed") == 1
    env.clock.current = end + timedelta(days=3, minutes=1)
    env.billing.renewals()
    assert subscription(env, actor).status is SubscriptionStatus.EXPIRED and limit(env, actor) == 3
    assert mail_kinds(env)[-1] == "subscription_expired"


def test_cancel_keeps_the_plan_to_the_end_warns_three_days_before_then_ends(env):
    actor = add_user(env)
    paid_pro(env, actor, renew=True)
    end = subscription(env, actor).period_end
    env.billing.cancel(actor)
    env.billing.cancel(actor)  # twice is harmless
    env.clock.current = end - timedelta(days=2)
    env.billing.renewals()
    env.billing.renewals()
    assert mail_kinds(env).count("ends_soon") == 1
    assert not [c for c in env.gateway.calls if c[0] == "create_payment" and c[1]["payment_method_id"]]
    env.clock.current = end
    assert limit(env, actor) == 3
    env.billing.renewals()
    assert subscription(env, actor).status is SubscriptionStatus.CANCELED
    assert mail_kinds(env)[-1] == "subscription_expired"


def test_resume_undoes_a_cancel_and_renewal_can_be_turned_off_and_on(env):
    actor = add_user(env)
    paid_pro(env, actor, renew=True)
    env.billing.cancel(actor)
    assert env.billing.resume(actor).renews
    assert not env.billing.set_renewal(actor, False).renews
    with pytest.raises(ValidationFailed):
        env.billing.set_renewal(actor, True)  # the card was forgotten
    stranger = add_user(env, "bob@example.com")
    with pytest.raises(NotFound):
        env.billing.cancel(stranger)


# -- admin ------------------------------------------------------------------------------------


def test_refunds_are_admin_only_partial_then_full_ends_the_subscription(env):
    actor = add_user(env)
    payment_id, _ = paid_pro(env, actor, renew=True)
    with pytest.raises(Forbidden):
        env.billing.refund(actor, payment_id)
    env.billing.refund(ADMIN, payment_id, "100.00")
    assert env.store.payments[payment_id].refunded == Money(100_00)
    assert subscription(env, actor).status is SubscriptionStatus.ACTIVE
    with pytest.raises(ValidationFailed):
        env.billing.refund(ADMIN, payment_id, "1000.00")
    env.billing.refund(ADMIN, payment_id)
    assert env.store.payments[payment_id].refunded == Money(490_00)
    sub = subscription(env, actor)
    assert sub.status is SubscriptionStatus.CANCELED and not sub.renews and limit(env, actor) == 3
    keys = [c[1]["idempotence_key"] for c in env.gateway.calls if c[0] == "create_refund"]
    assert len(keys) == 2 and len(set(keys)) == 2
    assert [r.idempotence_key for r in env.store.refunds.values()] == keys


def test_a_refund_retried_after_the_provider_failed_reuses_its_key(env):
    actor = add_user(env)
    payment_id, _ = paid_pro(env, actor)
    env.gateway.fail_next(PaymentProviderUnavailable())
    with pytest.raises(PaymentProviderUnavailable):
        env.billing.refund(ADMIN, payment_id)
    env.billing.refund(ADMIN, payment_id)
    keys = [c[1]["idempotence_key"] for c in env.gateway.calls if c[0] == "create_refund"]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert env.store.payments[payment_id].refunded == Money(490_00)


def test_admin_payment_search(env):
    ann, bob = add_user(env), add_user(env, "bob@example.com")
    a, b = env.billing.checkout(ann, "pro"), env.billing.checkout(bob, "pro")
    with pytest.raises(Forbidden):
        env.billing.admin_payments(ann)
    assert [p.id for p in env.billing.admin_payments(ADMIN)[0]] == [b.payment_id, a.payment_id]
    assert [p.id for p in env.billing.admin_payments(ADMIN, "BOB@")[0]] == [b.payment_id]
    assert [p.id for p in env.billing.admin_payments(ADMIN, str(a.payment_id))[0]] == [a.payment_id]


def test_grant_gives_a_marked_subscription_without_a_payment(env):
    actor = add_user(env)
    sub = env.billing.grant("ann@example.com", "pro", days=7)
    assert sub.granted and sub.period_end == env.clock.now() + timedelta(days=7)
    assert limit(env, actor) == 100 and env.store.payments == {}
    env.clock.advance(days=7)
    assert limit(env, actor) == 3
    with pytest.raises(ValidationFailed):
        env.billing.grant("ann@example.com", "free")


def test_the_override_beats_the_plan(env):
    actor = add_user(env)
    env.billing.grant("ann@example.com", "pro")
    with env.uow() as uow:
        user = uow.users.get(actor.user_id)
        user.daily_limit = 7
        uow.users.update(user)
        uow.commit()
    assert limit(env, actor) == 7
