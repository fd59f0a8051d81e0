"""The effective daily limit (override → plan → default) and the quota ledger (issue 10, item 2),
against fakes: units are what the quota counts, not history rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptcore.domain.access import Actor
from promptcore.domain.errors import LlmUnavailable, QuotaExceeded
from promptcore.domain.prompts import PromptRecord, RecordStatus
from promptcore.domain.quota import QuotaPolicy, UnitSource, UnitStatus, effective_daily_limit
from promptcore.domain.users import User
from promptcore.services.improvement import Prompts
from promptcore.services.quota import Quota
from promptcore.services.styles import StyleCatalogue
from tests.fakes import FakeClock, FakeImprover, FakeStore, FakeUnitOfWork, sample_style

limits = st.integers(min_value=0, max_value=100_000)


@given(limits, st.none() | limits, limits)
def test_an_override_always_wins(override, plan, default):
    assert effective_daily_limit(override, plan, default) == override


@given(limits, limits)
def test_without_an_override_the_plan_decides(plan, default):
    assert effective_daily_limit(None, plan, default) == plan


@given(limits)
def test_without_override_or_plan_the_default_decides(default):
    assert effective_daily_limit(None, None, default) == default


@given(st.none() | limits, st.none() | limits, limits, limits)
def test_the_default_matters_only_when_nothing_else_is_set(override, plan, default, other):
    same = effective_daily_limit(override, plan, default) == effective_daily_limit(override, plan, other)
    assert same == (override is not None or plan is not None or default == other)


def build(store: FakeStore, clock: FakeClock, default: int = 3, improver: FakeImprover | None = None):
    uow = lambda: FakeUnitOfWork(store)  # noqa: E731
    quota = Quota(uow, clock, QuotaPolicy(reservation_ttl=timedelta(minutes=5)), default)
    prompts = Prompts(uow, improver or FakeImprover(), StyleCatalogue(uow, clock), clock, quota, ("m1",), 100)
    return quota, prompts


@pytest.fixture
def env():
    store, clock = FakeStore(), FakeClock()
    store.styles["general"] = sample_style()
    with FakeUnitOfWork(store) as tx:
        user = tx.users.add(User(email="ada@example.com", password_hash="x", is_email_confirmed=True,
                                 created_at=clock.now(), updated_at=clock.now()))
        tx.commit()
    return store, clock, user


def set_override(store: FakeStore, user: User, limit: int | None) -> User:
    store.users[user.id].daily_limit = limit
    user.daily_limit = limit
    return user


def test_a_user_without_an_override_follows_the_default_as_it_changes(env):
    store, clock, user = env
    assert user.daily_limit is None
    for default in (3, 5, 0):
        quota, prompts = build(store, clock, default)
        me = Actor.of(user)
        assert quota.limit_of(user) == default == prompts.quota(me).limit == prompts.stats(me).quota.limit
    set_override(store, user, 10)
    assert build(store, clock, 5)[0].limit_of(user) == 10


def test_the_429_carries_the_effective_limit(env):
    store, clock, user = env
    quota, prompts = build(store, clock, default=2)
    prompts.improve(Actor.of(user), "one", "general")
    prompts.improve(Actor.of(user), "two", "general")
    with pytest.raises(QuotaExceeded) as info:
        prompts.improve(Actor.of(user), "three", "general")
    assert info.value.quota.limit == 2 and info.value.quota.used == 2
    set_override(store, user, 0)
    with pytest.raises(QuotaExceeded) as info:
        prompts.improve(Actor.of(user), "four", "general")
    assert info.value.quota.limit == 0


def test_each_generation_spends_one_unit_whose_source_is_its_record(env):
    store, clock, user = env
    quota, prompts = build(store, clock)
    out = prompts.improve(Actor.of(user), "hello", "general")
    [unit] = store.quota_units.values()
    assert unit["status"] is UnitStatus.KEPT and unit["user_id"] == user.id
    assert unit["source_kind"] is UnitSource.GENERATION and unit["source_id"] == out.record.id
    assert unit["created_at"] == out.record.created_at


def test_a_failed_generation_leaves_no_unit(env):
    store, clock, user = env
    improver = FakeImprover()
    improver.fail_with = LlmUnavailable()
    quota, prompts = build(store, clock, improver=improver)
    with pytest.raises(LlmUnavailable):
        prompts.improve(Actor.of(user), "hello", "general")
    assert not store.quota_units
    [record] = store.prompts.values()
    assert record.status is RecordStatus.FAILED


def test_history_rows_are_not_the_quota(env):
    """A succeeded record with no unit (what an imported record will be) spends nothing; deleting
    a generation's record leaves its unit spent."""
    store, clock, user = env
    quota, prompts = build(store, clock)
    with FakeUnitOfWork(store) as tx:
        for _ in range(5):
            tx.prompts.add(PromptRecord(user_id=user.id, original_prompt="imported", style="general", model="m1",
                                        status=RecordStatus.SUCCEEDED, generated_prompt="x", created_at=clock.now()))
        tx.commit()
    assert quota.status(Actor.of(user)).used == 0
    out = prompts.improve(Actor.of(user), "hello", "general")
    prompts.delete(Actor.of(user), out.record.id)
    assert quota.status(Actor.of(user)).used == 1 and len(store.quota_units) == 1


def test_something_that_is_not_a_history_record_can_spend_a_unit(env):
    store, clock, user = env
    quota, _ = build(store, clock, default=2)
    kept = quota.reserve(Actor.of(user), UnitSource.GENERATION)
    assert kept.quota.used == 1 and kept.quota.remaining == 1
    quota.keep(kept)
    released = quota.reserve(Actor.of(user), UnitSource.GENERATION)
    assert released.quota.used == 2 and quota.status(Actor.of(user)).remaining == 0, "a pending unit counts"
    quota.release(released)
    assert quota.status(Actor.of(user)).used == 1
    quota.release(kept)  # a kept unit is spent for good
    assert quota.status(Actor.of(user)).used == 1 and not store.prompts


def test_units_leave_the_window_and_stale_reservations_stop_counting(env):
    store, clock, user = env
    quota, _ = build(store, clock, default=3)
    quota.keep(quota.reserve(Actor.of(user), UnitSource.GENERATION))
    clock.advance(hours=1)
    quota.reserve(Actor.of(user), UnitSource.GENERATION)  # never settled: a crashed process
    status = quota.status(Actor.of(user))
    assert status.used == 2 and status.resets_at == clock.now() - timedelta(hours=1) + timedelta(days=1)
    clock.advance(minutes=5, seconds=1)
    assert quota.status(Actor.of(user)).used == 1
    clock.advance(hours=23)
    assert quota.status(Actor.of(user)).used == 0


def test_deleting_the_account_removes_its_units(env):
    store, clock, user = env
    quota, prompts = build(store, clock)
    prompts.improve(Actor.of(user), "hello", "general")
    with FakeUnitOfWork(store) as tx:
        tx.users.delete(user.id)
        tx.commit()
    assert not store.quota_units
