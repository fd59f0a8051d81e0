"""Plans, checkout, the subscription, payments, the YooKassa webhook and admin refunds (SPEC §12).

A team's plan (§14) is bought through the same checkout, ``POST /billing/checkout {plan: "team",
team_id}`` (the team's owners only), and the subscription is the team's. It is seen and changed under
the team's own path — ``GET /teams/{team_id}/billing`` and ``.../billing/payments`` for its members,
``POST .../billing/cancel``, ``.../billing/resume`` and ``PUT .../billing/renewal`` for its owners —
so the routes carry the team id like every other team-scoped route (404 for a non-member, 403 for a
member without the role) and the isolation matrix finds them.

Money goes out as ``{"value": "490.00", "currency": "RUB"}`` (a decimal string, never a float)
and comes in as a decimal string (``"amount": "100.00"``).
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from promptcore.domain.billing import Money, Payment, Plan, Subscription
from promptcore.services.billing import BillingOverview

from ..client import client_address
from ..deps import services
from ..ids import MAX_ID
from .auth import BEARER, current_actor, login_required
from .parsing import Blueprint
from .schemas import ID_CONVERTER, ErrorOut, StrictSchema, Text

blp = Blueprint("billing", __name__, url_prefix="/api/v1", description="Plans, subscriptions and payments")


# -- schemas --------------------------------------------------------------------------------------


class JsonBoolean(fields.Boolean):
    """true or false only (marshmallow's Boolean also takes 0, 1, "yes" ...; and 0 == False in a set)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not bool:
            raise self.make_error("invalid", input=value)
        return value


class MoneyOut(Schema):
    value = Text(required=True, metadata={"example": "490.00"})
    currency = Text(required=True, metadata={"example": "RUB"})


class PlanOut(Schema):
    slug = Text(required=True)
    title = Text(required=True)
    daily_limit = fields.Integer(required=True)
    price = fields.Nested(MoneyOut, required=True)
    period_days = fields.Integer(required=True)
    is_team = fields.Boolean(required=True)


class CheckoutIn(StrictSchema):
    plan = Text(required=True, validate=validate.Length(min=1, max=32), metadata={"example": "pro"})
    renew = JsonBoolean(load_default=False, metadata={
        "description": "Save the card and renew automatically every period."})
    team_id = fields.Integer(load_default=None, allow_none=True, strict=True,
                             validate=validate.Range(min=1, max=MAX_ID), metadata={
                                 "description": "Buy the plan for this team (a team plan; its owners only). "
                                                "Omitted or null: for yourself."})


class CheckoutOut(Schema):
    payment_id = fields.Integer(required=True)
    confirmation_url = Text(required=True, metadata={"description": "Send the user here to pay."})


class SubscriptionOut(Schema):
    plan = Text(required=True)
    status = Text(required=True, metadata={"enum": ["active", "past_due", "canceled", "expired"]})
    period_start = fields.DateTime(required=True)
    period_end = fields.DateTime(required=True)
    cancel_at_period_end = fields.Boolean(required=True)
    renews = fields.Boolean(required=True)
    payment_method = Text(required=True, allow_none=True, metadata={
        "example": "card •••• 4242",
        "description": "The saved card renewals charge; for a team, shown to its owners only (null for "
                       "its other members)."})
    grace_until = fields.DateTime(required=True, allow_none=True)
    granted = fields.Boolean(required=True)


class BillingOut(Schema):
    enabled = fields.Boolean(required=True, metadata={"description": "Whether payments are set up here."})
    plan = fields.Nested(PlanOut, required=True, metadata={"description": "The plan that counts now."})
    subscription = fields.Nested(SubscriptionOut, required=True, allow_none=True)


class PaymentOut(Schema):
    id = fields.Integer(required=True)
    plan = Text(required=True)
    amount = fields.Nested(MoneyOut, required=True)
    refunded = fields.Nested(MoneyOut, required=True)
    status = Text(required=True, metadata={"enum": ["pending", "waiting_for_capture", "succeeded", "canceled"]})
    purpose = Text(required=True, metadata={"enum": ["checkout", "renewal"]})
    renew = fields.Boolean(required=True)
    cancellation_reason = Text(required=True, allow_none=True, metadata={"example": "insufficient_funds"})
    confirmation_url = Text(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class PaymentsOut(Schema):
    items = fields.List(fields.Nested(PaymentOut), required=True)


class AdminPaymentOut(PaymentOut):
    user_id = fields.Integer(required=True, allow_none=True)
    owner = Text(required=True, metadata={"example": "user:42"})
    provider_id = Text(required=True, allow_none=True)
    canceled_by_us = fields.Boolean(required=True)


class AdminPaymentsOut(Schema):
    items = fields.List(fields.Nested(AdminPaymentOut), required=True)
    next_cursor = Text(required=True, allow_none=True)


class AdminPaymentsQuery(StrictSchema):
    q = Text(load_default=None, validate=validate.Length(max=200),
             metadata={"description": "Our payment id, YooKassa's id, or part of the payer's e-mail."})
    cursor = Text(load_default=None, validate=validate.Length(max=30))


class RenewalIn(StrictSchema):
    enabled = JsonBoolean(required=True)


class RefundIn(StrictSchema):
    amount = Text(load_default=None, allow_none=True, validate=validate.Length(max=40),
                  metadata={"example": "100.00", "description": "Leave out to refund all that is left."})


class WebhookOut(Schema):
    status = Text(required=True, metadata={"enum": ["applied", "duplicate", "unknown", "ignored"]})


# -- shapes ---------------------------------------------------------------------------------------


def money_dict(money: Money) -> dict[str, str]:
    return money.to_amount()


def _language() -> str:
    return request.accept_languages.best_match(["en", "ru"]) or "en"


def plan_dict(plan: Plan, language: str) -> dict[str, Any]:
    return {"slug": plan.slug, "title": plan.title(language), "daily_limit": plan.daily_limit,
            "price": money_dict(plan.price), "period_days": plan.period_days, "is_team": plan.is_team}


def subscription_dict(s: Subscription | None, payment_method: str | None) -> dict[str, Any] | None:
    """``payment_method``: the card's title as the viewer may see it (BillingOverview)."""
    if s is None:
        return None
    return {"plan": s.plan_slug, "status": s.status.value, "period_start": s.period_start,
            "period_end": s.period_end, "cancel_at_period_end": s.cancel_at_period_end, "renews": s.renews,
            "payment_method": payment_method, "grace_until": s.grace_until, "granted": s.granted}


def overview_dict(overview: BillingOverview) -> dict[str, Any]:
    return {"enabled": overview.enabled, "plan": plan_dict(overview.plan, _language()),
            "subscription": subscription_dict(overview.subscription, overview.payment_method)}


def payment_dict(p: Payment, viewer: int | None = None) -> dict[str, Any]:
    """``viewer``: on a team's list, the member looking; only the payer sees where to pay."""
    assert p.refunded is not None
    mine = viewer is None or p.user_id == viewer
    return {"id": p.id, "plan": p.plan_slug, "amount": money_dict(p.amount), "refunded": money_dict(p.refunded),
            "status": p.status.value, "purpose": p.purpose.value, "renew": p.save_method,
            "cancellation_reason": p.cancellation_reason,
            "confirmation_url": None if p.is_final or not mine else p.confirmation_url,
            "created_at": p.created_at, "updated_at": p.updated_at}


def admin_payment_dict(p: Payment) -> dict[str, Any]:
    return {**payment_dict(p), "user_id": p.user_id, "owner": f"{p.owner.kind.value}:{p.owner.id}",
            "provider_id": p.provider_id, "canceled_by_us": p.canceled_by_us}


# The personal views and the team's (under /teams/{team_id}/billing) answer through these: the same
# use case, with team_id None for the user's own subscription.


def _overview(team_id: int | None = None) -> dict[str, Any]:
    return overview_dict(services().billing().overview(current_actor(), team_id=team_id))


def _payments(team_id: int | None = None) -> dict[str, Any]:
    """The payments; on a team's list a pending one's confirmation URL only for the owner who
    started it."""
    actor = current_actor()
    viewer = actor.user_id if team_id is not None else None
    return {"items": [payment_dict(p, viewer=viewer) for p in services().billing().payments(actor, team_id=team_id)]}


def _change(action: str, team_id: int | None = None, **kwargs: Any) -> dict[str, Any]:
    """cancel, resume or set_renewal on the subscription, then the overview as it is now."""
    getattr(services().billing(), action)(current_actor(), team_id=team_id, **kwargs)
    return _overview(team_id)


# -- views ----------------------------------------------------------------------------------------


@blp.route("/plans")
class Plans(MethodView):
    @blp.response(200, PlanOut(many=True))
    def get(self):
        """The plans on offer, titled in the language of `Accept-Language` (en or ru)."""
        language = _language()
        return [plan_dict(p, language) for p in services().billing().plans()]


@blp.route("/billing")
class BillingItem(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, BillingOut)
    @blp.alt_response(401, schema=ErrorOut)
    def get(self):
        """The plan that counts now and the subscription (status, period, renewal, card)."""
        return _overview()


@blp.route("/billing/checkout")
class Checkout(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(CheckoutIn)
    @blp.response(201, CheckoutOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="email_not_confirmed; forbidden: with team_id, owners only")
    @blp.alt_response(404, schema=ErrorOut, description="not_found: with team_id, you are not a member")
    @blp.alt_response(422, schema=ErrorOut, description="validation_error: no such plan, a free plan, or a team "
                                                        "plan for yourself / a personal plan for a team")
    @blp.alt_response(503, schema=ErrorOut)
    def post(self, data):
        """Start paying for a plan, for yourself or (`team_id`) for a team you own: answers where to
        send the user. While a checkout of the user's for the same account or team is pending, the
        same one is answered again."""
        result = services().billing().checkout(current_actor(), data["plan"], data["renew"],
                                               team_id=data["team_id"])
        return {"payment_id": result.payment_id, "confirmation_url": result.confirmation_url}


@blp.route("/billing/payments")
class Payments(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, PaymentsOut)
    @blp.alt_response(401, schema=ErrorOut)
    def get(self):
        """The user's payments, newest first (the last 50)."""
        return _payments()


@blp.route(f"/billing/payments/<{ID_CONVERTER}:payment_id>")
class PaymentItem(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, PaymentOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut)
    def get(self, payment_id):
        """One payment; a pending one is asked about at YooKassa again first."""
        return payment_dict(services().billing().payment(current_actor(), payment_id))


@blp.route("/billing/cancel")
class Cancel(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, BillingOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    def post(self):
        """Cancel: the plan stays to the period end, nothing more is charged."""
        return _change("cancel")


@blp.route("/billing/resume")
class Resume(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, BillingOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    def post(self):
        """Undo a cancel before the period ends."""
        return _change("resume")


@blp.route("/billing/renewal")
class Renewal(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(RenewalIn)
    @blp.response(200, BillingOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    def put(self, data):
        """Automatic renewal on (needs a card saved by a checkout with renewal) or off (the card
        is forgotten)."""
        return _change("set_renewal", enabled=data["enabled"])


# -- a team's subscription (SPEC §14) ---------------------------------------------------------------

TEAM_BILLING = f"/teams/<{ID_CONVERTER}:team_id>/billing"
_NOT_MEMBER = "not_found: no such team, or you are not a member"
_OWNERS_AND_CARD = ("forbidden: owners only; and renewal on the saved card is turned back on only by the owner "
                    "who saved it")


@blp.route(TEAM_BILLING)
class TeamBilling(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, BillingOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut, description=_NOT_MEMBER)
    def get(self, team_id):
        """The team's plan now and its subscription (every member; the saved card's title only for
        the owners). Without a team plan the plan is `free` with a daily limit of 0: the team has
        no pool."""
        return _overview(team_id)


@blp.route(f"{TEAM_BILLING}/payments")
class TeamPayments(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, PaymentsOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut, description=_NOT_MEMBER)
    def get(self, team_id):
        """The team's payments, newest first (the last 50; every member). A pending payment's
        `confirmation_url` is shown only to the owner who started it."""
        return _payments(team_id)


@blp.route(f"{TEAM_BILLING}/cancel")
class TeamCancel(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, BillingOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="forbidden: owners only")
    @blp.alt_response(404, schema=ErrorOut, description=_NOT_MEMBER + "; or the team has no subscription")
    @blp.alt_response(422, schema=ErrorOut)
    def post(self, team_id):
        """Cancel the team's plan (owners): it stays to the period end, nothing more is charged."""
        return _change("cancel", team_id)


@blp.route(f"{TEAM_BILLING}/resume")
class TeamResume(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, BillingOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description=_OWNERS_AND_CARD)
    @blp.alt_response(404, schema=ErrorOut, description=_NOT_MEMBER + "; or the team has no subscription")
    @blp.alt_response(422, schema=ErrorOut)
    def post(self, team_id):
        """Undo a cancel of the team's plan before the period ends (owners; when it renews with a
        saved card, the owner who saved it — another owner pays with renewal chosen instead)."""
        return _change("resume", team_id)


@blp.route(f"{TEAM_BILLING}/renewal")
class TeamRenewal(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(RenewalIn)
    @blp.response(200, BillingOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description=_OWNERS_AND_CARD)
    @blp.alt_response(404, schema=ErrorOut, description=_NOT_MEMBER + "; or the team has no subscription")
    @blp.alt_response(422, schema=ErrorOut)
    def put(self, data, team_id):
        """The team plan's automatic renewal on (needs a card saved by a checkout with renewal; only
        the owner who saved it turns it back on) or off (the card is forgotten; any owner)."""
        return _change("set_renewal", team_id, enabled=data["enabled"])


@blp.route("/billing/yookassa/webhook")
class Webhook(MethodView):
    @blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}})
    @blp.response(200, WebhookOut)
    @blp.alt_response(403, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    @blp.alt_response(503, schema=ErrorOut)
    def post(self):
        """YooKassa's notifications: accepted only from YooKassa's networks (403 otherwise). The
        body only names the payment or refund; it is fetched from YooKassa again and applied.
        200 after the commit (also for a payment that is not ours); 503 on a failure, so that
        YooKassa delivers again."""
        body = request.get_json(silent=True)
        return {"status": services().billing().handle_webhook(body, client_address()).outcome}


@blp.route("/admin/payments")
class AdminPayments(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(AdminPaymentsQuery, location="query")
    @blp.response(200, AdminPaymentsOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    def get(self, args):
        """Every payment, newest first, 50 a page; search by id, YooKassa id or e-mail (admins only)."""
        items, cursor = services().billing().admin_payments(current_actor(), args.get("q"), args.get("cursor"))
        return {"items": [admin_payment_dict(p) for p in items], "next_cursor": cursor}


@blp.route(f"/admin/payments/<{ID_CONVERTER}:payment_id>/refund")
class AdminRefund(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(RefundIn)
    @blp.response(200, AdminPaymentOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    @blp.alt_response(503, schema=ErrorOut)
    def post(self, data, payment_id):
        """Refund all that is left of a payment, or `amount` of it (admins only). A full refund
        ends the subscription at once."""
        return admin_payment_dict(services().billing().refund(current_actor(), payment_id, data.get("amount")))
