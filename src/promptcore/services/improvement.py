"""Prompt improvement (SPEC §6): one improvement with no account, and the Prompts use case that
improves, iterates and streams for a user, spending a unit of their daily quota on each.

The quota lives in quota.py, history and stats in history.py, the styles in styles.py.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterator

from ..domain.access import Actor, require_read
from ..domain.errors import (
    LlmUnavailable,
    NotFound,
    PromptcoreError,
    ValidationFailed,
    VariablesChanged,
)
from ..domain.prompts import (
    Improvement,
    ImprovementRequest,
    PromptRecord,
    RecordStatus,
    Style,
    clean_feedback,
    clean_prompt,
)
from ..domain.quota import QuotaStatus
from ..domain.templates import find_variables
from ..ports import Clock, GenerationSteps, PromptImprover, StyleRepository, UnitOfWork
from .history import History, Stats
from .quota import Quota, Reservation
from .styles import StyleCatalogue, pick_style

if TYPE_CHECKING:
    from .custom_styles import CustomStyles

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generated:
    record: PromptRecord
    quota: QuotaStatus


def _pick_model(models: tuple[str, ...], model: Any) -> str | None:
    if model is None or model == "":
        return models[0] if models else None
    if model not in models:
        raise ValidationFailed.on("model", "This model is not offered; choose one of: " + ", ".join(models) + ".")
    return model


def improve_once(improver: PromptImprover, styles: StyleRepository | StyleCatalogue, prompt: str,
                 style: str = "general", model: str | None = None, max_chars: int = 8000) -> Improvement:
    """One improvement with no account and no quota (library and CLI use)."""
    request = ImprovementRequest(prompt=clean_prompt(prompt, max_chars), style=pick_style(styles, style),
                                 model=model)
    return improver.improve(request)


class Prompts:
    """Improving for a user. Also answers, for the entrypoints, the user's quota and history by
    handing them to the Quota and History use cases."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        improver: PromptImprover,
        catalogue: StyleCatalogue,
        clock: Clock,
        quota: Quota,
        models: tuple[str, ...],
        max_chars: int,
        history: History | None = None,
        custom_styles: "CustomStyles | None" = None,
        steps: GenerationSteps | None = None,
    ) -> None:
        self._uow = uow
        self._steps = steps
        self._improver = improver
        self._catalogue = catalogue
        self._clock = clock
        self._quota = quota
        self._history = history if history is not None else History(uow, clock, quota)
        self._models = models
        self._max_chars = max_chars
        self._custom_styles = custom_styles

    @property
    def models(self) -> tuple[str, ...]:
        return self._models

    @property
    def checks_tokens_when_reserving(self) -> bool:
        """The reservation runs in one step that also checks an actor's unchecked access token
        (GenerationSteps), so the entrypoint need not read the account first."""
        return self._steps is not None

    # -- quota and history (quota.py, history.py) -------------------------------------------

    def quota(self, actor: Actor) -> QuotaStatus:
        return self._quota.status(actor)

    def history(self, actor: Actor, limit: int = 20, cursor: str | None = None, style: str | None = None,
                query: str | None = None) -> tuple[list[PromptRecord], str | None]:
        return self._history.page(actor, limit, cursor, style, query)

    def get(self, actor: Actor, record_id: int) -> PromptRecord:
        return self._history.get(actor, record_id)

    def delete(self, actor: Actor, record_id: int) -> None:
        self._history.delete(actor, record_id)

    def stats(self, actor: Actor) -> Stats:
        return self._history.stats(actor)

    # -- improving -------------------------------------------------------------------------

    def style_for(self, actor: Actor, style: Any) -> Style:
        """A built-in style by slug, or one of the actor's custom styles as ``custom:<id>``
        (another user's: NotFound)."""
        if self._custom_styles is not None:
            custom = self._custom_styles.style_for(actor, style)
            if custom is not None:
                return custom
        return pick_style(self._catalogue, style)

    def _prepare(self, actor: Actor, prompt: Any, style: Any, model: Any, parent_id: Any,
                 feedback: Any) -> tuple[ImprovementRequest, PromptRecord]:
        chosen_style = self.style_for(actor, style)
        chosen_model = _pick_model(self._models, model)
        feedback = clean_feedback(feedback)
        previous = None
        if parent_id is not None:
            with self._uow() as uow:
                parent = uow.prompts.get(actor.user_id, parent_id)
            require_read(actor, parent.user_id if parent is not None else None,
                         "The version to iterate on was not found.")
            if parent.status is not RecordStatus.SUCCEEDED:
                raise NotFound("The version to iterate on was not found.")
            previous = parent.generated_prompt
            if prompt is None or (isinstance(prompt, str) and not prompt.strip()):
                prompt = parent.original_prompt
            if feedback is None:
                raise ValidationFailed.on("feedback", "Say what to change in this version.")
        elif feedback is not None:
            raise ValidationFailed.on("parent_id", "Feedback needs the version it applies to (parent_id).")
        text = clean_prompt(prompt, self._max_chars)
        request = ImprovementRequest(prompt=text, style=chosen_style, model=chosen_model, previous=previous,
                                     feedback=feedback)
        record = PromptRecord(user_id=actor.user_id, original_prompt=text, style=chosen_style.slug, model=chosen_model,
                              parent_id=parent_id if previous is not None else None, feedback=feedback)
        return request, record

    def _reserve(self, actor: Actor, record: PromptRecord, team_id: int | None = None) -> Reservation:
        """Take one unit in its own committed transaction, before any upstream call, and write the
        pending history record in the same transaction as the unit's source. With ``team_id`` the
        unit comes from that team's pool (SPEC §14)."""
        return self._quota.reserve_generation(actor, record, team_id)

    def _finish(self, record: PromptRecord, reservation: Reservation, started: float, result: Improvement | None,
                error: BaseException | None, produced: str | None = None) -> None:
        """Record the outcome: a complete answer; or, with ``produced``, the part of an answer
        that was already sent when the stream failed (the unit is spent, SPEC §7.1, and
        ``error`` says why it is incomplete); else a failure, which gives the unit back. The
        record and the unit change in one transaction."""
        record.latency_ms = int((time.perf_counter() - started) * 1000)
        if result is not None:
            record.status = RecordStatus.SUCCEEDED
            record.generated_prompt = result.text
            record.model = result.model
            usage = dict(result.usage or {})
            if result.cost is not None:
                usage.setdefault("cost", result.cost)
            record.usage = usage or None
        elif produced is not None:
            record.status = RecordStatus.SUCCEEDED
            record.generated_prompt = produced.strip()
            record.error = _error_slug(error)
        else:
            record.status = RecordStatus.FAILED
            record.error = _error_slug(error)
        if self._steps is not None:
            self._steps.finish(record, reservation.unit_id)
            return
        with self._uow() as uow:
            uow.prompts.finish(record)
            if record.status is RecordStatus.SUCCEEDED:
                uow.prompts.count_success(record.user_id, record.created_at, record.style)
                self._quota.keep(reservation, uow)
            else:
                self._quota.release(reservation, uow)
            uow.commit()

    def improve(self, actor: Actor, prompt: Any, style: Any, model: Any = None, parent_id: Any = None,
                feedback: Any = None, team_id: int | None = None) -> Generated:
        request, record = self._prepare(actor, prompt, style, model, parent_id, feedback)
        reservation = self._reserve(actor, record, team_id)
        started = time.perf_counter()
        try:
            result = self._improver.improve(request)
        except BaseException as exc:
            self._release(record, reservation, started, exc)
            _reraise(exc)
        self._finish(record, reservation, started, result, None)
        return Generated(record, reservation.quota)

    def improve_keeping(self, actor: Actor, prompt: Any, style: Any, model: Any,
                        variables: tuple[str, ...], team_id: int | None = None) -> Generated:
        """Improve a template's body so that the result has exactly ``variables`` (SPEC §13.1):
        the improver is told so; an answer that drops or invents one is asked for once more, and a
        second such answer is VariablesChanged. One unit for the whole call, kept only when it
        succeeds; the record keeps the accepted answer."""
        request, record = self._prepare(actor, prompt, style, model, None, None)
        request = replace(request, keep_variables=tuple(variables))
        wanted = set(variables)
        reservation = self._reserve(actor, record, team_id)
        started = time.perf_counter()
        try:
            for attempt in (1, 2):
                result = self._improver.improve(request)
                found = find_variables(result.text)
                if set(found) == wanted:
                    break
                missing = [name for name in variables if name not in found]
                added = [name for name in found if name not in wanted]
                log.info("improved template lost %d and invented %d variables (attempt %d)", len(missing),
                         len(added), attempt)
            else:
                raise VariablesChanged(missing, added, "The improved template did not keep the same variables "
                                       f"(missing: {', '.join(missing) or 'none'}; new: {', '.join(added) or 'none'})"
                                       "; nothing was changed and no improvement was counted.")
        except BaseException as exc:
            self._release(record, reservation, started, exc)
            _reraise(exc)
        self._finish(record, reservation, started, result, None)
        return Generated(record, reservation.quota)

    def _release(self, record: PromptRecord, reservation: Reservation, started: float,
                 exc: BaseException) -> None:
        self._settle(record, reservation, started, None, exc)

    def _settle(self, record: PromptRecord, reservation: Reservation, started: float, result: Improvement | None,
                exc: BaseException | None, produced: str | None = None) -> None:
        """_finish on a path that must not raise (a failure, or a client that left)."""
        try:
            self._finish(record, reservation, started, result, exc, produced)
        except Exception:  # the reservation then simply goes stale
            log.exception("could not record the outcome of request %s", record.id)

    def improve_stream(self, actor: Actor, prompt: Any, style: Any, model: Any = None, parent_id: Any = None,
                       feedback: Any = None, team_id: int | None = None) -> Generator[str | Generated, None, None]:
        """Reserve first (errors raise before any byte is sent), then yield text deltas and
        finally the Generated result (SPEC §7.1). A failure before the first delta releases the
        unit and raises. Once a delta has been handed out the unit is spent, however the stream
        ends: a later upstream failure keeps what was produced and raises; a consumer that stops
        early (``close()``, as a WSGI server does when the client hangs up) makes the answer be
        read to its end, within the improver's deadline, and recorded whole."""
        request, record = self._prepare(actor, prompt, style, model, parent_id, feedback)
        reservation = self._reserve(actor, record, team_id)
        return self._stream(request, record, reservation)

    def _stream(self, request: ImprovementRequest, record: PromptRecord,
                reservation: Reservation) -> Generator[str | Generated, None, None]:
        started = time.perf_counter()
        result: Improvement | None = None
        produced: list[str] = []
        gone = False  # the consumer closed us: nothing more may be yielded
        upstream: Iterator[str | Improvement] | None = None
        try:
            upstream = iter(self._improver.stream(request))
            for item in upstream:
                if isinstance(item, Improvement):
                    result = item
                    continue
                produced.append(item)
                try:
                    yield item
                except GeneratorExit:
                    gone = True
                    break
            if gone:  # the upstream has answered and is paid for: read it to its end
                for item in upstream:
                    if isinstance(item, Improvement):
                        result = item
                    else:
                        produced.append(item)
            if result is None:
                raise LlmUnavailable("The model's answer ended early.")
        except BaseException as exc:
            if produced:  # output was sent: the unit is spent (SPEC §7.1)
                log.warning("stream of request %s broke off after output was sent (%s); the unit is kept",
                            record.id, type(exc).__name__)
                self._settle(record, reservation, started, result, exc, "".join(produced))
            else:
                self._release(record, reservation, started, exc)
            if gone and isinstance(exc, Exception):
                return  # closing must end quietly; the failure is logged and recorded
            _reraise(exc)
        finally:
            close = getattr(upstream, "close", None)
            if close is not None:
                close()
        if gone:
            self._settle(record, reservation, started, result, None)
            return
        self._finish(record, reservation, started, result, None)
        yield Generated(record, reservation.quota)


def _error_slug(error: BaseException | None) -> str:
    if isinstance(error, PromptcoreError):
        return type(error).__name__
    return "UnexpectedError"


def _reraise(exc: BaseException) -> None:
    """Core errors and interpreter exits pass through; anything else is an upstream failure."""
    if isinstance(exc, (PromptcoreError, GeneratorExit, KeyboardInterrupt, SystemExit)):
        raise exc
    log.error("improver failed unexpectedly: %s", type(exc).__name__)
    raise LlmUnavailable() from exc
