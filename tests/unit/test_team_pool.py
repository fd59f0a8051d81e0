"""The team pool (SPEC §12, §14) on the fakes: a team plan's pooled daily limit, drawn by members with
``team_id``; per-member caps; the pool and each member's personal limit never mix; only members
draw; a failed generation gives its unit back to the pool."""

from __future__ import annotations

from datetime import timedelta

import pytest

from promptcore.domain.access import Actor
from promptcore.domain.errors import LlmUnavailable, NotFound, QuotaExceeded, TeamPlanRequired
from promptcore.domain.prompts import RecordStatus
from promptcore.domain.quota import QuotaPolicy, UnitSource
from promptcore.domain.teams import Member, Team, TeamRole
from promptcore.domain.users import User
from promptcore.services.billing import Billing
from promptcore.services.improvement import Generated, Prompts
from promptcore.services.quota import Quota
from promptcore.services.styles import StyleCatalogue
from tests.fakes import FakeClock, FakeImprover, FakeMailTemplates, FakeStore, FakeUnitOfWork, sample_style

PERSONAL = 3  # each member's own daily limit
POOL = 4  # the team plan's daily limit in these tests


class World:
    """Ada owns a team with Bob and Cy as members; Dan is a stranger. Everyone has a personal
    limit of PERSONAL; the team plan's limit is POOL (granted only where a test says so)."""

    def __init__(self) -> None:
        self.store, self.clock, self.improver = FakeStore(), FakeClock(), FakeImprover()
        self.store.styles["general"] = sample_style("general")
        self.uow = lambda: FakeUnitOfWork(self.store)
        now = self.clock.now()
        with self.uow() as tx:
            self.ids = {name: tx.users.add(User(email=f"{name}@example.com", password_hash="x", name=name.title(),
                                                is_email_confirmed=True, daily_limit=PERSONAL, created_at=now,
                                                updated_at=now)).id
                        for name in ("ada", "bob", "cy", "dan")}
            self.team = tx.teams.add(Team(name="Desk", created_by=self.ids["ada"]), self.ids["ada"], now).id
            for name in ("bob", "cy"):
                assert tx.teams.add_member(Member(self.team, self.ids[name], TeamRole.MEMBER, now))
            tx.commit()
        self.quota = Quota(self.uow, self.clock, QuotaPolicy(reservation_ttl=timedelta(minutes=5)),
                           default_limit=PERSONAL)
        self.prompts = Prompts(self.uow, self.improver, StyleCatalogue(self.uow, self.clock), self.clock, self.quota,
                               ("m1",), 100)
        self.billing = Billing(self.uow, self.clock, None, FakeMailTemplates(), "http://test.local",
                               default_limit=PERSONAL)
        self.billing.set_plan("team", daily_limit=POOL)

    def actor(self, name: str) -> Actor:
        """As entrypoints/actor.py: the memberships as they are now."""
        with self.uow() as tx:
            return Actor(self.ids[name], teams=tx.teams.roles_of(self.ids[name]))

    def grant(self, days: int | None = None) -> None:
        self.billing.grant(None, "team", days, team_id=self.team)

    def generate(self, name: str, team_id: int | None = None) -> Generated:
        return self.prompts.improve(self.actor(name), f"an idea of {name}", "general", team_id=team_id)

    def units(self) -> list[dict]:
        return sorted(self.store.quota_units.values(), key=lambda u: u["id"])

    def drawn(self, name: str | None = None) -> int:
        usage = self.quota.team_usage(self.actor("ada"), self.team)
        if name is None:
            return usage.quota.used
        return next(m.used for m in usage.members if m.member.user_id == self.ids[name])


@pytest.fixture
def w() -> World:
    return World()


def test_the_pool_limit_is_the_granted_team_plans(w):
    usage = w.quota.team_usage(w.actor("bob"), w.team)
    assert (usage.quota.limit, usage.quota.used) == (0, 0), "no team plan: no pool"
    w.grant()
    usage = w.quota.team_usage(w.actor("bob"), w.team)
    assert (usage.quota.limit, usage.quota.used, usage.quota.remaining) == (POOL, 0, POOL)

    out = w.generate("bob", w.team)
    assert out.record.status is RecordStatus.SUCCEEDED
    assert (out.quota.limit, out.quota.used, out.quota.remaining) == (POOL, 1, POOL - 1), "the answer shows the pool"
    [unit] = w.units()
    assert (unit["user_id"], unit["team_id"], unit["source_kind"]) == (w.ids["bob"], w.team, UnitSource.GENERATION)
    assert unit["source_id"] == out.record.id

    usage = w.quota.team_usage(w.actor("cy"), w.team)
    assert (usage.quota.used, usage.quota.remaining) == (1, POOL - 1)
    assert {m.member.email: m.used for m in usage.members} == {"ada@example.com": 0, "bob@example.com": 1,
                                                              "cy@example.com": 0}
    assert [m.member.role for m in usage.members][0] is TeamRole.OWNER  # as the members list orders them


def test_without_a_team_plan_nothing_is_reserved(w):
    with pytest.raises(TeamPlanRequired):
        w.generate("bob", w.team)
    assert w.units() == [] and w.store.prompts == {} and w.improver.requests == []
    w.grant(days=1)
    w.generate("bob", w.team)
    w.clock.advance(days=1, seconds=1)  # the grant ran out
    with pytest.raises(TeamPlanRequired):
        w.generate("cy", w.team)
    assert len(w.units()) == 1 and len(w.improver.requests) == 1


