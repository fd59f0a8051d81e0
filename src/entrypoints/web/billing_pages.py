"""Plans and payments on the pages (SPEC §12.6): /pricing with the Upgrade buttons (and the
hand-off to the payment page, /pricing/pay/<id>),
/account/billing (the plan, renewal, cancel/resume, payments, and the return from checkout),
/teams/<id>/billing (a team's plan and payments, §14) and /admin/payments (search and refunds).

The pages call the same Billing use cases as the API. Bad input gets the page again with a 4xx
and the reason in words; a change that worked is flashed and answered with a 303 (post, redirect,
get). A team plan is bought on /pricing by an owner of the team, who picks which of their teams;
its members see who can buy it, and the team's billing page (linked from the team page) shows
every member the plan and payments, and its owners the cancel/resume/renewal buttons."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from promptcore.domain.billing import (
    FREE_PLAN,
    Money,
    Owner,
    Payment,
    PaymentStatus,
    SubscriptionStatus,
)
from promptcore.domain.billing_errors import PaymentRejected
from promptcore.domain.errors import NotFound, PromptcoreError
from promptcore.domain.teams import TeamRole
from promptcore.services.billing import BillingOverview, may_pay_for_team

from ..api.errors import lookup
from ..deps import services
from ..ids import parse_id
from .forms import CsrfForm
from .i18n import current_language
from .messages import N_, translate
from .session import current_actor, current_user, login_required, safe_next
from .views import bp

# What the Billing use cases and the billing domain can say to a person on these pages; the
# catalogue translates them (messages.translate). Numbers inside a message are matched below.
BILLING_MESSAGES = (
    N_("No such plan."),
    N_("That plan is free."),
    N_("That plan is for teams."),
    N_("That plan is for personal accounts."),
    N_("Confirm your e-mail address first: the receipt is sent there."),
    N_("Payments are unavailable right now. Try again in a moment."),
    N_("Payments are not set up on this server."),
    N_("The payment provider refused the request."),
    N_("Payment not found."),
    N_("No such payment."),
    N_("You have no subscription."),
    N_("There is no active subscription to cancel."),
    N_("The subscription has ended; subscribe again."),
    N_("The period has ended; subscribe again."),
    N_("Automatic renewal needs a saved card: pay once with renewal chosen."),
    N_("Administrators only."),
    N_("Nothing of this payment can be refunded."),
    N_("A refund is in the payment's currency."),
    N_('Give the amount as a string such as "490.00".'),
    N_('Enter an amount such as "490.00": digits, at most two after the point.'),
    N_("The amount is too large."),
    N_("The team has no subscription."),
    N_("The team's plan renews with the card of the owner who saved it, and only they can turn renewal back on. "
       "To renew with your own card, pay for the team plan with automatic renewal chosen."),
)


def billing_message(error: PromptcoreError) -> str:
    """The error in the page's language. The provider's own words (English, technical) are left
    out of a refusal: the page says it was refused, the log has the details."""
    if isinstance(error, PaymentRejected):
        return _("The payment provider refused the request.")
    messages = [m for ms in (getattr(error, "errors", None) or {}).values() for m in ms] or [error.message]
    return " ".join(_billing_translate(m) for m in messages)


def _billing_translate(message: str) -> str:
    match = re.fullmatch(r"Refund between 0\.01 and ([0-9]+\.[0-9]{2})\.", message)
    if match:
        return _("Refund between 0.01 and %(max)s.", max=match.group(1))
    match = re.fullmatch(r"A refund of ([0-9]+\.[0-9]{2}) is still unconfirmed; repeat that one first\.", message)
    if match:
        return _("A refund of %(amount)s is still unconfirmed; repeat that one first.", amount=match.group(1))
    return translate(message)


# -- words for codes --------------------------------------------------------------------------------


def cancellation_text(reason: str | None) -> str:
    """YooKassa's cancellation reason (and ours) in words."""
    words = {
        "3d_secure_failed": _("the bank's 3-D Secure check did not pass"),
        "call_issuer": _("the bank declined the payment; call your bank to find out why"),
        "canceled_by_merchant": _("the payment was canceled by the shop"),
        "card_expired": _("the card has expired"),
        "country_forbidden": _("cards from this country are not accepted"),
        "expired_on_capture": _("the payment was not completed in time"),
        "expired_on_confirmation": _("the payment was not confirmed in time"),
        "fraud_suspected": _("the payment was blocked as suspicious"),
        "general_decline": _("the payment was declined"),
        "identification_required": _("the wallet needs to be identified first"),
        "insufficient_funds": _("there is not enough money on the card"),
        "internal_timeout": _("the payment service had a technical problem"),
        "invalid_card_number": _("the card number is wrong"),
        "invalid_csc": _("the CVC/CVV code is wrong"),
        "issuer_unavailable": _("the bank could not be reached"),
        "payment_method_limit_exceeded": _("the card's limit is reached"),
        "payment_method_restricted": _("payments with this card are restricted"),
        "permission_revoked": _("permission for automatic payments was withdrawn"),
        "unsupported_mobile_operator": _("this mobile operator is not supported"),
        "deal_expired": _("the deal has expired"),
        "gave_up": _("the payment service did not confirm the payment in time"),
        "provider_unavailable": _("the payment service could not be reached"),
        "rejected_by_provider": _("the payment service refused the payment"),
        "replaced_by_new_checkout": _("a newer checkout replaced it"),
    }
    if not reason:
        return _("the payment was declined")
    return words.get(reason, _("the payment was declined (%(reason)s)", reason=reason))


