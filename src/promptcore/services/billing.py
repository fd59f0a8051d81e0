"""Billing use cases (SPEC §12): plans, checkout, learning a payment's outcome (return page,
webhook, worker sweep), renewals and expiry, cancel/resume/renewal, admin refunds and grants.

The rules live in ``domain/billing.py`` (forward-only payments, the subscription's state machine);
here they are loaded, applied and stored, one transaction at a time, and no transaction is held
open across a call to the payment provider:

- a checkout commits its ``pending`` payment row (with its idempotence key) first, then calls the
  provider with that key, then stores the answer; a retry of the same row reuses the key;
- what the provider says about a payment (a webhook, the return page, the sweep, a renewal's
  answer) goes through one function, ``_apply``: the payment row is locked, the provider's state
  applied forward-only, and on ``succeeded`` the subscription is activated or extended, the saved
  card remembered and the receipt e-mail queued — all in that one transaction;
- a webhook body is only a hint: the object is fetched again from the provider, and the event is
  recorded under a unique key (event, object id, status) in the same transaction, so a duplicate
  changes nothing and the answer is sent only after the commit.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..domain.access import Actor, require_manage_users, require_member, require_read, require_team_action
from ..domain.billing import (
    FREE_PLAN,
    PENDING_RECHECK_AFTER,
    REASON_GAVE_UP,
    REASON_PROVIDER_UNAVAILABLE,
    Money,
    Owner,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Plan,
    Subscription,
    SubscriptionChange,
    effective_plan,
    new_idempotence_key,
)
from ..domain.billing_errors import (
    BillingUnavailable,
    PaymentNotFound,
    PaymentProviderUnavailable,
    PaymentRejected,
    WebhookForbidden,
)
from ..domain.errors import EmailNotConfirmed, Forbidden, NotFound, ValidationFailed
from ..domain.teams import Team, TeamRole, may_delete_team
from ..domain.users import User
from ..ports import Clock, MailTemplates, UnitOfWork
from ..ports.billing import PaymentGateway, ProviderPayment, RefundRecord

log = logging.getLogger("promptcore.billing")

__all__ = ["DEFAULT_WEBHOOK_NETWORKS", "Billing", "BillingOverview", "CheckoutResult", "WebhookResult",
           "parse_networks"]

# YooKassa's published webhook networks (SPEC §12.3).
DEFAULT_WEBHOOK_NETWORKS = (
    "185.71.76.0/27", "185.71.77.0/27", "77.75.153.0/25", "77.75.156.11", "77.75.156.35", "77.75.154.128/25",
    "2a02:5180::/32",
)
# The "ends in 3 days" e-mail after a cancel (SPEC §12.7).
ENDS_SOON_NOTICE = timedelta(days=3)
REASON_REJECTED = "rejected_by_provider"
# A user's pending checkout for one owner (themselves, or a team) is canceled on our side when they
# start one for another: the one they pay last is the one they meant (a payment made through the old
# page anyway still counts — the money wins, domain/billing.py).
REASON_REPLACED = "replaced_by_new_checkout"
# Only a team's owners pay for it and manage its subscription (SPEC §14): the rule of deleting it.
may_pay_for_team = may_delete_team
# Renewal turned back on (a resume, or renewal on) charges the saved card: for a team, only the owner
# who saved it may do that; another owner pays with their own card (SPEC §14: the owners pay).
NOT_YOUR_CARD = ("The team's plan renews with the card of the owner who saved it, and only they can turn "
                 "renewal back on. To renew with your own card, pay for the team plan with automatic renewal "
                 "chosen.")
# The mails a team's owners get about its subscription. "Ends soon" and "expired" are written for a
# personal account ("your account is back on the free plan") and are not sent for a team.
TEAM_MAIL_KINDS = frozenset({"payment_received", "renewal_failed"})
PAGE = 50
SWEEP_BATCH = 100
RENEWAL_BATCH = 100

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """Addresses and CIDRs (``185.71.76.0/27``, ``77.75.156.11``, ``2a02:5180::/32``) as networks;
    ``ValueError`` names the first bad one."""
    networks = []
    for item in items:
        text = item.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"not an address or network: {text!r}") from None
    return tuple(networks)


@dataclass(frozen=True)
class CheckoutResult:
    payment_id: int
    confirmation_url: str


@dataclass(frozen=True)
class BillingOverview:
    """What ``GET /billing`` shows: the plan that counts now, and the subscription if any.

    ``payment_method``: the saved card's title ("card •••• 4242") for whoever may see it — the
    subscriber, or a team's owners; None for a team's other members. ``card_is_mine``: whether the
    viewer is the one whose card renews it (their own subscription, or the team owner who saved
    the card) — only they turn its renewal back on."""

    plan: Plan
    subscription: Subscription | None
    enabled: bool
    payment_method: str | None = None
    card_is_mine: bool = False


@dataclass(frozen=True)
class WebhookResult:
    """``applied``: the event changed what we store; ``duplicate``: seen before, nothing changed;
    ``unknown``: no payment of ours (acknowledged so the provider stops retrying, and logged);
    ``ignored``: an event we do not act on."""

    outcome: str


class Billing:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        gateway: PaymentGateway | None,
        mail: MailTemplates,
        base_url: str,
        default_limit: int,
        grace_days: int = 3,
        webhook_networks: Sequence[str] = DEFAULT_WEBHOOK_NETWORKS,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._gateway = gateway
        self._mail = mail
        self._base_url = base_url.rstrip("/")
        self._default_limit = default_limit
        self._grace_days = grace_days
        self._networks = parse_networks(webhook_networks)

    @property
    def enabled(self) -> bool:
        return self._gateway is not None

    def _require_gateway(self) -> PaymentGateway:
        if self._gateway is None:
            raise BillingUnavailable()
        return self._gateway

    # -- plans ----------------------------------------------------------------------------------

    def _shown(self, plan: Plan) -> Plan:
        """The free plan's limit is the configured default (PROMPTCORE_DAILY_LIMIT): show that."""
        return dataclasses.replace(plan, daily_limit=self._default_limit) if plan.slug == FREE_PLAN else plan

    def plans(self, include_hidden: bool = False) -> list[Plan]:
        with self._uow() as uow:
            found = uow.plans.list()
        return [self._shown(p) for p in found if include_hidden or p.is_public]

    def set_plan(self, slug: str, *, daily_limit: int | None = None, price: Money | None = None,
                 is_public: bool | None = None) -> Plan:
        """``promptcore plans set``: change a plan's limit, price or visibility. The free plan's
        limit is PROMPTCORE_DAILY_LIMIT and its price zero; neither is set here."""
        with self._uow() as uow:
            plan = uow.plans.get(slug)
            if plan is None:
                raise NotFound(f"No plan {slug!r}.")
            if slug == FREE_PLAN and (daily_limit is not None or price is not None):
                raise ValidationFailed.on("plan", "The free plan follows PROMPTCORE_DAILY_LIMIT and costs nothing.")
            changes: dict[str, Any] = {}
            if daily_limit is not None:
                changes["daily_limit"] = daily_limit
            if price is not None:
                if price.is_zero:
                    raise ValidationFailed.on("price", "A paid plan costs more than zero.")
                changes["price"] = price
            if is_public is not None:
                changes["is_public"] = is_public
            plan = dataclasses.replace(plan, **changes)
            uow.plans.save(plan)
            uow.commit()
        return plan

    # -- the subscriber's view ----------------------------------------------------------------------

    @staticmethod
    def _owner(actor: Actor, team_id: int | None, *, manage: bool = False) -> Owner:
        """Whose subscription a request is about: the actor's own, or with ``team_id`` the team's —
        which its members see and only its owners buy or change (NotFound for a non-member,
        Forbidden for a member whose role does not allow the change; domain/access.py)."""
        if team_id is None:
            return Owner.user(actor.user_id)
        if manage:
            require_team_action(actor, team_id, may_pay_for_team)
        else:
            require_member(actor, team_id)
        return Owner.team(team_id)

    def overview(self, actor: Actor, team_id: int | None = None) -> BillingOverview:
        """The plan that counts now and the subscription: the actor's, or a team's (its members).
        A team without a team plan has no pool: its plan is shown as the free plan with a limit
        of 0 (what services/quota.py draws from)."""
        owner = self._owner(actor, team_id)
        now = self._clock.now()
        card_is_mine = False
        with self._uow() as uow:
            subscription = uow.subscriptions.get(owner)
            plan = uow.plans.get(effective_plan(subscription, now)) or uow.plans.get(FREE_PLAN)
            if subscription is not None and subscription.payment_method_id is not None:
                card_is_mine = self._card_saver(uow, subscription) == actor.user_id if owner.is_team else True
        assert plan is not None, "the free plan is seeded by the migration"
        # the card's digits: the subscriber's own, and a team's owners' (its members see only whether it renews)
        sees_card = not owner.is_team or may_pay_for_team(require_member(actor, owner.id))
        method = subscription.payment_method_title if subscription is not None and sees_card else None
        if owner.is_team and plan.slug == FREE_PLAN:
            plan = dataclasses.replace(plan, daily_limit=0)
        else:
            plan = self._shown(plan)
        return BillingOverview(plan, subscription, self.enabled, payment_method=method,
                               card_is_mine=card_is_mine and sees_card)

    def payments(self, actor: Actor, limit: int = PAGE, team_id: int | None = None) -> list[Payment]:
        """The actor's payments, or a team's (every member sees them), newest first."""
        owner = self._owner(actor, team_id)
        with self._uow() as uow:
            return uow.payments.of_owner(owner, max(1, min(PAGE, limit)))

    @staticmethod
    def team_has_pending_payment(uow: UnitOfWork, team_id: int) -> bool:
        """Whether a payment for the team is under way (a checkout not yet paid or canceled, or a
        renewal charge): such a team is not deleted, or the payment's success would land on no
        team. Runs in the caller's unit of work (Teams.delete, under the team's lock)."""
        return uow.payments.open_of_owner(Owner.team(team_id)) is not None

    def team_has_paid_plan(self, uow: UnitOfWork, team_id: int) -> bool:
        """Whether a team's subscription is active and paid now (SPEC §14: such a team cannot be
        deleted): a paid plan counts for it at this moment — within its period, or its grace after
        a failed renewal — and the period was paid for, not granted. Runs in the caller's unit of
        work (Teams.delete, under the team's lock)."""
        subscription = uow.subscriptions.get(Owner.team(team_id))
        if subscription is None or subscription.granted:
            return False
        slug = effective_plan(subscription, self._clock.now())
        if slug == FREE_PLAN:
            return False
        plan = uow.plans.get(slug)
        return plan is None or not plan.is_free  # a plan that vanished is treated as paid: refuse, not lose it

    def payment(self, actor: Actor, payment_id: int) -> Payment:
        """One of the actor's payments (404 for anyone else's). A payment still pending is asked
        about again, so the user sees the outcome even when the webhook is late (§12.3)."""
        with self._uow() as uow:
            payment = uow.payments.get(payment_id)
        require_read(actor, payment.user_id if payment else None, "No such payment.")
        assert payment is not None
        if payment.is_final or payment.provider_id is None or self._gateway is None:
            return payment
        try:
            provider = self._gateway.get_payment(payment.provider_id)
        except (PaymentProviderUnavailable, PaymentNotFound) as exc:
            log.warning("payment %s: could not refresh from the provider: %s", payment.id, exc)
            return payment
        return self._apply(provider, payment.id) or payment

    # -- checkout -------------------------------------------------------------------------------

    def _description(self, plan: Plan) -> str:
        return f"promptcore {plan.title_en}, {plan.period_days} days"

    def _return_url(self, payment: Payment) -> str:
        """Where the provider sends the payer back: the billing page of whoever the payment is for."""
        if payment.owner.is_team:
            return f"{self._base_url}/teams/{payment.owner.id}/billing?payment={payment.id}"
        return f"{self._base_url}/account/billing?payment={payment.id}"

    def checkout(self, actor: Actor, plan_slug: str, renew: bool = False,
                 team_id: int | None = None) -> CheckoutResult:
        """Start paying for one period of a plan (§12.2): 201 ``{payment_id, confirmation_url}``.
        With ``team_id`` an owner of the team buys a team plan for it (§14: NotFound for a
        non-member, Forbidden for a member who is not an owner); the subscription is the team's.
        The payment row is committed before the provider is called; while one checkout of the
        user's for the same owner is pending, another answers the same confirmation URL (one for
        another owner cancels it on our side: ``REASON_REPLACED``)."""
        owner = self._owner(actor, team_id, manage=True) if team_id is not None else Owner.user(actor.user_id)
        gateway = self._require_gateway()
        now = self._clock.now()
        with self._uow() as uow:
            user = uow.users.lock(actor.user_id)  # one checkout of a user at a time
            if user is None or not user.is_active:
                raise NotFound("The account no longer exists.")
            if not user.is_email_confirmed:
                raise EmailNotConfirmed("Confirm your e-mail address first: the receipt is sent there.")
            if owner.is_team:
                # the team's lock, as Teams.delete takes it: the team is not deleted while this
                # checkout is being stored, and once it is, deleting waits for the payment
                uow.teams.lock_team(owner.id)
                if uow.teams.get(owner.id) is None:
                    raise NotFound("Team not found.")
            plan = uow.plans.get(plan_slug) if isinstance(plan_slug, str) else None
            if plan is None or not plan.is_public:
                raise ValidationFailed.on("plan", "No such plan.")
            fresh = Payment.start(owner, plan, now, save_method=bool(renew))  # a free plan or the wrong owner: 422
            payment = uow.payments.pending_checkout(user.id)
            if payment is not None and payment.owner != owner:
                if payment.give_up(now, REASON_REPLACED).changed:
                    payment.confirmation_url = None
                    uow.payments.update(payment)
                payment = None
            if payment is not None and payment.confirmation_url:
                return CheckoutResult(payment.id, payment.confirmation_url)  # type: ignore[arg-type]
            if payment is None:
                payment = fresh
                payment.user_id = user.id
                uow.payments.add(payment)
                uow.commit()
            else:  # committed earlier, the provider's answer never stored: the same key again
                plan = uow.plans.get(payment.plan_slug) or plan
        assert payment.id is not None
        try:
            provider = gateway.create_payment(
                amount=payment.amount,
                description=self._description(plan),
                idempotence_key=payment.idempotence_key,
                metadata={"payment_id": payment.id, "user_id": user.id},
                customer_email=user.email,
                return_url=self._return_url(payment),
                save_payment_method=payment.save_method,
            )
        except (PaymentProviderUnavailable, PaymentRejected) as exc:
            reason = REASON_REJECTED if isinstance(exc, PaymentRejected) else REASON_PROVIDER_UNAVAILABLE
            log.warning("checkout of payment %s failed: %s", payment.id, exc)
            self._give_up(payment.id, reason)
            raise
        self._apply(provider, payment.id)
        if not provider.confirmation_url:
            raise PaymentProviderUnavailable(reason="no confirmation url")
        return CheckoutResult(payment.id, provider.confirmation_url)

    def _give_up(self, payment_id: int, reason: str) -> Payment | None:
        now = self._clock.now()
        with self._uow() as uow:
            payment = uow.payments.lock(payment_id)
            if payment is None:
                return None
            change = payment.give_up(now, reason)
            if change.changed:
                payment.confirmation_url = None
                uow.payments.update(payment)
                if payment.purpose is PaymentPurpose.RENEWAL:
                    self._renewal_failed(uow, payment, now)
                uow.commit()
            return payment

    # -- what the provider says -----------------------------------------------------------------

    def _apply(self, provider: ProviderPayment, payment_id: int | None = None,
               event_key: Callable[[ProviderPayment], str] | None = None) -> Payment | None:
        """Apply the provider's word about a payment in one transaction; the payment as stored
        after it, or None when it is not one of ours. ``payment_id``: ours, when known (a checkout
        or renewal we just created). ``event_key``: record the event under that key first and
        change nothing if it was seen."""
        now = self._clock.now()
        with self._uow() as uow:
            payment = uow.payments.lock_by_provider_id(provider.id)
            if payment is None:
                payment = self._claim(uow, provider, payment_id, now)
            if payment is None:
                return None
            if event_key is not None and not uow.billing_events.record(event_key(provider), now):
                return payment  # a duplicate: nothing changes
            if provider.confirmation_url and not payment.is_final:
                payment.confirmation_url = provider.confirmation_url
            change = payment.apply_status(provider.status, now, cancellation_reason=provider.cancellation_reason)
            if payment.is_final:
                payment.confirmation_url = None
            refund_change = None
            if payment.status is PaymentStatus.SUCCEEDED and provider.refunded is not None \
                    and provider.refunded.currency == payment.amount.currency and provider.refunded <= payment.amount:
                refund_change = payment.record_refunded(provider.refunded, now)
            uow.payments.update(payment)
            if change.succeeded_now:
                self._paid(uow, payment, provider, now)
            elif change.canceled_now and payment.purpose is PaymentPurpose.RENEWAL:
                self._renewal_failed(uow, payment, now)
            if refund_change is not None and refund_change.fully_refunded_now:
                self._fully_refunded(uow, payment, now)
            uow.commit()
            return payment

    @staticmethod
    def _claim(uow: UnitOfWork, provider: ProviderPayment, payment_id: int | None, now: datetime) -> Payment | None:
        """A provider payment we have no id for yet: ours if its metadata (or the caller) names a
        payment of ours that has no provider id, for the same amount. That covers a checkout whose
        answer was lost (a timeout after YooKassa created it) and then paid."""
        if payment_id is None:
            raw = provider.metadata.get("payment_id", "")
            payment_id = int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) <= 18 else None
        if payment_id is None:
            return None
        payment = uow.payments.lock(payment_id)
        if payment is None or payment.provider_id not in (None, provider.id) or payment.amount != provider.amount:
            return None
        payment.attach_provider_id(provider.id, now)
        return payment

    def _paid(self, uow: UnitOfWork, payment: Payment, provider: ProviderPayment, now: datetime) -> None:
        """The payment succeeded: the subscription becomes active on its plan (extended from the
        later of now and the period end), the saved card is remembered, the receipt queued."""
        plan = uow.plans.get(payment.plan_slug)
        if plan is None:  # plans are never deleted; be loud rather than lose a paid period
            raise RuntimeError(f"payment {payment.id}: unknown plan {payment.plan_slug!r}")
        method = provider.saved_method() if payment.save_method or payment.purpose is PaymentPurpose.RENEWAL \
            else None
        subscription = uow.subscriptions.lock(payment.owner)
        if subscription is not None and payment.owner.is_team and method is None \
                and subscription.cancel_at_period_end and subscription.payment_method_id is not None \
                and self._card_saver(uow, subscription) != payment.user_id:
            # An owner pays one period without renewal after the plan was canceled: that payment
            # drops the pending cancel, but must not turn renewal back on with another owner's card.
            subscription.forget_payment_method()
        if subscription is None:
            subscription = Subscription.begin(payment.owner, plan, now, method)
            uow.subscriptions.add(subscription, now)
        else:
            subscription.activate_or_extend(plan, now, method)
            uow.subscriptions.update(subscription, now)
        if payment.owner.is_team:  # the team's owners are told, whoever of them paid
            self._mail_owner(uow, subscription, "payment_received", amount=payment.amount,
                             period_end=subscription.period_end)
            return
        user = uow.users.get(payment.user_id) if payment.user_id is not None else None
        if user is not None:
            language = self._language(user)
            self._queue(uow, user, "payment_received", amount=payment.amount.human(language),
                        plan=plan.title(language), period_end=subscription.period_end)

    def _renewal_failed(self, uow: UnitOfWork, payment: Payment, now: datetime) -> None:
        subscription = uow.subscriptions.lock(payment.owner)
        if subscription is None:
            return
        change = subscription.renewal_failed(now, self._grace_days, idempotence_key=payment.idempotence_key)
        if not change.changed:
            return
        uow.subscriptions.update(subscription, now)
        if change.became_past_due:
            self._mail_owner(uow, subscription, "renewal_failed", grace_until=subscription.grace_until)

    def _fully_refunded(self, uow: UnitOfWork, payment: Payment, now: datetime) -> None:
        """A full refund ends the subscription at once (§12.4) — when the payment is for the plan
        the subscription is on (an old payment of another plan leaves it alone)."""
        subscription = uow.subscriptions.lock(payment.owner)
        if subscription is None or subscription.plan_slug != payment.plan_slug:
            return
        if subscription.refund(True, now).changed:
            uow.subscriptions.update(subscription, now)

    # -- the webhook ------------------------------------------------------------------------------

    def allows(self, client_address: str) -> bool:
        try:
            address = ipaddress.ip_address(client_address)
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def handle_webhook(self, body: Any, client_address: str) -> WebhookResult:
        """A YooKassa notification (§12.3). From outside the allowed networks: WebhookForbidden
        (403), nothing read. The body only names the object; the object is fetched again and
        the provider's answer applied, with the event recorded under a unique key so a duplicate
        changes nothing. A payment that is not ours is acknowledged (``unknown``) — YooKassa
        retries anything but 200 for a day, and no retry can make it ours. A provider or
        database failure raises (503), so the notification is delivered again."""
        if not self.allows(client_address):
            log.warning("webhook from %s refused: outside the YooKassa networks", client_address)
            raise WebhookForbidden()
        gateway = self._require_gateway()
        event, object_id = _read_notification(body)
        try:
            if event.startswith("payment."):
                provider = gateway.get_payment(object_id)
            elif event.startswith("refund."):
                refund = gateway.get_refund(object_id)
                self._refund_seen(refund.id, refund.payment_id, refund.status)
                provider = gateway.get_payment(refund.payment_id)
            else:
                log.info("webhook %s ignored", event)
                return WebhookResult("ignored")
        except PaymentNotFound:
            log.warning("webhook %s for %s: the provider does not know it; acknowledged", event, object_id)
            return WebhookResult("unknown")
        before = self._stored(provider.id)
        payment = self._apply(provider, event_key=lambda p: f"{event}:{object_id}:{p.status}"[:200])
        if payment is None:
            log.warning("webhook %s for payment %s: not one of ours; acknowledged", event, provider.id)
            return WebhookResult("unknown")
        changed = before is None or (before.status, before.refunded) != (payment.status, payment.refunded)
        return WebhookResult("applied" if changed else "duplicate")

    def _stored(self, provider_id: str) -> Payment | None:
        with self._uow() as uow:
            return uow.payments.lock_by_provider_id(provider_id)

    def _refund_seen(self, provider_refund_id: str, provider_payment_id: str, status: str) -> None:
        """Keep our refund row's status in step with the provider's (it may have been pending)."""
        now = self._clock.now()
        with self._uow() as uow:
            payment = uow.payments.lock_by_provider_id(provider_payment_id)
            if payment is None or payment.id is None:
                return
            for refund in uow.refunds.of_payment(payment.id):
                if refund.provider_id == provider_refund_id and refund.status != status:
                    refund.status, refund.updated_at = status, now
                    uow.refunds.update(refund)
            uow.commit()

    # -- the worker ---------------------------------------------------------------------------------

    def sweep(self) -> int:
        """Re-check payments pending for over 10 minutes; give up on ours after an hour (§12.3).
        Returns how many were looked at."""
        now = self._clock.now()
        with self._uow() as uow:
            stale = uow.payments.unsettled(now - PENDING_RECHECK_AFTER, SWEEP_BATCH)
        for payment in stale:
            assert payment.id is not None
            current: Payment | None = payment
            if payment.provider_id is not None and self._gateway is not None:
                try:
                    current = self._apply(self._gateway.get_payment(payment.provider_id), payment.id) or payment
                except PaymentNotFound:
                    current = payment
                except PaymentProviderUnavailable as exc:
                    log.warning("sweep: payment %s not re-checked: %s", payment.id, exc)
                    continue
            if current is not None and current.should_give_up(now):
                log.info("sweep: giving up on payment %s, pending since %s", payment.id, payment.created_at)
                self._give_up(payment.id, REASON_GAVE_UP)
        return len(stale)

    def renewals(self) -> int:
        """The subscriptions' clock (§12.4, §12.7): expire what ran out, tell owners whose plan ends
        in 3 days without renewal, and charge the saved method from a day before the period end.
        Returns how many subscriptions were looked at."""
        now = self._clock.now()
        with self._uow() as uow:
            candidates = uow.subscriptions.needing_attention(now + ENDS_SOON_NOTICE, RENEWAL_BATCH)
        for candidate in candidates:
            try:
                self._tend(candidate.owner, now)
            except (PaymentProviderUnavailable, PaymentRejected) as exc:
                log.warning("renewal of subscription %s: %s", candidate.id, exc)
        return len(candidates)

    def _tend(self, owner: Owner, now: datetime) -> None:
        charge: tuple[Payment, str, str | None] | None = None
        with self._uow() as uow:
            subscription = uow.subscriptions.lock(owner)
            if subscription is None:
                return
            # whose card a renewal charges: the user's own; for a team, the owner who saved it
            user = self._card_holder(uow, subscription) if owner.is_team else uow.users.get(owner.id)
            forgot = False
            if user is None and subscription.payment_method_id is not None:
                # the account is gone (or, for a team, the card's holder is no longer one of its
                # owners): never charge it
                forgot = subscription.forget_payment_method().changed
            change = subscription.expire_if_due(now)
            if change.changed or forgot:
                uow.subscriptions.update(subscription, now)
            if change.ended_now:
                self._mail_owner(uow, subscription, "subscription_expired")
            elif not subscription.renews and subscription.status.value == "active" \
                    and subscription.period_end - ENDS_SOON_NOTICE <= now < subscription.period_end:
                key = f"ends_soon:{subscription.id}:{subscription.period_end.isoformat()}"
                if uow.billing_events.record(key, now):
                    self._mail_owner(uow, subscription, "ends_soon", period_end=subscription.period_end)
            elif self._gateway is not None and subscription.renewal_due(now):
                charge = self._renewal_payment(uow, subscription, user, now)
            uow.commit()
        if charge is not None:
            self._charge(*charge)

    @staticmethod
    def _card_saver(uow: UnitOfWork, subscription: Subscription) -> int | None:
        """Whose card a team's subscription renews with: the payer of the latest succeeded payment
        that saved the card (a checkout with renewal, or a renewal — charged to the same card).
        None when there is no saved card (or no such payment is found)."""
        if subscription.payment_method_id is None:
            return None
        for payment in uow.payments.of_owner(subscription.owner, PAGE):
            saved = payment.save_method or payment.purpose is PaymentPurpose.RENEWAL
            if payment.status is PaymentStatus.SUCCEEDED and saved:
                return payment.user_id
        return None

    @classmethod
    def _card_holder(cls, uow: UnitOfWork, subscription: Subscription) -> User | None:
        """The owner of a team whose card the team's subscription renews with (``_card_saver``).
        None when there is no saved card, or its holder's account is gone or inactive, or they are
        no longer an owner of the team — their card is not charged for a team they no longer run."""
        saver = cls._card_saver(uow, subscription)
        if saver is None:
            return None
        user = uow.users.get(saver)
        member = uow.teams.member(subscription.owner.id, saver)
        if user is None or not user.is_active or member is None or member.role is not TeamRole.OWNER:
            return None
        return user

    def _renewal_payment(self, uow: UnitOfWork, subscription: Subscription, user: User | None,
                         now: datetime) -> tuple[Payment, str, str | None] | None:
        """The renewal's payment row under the period's key (reused if a run before this one
        stored it), committed with the caller's transaction before the provider is called."""
        key = subscription.renewal_idempotence_key()
        payment = uow.payments.by_idempotence_key(key)
        plan = uow.plans.get(subscription.plan_slug)
        if plan is None or plan.is_free:
            return None
        if payment is None:
            payment = Payment.start(subscription.owner, plan, now, purpose=PaymentPurpose.RENEWAL,
                                    idempotence_key=key)
            payment.user_id = user.id if user is not None else None
            uow.payments.add(payment)
        elif payment.is_final:
            return None  # its outcome is applied (a success extended the period; a failure moved the key on)
        assert subscription.payment_method_id is not None
        return payment, subscription.payment_method_id, user.email if user is not None else None

    def _charge(self, payment: Payment, method_id: str, email: str | None) -> None:
        gateway = self._require_gateway()
        with self._uow() as uow:
            plan = uow.plans.get(payment.plan_slug)
        assert plan is not None and payment.id is not None
        try:
            provider = gateway.create_payment(
                amount=payment.amount, description=self._description(plan), idempotence_key=payment.idempotence_key,
                metadata={"payment_id": payment.id, "user_id": payment.user_id or 0}, customer_email=email,
                payment_method_id=method_id,
            )
        except PaymentRejected as exc:  # the saved method is gone or refused: the renewal failed
            log.warning("renewal payment %s rejected: %s", payment.id, exc)
            self._give_up(payment.id, REASON_REJECTED)
            return
        # PaymentProviderUnavailable propagates: the payment stays pending; the next run sends the
        # same key (YooKassa answers the same payment), the sweep gives up on it after an hour.
        self._apply(provider, payment.id)

    # -- the subscriber's choices -------------------------------------------------------------------

    def _change_subscription(self, actor: Actor, act: Callable[[Subscription, datetime], SubscriptionChange],
                             team_id: int | None = None) -> Subscription:
        owner = self._owner(actor, team_id, manage=True)
        now = self._clock.now()
        with self._uow() as uow:
            subscription = uow.subscriptions.lock(owner)
            if subscription is None:
                raise NotFound("The team has no subscription." if owner.is_team else "You have no subscription.")
            renewed = subscription.renews
            if act(subscription, now).changed:
                if owner.is_team and subscription.renews and not renewed \
                        and self._card_saver(uow, subscription) != actor.user_id:
                    raise Forbidden(NOT_YOUR_CARD)  # nothing is stored: the unit of work rolls back
                uow.subscriptions.update(subscription, now)
                uow.commit()
            return subscription

    def cancel(self, actor: Actor, team_id: int | None = None) -> Subscription:
        """The plan stays to the period end, then ends; nothing more is charged (§12.4). With
        ``team_id``: the team's subscription, by one of its owners (so for resume and renewal)."""
        return self._change_subscription(actor, lambda s, now: s.cancel(now), team_id)

    def resume(self, actor: Actor, team_id: int | None = None) -> Subscription:
        """Undo a cancel before the period ends. For a team whose plan renews with a saved card,
        only the owner who saved it may (Forbidden for another owner: they check out afresh)."""
        return self._change_subscription(actor, lambda s, now: s.resume(now), team_id)

    def set_renewal(self, actor: Actor, enabled: bool, team_id: int | None = None) -> Subscription:
        """Renewal off drops the saved card (any owner of a team); on needs one (a checkout with
        renewal saves it) and undoes a pending cancel — for a team, by the owner who saved it."""
        def act(subscription: Subscription, now: datetime) -> SubscriptionChange:
            if not enabled:
                return subscription.forget_payment_method()
            if subscription.payment_method_id is None:
                raise ValidationFailed.on("enabled", "Automatic renewal needs a saved card: pay once with "
                                                     "renewal chosen.")
            return subscription.resume(now)

        return self._change_subscription(actor, act, team_id)

    # -- administration -----------------------------------------------------------------------------

    def admin_payments(self, actor: Actor, query: str | None = None, cursor: str | None = None,
                       limit: int = PAGE) -> tuple[list[Payment], str | None]:
        require_manage_users(actor)
        before = None
        if cursor:
            if not cursor.isdigit() or len(cursor) > 18:
                raise ValidationFailed.on("cursor", "The cursor is not valid; start from the first page.")
            before = int(cursor)
        limit = max(1, min(PAGE, limit))
        with self._uow() as uow:
            found = uow.payments.search((query or "").strip() or None, before, limit + 1)
        next_cursor = str(found[limit - 1].id) if len(found) > limit else None
        return found[:limit], next_cursor

    def refund(self, actor: Actor, payment_id: int, amount: Money | str | None = None) -> Payment:
        """Refund all that is left of a payment, or ``amount`` of it (§12.4). The refund's key is
        stored before the provider is called; a retry after a failure sends the same key, so a
        refund is never made twice. A full refund ends the subscription at once."""
        require_manage_users(actor)
        gateway = self._require_gateway()
        now = self._clock.now()
        with self._uow() as uow:
            payment = uow.payments.lock(payment_id)
            if payment is None:
                raise NotFound("No such payment.")
            if isinstance(amount, str):  # "100.00", in the payment's currency
                amount = Money.parse(amount, payment.amount.currency)
            amount = payment.check_refund(amount)
            record = uow.refunds.unconfirmed(payment_id)
            if record is not None and record.amount != amount:
                raise ValidationFailed.on("amount", f"A refund of {record.amount.to_decimal_string()} is still "
                                                    "unconfirmed; repeat that one first.")
            if record is None:
                record = uow.refunds.add(RefundRecord(payment_id=payment_id, amount=amount,
                                                      idempotence_key=new_idempotence_key(), created_at=now,
                                                      updated_at=now))
                uow.commit()
            user = uow.users.get(payment.user_id) if payment.user_id is not None else None
            plan = uow.plans.get(payment.plan_slug)
        assert payment.provider_id is not None and plan is not None
        try:
            refund = gateway.create_refund(payment.provider_id, amount, record.idempotence_key,
                                           description=f"Refund: {self._description(plan)}",
                                           customer_email=user.email if user is not None else None)
        except PaymentRejected:
            self._refund_ended(record, "canceled")
            raise
        record.provider_id = refund.id
        self._refund_ended(record, refund.status)
        try:
            provider = gateway.get_payment(payment.provider_id)
        except (PaymentProviderUnavailable, PaymentNotFound):
            if refund.status != "succeeded":
                return payment
            provider = dataclasses.replace(_as_provider(payment), refunded=payment.refunded + amount)  # type: ignore[operator]
        return self._apply(provider, payment.id) or payment

    def _refund_ended(self, record: RefundRecord, status: str) -> None:
        with self._uow() as uow:
            record.status, record.updated_at = status, self._clock.now()
            uow.refunds.update(record)
            uow.commit()

    def grant(self, email: str | None, plan_slug: str, days: int | None = None,
              team_id: int | None = None) -> Subscription:
        """``promptcore plans grant``: a subscription without a payment, marked as granted, for
        ``days`` (default: the plan's period) from the later of now and the current end when on
        the same plan, from now on another; to a user (``email``) or a team (``team_id``; a team
        plan only)."""
        now = self._clock.now()
        with self._uow() as uow:
            if team_id is not None:
                if uow.teams.get(team_id) is None:
                    raise NotFound(f"No team {team_id}.")
                owner = Owner.team(team_id)
            else:
                user = uow.users.get_by_email((email or "").strip().lower())
                if user is None or user.id is None:
                    raise NotFound(f"No user {email!r}.")
                owner = Owner.user(user.id)
            plan = uow.plans.get(plan_slug)
            if plan is None:
                raise NotFound(f"No plan {plan_slug!r}.")
            if plan.slug == FREE_PLAN:
                raise ValidationFailed.on("plan", "Everyone has the free plan; grant a paid one.")
            if days is not None:
                plan = dataclasses.replace(plan, period_days=days)
            subscription = uow.subscriptions.lock(owner)
            if subscription is None:
                subscription = Subscription.begin(owner, plan, now, granted=True)
                uow.subscriptions.add(subscription, now)
            else:
                subscription.activate_or_extend(plan, now, granted=True)
                uow.subscriptions.update(subscription, now)
            uow.commit()
            return subscription

    # -- mail -------------------------------------------------------------------------------------

    @staticmethod
    def _language(user: User) -> str:
        return getattr(user.settings, "language", None) or "en"

    def _queue(self, uow: UnitOfWork, user: User, kind: str, **context: Any) -> None:
        context.setdefault("link", f"{self._base_url}/account/billing")
        context.setdefault("name", user.name if user.is_email_confirmed else None)
        message = self._mail.render(kind, self._language(user), user.email, context)
        uow.outbox.add(message, self._clock.now())

    def _mail_owner(self, uow: UnitOfWork, subscription: Subscription, kind: str, **context: Any) -> None:
        """Tell the subscription's owner: the user, or each owner of the team (only the kinds in
        TEAM_MAIL_KINDS), with the team's name beside the plan and a link to the team's billing
        page. A Money in the context is written for each recipient's language."""
        plan = uow.plans.get(subscription.plan_slug)
        team: Team | None = None
        if subscription.owner.is_team:
            team = uow.teams.get(subscription.owner.id) if kind in TEAM_MAIL_KINDS else None
            if team is None:
                return
            owners = [m.user_id for m in uow.teams.members(subscription.owner.id) if m.role is TeamRole.OWNER]
            recipients = [u for u in (uow.users.get(uid) for uid in owners) if u is not None and u.is_active]
            context["link"] = f"{self._base_url}/teams/{subscription.owner.id}/billing"
        else:
            user = uow.users.get(subscription.owner.id)
            recipients = [user] if user is not None else []
        for user in recipients:
            language = self._language(user)
            title = plan.title(language) if plan else subscription.plan_slug
            written = {key: value.human(language) if isinstance(value, Money) else value
                       for key, value in context.items()}
            self._queue(uow, user, kind, plan=f"{title} ({team.name})" if team else title, **written)


def _read_notification(body: Any) -> tuple[str, str]:
    """The event and the object id of a YooKassa notification; anything else is a 422."""
    if not isinstance(body, dict) or body.get("type") != "notification":
        raise ValidationFailed.on("type", "Not a YooKassa notification.")
    event, obj = body.get("event"), body.get("object")
    if not isinstance(event, str) or not 1 <= len(event) <= 64 or not isinstance(obj, dict):
        raise ValidationFailed.on("event", "A notification names an event and an object.")
    object_id = obj.get("id")
    if not isinstance(object_id, str) or not 1 <= len(object_id) <= 64:
        raise ValidationFailed.on("object.id", "A notification's object has an id.")
    return event, object_id


def _as_provider(payment: Payment) -> ProviderPayment:
    """Our stored payment in the provider's shape (for applying a refund when the provider cannot
    be asked right after it)."""
    assert payment.provider_id is not None
    return ProviderPayment(id=payment.provider_id, status=payment.status.value,
                           paid=payment.status is PaymentStatus.SUCCEEDED, amount=payment.amount,
                           refunded=payment.refunded)
