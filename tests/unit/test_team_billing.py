"""Team billing (SPEC §14 with §12; issue 13 item 4) on the fakes: an owner buys the team plan
through the same checkout, the subscription is the team's, members see it and only owners change
it, the e-mails go to the owners, renewals charge the owner who saved the card, and a team with an
active paid plan cannot be deleted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from promptcore.domain.access import Actor
from promptcore.domain.billing import Owner, PaymentPurpose, PaymentStatus, SubscriptionStatus
from promptcore.domain.billing_errors import BillingUnavailable
from promptcore.domain.errors import Conflict, Forbidden, HasPaidPlan, NotFound, ValidationFailed
from promptcore.domain.quota import QuotaPolicy
from promptcore.domain.teams import Member, Team, TeamRole
from promptcore.domain.users import User, UserSettings
from promptcore.services.accounts import Accounts
from promptcore.services.billing import Billing
from promptcore.services.quota import Quota
from promptcore.services.teams import Teams
from tests.fake_payments import FakePaymentGateway
from tests.fakes import (
    FakeAccessTokenCodec,
    FakeClock,
    FakeMailTemplates,
    FakePasswordHasher,
    FakeSignedTokenCodec,
    FakeStore,
    FakeUnitOfWork,
    outbox_messages,
)

YOOKASSA_IP = "185.71.76.10"
BASE = "http://test.local"


class Env:
    def __init__(self) -> None:
        self.store = FakeStore()
        self.clock = FakeClock()
        self.gateway = FakePaymentGateway()
        self.mail = FakeMailTemplates()
        self.billing = Billing(self.uow, self.clock, self.gateway, self.mail, BASE, default_limit=3, grace_days=3)
        self.quota = Quota(self.uow, self.clock, QuotaPolicy(), default_limit=3)
        self.teams = Teams(self.uow, self.clock, self.mail, BASE, has_paid_plan=self.billing.team_has_paid_plan,
                           has_pending_payment=self.billing.team_has_pending_payment)
        self.ids: dict[str, int] = {}

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    def user(self, name: str, language: str = "en") -> int:
        now = self.clock.now()
        with self.uow() as uow:
            user = uow.users.add(User(email=f"{name}@example.com", password_hash="h", name=name.title(),
                                      settings=UserSettings(language=language), created_at=now, updated_at=now,
                                      is_email_confirmed=True))
            uow.commit()
        self.ids[name] = user.id
        return user.id

    def actor(self, name: str) -> Actor:
        """As the entrypoints build it: the memberships read afresh."""
        uid = self.ids[name]
        with self.uow() as uow:
            return Actor(uid, teams=uow.teams.roles_of(uid))

    def team(self, owner: str, name: str = "Support desk", **others: TeamRole) -> int:
        now = self.clock.now()
        with self.uow() as uow:
            team = uow.teams.add(Team(name=name, created_by=self.ids[owner]), self.ids[owner], now)
            for who, role in others.items():
                uow.teams.add_member(Member(team.id, self.ids[who], role, now))
            uow.commit()
        return team.id

    def set_role(self, team_id: int, name: str, role: TeamRole) -> None:
        with self.uow() as uow:
            uow.teams.set_role(team_id, self.ids[name], role)
            uow.commit()

    def notify(self, provider_id: str, event: str = "payment.succeeded"):
        body = {"type": "notification", "event": event, "object": {"id": provider_id}}
        return self.billing.handle_webhook(body, YOOKASSA_IP)

    def buy_team(self, owner: str, team_id: int, renew: bool = False) -> int:
        result = self.billing.checkout(self.actor(owner), "team", renew, team_id=team_id)
        provider_id = self.store.payments[result.payment_id].provider_id
        self.gateway.pay(provider_id)
        assert self.notify(provider_id).outcome == "applied"
        return result.payment_id

    def subscription(self, owner: Owner):
        with self.uow() as uow:
            return uow.subscriptions.get(owner)

    def mails(self) -> list[tuple[str, str]]:
        return [(m.kind, m.to) for m in outbox_messages(self.store)]


@pytest.fixture
def env():
    e = Env()
    for name in ("ann", "dan", "bob", "cid", "oscar"):
        e.user(name)
    e.tid = e.team("ann", dan=TeamRole.OWNER, bob=TeamRole.ADMIN, cid=TeamRole.MEMBER)
    e.other = e.team("oscar", "Elsewhere")  # oscar owns another team: he is still a stranger to the first
    return e


# -- checkout -----------------------------------------------------------------------------------


def test_an_owner_buys_the_team_plan_and_the_subscription_is_the_teams(env):
    ann = env.actor("ann")
    result = env.billing.checkout(ann, "team", renew=True, team_id=env.tid)
    payment = env.store.payments[result.payment_id]
    assert payment.owner == Owner.team(env.tid) and payment.user_id == env.ids["ann"]
    assert payment.status is PaymentStatus.PENDING and payment.save_method
    name, call = env.gateway.calls[-1]
    assert name == "create_payment" and call["customer_email"] == "ann@example.com"
    assert call["metadata"] == {"payment_id": payment.id, "user_id": env.ids["ann"]}
    assert call["return_url"] == f"{BASE}/teams/{env.tid}/billing?payment={payment.id}"
    assert call["amount"].minor == 1_990_00
    assert env.billing.checkout(ann, "team", team_id=env.tid) == result  # one pending checkout per owner
    assert env.quota.team_usage(ann, env.tid).quota.limit == 0  # nothing yet

    env.gateway.pay(payment.provider_id)
    assert env.notify(payment.provider_id).outcome == "applied"
    sub = env.subscription(Owner.team(env.tid))
    assert sub.status is SubscriptionStatus.ACTIVE and sub.plan_slug == "team" and not sub.granted
    assert sub.period_end == env.clock.now() + timedelta(days=30) and sub.payment_method_title == "card •••• 4242"
    assert env.subscription(Owner.user(env.ids["ann"])) is None  # ann's own plan is untouched
    for who in ("ann", "cid"):
        assert env.quota.team_usage(env.actor(who), env.tid).quota.limit == 500
    with env.uow() as uow:
        assert env.quota.limit_of(uow.users.get(env.ids["ann"])) == 3
    # the team's owners are told, with the team named and a link to its billing page
    assert sorted(env.mails()) == [("payment_received", "ann@example.com"), ("payment_received", "dan@example.com")]
    for kind, _language, _to, context in env.mail.rendered:
        assert kind == "payment_received" and context["plan"] == "Team (Support desk)"
        assert context["link"] == f"{BASE}/teams/{env.tid}/billing" and context["amount"] == "RUB\u00a01,990.00"


def test_only_owners_buy_admins_and_members_are_forbidden_strangers_get_not_found(env):
    for who in ("bob", "cid"):
        with pytest.raises(Forbidden):
            env.billing.checkout(env.actor(who), "team", team_id=env.tid)
    for team_id in (env.tid, 987654):
        with pytest.raises(NotFound) as caught:
            env.billing.checkout(env.actor("oscar"), "team", team_id=team_id)
        assert caught.value.message == "Team not found."
    # a stale actor (removed a moment ago) is a stranger once the memberships are read again
    with env.uow() as uow:
        uow.teams.remove_member(env.tid, env.ids["dan"])
        uow.commit()
    with pytest.raises(NotFound):
        env.billing.checkout(env.actor("dan"), "team", team_id=env.tid)
    assert env.store.payments == {} and env.gateway.calls == []


def test_a_stranger_learns_nothing_even_when_billing_is_off(env):
    off = Billing(env.uow, env.clock, None, env.mail, BASE, default_limit=3)
    with pytest.raises(NotFound):
        off.checkout(env.actor("oscar"), "team", team_id=env.tid)
    with pytest.raises(Forbidden):
        off.checkout(env.actor("cid"), "team", team_id=env.tid)
    with pytest.raises(BillingUnavailable):
        off.checkout(env.actor("ann"), "team", team_id=env.tid)


def test_a_personal_plan_for_a_team_and_a_team_plan_for_a_user_are_refused(env):
    ann = env.actor("ann")
    for slug, message in (("pro", "That plan is for personal accounts."), ("free", "That plan is free."),
                          ("nope", "No such plan.")):
        with pytest.raises(ValidationFailed) as caught:
            env.billing.checkout(ann, slug, team_id=env.tid)
        assert caught.value.errors["plan"] == [message]
    with pytest.raises(ValidationFailed) as caught:
        env.billing.checkout(ann, "team")
    assert caught.value.errors["plan"] == ["That plan is for teams."]
    assert env.store.payments == {} and env.gateway.calls == []


def test_a_checkout_for_another_owner_replaces_the_pending_one_and_money_still_wins(env):
    ann = env.actor("ann")
    personal = env.billing.checkout(ann, "pro")
    team = env.billing.checkout(ann, "team", team_id=env.tid)
    assert team.payment_id != personal.payment_id
    old = env.store.payments[personal.payment_id]
    assert old.status is PaymentStatus.CANCELED and old.canceled_by_us
    assert old.cancellation_reason == "replaced_by_new_checkout" and old.confirmation_url is None
    assert env.billing.checkout(ann, "team", team_id=env.tid) == team
    # ann pays the old page anyway: YooKassa's word wins, her own plan becomes pro
    env.gateway.pay(old.provider_id)
    assert env.notify(old.provider_id).outcome == "applied"
    assert env.subscription(Owner.user(env.ids["ann"])).plan_slug == "pro"
    assert env.subscription(Owner.team(env.tid)) is None


def test_two_teams_of_one_owner_are_bought_separately(env):
    second = env.team("ann", "Second desk")
    env.buy_team("ann", env.tid)
    assert env.subscription(Owner.team(second)) is None
    env.buy_team("ann", second)
    assert env.subscription(Owner.team(second)).plan_slug == "team"
    assert env.quota.team_usage(env.actor("ann"), second).quota.limit == 500


# -- the team's subscription: members see it, owners change it ---------------------------------------


def test_members_see_the_plan_and_payments_strangers_do_not(env):
    cid = env.actor("cid")
    overview = env.billing.overview(cid, team_id=env.tid)
    assert overview.plan.slug == "free" and overview.plan.daily_limit == 0 and overview.subscription is None
    payment_id = env.buy_team("dan", env.tid)
    overview = env.billing.overview(cid, team_id=env.tid)
    assert overview.plan.slug == "team" and overview.plan.daily_limit == 500
    assert overview.subscription.owner == Owner.team(env.tid)
    assert [p.id for p in env.billing.payments(cid, team_id=env.tid)] == [payment_id]
    assert env.billing.payments(env.actor("dan")) == []  # not dan's own
    assert env.billing.overview(env.actor("ann")).plan.slug == "free"  # nor ann's
    with pytest.raises(NotFound):
        env.billing.overview(env.actor("oscar"), team_id=env.tid)
    with pytest.raises(NotFound):
        env.billing.payments(env.actor("oscar"), team_id=env.tid)
    # the payment itself stays the payer's (the return page)
    assert env.billing.payment(env.actor("dan"), payment_id).id == payment_id
    with pytest.raises(NotFound):
        env.billing.payment(cid, payment_id)


def test_only_owners_cancel_resume_and_stop_renewal(env):
    with pytest.raises(NotFound) as caught:
        env.billing.cancel(env.actor("ann"), team_id=env.tid)
    assert caught.value.message == "The team has no subscription."
    env.buy_team("ann", env.tid, renew=True)
    for who, error in (("bob", Forbidden), ("cid", Forbidden), ("oscar", NotFound)):
        for act in (lambda a: env.billing.cancel(a, team_id=env.tid), lambda a: env.billing.resume(a, team_id=env.tid),
                    lambda a: env.billing.set_renewal(a, False, team_id=env.tid)):
            with pytest.raises(error):
                act(env.actor(who))
    assert env.subscription(Owner.team(env.tid)).renews
    dan = env.actor("dan")  # any owner, not only the payer
    assert env.billing.cancel(dan, team_id=env.tid).cancel_at_period_end
    assert env.billing.resume(env.actor("ann"), team_id=env.tid).renews
    assert not env.billing.set_renewal(dan, False, team_id=env.tid).renews
    with pytest.raises(NotFound):
        env.billing.cancel(dan)  # dan has no subscription of his own


# -- deleting a paid team -----------------------------------------------------------------------


def test_team_has_paid_plan_only_while_a_paid_plan_counts(env):
    def paid() -> bool:
        with env.uow() as uow:
            return env.billing.team_has_paid_plan(uow, env.tid)

    assert not paid()
    env.billing.grant(None, "team", days=5, team_id=env.tid)
    assert not paid()  # granted, not paid: nothing is lost by deleting
    env.buy_team("ann", env.tid, renew=True)
    assert paid()
    env.billing.cancel(env.actor("ann"), team_id=env.tid)
    assert paid()  # still paid up to the period end
    end = env.subscription(Owner.team(env.tid)).period_end
    env.clock.current = end
    assert not paid()


def test_deleting_a_paid_team_is_refused_until_the_plan_ends(env):
    env.buy_team("ann", env.tid)
    for who in ("ann", "dan"):
        with pytest.raises(HasPaidPlan):
            env.teams.delete(env.actor(who), env.tid)
    with pytest.raises(Forbidden):
        env.teams.delete(env.actor("bob"), env.tid)
    assert env.store.teams.get(env.tid) is not None
    env.billing.cancel(env.actor("ann"), team_id=env.tid)
    env.clock.current = env.subscription(Owner.team(env.tid)).period_end + timedelta(seconds=1)
    env.billing.renewals()
    assert env.subscription(Owner.team(env.tid)).status is SubscriptionStatus.CANCELED
    env.teams.delete(env.actor("ann"), env.tid)
    assert env.store.teams.get(env.tid) is None


def test_a_team_in_its_grace_period_is_still_paid(env):
    env.buy_team("ann", env.tid, renew=True)
    end = env.subscription(Owner.team(env.tid)).period_end
    env.gateway.recurring_outcome = "insufficient_funds"
    env.clock.current = end - timedelta(hours=12)
    env.billing.renewals()
    assert env.subscription(Owner.team(env.tid)).status is SubscriptionStatus.PAST_DUE
    env.clock.current = end + timedelta(days=1)
    with pytest.raises(HasPaidPlan):
        env.teams.delete(env.actor("ann"), env.tid)


# -- renewals and mail -------------------------------------------------------------------------


def test_a_renewal_charges_the_owner_who_saved_the_card_and_tells_the_owners(env):
    env.buy_team("ann", env.tid, renew=True)
    env.buy_team("dan", env.tid)  # dan pays once more without renewal: ann's card stays the one
    sub = env.subscription(Owner.team(env.tid))
    assert sub.period_end == env.clock.now() + timedelta(days=60)
    env.clock.current = sub.period_end - timedelta(hours=12)
    before = len(env.mails())
    env.billing.renewals()
    env.billing.renewals()
    (charge,) = [c for _n, c in env.gateway.calls if _n == "create_payment" and c["payment_method_id"]]
    assert charge["customer_email"] == "ann@example.com"
    (renewal,) = [p for p in env.store.payments.values() if p.purpose is PaymentPurpose.RENEWAL]
    assert renewal.owner == Owner.team(env.tid) and renewal.user_id == env.ids["ann"]
    assert renewal.status is PaymentStatus.SUCCEEDED
    assert env.subscription(Owner.team(env.tid)).period_end == sub.period_end + timedelta(days=30)
    assert sorted(env.mails()[before:]) == [("payment_received", "ann@example.com"),
                                            ("payment_received", "dan@example.com")]


def test_the_card_of_an_owner_who_stepped_down_is_never_charged(env):
    env.buy_team("ann", env.tid, renew=True)
    env.set_role(env.tid, "ann", TeamRole.ADMIN)
    end = env.subscription(Owner.team(env.tid)).period_end
    env.clock.current = end - timedelta(hours=12)
    env.billing.renewals()
    assert not [c for n, c in env.gateway.calls if n == "create_payment" and c["payment_method_id"]]
    sub = env.subscription(Owner.team(env.tid))
    assert sub.payment_method_id is None and sub.status is SubscriptionStatus.ACTIVE  # runs to its end
    env.clock.current = end
    env.billing.renewals()
    assert env.subscription(Owner.team(env.tid)).status is SubscriptionStatus.EXPIRED


def test_renewal_failed_mail_goes_to_every_owner_and_the_personal_only_mails_are_not_sent(env):
    env.user("rus", language="ru")
    env.set_role(env.tid, "dan", TeamRole.OWNER)
    with env.uow() as uow:
        uow.teams.add_member(Member(env.tid, env.ids["rus"], TeamRole.OWNER, env.clock.now()))
        uow.commit()
    env.buy_team("ann", env.tid, renew=True)
    end = env.subscription(Owner.team(env.tid)).period_end
    env.gateway.recurring_outcome = "insufficient_funds"
    env.clock.current = end - timedelta(hours=12)
    env.billing.renewals()
    failed = [(m[2], m[1], m[3]["plan"]) for m in env.mail.rendered if m[0] == "renewal_failed"]
    assert sorted(failed) == [("ann@example.com", "en", "Team (Support desk)"),
                              ("dan@example.com", "en", "Team (Support desk)"),
                              ("rus@example.com", "ru", "Команда (Support desk)")]
    # "ends soon" and "expired" speak of a personal account: not sent for a team
    env.clock.current = end + timedelta(days=3, minutes=1)
    env.billing.renewals()
    assert env.subscription(Owner.team(env.tid)).status is SubscriptionStatus.EXPIRED
    kinds = {kind for kind, _to in env.mails()}
    assert kinds == {"payment_received", "renewal_failed"}


# -- whose card renews the team's plan (review finding 1) ----------------------------------------


def test_after_a_cancel_only_the_owner_who_saved_the_card_turns_renewal_back_on(env):
    env.buy_team("ann", env.tid, renew=True)
    dan = env.actor("dan")
    env.billing.cancel(dan, team_id=env.tid)  # any owner stops the charges
    before = env.subscription(Owner.team(env.tid))
    for act in (lambda: env.billing.resume(dan, team_id=env.tid),
                lambda: env.billing.set_renewal(dan, True, team_id=env.tid)):
        with pytest.raises(Forbidden) as caught:
            act()
        assert caught.value.message.startswith("The team's plan renews with the card of the owner who saved it")
    assert env.subscription(Owner.team(env.tid)) == before and before.cancel_at_period_end
    # nothing is charged on ann's card at the period end
    env.clock.current = before.period_end - timedelta(hours=12)
    env.billing.renewals()
    assert not [c for n, c in env.gateway.calls if n == "create_payment" and c["payment_method_id"]]
    # ann, whose card it is, may resume
    assert env.billing.resume(env.actor("ann"), team_id=env.tid).renews
    # a cancel that was not pending: resuming changes nothing, so nothing is refused
    assert env.billing.resume(dan, team_id=env.tid).renews


def test_another_owner_renews_with_their_own_card_by_paying_with_renewal(env):
    env.buy_team("ann", env.tid, renew=True)
    env.billing.cancel(env.actor("ann"), team_id=env.tid)
    env.buy_team("dan", env.tid, renew=True)  # dan checks out afresh: his card is the one now
    sub = env.subscription(Owner.team(env.tid))
    assert sub.renews and not sub.cancel_at_period_end
    env.billing.cancel(env.actor("dan"), team_id=env.tid)
    with pytest.raises(Forbidden):
        env.billing.resume(env.actor("ann"), team_id=env.tid)  # not ann's card any more
    assert env.billing.resume(env.actor("dan"), team_id=env.tid).renews
    env.clock.current = sub.period_end - timedelta(hours=12)
    env.billing.renewals()
    (charge,) = [c for n, c in env.gateway.calls if n == "create_payment" and c["payment_method_id"]]
    assert charge["customer_email"] == "dan@example.com"


def test_paying_once_without_renewal_after_a_cancel_does_not_revive_another_owners_card(env):
    env.buy_team("ann", env.tid, renew=True)
    env.billing.cancel(env.actor("ann"), team_id=env.tid)
    env.buy_team("dan", env.tid)  # one more period, no renewal chosen
    sub = env.subscription(Owner.team(env.tid))
    assert not sub.cancel_at_period_end and sub.payment_method_id is None and not sub.renews
    env.clock.current = sub.period_end - timedelta(hours=12)
    env.billing.renewals()
    assert not [c for n, c in env.gateway.calls if n == "create_payment" and c["payment_method_id"]]


def test_the_card_is_shown_to_the_owners_only(env):
    env.buy_team("ann", env.tid, renew=True)
    seen = {who: env.billing.overview(env.actor(who), team_id=env.tid) for who in ("ann", "dan", "bob", "cid")}
    assert {who: o.payment_method for who, o in seen.items()} == {
        "ann": "card •••• 4242", "dan": "card •••• 4242", "bob": None, "cid": None}
    assert {who: o.card_is_mine for who, o in seen.items()} == {"ann": True, "dan": False, "bob": False, "cid": False}
    assert all(o.subscription.renews for o in seen.values())  # members still see that it renews
    env.buy_team("oscar", env.other, renew=True)
    mine = env.billing.overview(env.actor("oscar"))
    assert mine.subscription is None and mine.payment_method is None


# -- deleting a team, or the account of its only member, while it is paid for (findings 2, 3) -------


def test_a_team_is_not_deleted_while_its_checkout_is_pending(env):
    result = env.billing.checkout(env.actor("ann"), "team", team_id=env.tid)
    for who in ("ann", "dan"):
        with pytest.raises(Conflict) as caught:
            env.teams.delete(env.actor(who), env.tid)
        assert caught.value.message.startswith("A payment for this team is in progress")
    assert env.store.teams.get(env.tid) is not None
    # the payment fails: the team may go
    payment = env.store.payments[result.payment_id]
    env.gateway.decline(payment.provider_id)
    assert env.notify(payment.provider_id, "payment.canceled").outcome == "applied"
    env.teams.delete(env.actor("ann"), env.tid)
    assert env.store.teams.get(env.tid) is None


def _accounts(env) -> Accounts:
    return Accounts(uow=env.uow, hasher=FakePasswordHasher(), access_tokens=FakeAccessTokenCodec(),
                    signed_tokens=FakeSignedTokenCodec(env.clock), mail=env.mail, clock=env.clock, base_url=BASE,
                    team_has_paid_plan=env.billing.team_has_paid_plan,
                    team_has_pending_payment=env.billing.team_has_pending_payment)


def test_the_only_member_of_a_paid_team_cannot_delete_the_account(env):
    solo = env.team("oscar", "Solo")
    env.buy_team("oscar", solo)
    accounts = _accounts(env)
    with pytest.raises(HasPaidPlan) as caught:
        accounts.delete_account(env.actor("oscar"), "h")
    assert caught.value.message.startswith("You are the only member of a team with an active paid plan")
    assert env.ids["oscar"] in env.store.users and solo in env.store.teams
    # the plan ends: the account goes, and the team of one with it
    env.billing.cancel(env.actor("oscar"), team_id=solo)
    env.clock.current = env.subscription(Owner.team(solo)).period_end + timedelta(seconds=1)
    accounts.delete_account(env.actor("oscar"), "h")
    assert env.ids["oscar"] not in env.store.users and solo not in env.store.teams


def test_the_only_member_of_a_team_with_a_pending_checkout_cannot_delete_the_account(env):
    solo = env.team("oscar", "Solo")
    env.billing.checkout(env.actor("oscar"), "team", team_id=solo)
    with pytest.raises(Conflict) as caught:
        _accounts(env).delete_account(env.actor("oscar"), "h")
    assert caught.value.message.startswith("A payment for a team you alone belong to is in progress")
    assert env.ids["oscar"] in env.store.users and solo in env.store.teams