def card_text(title: str | None) -> str | None:
    """The saved card's title ("card •••• 4242", domain.billing.card_title) in the page's language."""
    match = re.fullmatch(r"card •••• ([0-9]{4})", title or "")
    text = _("card •••• %(last4)s", last4=match.group(1)) if match else title
    return text.replace(" ", "\u00a0") if text else text  # kept on one line


def payment_status_text(payment: Payment) -> str:
    if payment.status is PaymentStatus.SUCCEEDED:
        state = payment.refund_state.value
        if state == "fully_refunded":
            return _("refunded")
        if state == "partially_refunded":
            return _("paid, partly refunded")
        return _("paid")
    if payment.status is PaymentStatus.CANCELED:
        return _("not paid")
    return _("waiting for the payment")


def payment_tone(payment: Payment) -> str:
    if payment.status is PaymentStatus.SUCCEEDED:
        return "ok"
    if payment.status is PaymentStatus.CANCELED:
        return "bad"
    return "warn"


def money(amount: Money) -> str:
    return amount.human(current_language())


def _plan_titles() -> dict[str, str]:
    language = current_language()
    return {p.slug: p.title(language) for p in services().billing().plans(include_hidden=True)}


def _context_helpers() -> dict[str, Any]:
    return {"money": money, "payment_status_text": payment_status_text, "payment_tone": payment_tone,
            "cancellation_text": cancellation_text}


def _error_status(error: PromptcoreError) -> int:
    return lookup(error)[0]


# -- /pricing -------------------------------------------------------------------------------------


def _team_choices() -> dict[str, Any]:
    """The teams side of /pricing for the signed-in user: the teams they own (to buy a team plan
    for; each with the plan it is on now and until when), and for the teams they only belong to,
    who can buy it — that team's owners."""
    actor = current_actor()
    teams, billing = services().teams(), services().billing()
    owned, others = [], []
    for view in teams.list(actor):
        team = view.team
        if may_pay_for_team(view.role):
            overview = billing.overview(actor, team_id=team.id)
            sub = overview.subscription
            until = sub.period_end if sub is not None and not overview.plan.is_free else None
            owned.append({"id": team.id, "name": team.name, "plan": overview.plan.slug, "until": until})
        else:
            owners = [m.name or m.email for m in teams.members(actor, team.id) if m.role is TeamRole.OWNER]
            others.append({"id": team.id, "name": team.name, "owners": owners})
    return {"owned": owned, "others": others}


