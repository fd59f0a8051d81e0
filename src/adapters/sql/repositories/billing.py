"""Billing: plans, subscriptions, payments, refunds and the billing events seen (SPEC §12)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from promptcore.domain.billing import (
    Money,
    Owner,
    OwnerKind,
    Payment,
    PaymentStatus,
    Plan,
    Subscription,
    SubscriptionStatus,
)
from promptcore.ports import (
    BillingEventRepository,
    PaymentRepository,
    PlanRepository,
    RefundRecord,
    RefundRepository,
    SubscriptionRepository,
)

from .. import tables as t
from .common import escape_like, lower

_OPEN = (PaymentStatus.PENDING.value, PaymentStatus.WAITING_FOR_CAPTURE.value)


# -- plans ----------------------------------------------------------------------------------------


def _plan(row: Any) -> Plan:
    return Plan(slug=row.slug, title_ru=row.title_ru, title_en=row.title_en, daily_limit=row.daily_limit,
                price=Money(int(row.price_minor), row.currency), period_days=row.period_days,
                is_public=bool(row.is_public), is_team=bool(row.is_team))


def _plan_values(plan: Plan) -> dict[str, Any]:
    return dict(title_ru=plan.title_ru, title_en=plan.title_en, daily_limit=plan.daily_limit,
                price_minor=plan.price.minor, currency=plan.price.currency, period_days=plan.period_days,
                is_public=plan.is_public, is_team=plan.is_team)


class SqlPlanRepository(PlanRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def list(self) -> list[Plan]:
        p = t.plans
        rows = self._c.execute(select(p).order_by(p.c.is_team, p.c.price_minor, p.c.slug)).all()
        return [_plan(r) for r in rows]

    def get(self, slug: str) -> Plan | None:
        row = self._c.execute(select(t.plans).where(t.plans.c.slug == slug)).first()
        return _plan(row) if row else None

    def save(self, plan: Plan) -> None:
        p = t.plans
        done = self._c.execute(update(p).where(p.c.slug == plan.slug).values(**_plan_values(plan)))
        if not done.rowcount:
            self._c.execute(insert(p).values(slug=plan.slug, **_plan_values(plan)))


# -- subscriptions --------------------------------------------------------------------------------


def _subscription(row: Any) -> Subscription:
    return Subscription(
        owner=Owner(OwnerKind(row.owner_kind), int(row.owner_id)), plan_slug=row.plan_slug,
        status=SubscriptionStatus(row.status), period_start=row.period_start, period_end=row.period_end,
        cancel_at_period_end=bool(row.cancel_at_period_end), payment_method_id=row.payment_method_id,
        payment_method_title=row.payment_method_title, grace_until=row.grace_until,
        renewal_attempt=row.renewal_attempt, next_renewal_at=row.next_renewal_at, id=int(row.id),
        granted=bool(row.granted),
    )


def _subscription_values(s: Subscription) -> dict[str, Any]:
    return dict(plan_slug=s.plan_slug, status=s.status.value, period_start=s.period_start,
                period_end=s.period_end, cancel_at_period_end=s.cancel_at_period_end,
                payment_method_id=s.payment_method_id, payment_method_title=s.payment_method_title,
                grace_until=s.grace_until, renewal_attempt=s.renewal_attempt, next_renewal_at=s.next_renewal_at,
                granted=s.granted)


def _of_owner(owner: Owner) -> Any:
    s = t.subscriptions
    return and_(s.c.owner_kind == owner.kind.value, s.c.owner_id == owner.id)


class SqlSubscriptionRepository(SubscriptionRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def get(self, owner: Owner) -> Subscription | None:
        row = self._c.execute(select(t.subscriptions).where(_of_owner(owner))).first()
        return _subscription(row) if row else None

    def lock(self, owner: Owner) -> Subscription | None:
        row = self._c.execute(select(t.subscriptions).where(_of_owner(owner)).with_for_update()).first()
        return _subscription(row) if row else None

    def add(self, subscription: Subscription, now: datetime) -> Subscription:
        new_id = self._c.execute(insert(t.subscriptions).values(
            owner_kind=subscription.owner.kind.value, owner_id=subscription.owner.id, created_at=now,
            updated_at=now, **_subscription_values(subscription))).inserted_primary_key[0]
        subscription.id = int(new_id)
        return subscription

    def update(self, subscription: Subscription, now: datetime) -> None:
        s = t.subscriptions
        self._c.execute(update(s).where(s.c.id == subscription.id)
                        .values(updated_at=now, **_subscription_values(subscription)))

    def needing_attention(self, until: datetime, limit: int) -> list[Subscription]:
        s = t.subscriptions
        rows = self._c.execute(
            select(s).where(or_(
                and_(s.c.status == SubscriptionStatus.ACTIVE.value, s.c.period_end <= until),
                and_(s.c.status == SubscriptionStatus.PAST_DUE.value,
                     or_(s.c.period_end <= until, s.c.grace_until <= until)),
            )).order_by(s.c.period_end, s.c.id).limit(limit)).all()
        return [_subscription(r) for r in rows]


# -- payments -------------------------------------------------------------------------------------


def _payment(row: Any) -> Payment:
    return Payment(
        owner=Owner(OwnerKind(row.owner_kind), int(row.owner_id)), plan_slug=row.plan_slug,
        amount=Money(int(row.amount_minor), row.currency), idempotence_key=row.idempotence_key,
        created_at=row.created_at, updated_at=row.updated_at, purpose=row.purpose,
        save_method=bool(row.save_method), status=row.status, provider_id=row.provider_id,
        cancellation_reason=row.cancellation_reason, canceled_by_us=bool(row.canceled_by_us),
        refunded=Money(int(row.refunded_minor), row.currency), id=int(row.id),
        user_id=int(row.user_id) if row.user_id is not None else None, confirmation_url=row.confirmation_url,
    )


def _payment_values(p: Payment) -> dict[str, Any]:
    assert p.refunded is not None
    return dict(status=p.status.value, provider_id=p.provider_id, confirmation_url=p.confirmation_url,
                cancellation_reason=p.cancellation_reason, canceled_by_us=p.canceled_by_us,
                refunded_minor=p.refunded.minor, updated_at=p.updated_at)


class SqlPaymentRepository(PaymentRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, payment: Payment) -> Payment:
        new_id = self._c.execute(insert(t.payments).values(
            owner_kind=payment.owner.kind.value, owner_id=payment.owner.id, user_id=payment.user_id,
            plan_slug=payment.plan_slug, amount_minor=payment.amount.minor, currency=payment.amount.currency,
            idempotence_key=payment.idempotence_key, purpose=payment.purpose.value, save_method=payment.save_method,
            created_at=payment.created_at, **_payment_values(payment))).inserted_primary_key[0]
        payment.id = int(new_id)
        return payment

    def _one(self, *where: Any, lock: bool = False) -> Payment | None:
        query = select(t.payments).where(*where)
        row = self._c.execute(query.with_for_update() if lock else query).first()
        return _payment(row) if row else None

    def get(self, payment_id: int) -> Payment | None:
        return self._one(t.payments.c.id == payment_id)

    def lock(self, payment_id: int) -> Payment | None:
        return self._one(t.payments.c.id == payment_id, lock=True)

    def lock_by_provider_id(self, provider_id: str) -> Payment | None:
        return self._one(t.payments.c.provider_id == provider_id, lock=True)

    def by_idempotence_key(self, key: str) -> Payment | None:
        return self._one(t.payments.c.idempotence_key == key)

    def update(self, payment: Payment) -> None:
        p = t.payments
        self._c.execute(update(p).where(p.c.id == payment.id).values(**_payment_values(payment)))

    def pending_checkout(self, user_id: int) -> Payment | None:
        p = t.payments
        row = self._c.execute(select(p).where(p.c.user_id == user_id, p.c.status.in_(_OPEN),
                                              p.c.purpose == "checkout").order_by(p.c.id.desc()).limit(1)).first()
        return _payment(row) if row else None

    def of_owner(self, owner: Owner, limit: int) -> list[Payment]:
        p = t.payments
        rows = self._c.execute(select(p).where(p.c.owner_kind == owner.kind.value, p.c.owner_id == owner.id)
                               .order_by(p.c.id.desc()).limit(limit)).all()
        return [_payment(r) for r in rows]

    def open_of_owner(self, owner: Owner) -> Payment | None:
        p = t.payments
        row = self._c.execute(select(p).where(p.c.owner_kind == owner.kind.value, p.c.owner_id == owner.id,
                                              p.c.status.in_(_OPEN)).order_by(p.c.id.desc()).limit(1)).first()
        return _payment(row) if row else None

    def search(self, query: str | None, before_id: int | None, limit: int) -> list[Payment]:
        p, u = t.payments, t.users
        stmt = select(p)
        if query:
            needle = f"%{escape_like(query.lower())}%"
            matches = [p.c.provider_id == query,
                       p.c.user_id.in_(select(u.c.id).where(lower(self._c, u.c.email).like(needle, escape="\\")))]
            if query.isdigit() and len(query) <= 18:
                matches.append(p.c.id == int(query))
            stmt = stmt.where(or_(*matches))
        if before_id is not None:
            stmt = stmt.where(p.c.id < before_id)
        rows = self._c.execute(stmt.order_by(p.c.id.desc()).limit(limit)).all()
        return [_payment(r) for r in rows]

    def unsettled(self, created_before: datetime, limit: int) -> list[Payment]:
        p = t.payments
        rows = self._c.execute(select(p).where(p.c.status.in_(_OPEN), p.c.created_at <= created_before)
                               .order_by(p.c.created_at, p.c.id).limit(limit)).all()
        return [_payment(r) for r in rows]


# -- refunds --------------------------------------------------------------------------------------


def _refund(row: Any) -> RefundRecord:
    return RefundRecord(payment_id=int(row.payment_id), amount=Money(int(row.amount_minor), row.currency),
                        idempotence_key=row.idempotence_key, created_at=row.created_at, updated_at=row.updated_at,
                        status=row.status, provider_id=row.provider_id, id=int(row.id))


class SqlRefundRepository(RefundRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, refund: RefundRecord) -> RefundRecord:
        new_id = self._c.execute(insert(t.refunds).values(
            payment_id=refund.payment_id, amount_minor=refund.amount.minor, currency=refund.amount.currency,
            idempotence_key=refund.idempotence_key, status=refund.status, provider_id=refund.provider_id,
            created_at=refund.created_at, updated_at=refund.updated_at)).inserted_primary_key[0]
        refund.id = int(new_id)
        return refund

    def update(self, refund: RefundRecord) -> None:
        r = t.refunds
        self._c.execute(update(r).where(r.c.id == refund.id).values(
            status=refund.status, provider_id=refund.provider_id, updated_at=refund.updated_at))

    def unconfirmed(self, payment_id: int) -> RefundRecord | None:
        r = t.refunds
        row = self._c.execute(select(r).where(r.c.payment_id == payment_id, r.c.status == "new")
                              .order_by(r.c.id.desc()).limit(1)).first()
        return _refund(row) if row else None

    def of_payment(self, payment_id: int) -> list[RefundRecord]:
        r = t.refunds
        return [_refund(row) for row in self._c.execute(select(r).where(r.c.payment_id == payment_id)
                                                        .order_by(r.c.id)).all()]


# -- events ---------------------------------------------------------------------------------------


class SqlBillingEventRepository(BillingEventRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def record(self, key: str, now: datetime) -> bool:
        dialect_insert = pg_insert if self._c.dialect.name == "postgresql" else sqlite_insert
        stmt = dialect_insert(t.billing_events).values(event_key=key, created_at=now)
        stmt = stmt.on_conflict_do_nothing(index_elements=["event_key"]).returning(t.billing_events.c.id)
        return self._c.execute(stmt).first() is not None
