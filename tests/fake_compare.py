"""In-memory fakes of Try it's ports (SPEC §15.3): the comparisons kept with records, and an
answerer that answers each prompt distinguishably, streams it in pieces and can be told to fail
for some prompts or to wait for a signal before it answers."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from datetime import timezone
from typing import Any

from promptcore.domain.compare import AnswerRequest, Comparison, ModelAnswer
from promptcore.domain.errors import LlmUnavailable
from promptcore.ports import ComparisonRepository, PromptAnswerer


class FakeComparisonRepository(ComparisonRepository):
    """As SqlComparisonRepository: one per record, read through its record (its owner, not
    deleted), gone with it (the store's ``comparisons`` of a record no longer in ``prompts`` are
    never answered: the SQL cascade)."""

    def __init__(self, store: Any) -> None:
        self.s = store

    def put(self, comparison: Comparison) -> None:
        kept = copy.deepcopy(comparison)
        if kept.created_at is not None:
            kept.created_at = kept.created_at.astimezone(timezone.utc)
        self.s.comparisons[comparison.record_id] = kept

    def get(self, user_id: int, record_id: int) -> Comparison | None:
        record = self.s.prompts.get(record_id)
        if record is None or record.user_id != user_id or record_id in self.s.deleted_prompts:
            return None
        found = self.s.comparisons.get(record_id)
        if found is None:
            return None
        return _with_user(found, user_id)

    def delete(self, record_id: int) -> None:
        self.s.comparisons.pop(record_id, None)


def _with_user(comparison: Comparison, user_id: int) -> Comparison:
    found = copy.deepcopy(comparison)
    found.user_id = user_id
    return found


def answer_of(prompt: str) -> str:
    """What the fake answerer writes for a prompt: it names the prompt, so the two sides differ."""
    return f"Answer to «{prompt}»: done."


class FakeAnswerer(PromptAnswerer):
    """Answers ``answer_of(prompt)`` in word-sized deltas. ``fail_when(prompt)`` true: that prompt
    fails with ``failure`` (after ``fail_after`` deltas). ``gate``: each call waits for it before
    answering (tests that look at the stream in flight). ``offline``: can_answer is False."""

    name = "fake-answerer"

    def __init__(self) -> None:
        self.requests: list[AnswerRequest] = []
        self.fail_when: Callable[[str], bool] = lambda prompt: False
        self.failure: Exception = LlmUnavailable()
        self.fail_after = 0
        self.gate: threading.Event | None = None
        self.offline = False
        self._lock = threading.Lock()

    @property
    def can_answer(self) -> bool:
        return not self.offline

    def answer_stream(self, request: AnswerRequest) -> Iterator[str | ModelAnswer]:
        with self._lock:
            self.requests.append(request)
        if self.offline:
            raise LlmUnavailable()
        if self.gate is not None:
            self.gate.wait(10)
        text = answer_of(request.prompt)
        pieces = text.split(" ")
        pieces = [p + " " for p in pieces[:-1]] + pieces[-1:]
        failing = self.fail_when(request.prompt)
        for i, piece in enumerate(pieces):
            if failing and i >= self.fail_after:
                raise self.failure
            yield piece
        if failing:
            raise self.failure
        yield ModelAnswer(text=text, model=request.model or "fake/model", usage={"total_tokens": 7}, cost=0.0002)


__all__ = ["FakeAnswerer", "FakeComparisonRepository", "answer_of"]
