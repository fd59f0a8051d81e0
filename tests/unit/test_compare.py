"""Try it (SPEC §15.3) against fakes: both prompts answered in parallel on one model, one unit spent
only when both answer, a failed side leaving the other's answer, the offline refusal, access, the
kept comparison and its deletion with the record."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.offline import OfflineImprover
from promptcore.domain.access import Actor
from promptcore.domain.compare import (
    INPUT_MAX,
    NEEDS_MODEL,
    ComparisonStatus,
    SideStatus,
    clean_input,
    with_input,
)
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
from promptcore.services.compare import Compare, Compared, SideDelta
from promptcore.services.history import History
from promptcore.services.improvement import Prompts
from promptcore.services.quota import Quota
from promptcore.services.styles import StyleCatalogue
from tests.fake_compare import answer_of
from tests.fakes import FakeAnswerer, FakeClock, FakeImprover, FakeStore, FakeUnitOfWork, sample_style

MODELS = ("m1", "m2")


class World:
    def __init__(self) -> None:
        self.store, self.clock = FakeStore(), FakeClock()
        self.store.styles["general"] = sample_style("general")
        self.uow = lambda: FakeUnitOfWork(self.store)  # noqa: E731
        self.quota = Quota(self.uow, self.clock, QuotaPolicy(reservation_ttl=timedelta(minutes=5)), default_limit=3)
        self.prompts = Prompts(self.uow, FakeImprover(), StyleCatalogue(self.uow, self.clock), self.clock, self.quota,
                               MODELS, 1000)
        self.answerer = FakeAnswerer()
        self.compare = Compare(self.uow, self.answerer, self.quota, self.clock, MODELS, wait_seconds=5)

    def user(self, email: str = "ada@example.com", limit: int | None = None) -> Actor:
        with self.uow() as tx:
            user = tx.users.add(User(email=email, password_hash="x", is_email_confirmed=True, daily_limit=limit,
                                     created_at=self.clock.now(), updated_at=self.clock.now()))
            tx.commit()
        return Actor.of(user)

    def record(self, actor: Actor, prompt: str = "write a haiku about tea", model: str | None = "m2") -> int:
        return self.prompts.improve(actor, prompt, "general", model).record.id

    def units(self, actor: Actor) -> list[dict]:
        return [u for u in self.store.quota_units.values() if u["user_id"] == actor.user_id]


@pytest.fixture
def world() -> World:
    return World()


def test_both_prompts_are_answered_on_one_model_and_the_unit_is_spent(world):
    ada = world.user()
    record_id = world.record(ada)
    record = world.prompts.get(ada, record_id)
    out = world.compare.compare(ada, record_id)
    comparison = out.comparison
    assert comparison.status is ComparisonStatus.SUCCEEDED and comparison.whole
    assert comparison.a.text == answer_of(record.original_prompt)
    assert comparison.b.text == answer_of(record.generated_prompt)
    assert comparison.a.text != comparison.b.text
    assert comparison.model == "m2" and comparison.a.model == comparison.b.model == "m2"  # the record's model
    assert comparison.a.usage == {"total_tokens": 7, "cost": 0.0002}
    assert {r.prompt for r in world.answerer.requests} == {record.original_prompt, record.generated_prompt}
    assert out.quota.used == 2  # the improvement and the comparison
    [unit] = [u for u in world.units(ada) if u["source_kind"] is UnitSource.COMPARISON]
    assert unit["source_id"] == record_id and unit["status"].value == "kept"
    assert world.compare.kept(ada, record_id) == comparison


def test_the_model_and_the_extra_input_apply_to_both_sides(world):
    ada = world.user()
    record_id = world.record(ada, model="m2")
    record = world.prompts.get(ada, record_id)
    out = world.compare.compare(ada, record_id, model="m1", input="  The tea is green.  ")
    assert out.comparison.model == "m1" and out.comparison.input == "The tea is green."
    assert sorted(r.prompt for r in world.answerer.requests) == sorted([
        record.original_prompt + "\n\nThe tea is green.", record.generated_prompt + "\n\nThe tea is green."])
    assert {r.model for r in world.answerer.requests} == {"m1"}


def test_a_record_whose_model_is_no_longer_offered_uses_the_default(world):
    ada = world.user()
    record_id = world.record(ada, model="m2")
    world.store.prompts[record_id].model = "retired/model"
    assert world.compare.compare(ada, record_id).comparison.model == "m1"


@pytest.mark.parametrize("failing_side", ["a", "b"])
def test_one_side_failing_keeps_the_other_answer_and_gives_the_unit_back(world, failing_side):
    ada = world.user()
    record_id = world.record(ada)
    record = world.prompts.get(ada, record_id)
    failing = record.original_prompt if failing_side == "a" else record.generated_prompt
    world.answerer.fail_when = lambda prompt: prompt == failing
    world.answerer.fail_after = 2
    world.answerer.failure = PromptRejected()
    out = world.compare.compare(ada, record_id)
    comparison = out.comparison
    failed, answered = comparison.side(failing_side), comparison.side("b" if failing_side == "a" else "a")
    assert comparison.status is ComparisonStatus.PARTIAL and not comparison.whole
    assert failed.status is SideStatus.FAILED and failed.error == "PromptRejected"
    assert failed.text == "Answer to"  # what was written before it failed
    assert answered.status is SideStatus.SUCCEEDED and answered.text.startswith("Answer to «")
    assert out.quota.used == 1  # only the improvement: the comparison's unit was given back
    assert [u["source_kind"] for u in world.units(ada)] == [UnitSource.GENERATION]
    assert world.compare.kept(ada, record_id) == comparison


def test_both_sides_failing_raises_keeps_nothing_and_spends_nothing(world):
    ada = world.user()
    record_id = world.record(ada)
    world.compare.compare(ada, record_id)  # a whole one first: it stays
    before = world.compare.kept(ada, record_id)
    world.answerer.fail_when = lambda prompt: True
    with pytest.raises(LlmUnavailable):
        world.compare.compare(ada, record_id, input="more")
    assert world.compare.kept(ada, record_id) == before
    assert world.quota.status(ada).used == 2


def test_an_unexpected_error_on_both_sides_is_llm_unavailable(world):
    ada = world.user()
    record_id = world.record(ada)
    world.answerer.fail_when = lambda prompt: True
    world.answerer.failure = RuntimeError("boom")
    with pytest.raises(LlmUnavailable):
        world.compare.compare(ada, record_id)
    assert world.quota.status(ada).used == 1


def test_without_a_model_it_is_refused_before_any_unit(world):
    ada = world.user()
    record_id = world.record(ada)
    world.answerer.offline = True
    with pytest.raises(LlmUnavailable) as info:
        world.compare.stream(ada, record_id)
    assert info.value.message == NEEDS_MODEL
    assert world.quota.status(ada).used == 1 and world.answerer.requests == []
    assert world.compare.available is False


def test_the_offline_improver_cannot_answer():
    offline = OfflineImprover()
    assert offline.can_answer is False
    with pytest.raises(LlmUnavailable):
        list(offline.answer_stream(None))


def test_another_users_record_and_unusable_records_are_not_found(world):
    ada, bob = world.user(), world.user("bob@example.com")
    record_id = world.record(ada)
    with pytest.raises(NotFound):
        world.compare.stream(bob, record_id)
    with pytest.raises(NotFound):
        world.compare.stream(ada, 987654)
    world.store.prompts[record_id].status = RecordStatus.FAILED
    with pytest.raises(NotFound):
        world.compare.stream(ada, record_id)
    assert world.compare.kept(bob, record_id) is None
    assert world.answerer.requests == [] and world.quota.status(bob).used == 0


def test_bad_input_is_refused_before_any_unit(world):
    ada = world.user()
    record_id = world.record(ada)
    with pytest.raises(ValidationFailed) as info:
        world.compare.stream(ada, record_id, model="not/offered")
    assert "model" in info.value.errors
    with pytest.raises(ValidationFailed) as info:
        world.compare.stream(ada, record_id, input="x" * (INPUT_MAX + 1))
    assert "input" in info.value.errors
    with pytest.raises(ValidationFailed):
        world.compare.stream(ada, record_id, input=12)
    assert world.quota.status(ada).used == 1 and world.answerer.requests == []


def test_over_the_limit_and_unconfirmed_are_refused_before_any_call(world):
    ada = world.user(limit=1)
    record_id = world.record(ada)
    with pytest.raises(QuotaExceeded):
        world.compare.stream(ada, record_id)
    bob = world.user("bob@example.com")
    bobs = world.record(bob)
    world.store.users[bob.user_id].is_email_confirmed = False
    with pytest.raises(EmailNotConfirmed):
        world.compare.stream(bob, bobs)
    assert world.answerer.requests == []


def test_the_stream_interleaves_both_sides_then_ends_with_the_comparison(world):
    ada = world.user()
    record_id = world.record(ada)
    items = list(world.compare.stream(ada, record_id))
    deltas = [i for i in items if isinstance(i, SideDelta)]
    assert isinstance(items[-1], Compared) and all(isinstance(i, SideDelta) for i in items[:-1])
    comparison = items[-1].comparison
    for side in ("a", "b"):
        assert "".join(d.text for d in deltas if d.side == side) == comparison.side(side).text


def test_both_calls_run_at_once(world):
    """Each side waits for a gate that opens only once both calls have started: run one after the
    other, the first would wait alone until the gate timed out."""
    ada = world.user()
    record_id = world.record(ada)
    started = threading.Barrier(2, timeout=3)
    original = world.answerer.answer_stream

    def answer_stream(request):
        started.wait()  # raises BrokenBarrierError (a failed side) if the other never starts
        yield from original(request)

    world.answerer.answer_stream = answer_stream
    assert world.compare.compare(ada, record_id).comparison.whole


def test_a_consumer_that_leaves_still_gets_both_answers_kept(world):
    ada = world.user()
    record_id = world.record(ada)
    events = world.compare.stream(ada, record_id)
    first = next(events)
    assert isinstance(first, SideDelta)
    events.close()  # the client hung up after the first delta
    kept = world.compare.kept(ada, record_id)
    assert kept is not None and kept.whole
    assert world.quota.status(ada).used == 2


def test_deleting_the_record_deletes_its_comparison(world):
    ada = world.user()
    record_id = world.record(ada)
    world.compare.compare(ada, record_id)
    History(world.uow, world.clock, world.quota).delete(ada, record_id)
    assert world.store.comparisons == {}
    assert world.compare.kept(ada, record_id) is None


def test_a_record_deleted_during_the_comparison_keeps_no_answers(world):
    ada = world.user()
    record_id = world.record(ada)
    world.answerer.gate = threading.Event()
    events = world.compare.stream(ada, record_id)
    History(world.uow, world.clock, world.quota).delete(ada, record_id)
    world.answerer.gate.set()
    list(events)
    assert world.store.comparisons == {}


@given(st.text(max_size=INPUT_MAX + 50))
def test_clean_input_trims_bounds_and_appends(raw):
    try:
        cleaned = clean_input(raw)
    except ValidationFailed:
        assert len(raw.strip()) > INPUT_MAX or "\x00" in raw
        return
    assert cleaned is None or (cleaned == raw.strip() and 0 < len(cleaned) <= INPUT_MAX)
    assert with_input("prompt", cleaned) == ("prompt" if cleaned is None else "prompt\n\n" + cleaned)