def _pricing(status: int = 200, error: str | None = None, team_id: int | None = None):
    billing = services().billing()
    language = current_language()
    user = current_user()
    current = None
    teams: dict[str, Any] = {"owned": [], "others": []}
    if user is not None:
        current = billing.overview(current_actor()).plan.slug
        teams = _team_choices()
    if team_id is None:
        team_id = parse_id(request.args.get("team"))
    plans = billing.plans()
    return render_template(
        "pricing.html", plans=plans, current=current, enabled=billing.enabled, error=error,
        titles={p.slug: p.title(language) for p in plans}, form=CsrfForm(), free_plan=FREE_PLAN,
        owned_teams=teams["owned"], member_teams=teams["others"], chosen_team=team_id,
        **_context_helpers()), status


@bp.get("/pricing")
def pricing():
    return _pricing()


@bp.post("/pricing/checkout")
def pricing_checkout():
    """The Upgrade button: start a checkout and send the browser to the provider's payment page.
    A team plan's form names one of the user's teams (``team_id``); the use case checks that they
    own it."""
    if current_user() is None:
        return redirect(url_for("web.login", next=url_for("web.pricing")), 303)
    plan = (request.form.get("plan") or "").strip()[:32]
    renew = request.form.get("renew") in ("y", "1", "on", "true")
    raw_team = request.form.get("team_id")
    team_id = parse_id(raw_team) if raw_team else None
    try:
        if raw_team and team_id is None:
            raise NotFound("Team not found.")
        result = services().billing().checkout(current_actor(), plan, renew, team_id=team_id)
    except PromptcoreError as exc:
        return _pricing(_error_status(exc), billing_message(exc), team_id)
    return redirect(url_for("web.pricing_pay", payment_id=result.payment_id), 303)


@bp.get("/pricing/pay/<int:payment_id>")
@login_required
def pricing_pay(payment_id: int):
    """The hand-off to the provider's payment page. The pages' CSP has ``form-action 'self'``,
    and browsers apply it to every redirect a form submission follows: a 303 from the Upgrade form
    straight to YooKassa would be blocked. So the form lands here (same origin), and this page
    moves on with a meta refresh (no script) and a link. A payment that has ended, or a stranger's
    id (404), goes no further."""
    payment = services().billing().payment(current_actor(), payment_id)
    url = payment.confirmation_url if not payment.is_final else None
    if not url or not url.startswith(("https://", "http://")):
        if payment.owner.is_team:
            return redirect(url_for("web.team_billing", team_id=payment.owner.id, payment=payment.id), 303)
        return redirect(url_for("web.account_billing", payment=payment.id), 303)
    return render_template("checkout_handoff.html", payment=payment, url=url, titles=_plan_titles(),
                           **_context_helpers())


# -- /account/billing -----------------------------------------------------------------------------


def _returned_payment() -> Payment | None:
    """The payment named by ?payment= on the return from checkout: one of the user's (a stranger's
    id or a malformed one is a 404), refreshed from the provider while it is pending."""
    raw = request.args.get("payment")
    if raw is None:
        return None
    payment_id = parse_id(raw)
    if payment_id is None:
        abort(404)
    return services().billing().payment(current_actor(), payment_id)


def _account_billing(status: int = 200, error: str | None = None, returned: Payment | None = None):
    billing = services().billing()
    actor = current_actor()
    overview = billing.overview(actor)
    payments = billing.payments(actor)
    if returned is not None:  # the list shows the refreshed state too
        payments = [returned if p.id == returned.id else p for p in payments]
    subscription = overview.subscription
    return render_template(
        "billing.html", overview=overview, plan=overview.plan, subscription=subscription,
        sub=_subscription_view(overview), payments=payments, returned=returned, error=error,
        titles=_plan_titles(), form=CsrfForm(), **_context_helpers()), status


