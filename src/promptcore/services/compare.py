"""Try it (SPEC §15.3): answer a record's original prompt and its improved prompt with the same
model, in parallel, and keep both answers with the record.

One quota unit per comparison: reserved (in its own committed transaction, as every spender's)
before either call, kept only when both sides answered, given back otherwise. A side that fails
does not stop the other: its answer is still delivered and kept, and the failed side says so.
When both fail nothing is kept and the first side's error is raised. A consumer that stops
reading (a client that hung up) does not stop the calls either: they are read to their end,
within the answerer's deadline, and settled as if it had stayed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from ..domain.access import Actor, may_read, require_change
from ..domain.compare import (
    NEEDS_MODEL,
    SIDES,
    AnswerRequest,
    Comparison,
    ModelAnswer,
    Side,
    SideStatus,
    clean_input,
    with_input,
)
from ..domain.errors import LlmUnavailable, NotFound, PromptcoreError
from ..domain.prompts import PromptRecord, RecordStatus
from ..domain.quota import QuotaStatus, UnitSource
from ..ports import Clock, PromptAnswerer, UnitOfWork
from .history import NOT_FOUND
from .improvement import _error_slug, _pick_model, _reraise
from .quota import Quota, Reservation

log = logging.getLogger(__name__)

# How long the use case waits for both sides at most when the answerer's own deadline somehow did
# not end a call (it always should): the quota's stale-reservation age is the ceiling that matters.
DEFAULT_WAIT_SECONDS = 300.0


@dataclass(frozen=True)
class SideDelta:
    """A piece of one side's answer, as the model wrote it: ``side`` is ``a`` (the original
    prompt's answer) or ``b`` (the improved prompt's)."""

    side: str
    text: str


@dataclass(frozen=True)
class Compared:
    """The comparison as kept, and the quota after it (the unit spent, or given back)."""

    comparison: Comparison
    quota: QuotaStatus


@dataclass(frozen=True)
class _Run:
    actor: Actor
    record: PromptRecord
    model: str
    input: str | None
    requests: dict[str, AnswerRequest]
    reservation: Reservation



class Compare:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        answerer: PromptAnswerer,
        quota: Quota,
        clock: Clock,
        models: tuple[str, ...],
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
    ) -> None:
        self._uow = uow
        self._answerer = answerer
        self._quota = quota
        self._clock = clock
        self._models = models
        self._wait = wait_seconds

    @property
    def available(self) -> bool:
        """Whether a model can answer (False with the offline improver: Try it needs a model)."""
        return self._answerer.can_answer

    @property
    def models(self) -> tuple[str, ...]:
        return self._models

    def default_model(self, record: PromptRecord) -> str | None:
        """The record's own model when it is still offered, else the configured default."""
        if record.model in self._models:
            return record.model
        return self._models[0] if self._models else None

    # -- reading ---------------------------------------------------------------------------------

    def kept(self, actor: Actor, record_id: int) -> Comparison | None:
        """The comparison kept with one of the actor's own records; None when it was never
        compared, and for any record that is not the actor's (a comparison is its author's alone:
        whoever may read a record otherwise, say a team it is shared with, does not see it). The
        caller has already read the record through its own access check."""
        with self._uow() as uow:
            record = uow.prompts.get(actor.user_id, record_id)
            if record is None or not may_read(actor, record.user_id):
                return None
            return uow.comparisons.get(actor.user_id, record_id)

    # -- comparing -------------------------------------------------------------------------------

    def compare(self, actor: Actor, record_id: int, model: Any = None, input: Any = None) -> Compared:
        """Compare and answer when both sides are done (the API's JSON answer, the form post)."""
        events = self.stream(actor, record_id, model, input)
        try:
            for item in events:
                if isinstance(item, Compared):
                    return item
        finally:
            events.close()
        raise LlmUnavailable()  # pragma: no cover - the stream always ends with Compared or raises

    def stream(self, actor: Actor, record_id: int, model: Any = None,
               input: Any = None) -> Generator[SideDelta | Compared, None, None]:
        """Check and reserve first (every refusal raises before a byte is sent: NotFound,
        ValidationFailed, LlmUnavailable without a model, EmailNotConfirmed, QuotaExceeded), then
        yield SideDelta items of both sides interleaved as they arrive and finally Compared. When
        both sides fail, the first side's error is raised instead (nothing kept, unit given back)."""
        run = self._start(actor, record_id, model, input)
        return self._run(run)

    def _start(self, actor: Actor, record_id: int, model: Any, input: Any) -> _Run:
        with self._uow() as uow:
            record = uow.prompts.get(actor.user_id, record_id)
        require_change(actor, record.user_id if record is not None else None, NOT_FOUND)
        if record.status is not RecordStatus.SUCCEEDED or not (record.generated_prompt or "").strip():
            raise NotFound(NOT_FOUND)
        if not self._answerer.can_answer:
            raise LlmUnavailable(NEEDS_MODEL)
        extra = clean_input(input)
        chosen = self.default_model(record) if model is None or model == "" else _pick_model(self._models, model)
        if chosen is None:
            raise LlmUnavailable()
        requests = {
            "a": AnswerRequest(with_input(record.original_prompt, extra), chosen),
            "b": AnswerRequest(with_input(record.generated_prompt or "", extra), chosen),
        }
        reservation = self._quota.reserve(actor, UnitSource.COMPARISON,
                                          lambda uow, now: record.id)
        return _Run(actor, record, chosen, extra, requests, reservation)

    def _answer(self, side: str, request: AnswerRequest, events: "queue.Queue[tuple[str, Any]]") -> None:
        """One side, in its own thread: deltas onto the queue as they come, then its Side (and the
        error that failed it, if any)."""
        started = time.perf_counter()
        parts: list[str] = []
        outcome: tuple[Side, BaseException | None] | None = None
        try:
            result: ModelAnswer | None = None
            for item in self._answerer.answer_stream(request):
                if isinstance(item, ModelAnswer):
                    result = item
                    continue
                if item:
                    parts.append(item)
                    events.put((side, item))
            if result is None:
                raise LlmUnavailable("The model's answer ended early.")
            usage = dict(result.usage or {})
            if result.cost is not None:
                usage.setdefault("cost", result.cost)
            outcome = (Side(SideStatus.SUCCEEDED, result.text, result.model, None, _ms(started), usage or None), None)
        except BaseException as exc:  # noqa: BLE001 - any failure fails this side only
            if not isinstance(exc, PromptcoreError):
                log.error("answering side %s failed unexpectedly: %s", side, type(exc).__name__)
            outcome = (Side(SideStatus.FAILED, "".join(parts).strip(), request.model, _error_slug(exc), _ms(started)),
                       exc)
        finally:
            if outcome is None:  # pragma: no cover - both branches above set it
                outcome = (Side(SideStatus.FAILED, "".join(parts).strip(), request.model, "UnexpectedError",
                                _ms(started)), LlmUnavailable())
            events.put((side, outcome))

    def _run(self, run: _Run) -> Generator[SideDelta | Compared, None, None]:
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        for side in SIDES:
            threading.Thread(target=self._answer, args=(side, run.requests[side], events), daemon=True,
                             name=f"compare-{side}").start()
        outcomes: dict[str, tuple[Side, BaseException | None]] = {}
        gone = False  # the consumer closed us: nothing more may be yielded
        deadline = time.monotonic() + self._wait
        try:
            while len(outcomes) < len(SIDES):
                try:
                    side, item = events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    log.error("comparison of record %s: a side did not finish in %.0fs", run.record.id, self._wait)
                    for name in SIDES:
                        outcomes.setdefault(name, (Side(SideStatus.FAILED, "", run.model, "LlmUnavailable"),
                                                   LlmUnavailable()))
                    break
                if isinstance(item, tuple):
                    outcomes[side] = item
                    continue
                if gone:
                    continue
                try:
                    yield SideDelta(side, item)
                except GeneratorExit:
                    gone = True  # keep reading: both calls are under way and are settled whole
        except BaseException:
            # Not a failure of a side (those arrive as outcomes): give the unit back and stop.
            self._release_quietly(run)
            raise
        if gone:  # closing must end quietly; a failure to record is logged
            try:
                self._settle(run, outcomes)
            except Exception:
                log.exception("could not settle the comparison of record %s", run.record.id)
            return
        compared = self._settle(run, outcomes)
        if compared is None:
            _reraise(outcomes["a"][1] or outcomes["b"][1] or LlmUnavailable())
        yield compared

    def _settle(self, run: _Run, outcomes: dict[str, tuple[Side, BaseException | None]]) -> Compared | None:
        """Keep what was answered with the record and spend the unit only if both sides answered,
        in one transaction. None when both failed (nothing kept)."""
        a, b = outcomes["a"][0], outcomes["b"][0]
        comparison = Comparison(record_id=run.record.id, user_id=run.actor.user_id, model=run.model, input=run.input,
                                a=a, b=b, created_at=self._clock.now())
        answered = a.succeeded or b.succeeded
        with self._uow() as uow:
            # the record may have been deleted meanwhile: its answers then go with its texts
            if answered and uow.prompts.get(run.actor.user_id, run.record.id) is not None:
                uow.comparisons.put(comparison)
            if comparison.whole:
                self._quota.keep(run.reservation, uow)
            else:
                self._quota.release(run.reservation, uow)
            uow.commit()
        if not answered:
            return None
        quota = run.reservation.quota if comparison.whole else self._quota.status(run.actor)
        return Compared(comparison, quota)

    def _release_quietly(self, run: _Run) -> None:
        try:
            self._quota.release(run.reservation)
        except Exception:  # the reservation then simply goes stale
            log.exception("could not give back the unit of the comparison of record %s", run.record.id)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


__all__ = ["Compare", "Compared", "SideDelta"]
