"""Generating with one-step writes (GenerationSteps, here its fake) answers and stores exactly what
the general path does: the same records, units, usage counters, quota figures, refusals and limit
e-mails, for any sequence of generations, failures and clock moves."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcore.domain.access import Actor, UncheckedToken
from promptcore.domain.errors import LlmUnavailable, QuotaExceeded, Unauthenticated
from promptcore.domain.quota import QuotaPolicy
from promptcore.domain.users import User
from promptcore.services.improvement import Prompts
from promptcore.services.notifications import LimitNotices
from promptcore.services.quota import Quota
from promptcore.services.styles import StyleCatalogue
from tests.fake_generation import FakeGenerationSteps
from tests.fakes import FakeClock, FakeImprover, FakeMailTemplates, FakeStore, FakeUnitOfWork, sample_style


def world(with_steps: bool, limit: int | None, default: int):
    store, clock, improver = FakeStore(), FakeClock(), FakeImprover()
    store.styles["general"] = sample_style("general", 0)
    uow = lambda: FakeUnitOfWork(store)  # noqa: E731
    with uow() as tx:
        user = tx.users.add(User(email="ada@example.com", password_hash="x", is_email_confirmed=True,
                                 daily_limit=limit, created_at=clock.now(), updated_at=clock.now()))
        tx.commit()
    steps = FakeGenerationSteps(store) if with_steps else None
    quota = Quota(uow, clock, QuotaPolicy(reservation_ttl=timedelta(minutes=5)), default_limit=default,
                  notices=LimitNotices(FakeMailTemplates(), "http://promptcore.test/pricing"), steps=steps)
    prompts = Prompts(uow, improver, StyleCatalogue(uow, clock), clock, quota, ("m1",), 100, steps=steps)
    return prompts, store, clock, improver, user


def run(with_steps: bool, limit: int | None, default: int, script: list[tuple[str, int]]) -> list:
    prompts, store, clock, improver, user = world(with_steps, limit, default)
    seen: list = []
    for i, (what, minutes) in enumerate(script):
        clock.advance(minutes=minutes)
        if what == "fail":
            improver.fail_with = LlmUnavailable()
        try:
            out = prompts.improve(Actor.of(user), f"prompt {i}", "general")
            seen.append(("ok", out.record.id is not None, out.record.status.value, out.quota))
        except QuotaExceeded as exc:
            seen.append(("429", exc.quota, exc.retry_after))
        except LlmUnavailable:
            seen.append(("503",))
        improver.fail_with = None
    records = sorted((r.original_prompt, r.status.value, r.generated_prompt, r.created_at)
                     for r in store.prompts.values())
    units = sorted((u["created_at"], u["status"].value, u["source_id"] is not None) for u in store.quota_units.values())
    return [seen, records, units, dict(store.counters), len(store.outbox), prompts.quota(Actor.of(user))]


@settings(max_examples=80, deadline=None)
@given(limit=st.one_of(st.none(), st.integers(0, 5)), default=st.integers(0, 5),
       script=st.lists(st.tuples(st.sampled_from(["ok", "ok", "fail"]), st.integers(0, 600)), max_size=10))
def test_one_step_writes_change_nothing_anyone_can_see(limit, default, script):
    assert run(True, limit, default, script) == run(False, limit, default, script)


def test_the_fake_takes_one_step_below_the_limit_and_leaves_the_last_unit_to_the_general_path():
    prompts, store, clock, improver, user = world(True, 3, 3)
    steps = prompts._steps
    calls = {"one step": 0}
    real = steps.reserve

    def counting(*a, **k):
        got = real(*a, **k)
        calls["one step"] += got is not None
        return got

    steps.reserve = counting
    for i in range(3):
        prompts.improve(Actor.of(user), f"p{i}", "general")
    assert calls["one step"] == 2  # the third unit reaches the limit: the general path (and its e-mail)
    assert len(store.outbox) == 1


def test_an_unchecked_token_is_checked_under_the_lock_on_both_paths():
    for with_steps in (True, False):
        prompts, store, clock, improver, user = world(with_steps, 5, 5)
        issued = user.created_at.timestamp()
        good = replace(Actor.of(user), unchecked=UncheckedToken(issued, user.session_generation))
        assert prompts.improve(good, "tea", "general").quota.used == 1
        for bad in (UncheckedToken(issued, user.session_generation + 1),  # signed out since
                    UncheckedToken(issued - 60, user.session_generation)):  # issued before the account
            with pytest.raises(Unauthenticated):
                prompts.improve(replace(Actor.of(user), unchecked=bad), "tea", "general")
        with FakeUnitOfWork(store) as uow:
            stored = uow.users.get(user.id)
            stored.is_active = False
            uow.users.update(stored)
            uow.commit()
        with pytest.raises(Unauthenticated):
            prompts.improve(good, "tea", "general")
        assert len(store.prompts) == 1 and len(store.quota_units) == 1
