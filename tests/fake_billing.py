"""In-memory billing repositories (SPEC §12), held to the SQL ones by
tests/contract/test_billing_contract.py. tests/fakes.py registers them in FakeUnitOfWork; their
state lives in FakeStore fields (plans, subscriptions, payments, refunds, billing_events)."""

from __future__ import annotations

import copy
import dataclasses
from datetime import datetime, timezone
from typing import Any

from promptcore.domain.billing import SEED_PLANS, Owner, Payment, PaymentPurpose, PaymentStatus, Plan, Subscription
from promptcore.ports import (
    BillingEventRepository,
    PaymentRepository,
    PlanRepository,
    RefundRecord,
    RefundRepository,
    SubscriptionRepository,
)

_OPEN = (PaymentStatus.PENDING, PaymentStatus.WAITING_FOR_CAPTURE)


def seed_plans() -> dict[str, Plan]:
    """As migration 0007: the seed plans are there from the start."""
    return {p.slug: p for p in SEED_PLANS}


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(timezone.utc) if value is not None else None


class FakePlanRepository(PlanRepository):
    def __init__(self, store: Any) -> None:
        self.s = store

    def list(self) -> list[Plan]:
        return sorted(self.s.plans.values(), key=lambda p: (p.is_team, p.price.minor, p.slug))

    def get(self, slug: str) -> Plan | None:
        return self.s.plans.get(slug)

    def save(self, plan: Plan) -> None:
        self.s.plans[plan.slug] = plan


class FakeSubscriptionRepository(SubscriptionRepository):
    def __init__(self, store: Any) -> None:
        self.s = store

    def get(self, owner: Owner) -> Subscription | None:
        found = next((x for x in self.s.subscriptions.values() if x.owner == owner), None)
        return copy.deepcopy(found)

    def lock(self, owner: Owner) -> Subscription | None:
        return self.get(owner)

    def add(self, subscription: Subscription, now: datetime) -> Subscription:
        if self.get(subscription.owner) is not None:
            raise ValueError("one subscription per owner")  # the SQL unique constraint
        subscription.id = next(self.s.ids)
        self.s.subscriptions[subscription.id] = copy.deepcopy(subscription)
        return subscription

    def update(self, subscription: Subscription, now: datetime) -> None:
        if subscription.id in self.s.subscriptions:
            self.s.subscriptions[subscription.id] = copy.deepcopy(subscription)

    def needing_attention(self, until: datetime, limit: int) -> list[Subscription]:
        def due(x: Subscription) -> bool:
            if x.status.value == "active":
                return x.period_end <= until
            if x.status.value == "past_due":
                return x.period_end <= until or (x.grace_until is not None and x.grace_until <= until)
            return False

        found = sorted((x for x in self.s.subscriptions.values() if due(x)), key=lambda x: (x.period_end, x.id))
        return [copy.deepcopy(x) for x in found[:limit]]


