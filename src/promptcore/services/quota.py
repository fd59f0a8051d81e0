"""The daily quota (SPEC §6.5): each user's effective limit, their usage from the ledger, and
spending a unit: reserve before calling out, keep on success, release on failure.

Whatever spends a unit goes through ``Quota.reserve`` (a generation today; a comparison, a
template improvement or a tool call later). History is not the quota: deleting a record does not
touch the ledger, and an imported record never spends a unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from ..domain.access import Actor, require_member
from ..domain.billing import FREE_PLAN, Owner, effective_plan
from ..domain.errors import EmailNotConfirmed, NotFound, QuotaExceeded, TeamPlanRequired, TokenNoLongerValid
from ..domain.prompts import PromptRecord, RecordStatus
from ..domain.quota import QuotaPolicy, QuotaStatus, UnitSource, effective_daily_limit
from ..domain.teams import Member
from ..domain.users import User
from ..ports import Clock, GenerationSteps, UnitOfWork
from .notifications import LimitNotices

# Writes the spender's own row in the reservation's transaction and answers its id (or None).
Spender = Callable[[UnitOfWork, datetime], "int | None"]


@dataclass(frozen=True)
class MemberUsage:
    member: Member
    used: int  # units drawn from the pool in the current window


@dataclass(frozen=True)
class TeamUsage:
    """A team's pool now (limit 0 without a team plan) and what each member drew from it."""

    quota: QuotaStatus
    members: list[MemberUsage]


@dataclass(frozen=True)
class Reservation:
    """A unit taken for one spender, and the quota with that unit counted."""

    unit_id: int
    quota: QuotaStatus


