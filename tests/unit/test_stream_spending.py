"""Security review, issue 9, Medium 6: a streamed generation spends its unit once output has been
sent, however the stream ends (SPEC §7.1); only a failure before the first delta gives it back."""

from __future__ import annotations

from datetime import timedelta
from typing import Iterator

import pytest

from promptcore.domain.access import Actor
from promptcore.domain.errors import LlmUnavailable
from promptcore.domain.prompts import Improvement, ImprovementRequest, RecordStatus
from promptcore.domain.quota import QuotaPolicy
from promptcore.domain.users import User
from promptcore.services.improvement import Generated, Prompts
from promptcore.services.quota import Quota
from promptcore.services.styles import StyleCatalogue
from tests.fakes import FakeClock, FakeImprover, FakeStore, FakeUnitOfWork, sample_style

PIECES = [f"word{i} " for i in range(30)]


class StreamingImprover(FakeImprover):
    """Streams ``PIECES`` one delta at a time; ``fail_after`` makes it break off after that many."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_after: int | None = None
        self.read = 0  # deltas taken from the upstream

    def stream(self, request: ImprovementRequest) -> Iterator[str | Improvement]:
        self.requests.append(request)
        for i, piece in enumerate(PIECES):
            if self.fail_after is not None and i == self.fail_after:
                raise LlmUnavailable()
            self.read += 1
            yield piece
        yield Improvement(text="".join(PIECES).strip(), model="fake/model", usage={"total_tokens": 30})


@pytest.fixture
def env():
    store, clock, improver = FakeStore(), FakeClock(), StreamingImprover()
    store.styles["general"] = sample_style("general")
    uow = lambda: FakeUnitOfWork(store)  # noqa: E731
    with uow() as tx:
        user = tx.users.add(User(email="ada@example.com", password_hash="x", is_email_confirmed=True,
                                 daily_limit=10, created_at=clock.now(), updated_at=clock.now()))
        tx.commit()
    prompts = Prompts(uow, improver, StyleCatalogue(uow, clock), clock,
                      Quota(uow, clock, QuotaPolicy(reservation_ttl=timedelta(minutes=5)), 3), ("m1",), 100)
    return prompts, store, clock, improver, user


def test_a_client_hanging_up_mid_stream_spends_the_unit_and_history_has_the_whole_answer(env):
    prompts, store, clock, improver, user = env
    for attempt in range(1, 4):
        stream = prompts.improve_stream(Actor.of(user), f"hello {attempt}", "general")
        taken = [next(stream) for _ in range(3)]
        assert taken == PIECES[:3]
        stream.close()  # what the WSGI server does when the client goes away
        assert prompts.quota(Actor.of(user)).used == attempt
        clock.advance(minutes=10)  # past the reservation lifetime: only a kept unit still counts
        assert prompts.quota(Actor.of(user)).used == attempt
    assert improver.read == 3 * len(PIECES), "the upstream answer is read to its end"
    records = sorted(store.prompts.values(), key=lambda r: r.id)
    assert [r.status for r in records] == [RecordStatus.SUCCEEDED] * 3
    assert all(r.generated_prompt == "".join(PIECES).strip() and r.usage for r in records)
    items, _ = prompts.history(Actor.of(user))
    assert len(items) == 3
    assert prompts.stats(Actor.of(user)).total == 3


def test_a_client_hanging_up_then_the_upstream_failing_keeps_the_unit_and_what_was_produced(env):
    prompts, store, clock, improver, user = env
    improver.fail_after = 10
    stream = prompts.improve_stream(Actor.of(user), "hello", "general")
    assert [next(stream) for _ in range(3)] == PIECES[:3]
    stream.close()
    clock.advance(minutes=10)
    assert prompts.quota(Actor.of(user)).used == 1
    [record] = store.prompts.values()
    assert record.status is RecordStatus.SUCCEEDED and record.error == "LlmUnavailable"
    assert record.generated_prompt == "".join(PIECES[:10]).strip()


def test_an_upstream_failure_after_output_was_sent_keeps_the_unit(env):
    prompts, store, clock, improver, user = env
    improver.fail_after = 5
    seen = []
    with pytest.raises(LlmUnavailable):
        for item in prompts.improve_stream(Actor.of(user), "hello", "general"):
            seen.append(item)
    assert seen == PIECES[:5]
    clock.advance(minutes=10)
    assert prompts.quota(Actor.of(user)).used == 1
    [record] = store.prompts.values()
    assert record.status is RecordStatus.SUCCEEDED and record.generated_prompt == "".join(PIECES[:5]).strip()


def test_a_failure_before_any_output_releases_the_unit(env):
    prompts, store, clock, improver, user = env
    improver.fail_after = 0
    with pytest.raises(LlmUnavailable):
        list(prompts.improve_stream(Actor.of(user), "hello", "general"))
    assert prompts.quota(Actor.of(user)).used == 0
    [record] = store.prompts.values()
    assert record.status is RecordStatus.FAILED


def test_a_complete_stream_still_ends_with_the_record(env):
    prompts, store, clock, improver, user = env
    events = list(prompts.improve_stream(Actor.of(user), "hello", "general"))
    assert events[:-1] == PIECES and isinstance(events[-1], Generated)
    assert events[-1].record.status is RecordStatus.SUCCEEDED and events[-1].quota.used == 1


def test_a_record_deleted_mid_stream_keeps_its_unit_and_gets_no_text_back(env):
    prompts, store, clock, improver, user = env
    stream = prompts.improve_stream(Actor.of(user), "a secret", "general")
    next(stream)
    [record_id] = store.prompts
    prompts.delete(Actor.of(user), record_id)
    stream.close()
    clock.advance(minutes=10)
    assert prompts.quota(Actor.of(user)).used == 1
    record = store.prompts[record_id]
    assert record.status is RecordStatus.SUCCEEDED
    assert (record.original_prompt, record.generated_prompt, record.usage, record.error) == ("", None, None, None)
