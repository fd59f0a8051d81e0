"""Prompt improvement with an atomic daily quota, iteration, history and stats (SPEC §6)."""

from __future__ import annotations

import base64
import binascii
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Generator, Iterator

from ..domain.errors import (
    EmailNotConfirmed,
    LlmUnavailable,
    NotFound,
    PromptcoreError,
    QuotaExceeded,
    ValidationFailed,
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
from ..domain.quota import QuotaPolicy, QuotaStatus
from ..domain.users import User
from ..ports import Clock, PromptImprover, StyleRepository, UnitOfWork

log = logging.getLogger(__name__)

HISTORY_MAX_PAGE = 100
STATS_DAYS = 30


@dataclass(frozen=True)
class Generated:
    record: PromptRecord
    quota: QuotaStatus


@dataclass(frozen=True)
class Stats:
    quota: QuotaStatus
    total: int
    by_style: dict[str, int]
    by_day: list[tuple[str, int]]


def encode_cursor(record: PromptRecord) -> str:
    raw = f"{record.created_at.isoformat()}|{record.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, rid = raw.partition("|")
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment.astimezone(timezone.utc), int(rid)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ValidationFailed.on("cursor", "The cursor is not valid; start from the first page.") from None


class StyleCatalogue:
    """The styles, read from storage and kept for a minute (they change only by migration)."""

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock, ttl: timedelta = timedelta(seconds=60)) -> None:
        self._uow = uow
        self._clock = clock
        self._ttl = ttl
        self._cached: tuple[datetime, list[Style]] | None = None

    def list(self) -> list[Style]:
        now = self._clock.now()
        if self._cached is None or now - self._cached[0] > self._ttl:
            with self._uow() as uow:
                self._cached = (now, uow.styles.list())
        return self._cached[1]

    def get(self, slug: str) -> Style | None:
        return next((s for s in self.list() if s.slug == slug), None)

    def slugs(self) -> frozenset[str]:
        return frozenset(s.slug for s in self.list())


class StaticStyles(StyleRepository):
    """A fixed list of styles, for using the core without a database."""

    def __init__(self, styles: list[Style] | tuple[Style, ...]) -> None:
        self._styles = list(styles)

    def list(self) -> list[Style]:
        return list(self._styles)

    def get(self, slug: str) -> Style | None:
        return next((s for s in self._styles if s.slug == slug), None)

    def slugs(self) -> frozenset[str]:
        return frozenset(s.slug for s in self._styles)


def _pick_style(styles: StyleRepository | StyleCatalogue, slug: Any) -> Style:
    style = styles.get(slug) if isinstance(slug, str) else None
    if style is None:
        known = ", ".join(s.slug for s in styles.list())
        raise ValidationFailed.on("style", f"Unknown style; choose one of: {known}.")
    return style


def _pick_model(models: tuple[str, ...], model: Any) -> str | None:
    if model is None or model == "":
        return models[0] if models else None
    if model not in models:
        raise ValidationFailed.on("model", "This model is not offered; choose one of: " + ", ".join(models) + ".")
    return model


def improve_once(improver: PromptImprover, styles: StyleRepository | StyleCatalogue, prompt: str,
                 style: str = "general", model: str | None = None, max_chars: int = 8000) -> Improvement:
    """One improvement with no account and no quota (library and CLI use)."""
    request = ImprovementRequest(prompt=clean_prompt(prompt, max_chars), style=_pick_style(styles, style),
                                 model=model)
    return improver.improve(request)