class Quota:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        policy: QuotaPolicy,
        default_limit: int,
        on_exceeded: Callable[[], None] | None = None,
        notices: LimitNotices | None = None,
        steps: GenerationSteps | None = None,
    ) -> None:
        self._uow = uow
        self._steps = steps
        self._clock = clock
        self._policy = policy
        self._default_limit = default_limit
        self._on_exceeded = on_exceeded
        self._notices = notices

    # -- the limit and the usage ---------------------------------------------------------------

    def limit_of(self, user: User, uow: UnitOfWork | None = None, now: datetime | None = None) -> int:
        """The user's effective daily limit: what the API, the pages, the CLI, the stats and the
        429 body show — the override, else the plan of the user's active subscription
        (Subscription.effective_plan at ``now``; SPEC §12.1), else the default. Inside the
        caller's transaction when given one (the quota reads it with the usage), else in its own."""
        if user.daily_limit is not None:  # the override wins: no need to read the plan
            return user.daily_limit
        now = now or self._clock.now()
        if uow is not None:
            return effective_daily_limit(None, self._plan_limit(uow, user, now), self._default_limit)
        with self._uow() as own:
            return effective_daily_limit(None, self._plan_limit(own, user, now), self._default_limit)

    @staticmethod
    def _plan_limit(uow: UnitOfWork, user: User, now: datetime) -> int | None:
        """The daily limit of the paid plan that counts for the user now; None on the free plan
        (which follows the configured default)."""
        if user.id is None:
            return None
        slug = effective_plan(uow.subscriptions.get(Owner.user(user.id)), now)
        if slug == FREE_PLAN:
            return None
        plan = uow.plans.get(slug)
        return plan.daily_limit if plan is not None else None

    def _usage(self, uow: UnitOfWork, user: User, now: datetime) -> tuple[int, int, datetime | None]:
        limit = self.limit_of(user, uow, now)
        used, oldest = uow.quota.usage(user.id, self._policy.window_start(now), self._policy.stale_before(now),
                                       max(limit, 0))
        return limit, used, oldest

    @staticmethod
    def _pool_limit(uow: UnitOfWork, team_id: int, now: datetime) -> int:
        """The daily limit of the team's pool: its active team plan's, else 0 (no pool)."""
        slug = effective_plan(uow.subscriptions.get(Owner.team(team_id)), now)
        if slug == FREE_PLAN:
            return 0
        plan = uow.plans.get(slug)
        return plan.daily_limit if plan is not None else 0

    def _pool(self, uow: UnitOfWork, team_id: int, now: datetime) -> tuple[int, int, datetime | None]:
        limit = self._pool_limit(uow, team_id, now)
        used, oldest = uow.quota.pool_usage(team_id, self._policy.window_start(now), self._policy.stale_before(now),
                                            max(limit, 0))
        return limit, used, oldest

    def team_usage(self, actor: Actor, team_id: int) -> TeamUsage:
        """The pool of a team the actor belongs to, and each member's draw on it (SPEC §14)."""
        require_member(actor, team_id)
        now = self._clock.now()
        with self._uow() as uow:
            quota = self._policy.status_of(*self._pool(uow, team_id, now), now)
            drawn = uow.quota.pool_by_member(team_id, self._policy.window_start(now), self._policy.stale_before(now))
            members = uow.teams.members(team_id)
        return TeamUsage(quota, [MemberUsage(m, drawn.get(m.user_id, 0)) for m in members])

    def status_in(self, uow: UnitOfWork, user: User, now: datetime) -> QuotaStatus:
        """The quota at ``now``, read inside the caller's transaction."""
        return self._policy.status_of(*self._usage(uow, user, now), now)

    def status(self, actor: Actor) -> QuotaStatus:
        """The actor's own quota now."""
        with self._uow() as uow:
            user = uow.users.get(actor.user_id)
            if user is None:
                raise NotFound("The account no longer exists.")
            return self.status_in(uow, user, self._clock.now())

    # -- spending ------------------------------------------------------------------------------

    def reserve(self, actor: Actor, source: UnitSource, spender: Spender | None = None,
                team_id: int | None = None) -> Reservation:
        """Take one unit in its own committed transaction, before the spender calls out (no
        transaction stays open across that call). The user's row is locked first, so concurrent
        requests of one user are counted one after another and can never overspend. Over the limit:
        QuotaExceeded with the quota and its Retry-After. Otherwise ``spender`` may write its own
        row in the same transaction (a pending history record, say) and answer its id, which the
        unit records as its source. Only a confirmed address spends units (SPEC §5), read from the
        locked row, not from whatever the caller loaded earlier. The unit that reaches the limit
        also queues the limit e-mail in the same transaction (``notices``; SPEC §12.7).

        With ``team_id`` the unit is drawn from that team's pool instead (SPEC §14): the actor must
        be a member (else NotFound); the team is locked after the user, so members of one team are
        counted one after another across processes; the pool's limit and the member's own cap
        (if an admin set one) both apply; the user's personal limit is not touched."""
        if team_id is not None:
            require_member(actor, team_id)
        with self._uow() as uow:
            user = uow.users.lock(actor.user_id)
            token = actor.unchecked
            if token is not None and (user is None or not user.accepts_credential(token.issued_at, token.generation)):
                raise TokenNoLongerValid()
            if user is None or not user.is_active:
                raise NotFound("The account no longer exists.")
            if not user.is_email_confirmed:
                raise EmailNotConfirmed()
            now = self._clock.now()
            if team_id is not None:
                return self._reserve_from_pool(uow, user, team_id, source, spender, now)
            limit, used, oldest = self._usage(uow, user, now)
            status = self._policy.status_of(limit, used, oldest, now)
            if status.exhausted:
                if self._on_exceeded is not None:
                    self._on_exceeded()
                raise QuotaExceeded(status, status.retry_after(now))
            source_id = spender(uow, now) if spender is not None else None
            unit_id = uow.quota.reserve(user.id, now, source, source_id)
            # With this unit counted: one more (below the limit, so the oldest counted unit is still
            # the next to free up), and this one the oldest if there was none.
            after = self._policy.status_of(limit, used + 1, oldest or now, now)
            if after.exhausted and self._notices is not None:  # the last unit: the limit e-mail (§12.7)
                self._notices.last_unit_spent(uow, user, after, now)
            uow.commit()
        return Reservation(unit_id, after)

    def reserve_generation(self, actor: Actor, record: PromptRecord, team_id: int | None = None) -> Reservation:
        """``reserve`` for a generation, which writes its pending ``record`` as the unit's source.
        Where the database runs the common case in one step (``steps``) it goes there first; when
        that step declines (the last unit, none left, an account, token or team to refuse) it goes
        through ``reserve``, which decides again and raises the right error. Either checks an
        actor's unchecked access token under the account's lock (Unauthenticated if the account
        no longer accepts it)."""
        if self._steps is not None:
            now = self._clock.now()
            got = self._steps.reserve(actor.user_id, team_id, record, now, self._policy.window_start(now),
                                      self._policy.stale_before(now), self._default_limit, actor.unchecked)
            if got is not None:
                record.id, record.created_at, record.status = got.record_id, now, RecordStatus.PENDING
                return Reservation(got.unit_id, self._policy.status_of(got.limit, got.used + 1, got.oldest or now, now))

        def add_record(uow: UnitOfWork, now: datetime) -> int | None:
            record.created_at = now
            record.status = RecordStatus.PENDING
            return uow.prompts.add(record).id

        return self.reserve(actor, UnitSource.GENERATION, add_record, team_id)

    def _reserve_from_pool(self, uow: UnitOfWork, user: User, team_id: int, source: UnitSource,
                           spender: Spender | None, now: datetime) -> Reservation:
        uow.teams.lock_team(team_id)
        member = uow.teams.member(team_id, user.id)
        if member is None:  # removed since the request began
            raise NotFound("Team not found.")
        limit, used, oldest = self._pool(uow, team_id, now)
        pool = self._policy.status_of(limit, used, oldest, now)
        if limit <= 0:
            raise TeamPlanRequired()
        if pool.exhausted:
            if self._on_exceeded is not None:
                self._on_exceeded()
            raise QuotaExceeded(pool, pool.retry_after(now), "The team has used its shared limit for today.")
        if member.daily_cap is not None:
            drawn, first = uow.quota.pool_usage(team_id, self._policy.window_start(now),
                                                self._policy.stale_before(now), max(member.daily_cap, 0), user.id)
            mine = self._policy.status_of(member.daily_cap, drawn, first, now)
            if mine.exhausted:
                if self._on_exceeded is not None:
                    self._on_exceeded()
                raise QuotaExceeded(mine, mine.retry_after(now), "You have used your daily share of the team's limit.")
        source_id = spender(uow, now) if spender is not None else None
        unit_id = uow.quota.reserve(user.id, now, source, source_id, team_id)
        after = self._policy.status_of(limit, used + 1, oldest or now, now)
        uow.commit()
        return Reservation(unit_id, after)

    def keep(self, reservation: Reservation, uow: UnitOfWork | None = None) -> None:
        """The spender succeeded: the unit is spent. Inside the caller's transaction when given one
        (so the unit is kept together with the spender's own outcome), else in one of its own."""
        self._settle(reservation, True, uow)

    def release(self, reservation: Reservation, uow: UnitOfWork | None = None) -> None:
        """The spender failed: the unit is given back. As ``keep`` for the transaction."""
        self._settle(reservation, False, uow)

    def _settle(self, reservation: Reservation, kept: bool, uow: UnitOfWork | None) -> None:
        if uow is not None:
            (uow.quota.keep if kept else uow.quota.release)(reservation.unit_id)
            return
        with self._uow() as own:
            (own.quota.keep if kept else own.quota.release)(reservation.unit_id)
            own.commit()
