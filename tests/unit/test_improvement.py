"""The improvement use case against fakes: quota reservation, release, stale reservations,
iteration rules, history and stats; the quota ledger and the effective limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import promptcore
from adapters.offline import OfflineImprover
from promptcore.domain.access import Actor
from promptcore.domain.errors import (
    EmailNotConfirmed,
    LlmUnavailable,
    NotFound,
    PromptRejected,
    QuotaExceeded,
    ValidationFailed,
)
from promptcore.domain.prompts import RecordStatus
from promptcore.domain.quota import QuotaPolicy, UnitSource
from promptcore.domain.users import User
from promptcore.services.history import decode_cursor
from promptcore.services.improvement import Generated, Prompts
from promptcore.services.quota import Quota
from promptcore.services.styles import StyleCatalogue
from tests.fakes import FakeClock, FakeImprover, FakeStore, FakeUnitOfWork, sample_style


@pytest.fixture
def env():
    store, clock, improver = FakeStore(), FakeClock(), FakeImprover()
    for i, slug in enumerate(["general", "creative"]):
        store.styles[slug] = sample_style(slug, i)
    uow = lambda: FakeUnitOfWork(store)  # noqa: E731
    with uow() as tx:
        user = tx.users.add(User(email="ada@example.com", password_hash="x", is_email_confirmed=True,
                                 daily_limit=3, created_at=clock.now(), updated_at=clock.now()))
        tx.commit()
    quota = Quota(uow, clock, QuotaPolicy(reservation_ttl=timedelta(minutes=5)), default_limit=3)
    prompts = Prompts(uow, improver, StyleCatalogue(uow, clock), clock, quota, ("m1", "m2"), 100)
    return prompts, store, clock, improver, user


def test_success_keeps_the_unit_and_records_everything(env):
    prompts, store, clock, improver, user = env
    out = prompts.improve(Actor.of(user), "  hello  ", "creative", "m2")
    assert out.record.status is RecordStatus.SUCCEEDED
    assert out.record.original_prompt == "hello" and out.record.model == "m2"
    assert out.record.usage == {"total_tokens": 10, "cost": 0.0001}
    assert out.quota.used == 1 and out.quota.remaining == 2
    assert improver.requests[0].style.slug == "creative"


@pytest.mark.parametrize("error", [LlmUnavailable(), PromptRejected(), RuntimeError("boom")])
def test_any_failure_releases_the_unit_and_records_failed(env, error):
    prompts, store, clock, improver, user = env
    improver.fail_with = error
    with pytest.raises((LlmUnavailable, PromptRejected)):
        prompts.improve(Actor.of(user), "hello", "general")
    assert prompts.quota(Actor.of(user)).used == 0
    [record] = store.prompts.values()
    assert record.status is RecordStatus.FAILED and record.error


def test_limit_is_enforced_with_retry_after(env):
    prompts, store, clock, improver, user = env
    for _ in range(3):
        prompts.improve(Actor.of(user), "hello", "general")
    with pytest.raises(QuotaExceeded) as info:
        prompts.improve(Actor.of(user), "hello", "general")
    assert info.value.quota.remaining == 0
    assert info.value.retry_after == 24 * 3600
    assert len(improver.requests) == 3, "no upstream call over the limit"
    clock.advance(hours=24, seconds=1)
    assert prompts.improve(Actor.of(user), "hello", "general").quota.used == 1


def test_a_stale_pending_reservation_stops_counting(env):
    prompts, store, clock, improver, user = env
    with FakeUnitOfWork(store) as tx:  # three reservations of a process that crashed
        for _ in range(3):
            tx.quota.reserve(user.id, clock.now(), UnitSource.GENERATION)
        tx.commit()
    assert prompts.quota(Actor.of(user)).remaining == 0, "fresh reservations count"
    clock.advance(minutes=5, seconds=1)
    assert prompts.quota(Actor.of(user)).remaining == 3, "a crashed process's reservations expire"


def test_deleting_history_gives_no_units_back(env):
    prompts, store, clock, improver, user = env
    out = prompts.improve(Actor.of(user), "hello", "general")
    prompts.delete(Actor.of(user), out.record.id)
    assert prompts.quota(Actor.of(user)).used == 1
    with pytest.raises(NotFound):
        prompts.get(Actor.of(user), out.record.id)


def test_unconfirmed_users_and_bad_input_are_refused_before_reserving(env):
    prompts, store, clock, improver, user = env
    store.users[user.id].is_email_confirmed = False  # read from the account itself, not the caller
    with pytest.raises(EmailNotConfirmed):
        prompts.improve(Actor.of(user), "hello", "general")
    assert not store.quota_units
    store.users[user.id].is_email_confirmed = True
    for kwargs, field in [({"prompt": "", "style": "general"}, "prompt"),
                          ({"prompt": "x" * 101, "style": "general"}, "prompt"),
                          ({"prompt": "hi", "style": "nope"}, "style"),
                          ({"prompt": "hi", "style": "general", "model": "m9"}, "model"),
                          ({"prompt": "hi", "style": "general", "feedback": "shorter"}, "parent_id")]:
        with pytest.raises(ValidationFailed) as info:
            prompts.improve(Actor.of(user), **kwargs)
        assert field in info.value.errors
    assert not store.prompts


def test_iteration_builds_a_version_chain(env):
    prompts, store, clock, improver, user = env
    first = prompts.improve(Actor.of(user), "a poem about rain", "creative").record
    second = prompts.improve(Actor.of(user), None, "creative", parent_id=first.id, feedback="shorter").record
    assert second.parent_id == first.id and second.original_prompt == "a poem about rain"
    assert improver.requests[-1].previous == first.generated_prompt
    assert improver.requests[-1].feedback == "shorter"
    with pytest.raises(ValidationFailed):
        prompts.improve(Actor.of(user), None, "creative", parent_id=first.id)
    other = User(id=999, email="eve@example.com", password_hash="x", is_email_confirmed=True)
    with pytest.raises(NotFound):
        prompts.improve(Actor.of(other), None, "creative", parent_id=first.id, feedback="mine now")


def test_streaming_reserves_first_and_ends_with_the_result(env):
    prompts, store, clock, improver, user = env
    events = list(prompts.improve_stream(Actor.of(user), "hello", "general"))
    assert isinstance(events[-1], Generated)
    assert "".join(e for e in events if isinstance(e, str)) == events[-1].record.generated_prompt
    improver.fail_with = LlmUnavailable()
    stream = prompts.improve_stream(Actor.of(user), "hello", "general")
    assert prompts.quota(Actor.of(user)).used == 2, "reserved before the first byte"
    with pytest.raises(LlmUnavailable):
        list(stream)
    assert prompts.quota(Actor.of(user)).used == 1


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=12))
def test_history_pages_cover_everything_once(n):
    store, clock = FakeStore(), FakeClock()
    store.styles["general"] = sample_style()
    uow = lambda: FakeUnitOfWork(store)  # noqa: E731
    user = User(id=1, email="a@example.com", password_hash="x", is_email_confirmed=True, daily_limit=100)
    with uow() as tx:
        tx.users.add(user)
        tx.commit()
    prompts = Prompts(uow, FakeImprover(), StyleCatalogue(uow, clock), clock, Quota(uow, clock, QuotaPolicy(), 3),
                      ("m",), 100)
    for i in range(n):
        prompts.improve(Actor.of(user), f"prompt {i}", "general")
    seen, cursor = [], None
    while True:
        items, cursor = prompts.history(Actor.of(user), limit=5, cursor=cursor)
        seen += [r.id for r in items]
        if cursor is None:
            break
    assert len(seen) == n == len(set(seen)) and seen == sorted(seen, reverse=True)


def test_stats_counts_by_style_and_fills_30_days(env):
    prompts, store, clock, improver, user = env
    prompts.improve(Actor.of(user), "a", "general")
    clock.advance(days=2)
    prompts.improve(Actor.of(user), "b", "creative")
    stats = prompts.stats(Actor.of(user))
    assert stats.total == 2 and stats.by_style == {"general": 1, "creative": 1}
    assert len(stats.by_day) == 30 and stats.by_day[-1] == (clock.now().date().isoformat(), 1)
    assert stats.by_day[-3][1] == 1


@pytest.mark.parametrize("cursor", ["", "x", "!!!", "MjAyNg", "bm90LWEtZGF0ZXwx"])
def test_bad_cursors_are_validation_errors(cursor):
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor or "=")


def test_the_library_improves_a_prompt_in_two_lines():
    result = promptcore.improve("напиши пост о новой кофемашине", "marketing", improver=OfflineImprover())
    assert result.model == "offline"
    assert "напиши пост о новой кофемашине" in result.text
    with pytest.raises(ValidationFailed):
        promptcore.improve("hi", "no-such-style", improver=OfflineImprover())