def _subscription_view(overview: BillingOverview) -> dict[str, Any] | None:
    """What the billing pages show of the subscription. The card's digits only as the overview
    lets the viewer see them (a team's owners); resuming renewal on a saved card only for the one
    it belongs to (others are told to pay with their own card)."""
    s = overview.subscription
    if s is None:
        return None
    ended = s.status.is_ended
    now = services().clock().now()
    may_resume = not ended and s.cancel_at_period_end and now < max(s.period_end, s.grace_until or s.period_end)
    card_elsewhere = s.payment_method_id is not None and not overview.card_is_mine
    return {
        "status": s.status.value,
        "ended": ended,
        "past_due": s.status is SubscriptionStatus.PAST_DUE,
        "cancel_pending": s.cancel_at_period_end and not ended,
        "renews": s.renews,
        "card": card_text(overview.payment_method),
        "can_cancel": not ended and not s.cancel_at_period_end,
        "can_resume": may_resume and not card_elsewhere,
        "resume_needs_own_card": may_resume and card_elsewhere,
        "can_stop_renewal": not ended and s.payment_method_id is not None and not s.cancel_at_period_end,
        "granted": s.granted,
    }


@bp.get("/account/billing")
@login_required
def account_billing():
    returned = _returned_payment()
    if returned is not None and returned.owner.is_team:  # a team's payment: the team's page tells it
        return redirect(url_for("web.team_billing", team_id=returned.owner.id, payment=returned.id), 303)
    return _account_billing(returned=returned)


def _change(act, done: str):
    try:
        act()
    except PromptcoreError as exc:
        return _account_billing(_error_status(exc), billing_message(exc))
    flash(done, "success")
    return redirect(url_for("web.account_billing"), 303)


@bp.post("/account/billing/cancel")
@login_required
def account_billing_cancel():
    return _change(lambda: services().billing().cancel(current_actor()),
                   _("Your subscription is canceled: the plan stays until the end of the paid period, "
                     "and nothing more will be charged."))


@bp.post("/account/billing/resume")
@login_required
def account_billing_resume():
    return _change(lambda: services().billing().resume(current_actor()),
                   _("Your subscription continues and renews at the end of the period."))


@bp.post("/account/billing/renewal")
@login_required
def account_billing_renewal():
    raw = request.form.get("enabled")
    if raw not in ("0", "1"):
        return _account_billing(400, _("Choose whether to renew automatically."))
    enabled = raw == "1"
    done = _("Automatic renewal is on.") if enabled else \
        _("Automatic renewal is off and the card is forgotten. The plan runs to the end of the period.")
    return _change(lambda: services().billing().set_renewal(current_actor(), enabled), done)


# -- /teams/<id>/billing (SPEC §14) ----------------------------------------------------------------


@bp.app_template_global("team_plan")
def team_plan(team_id: int) -> dict[str, Any]:
    """The team page's "Plan: …" line: the team's plan now, and until when it is paid."""
    overview = services().billing().overview(current_actor(), team_id=team_id)
    sub = overview.subscription
    on_plan = not overview.plan.is_free and sub is not None
    return {"title": overview.plan.title(current_language()) if on_plan else None,
            "until": sub.period_end if on_plan and sub is not None else None}


def _team_billing(team_id: int, status: int = 200, error: str | None = None, returned: Payment | None = None):
    actor = current_actor()
    teams, billing = services().teams(), services().billing()
    view = teams.get(actor, team_id)  # a non-member: 404
    overview = billing.overview(actor, team_id=team_id)
    payments = []
    for p in billing.payments(actor, team_id=team_id):
        if returned is not None and p.id == returned.id:
            p = returned  # the list shows the refreshed state too
        if p.user_id != actor.user_id and p.confirmation_url:
            p = dataclasses.replace(p, confirmation_url=None)  # only the payer is sent on to pay
        payments.append(p)
    owners = [m for m in teams.members(actor, team_id) if m.role is TeamRole.OWNER]
    subscription = overview.subscription
    return render_template(
        "team_billing.html", team=view.team, role=view.role, may_manage=may_pay_for_team(view.role),
        owners=owners, overview=overview, plan=overview.plan, subscription=subscription,
        sub=_subscription_view(overview), payments=payments, returned=returned, error=error,
        titles=_plan_titles(), form=CsrfForm(), **_context_helpers()), status