class FakePaymentRepository(PaymentRepository):
    def __init__(self, store: Any) -> None:
        self.s = store

    def add(self, payment: Payment) -> Payment:
        if any(p.idempotence_key == payment.idempotence_key for p in self.s.payments.values()):
            raise ValueError("duplicate idempotence key")  # the SQL unique constraint
        payment.id = next(self.s.ids)
        self.s.payments[payment.id] = self._stored(payment)
        return payment

    @staticmethod
    def _stored(payment: Payment) -> Payment:
        return dataclasses.replace(copy.deepcopy(payment), created_at=_utc(payment.created_at),
                                   updated_at=_utc(payment.updated_at))

    def _find(self, test) -> Payment | None:
        return copy.deepcopy(next((p for p in self.s.payments.values() if test(p)), None))

    def get(self, payment_id: int) -> Payment | None:
        return copy.deepcopy(self.s.payments.get(payment_id))

    def lock(self, payment_id: int) -> Payment | None:
        return self.get(payment_id)

    def lock_by_provider_id(self, provider_id: str) -> Payment | None:
        return self._find(lambda p: p.provider_id == provider_id)

    def by_idempotence_key(self, key: str) -> Payment | None:
        return self._find(lambda p: p.idempotence_key == key)

    def update(self, payment: Payment) -> None:
        if payment.provider_id is not None and any(
                p.provider_id == payment.provider_id and p.id != payment.id for p in self.s.payments.values()):
            raise ValueError("duplicate provider id")  # the SQL unique constraint
        stored = self.s.payments.get(payment.id)
        if stored is None:
            return
        # as the SQL update: only what changes after creation
        for name in ("status", "provider_id", "confirmation_url", "cancellation_reason", "canceled_by_us",
                     "refunded"):
            setattr(stored, name, copy.deepcopy(getattr(payment, name)))
        stored.updated_at = _utc(payment.updated_at)

    def pending_checkout(self, user_id: int) -> Payment | None:
        mine = [p for p in self.s.payments.values() if p.user_id == user_id and p.status in _OPEN
                and p.purpose is PaymentPurpose.CHECKOUT]
        return copy.deepcopy(max(mine, key=lambda p: p.id)) if mine else None

    def of_owner(self, owner: Owner, limit: int) -> list[Payment]:
        mine = sorted((p for p in self.s.payments.values() if p.owner == owner), key=lambda p: -p.id)
        return [copy.deepcopy(p) for p in mine[:limit]]

    def open_of_owner(self, owner: Owner) -> Payment | None:
        mine = [p for p in self.s.payments.values() if p.owner == owner and p.status in _OPEN]
        return copy.deepcopy(max(mine, key=lambda p: p.id)) if mine else None

    def search(self, query: str | None, before_id: int | None, limit: int) -> list[Payment]:
        rows = sorted(self.s.payments.values(), key=lambda p: -p.id)
        if query:
            q = query.lower()
            emails = {u.id: u.email.lower() for u in self.s.users.values()}

            def matches(p: Payment) -> bool:
                return (p.provider_id == query or (query.isdigit() and len(query) <= 18 and p.id == int(query))
                        or (p.user_id in emails and q in emails[p.user_id]))

            rows = [p for p in rows if matches(p)]
        if before_id is not None:
            rows = [p for p in rows if p.id < before_id]
        return [copy.deepcopy(p) for p in rows[:limit]]

    def unsettled(self, created_before: datetime, limit: int) -> list[Payment]:
        rows = sorted((p for p in self.s.payments.values() if p.status in _OPEN and p.created_at <= created_before),
                      key=lambda p: (p.created_at, p.id))
        return [copy.deepcopy(p) for p in rows[:limit]]


class FakeRefundRepository(RefundRepository):
    def __init__(self, store: Any) -> None:
        self.s = store

    def add(self, refund: RefundRecord) -> RefundRecord:
        if any(r.idempotence_key == refund.idempotence_key for r in self.s.refunds.values()):
            raise ValueError("duplicate idempotence key")
        if refund.payment_id not in self.s.payments:
            raise ValueError("no such payment")  # the SQL foreign key
        refund.id = next(self.s.ids)
        self.s.refunds[refund.id] = dataclasses.replace(copy.deepcopy(refund), created_at=_utc(refund.created_at),
                                                        updated_at=_utc(refund.updated_at))
        return refund

    def update(self, refund: RefundRecord) -> None:
        stored = self.s.refunds.get(refund.id)
        if stored is not None:
            stored.status, stored.provider_id, stored.updated_at = refund.status, refund.provider_id, _utc(
                refund.updated_at)

    def unconfirmed(self, payment_id: int) -> RefundRecord | None:
        mine = [r for r in self.s.refunds.values() if r.payment_id == payment_id and r.status == "new"]
        return copy.deepcopy(max(mine, key=lambda r: r.id)) if mine else None

    def of_payment(self, payment_id: int) -> list[RefundRecord]:
        return [copy.deepcopy(r) for r in sorted(self.s.refunds.values(), key=lambda r: r.id)
                if r.payment_id == payment_id]


class FakeBillingEventRepository(BillingEventRepository):
    def __init__(self, store: Any) -> None:
        self.s = store

    def record(self, key: str, now: datetime) -> bool:
        if key in self.s.billing_events:
            return False
        self.s.billing_events[key] = _utc(now)
        return True


__all__ = ["FakeBillingEventRepository", "FakePaymentRepository", "FakePlanRepository", "FakeRefundRepository",
           "FakeSubscriptionRepository", "seed_plans"]