class Prompts:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        improver: PromptImprover,
        catalogue: StyleCatalogue,
        clock: Clock,
        policy: QuotaPolicy,
        models: tuple[str, ...],
        max_chars: int,
        on_quota_exceeded: Callable[[], None] | None = None,
    ) -> None:
        self._on_quota_exceeded = on_quota_exceeded
        self._uow = uow
        self._improver = improver
        self._catalogue = catalogue
        self._clock = clock
        self._policy = policy
        self._models = models
        self._max_chars = max_chars

    @property
    def models(self) -> tuple[str, ...]:
        return self._models

    # -- quota -----------------------------------------------------------------------------

    def _usage(self, uow: UnitOfWork, user: User, now: datetime) -> tuple[int, datetime | None]:
        return uow.prompts.quota_usage(user.id, self._policy.window_start(now),
                                       self._policy.stale_before(now), max(user.daily_limit, 0))

    def _quota(self, uow: UnitOfWork, user: User, now: datetime) -> QuotaStatus:
        used, oldest = self._usage(uow, user, now)
        return self._policy.status_of(user.daily_limit, used, oldest, now)

    def quota(self, user: User) -> QuotaStatus:
        with self._uow() as uow:
            return self._quota(uow, user, self._clock.now())

    # -- improving -------------------------------------------------------------------------

    def _prepare(self, user: User, prompt: Any, style: Any, model: Any, parent_id: Any,
                 feedback: Any) -> tuple[ImprovementRequest, PromptRecord]:
        if not user.is_email_confirmed:
            raise EmailNotConfirmed()
        chosen_style = _pick_style(self._catalogue, style)
        chosen_model = _pick_model(self._models, model)
        feedback = clean_feedback(feedback)
        previous = None
        if parent_id is not None:
            with self._uow() as uow:
                parent = uow.prompts.get(user.id, parent_id)
            if parent is None or parent.status is not RecordStatus.SUCCEEDED:
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
        record = PromptRecord(user_id=user.id, original_prompt=text, style=chosen_style.slug, model=chosen_model,
                              parent_id=parent_id if previous is not None else None, feedback=feedback)
        return request, record

    def _reserve(self, user: User, record: PromptRecord) -> QuotaStatus:
        """Take one unit in its own committed transaction, before any upstream call; the
        quota with that unit counted."""
        with self._uow() as uow:
            locked = uow.users.lock(user.id)
            if locked is None or not locked.is_active:
                raise NotFound("The account no longer exists.")
            now = self._clock.now()
            used, oldest = self._usage(uow, locked, now)
            status = self._policy.status_of(locked.daily_limit, used, oldest, now)
            if status.exhausted:
                if self._on_quota_exceeded is not None:
                    self._on_quota_exceeded()
                raise QuotaExceeded(status, status.retry_after(now))
            record.created_at = now
            record.status = RecordStatus.PENDING
            uow.prompts.add(record)
            uow.commit()
        # with this unit counted: one more, and the oldest unless there was none
        return self._policy.status_of(locked.daily_limit, used + 1, oldest or now, now)

    def _finish(self, record: PromptRecord, started: float, result: Improvement | None,
                error: BaseException | None, produced: str | None = None) -> None:
        """Record the outcome: a complete answer; or, with ``produced``, the part of an answer
        that was already sent when the stream failed (the unit is spent, SPEC §7.1, and
        ``error`` says why it is incomplete); else a failure, which gives the unit back."""
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
        with self._uow() as uow:
            uow.prompts.finish(record)
            if record.status is RecordStatus.SUCCEEDED:
                uow.prompts.count_success(record.user_id, record.created_at, record.style)
            uow.commit()

    def improve(self, user: User, prompt: Any, style: Any, model: Any = None, parent_id: Any = None,
                feedback: Any = None) -> Generated:
        request, record = self._prepare(user, prompt, style, model, parent_id, feedback)
        quota = self._reserve(user, record)
        started = time.perf_counter()
        try:
            result = self._improver.improve(request)
        except BaseException as exc:
            self._release(record, started, exc)
            _reraise(exc)
        self._finish(record, started, result, None)
        return Generated(record, quota)

    def _release(self, record: PromptRecord, started: float, exc: BaseException) -> None:
        self._settle(record, started, None, exc)

    def _settle(self, record: PromptRecord, started: float, result: Improvement | None,
                exc: BaseException | None, produced: str | None = None) -> None:
        """_finish on a path that must not raise (a failure, or a client that left)."""
        try:
            self._finish(record, started, result, exc, produced)
        except Exception:  # the reservation then simply goes stale
            log.exception("could not record the outcome of request %s", record.id)

    def improve_stream(self, user: User, prompt: Any, style: Any, model: Any = None, parent_id: Any = None,
                       feedback: Any = None) -> Generator[str | Generated, None, None]:
        """Reserve first (errors raise before any byte is sent), then yield text deltas and
        finally the Generated result (SPEC §7.1). A failure before the first delta releases the
        unit and raises. Once a delta has been handed out the unit is spent, however the stream
        ends: a later upstream failure keeps what was produced and raises; a consumer that stops
        early (``close()``, as a WSGI server does when the client hangs up) makes the answer be
        read to its end, within the improver's deadline, and recorded whole."""
        request, record = self._prepare(user, prompt, style, model, parent_id, feedback)
        quota = self._reserve(user, record)
        return self._stream(request, record, quota)

    def _stream(self, request: ImprovementRequest, record: PromptRecord,
                quota: QuotaStatus) -> Generator[str | Generated, None, None]:
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
                self._settle(record, started, result, exc, "".join(produced))
            else:
                self._release(record, started, exc)
            if gone and isinstance(exc, Exception):
                return  # closing must end quietly; the failure is logged and recorded
            _reraise(exc)
        finally:
            close = getattr(upstream, "close", None)
            if close is not None:
                close()
        if gone:
            self._settle(record, started, result, None)
            return
        self._finish(record, started, result, None)
        yield Generated(record, quota)

    # -- history ---------------------------------------------------------------------------

    def history(self, user: User, limit: int = 20, cursor: str | None = None, style: str | None = None,
                query: str | None = None) -> tuple[list[PromptRecord], str | None]:
        limit = max(1, min(HISTORY_MAX_PAGE, limit))
        position = decode_cursor(cursor) if cursor else None
        query = query.strip() if query else None
        with self._uow() as uow:
            rows = uow.prompts.page(user.id, limit + 1, position, style or None, query or None)
        next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return rows[:limit], next_cursor

    def get(self, user: User, record_id: int) -> PromptRecord:
        with self._uow() as uow:
            record = uow.prompts.get(user.id, record_id)
        if record is None:
            raise NotFound("No such prompt in your history.")
        return record

    def delete(self, user: User, record_id: int) -> None:
        with self._uow() as uow:
            if not uow.prompts.soft_delete(user.id, record_id, self._clock.now()):
                raise NotFound("No such prompt in your history.")
            uow.commit()

    def export(self, user: User) -> Iterator[PromptRecord]:
        with self._uow() as uow:
            yield from uow.prompts.all_for_export(user.id)

    def stats(self, user: User) -> Stats:
        now = self._clock.now()
        today = now.date()
        first = today - timedelta(days=STATS_DAYS - 1)
        with self._uow() as uow:
            quota = self._quota(uow, user, now)
            total, by_style, by_day = uow.prompts.stats(
                user.id, datetime(first.year, first.month, first.day, tzinfo=timezone.utc))
        days = [(first + timedelta(days=i)).isoformat() for i in range(STATS_DAYS)]
        return Stats(quota, total, by_style, [(d, by_day.get(d, 0)) for d in days])


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