@bp.get("/teams/<int:team_id>/billing")
@login_required
def team_billing(team_id: int):
    services().teams().get(current_actor(), team_id)  # a non-member: 404 before anything is read
    returned = None
    raw = request.args.get("payment")
    if raw is not None:  # the return from checkout: one of this team's payments, by its payer
        payment_id = parse_id(raw)
        if payment_id is None:
            abort(404)
        returned = services().billing().payment(current_actor(), payment_id)
        if returned.owner != Owner.team(team_id):
            abort(404)
    return _team_billing(team_id, returned=returned)


def _team_change(team_id: int, act, done: str):
    services().teams().get(current_actor(), team_id)  # a non-member: 404 before the form is read
    try:
        act()
    except PromptcoreError as exc:
        return _team_billing(team_id, _error_status(exc), billing_message(exc))
    flash(done, "success")
    return redirect(url_for("web.team_billing", team_id=team_id), 303)


@bp.post("/teams/<int:team_id>/billing/cancel")
@login_required
def team_billing_cancel(team_id: int):
    return _team_change(team_id, lambda: services().billing().cancel(current_actor(), team_id=team_id),
                        _("The team's subscription is canceled: the plan stays until the end of the paid period, "
                          "and nothing more will be charged."))


@bp.post("/teams/<int:team_id>/billing/resume")
@login_required
def team_billing_resume(team_id: int):
    return _team_change(team_id, lambda: services().billing().resume(current_actor(), team_id=team_id),
                        _("The team's subscription continues and renews at the end of the period."))


@bp.post("/teams/<int:team_id>/billing/renewal")
@login_required
def team_billing_renewal(team_id: int):
    services().teams().get(current_actor(), team_id)
    raw = request.form.get("enabled")
    if raw not in ("0", "1"):
        return _team_billing(team_id, 400, _("Choose whether to renew automatically."))
    enabled = raw == "1"
    done = _("Automatic renewal is on.") if enabled else \
        _("Automatic renewal is off and the card is forgotten. The plan runs to the end of the period.")
    return _team_change(team_id, lambda: services().billing().set_renewal(current_actor(), enabled,
                                                                           team_id=team_id), done)


# -- /admin/payments ------------------------------------------------------------------------------


def _admin_payments(status: int = 200):
    actor = current_actor()
    query = (request.args.get("q") or "").strip()[:200]
    cursor = request.args.get("cursor") or None
    billing = services().billing()
    try:
        payments, next_cursor = billing.admin_payments(actor, query or None, cursor)
    except PromptcoreError as exc:
        if cursor is None or _error_status(exc) != 422:
            raise
        payments, next_cursor = billing.admin_payments(actor, query or None, None)
    user_ids = {p.user_id for p in payments if p.user_id is not None}
    emails: dict[int, str] = {}
    if user_ids:
        with services().uow() as uow:  # the admin rule was checked by admin_payments above
            for uid in user_ids:
                user = uow.users.get(uid)
                if user is not None:
                    emails[uid] = user.email
    return render_template("admin_payments.html", payments=payments, next_cursor=next_cursor, query=query,
                           emails=emails, titles=_plan_titles(), enabled=billing.enabled, form=CsrfForm(),
                           **_context_helpers()), status


@bp.get("/admin/payments")
@login_required
def admin_payments():
    return _admin_payments()


@bp.post("/admin/payments/<int:payment_id>/refund")
@login_required
def admin_payment_refund(payment_id: int):
    raw = (request.form.get("amount") or "").strip()
    back = safe_next(request.form.get("back"), url_for("web.admin_payments"))
    if not back.startswith("/admin/payments"):
        back = url_for("web.admin_payments")
    if len(raw) > 40:
        raw = "x"  # refused by Money.parse with the usual message
    try:
        payment = services().billing().refund(current_actor(), payment_id, raw or None)
    except PromptcoreError as exc:
        status = _error_status(exc)
        if status in (401, 403):
            raise  # not an administrator: the error page
        flash(_("Payment %(id)s was not refunded: %(reason)s", id=payment_id, reason=billing_message(exc)), "error")
        return _admin_payments(status)
    assert payment.refunded is not None
    flash(_("Payment %(id)s: %(refunded)s refunded in all.", id=payment_id, refunded=money(payment.refunded)),
          "success")
    return redirect(back, 303)
