"""The GenerationSteps port's fake: the same one-step rules as migration 0015's functions, over
the fake unit of work (a FakeStore's units and records)."""

from __future__ import annotations

from datetime import datetime

from promptcore.domain.access import UncheckedToken
from promptcore.domain.billing import FREE_PLAN, Owner, effective_plan
from promptcore.domain.prompts import PromptRecord, RecordStatus
from promptcore.domain.quota import UnitSource
from promptcore.ports import GenerationSteps, Reserved, UnitOfWork


def _plan_limit(uow: UnitOfWork, owner: Owner, now: datetime) -> int | None:
    slug = effective_plan(uow.subscriptions.get(owner), now)
    plan = uow.plans.get(slug) if slug != FREE_PLAN else None
    return plan.daily_limit if plan is not None else None


class FakeGenerationSteps(GenerationSteps):
    def __init__(self, store) -> None:
        from tests.fakes import FakeUnitOfWork

        self._uow = lambda: FakeUnitOfWork(store)

    def reserve(self, user_id: int, team_id: int | None, record: PromptRecord, now: datetime, since: datetime,
                stale_before: datetime, default_limit: int, token: UncheckedToken | None = None
                ) -> Reserved | None:
        with self._uow() as uow:
            user = uow.users.get(user_id)
            if user is None or not user.is_active or not user.is_email_confirmed:
                return None
            if token is not None and not user.accepts_credential(token.issued_at, token.generation):
                return None
            if team_id is None:
                limit = user.daily_limit
                if limit is None:
                    limit = _plan_limit(uow, Owner.user(user_id), now)
                limit = default_limit if limit is None else limit
                used, oldest = uow.quota.usage(user_id, since, stale_before, max(limit, 0))
                if used + 2 > limit:  # the last unit, or none left
                    return None
            else:
                member = uow.teams.member(team_id, user_id)
                if member is None:
                    return None
                limit = _plan_limit(uow, Owner.team(team_id), now) or 0
                used, oldest = uow.quota.pool_usage(team_id, since, stale_before, max(limit, 0))
                if limit <= 0 or used >= limit:
                    return None
                if member.daily_cap is not None:
                    drawn, _ = uow.quota.pool_usage(team_id, since, stale_before, max(member.daily_cap, 0), user_id)
                    if drawn >= member.daily_cap:
                        return None
            record.created_at, record.status = now, RecordStatus.PENDING
            record_id = uow.prompts.add(record).id
            assert record_id is not None
            unit_id = uow.quota.reserve(user_id, now, UnitSource.GENERATION, record_id, team_id)
            uow.commit()
        return Reserved(limit, used, oldest, record_id, unit_id)

    def finish(self, record: PromptRecord, unit_id: int) -> None:
        assert record.created_at is not None
        with self._uow() as uow:
            uow.prompts.finish(record)
            if record.status is RecordStatus.SUCCEEDED:
                uow.prompts.count_success(record.user_id, record.created_at, record.style)
                uow.quota.keep(unit_id)
            else:
                uow.quota.release(unit_id)
            uow.commit()