def test_an_exhausted_pool_refuses_every_member_with_the_pools_quota(w):
    w.grant()
    for name in ("ada", "bob", "cy", "bob"):  # ten minutes apart
        w.generate(name, w.team)
        w.clock.advance(minutes=10)
    w.clock.advance(minutes=20)  # an hour after the first
    for name in ("ada", "bob", "cy"):
        with pytest.raises(QuotaExceeded) as info:
            w.generate(name, w.team)
        quota = info.value.quota
        assert (quota.limit, quota.used, quota.remaining) == (POOL, POOL, 0)
        # the oldest unit (an hour ago) frees up 24 hours after it was taken
        assert info.value.retry_after == 23 * 3600
        assert "team" in info.value.message
    assert len(w.units()) == POOL and len(w.improver.requests) == POOL, "refused requests never call out"
    assert w.drawn() == POOL and w.drawn("bob") == 2
    w.clock.advance(hours=23, seconds=1)  # the rolling window frees the first unit, only that one
    assert w.generate("cy", w.team).quota.used == POOL
    with pytest.raises(QuotaExceeded):
        w.generate("ada", w.team)


def test_a_member_cap_limits_that_member_only(w):
    w.grant()
    with w.uow() as tx:
        tx.teams.set_cap(w.team, w.ids["bob"], 1)
        tx.commit()
    w.generate("bob", w.team)
    with pytest.raises(QuotaExceeded) as info:
        w.generate("bob", w.team)
    assert (info.value.quota.limit, info.value.quota.used, info.value.quota.remaining) == (1, 1, 0)
    assert "share" in info.value.message
    assert w.generate("cy", w.team).quota.used == 2, "the others still draw"
    assert w.drawn("bob") == 1 and w.drawn() == 2
    with w.uow() as tx:
        tx.teams.set_cap(w.team, w.ids["bob"], 0)  # a cap of zero: no draws at all
        tx.teams.set_cap(w.team, w.ids["cy"], None)
        tx.commit()
    with pytest.raises(QuotaExceeded):
        w.generate("bob", w.team)
    w.generate("cy", w.team)
    w.generate("cy", w.team)
    assert w.drawn("cy") == 3 and w.drawn() == POOL


def test_the_pool_and_the_personal_quota_never_mix(w):
    w.grant()
    for _ in range(PERSONAL):
        w.generate("bob")  # bob's own limit, used up
    assert w.drawn() == 0, "personal units are not the pool's"
    with pytest.raises(QuotaExceeded):
        w.generate("bob")
    out = w.generate("bob", w.team)  # the pool still serves him
    assert out.quota.limit == POOL and out.quota.used == 1
    for _ in range(POOL - 1):
        w.generate("cy", w.team)
    assert w.drawn() == POOL
    for name in ("ada", "cy"):  # pool units are not the members' own
        status = w.prompts.quota(w.actor(name))
        assert (status.limit, status.used) == (PERSONAL, 0)
        assert w.generate(name).quota.used == 1
    assert w.prompts.quota(w.actor("bob")).used == PERSONAL
    assert w.drawn() == POOL


def test_a_non_member_gets_not_found_and_nothing_is_reserved(w):
    w.grant()
    with pytest.raises(NotFound):
        w.generate("dan", w.team)
    with pytest.raises(NotFound):
        w.quota.team_usage(w.actor("dan"), w.team)
    with pytest.raises(NotFound):
        w.generate("bob", 987654)  # no such team
    # an actor claiming a membership the store does not have (the request raced a removal)
    forged = Actor(w.ids["dan"], teams={w.team: "member"})
    with pytest.raises(NotFound):
        w.prompts.improve(forged, "x", "general", team_id=w.team)
    assert w.units() == [] and w.store.prompts == {} and w.improver.requests == []


def test_a_removed_member_gets_not_found_even_with_the_roles_read_before(w):
    w.grant()
    before = w.actor("cy")  # the request's roles were read while cy was still a member
    w.generate("cy", w.team)
    with w.uow() as tx:
        tx.teams.remove_member(w.team, w.ids["cy"])
        tx.commit()
    with pytest.raises(NotFound):
        w.prompts.improve(before, "x", "general", team_id=w.team)
    with pytest.raises(NotFound):
        w.generate("cy", w.team)
    assert len(w.units()) == 1
    assert w.drawn() == 1, "what they drew while a member still counts"


def test_a_failed_generation_gives_its_unit_back_to_the_pool(w):
    w.grant()
    w.generate("bob", w.team)
    w.improver.fail_with = LlmUnavailable()
    with pytest.raises(LlmUnavailable):
        w.generate("bob", w.team)
    with pytest.raises(LlmUnavailable):  # a stream that fails before its first delta
        next(w.prompts.improve_stream(w.actor("cy"), "x", "general", team_id=w.team))
    assert w.drawn() == 1 and w.drawn("bob") == 1 and w.drawn("cy") == 0
    assert [u["team_id"] for u in w.units()] == [w.team]
    failed = [r for r in w.store.prompts.values() if r.status is RecordStatus.FAILED]
    assert len(failed) == 2
    w.improver.fail_with = None
    *deltas, done = list(w.prompts.improve_stream(w.actor("cy"), "x", "general", team_id=w.team))
    assert isinstance(done, Generated) and done.quota.used == 2 and deltas
    assert w.drawn("cy") == 1 and w.prompts.quota(w.actor("cy")).used == 0


def test_a_template_improvement_draws_from_the_pool_too(w):
    w.grant()
    out = w.prompts.improve_keeping(w.actor("bob"), "Write about {{topic}}.", "general", None, ("topic",),
                                    team_id=w.team)
    assert out.quota.limit == POOL and out.quota.used == 1
    assert w.drawn("bob") == 1 and w.prompts.quota(w.actor("bob")).used == 0
