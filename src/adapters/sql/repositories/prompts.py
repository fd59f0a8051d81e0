"""Styles and prompt records (history, stats counters). The quota is the ledger's (quota.py)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import Connection, and_, func, insert, null, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from promptcore.domain.prompts import PromptRecord, RecordStatus, Style
from promptcore.ports import (
    PromptRepository,
    StyleRepository,
)

from .. import tables as t
from .common import escape_like, lower


def _style(row: Any) -> Style:
    return Style(
        slug=row.slug,
        title={"en": row.title_en, "ru": row.title_ru},
        description={"en": row.description_en, "ru": row.description_ru},
        instructions=row.instructions,
        position=row.position,
    )


class SqlStyleRepository(StyleRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def list(self) -> list[Style]:
        ps = t.prompt_styles
        return [_style(r) for r in self._c.execute(select(ps).order_by(ps.c.position, ps.c.slug))]

    def get(self, slug: str) -> Style | None:
        row = self._c.execute(select(t.prompt_styles).where(t.prompt_styles.c.slug == slug)).first()
        return _style(row) if row else None


def _record(row: Any) -> PromptRecord:
    return PromptRecord(
        id=row.id,
        user_id=row.user_id,
        original_prompt=row.original_prompt,
        style=row.style,
        model=row.model,
        status=RecordStatus(row.status),
        generated_prompt=row.generated_prompt,
        parent_id=row.parent_id,
        feedback=row.feedback,
        latency_ms=row.latency_ms,
        usage=row.usage,
        error=row.error,
        created_at=row.created_at,
        source=row.source,
    )


# What deleting a record erases. Only user_id, status, created_at and style stay (with id and
# deleted_at): the stats and the history's own bookkeeping need them (the quota lives in its own ledger);
# original_prompt is NOT NULL, hence ''.
DELETED_RECORD_BLANKS: dict[str, Any] = {
    "original_prompt": "", "generated_prompt": None, "feedback": None, "usage": null(), "error": None,
    "model": None, "latency_ms": None, "parent_id": None,
}


class SqlPromptRepository(PromptRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, record: PromptRecord) -> PromptRecord:
        pr = t.prompt_requests
        new_id = self._c.execute(insert(pr).values(
            user_id=record.user_id, original_prompt=record.original_prompt, style=record.style,
            model=record.model, status=record.status.value, generated_prompt=record.generated_prompt,
            parent_id=record.parent_id, feedback=record.feedback, latency_ms=record.latency_ms,
            usage=record.usage, error=record.error, created_at=record.created_at, source=record.source,
        )).inserted_primary_key[0]
        record.id = int(new_id)
        return record

    def get(self, user_id: int, record_id: int) -> PromptRecord | None:
        pr = t.prompt_requests
        row = self._c.execute(select(pr).where(
            pr.c.id == record_id, pr.c.user_id == user_id, pr.c.deleted_at.is_(None))).first()
        return _record(row) if row else None

    def same_texts(self, user_id: int, created_at: list[datetime]) -> set[tuple[datetime, str, str | None]]:
        pr = t.prompt_requests
        instants = list(dict.fromkeys(created_at))
        found: set[tuple[datetime, str, str | None]] = set()
        for start in range(0, len(instants), 500):  # bounded IN lists
            found.update((row.created_at, row.original_prompt, row.generated_prompt) for row in self._c.execute(
                select(pr.c.created_at, pr.c.original_prompt, pr.c.generated_prompt).where(
                    pr.c.user_id == user_id, pr.c.deleted_at.is_(None),
                    pr.c.created_at.in_(instants[start:start + 500]))))
        return found

    def finish(self, record: PromptRecord) -> None:
        pr = t.prompt_requests
        done = self._c.execute(update(pr).where(pr.c.id == record.id, pr.c.deleted_at.is_(None)).values(
            status=record.status.value, generated_prompt=record.generated_prompt, model=record.model,
            latency_ms=record.latency_ms, usage=record.usage, error=record.error))
        if done.rowcount == 0:  # deleted while generating: only the status, no text comes back
            self._c.execute(update(pr).where(pr.c.id == record.id).values(status=record.status.value))

    def count_success(self, user_id: int, at: datetime, style: str) -> None:
        uc = t.usage_counters
        values = {"user_id": user_id, "day": at.astimezone(timezone.utc).date(), "style": style, "count": 1}
        if self._c.dialect.name == "postgresql":
            stmt = pg_insert(uc).values(values)
        else:
            stmt = sqlite_insert(uc).values(values)
        stmt = stmt.on_conflict_do_update(index_elements=["user_id", "day", "style"],
                                          set_={"count": uc.c.count + 1})
        self._c.execute(stmt)

    def page(self, user_id: int, limit: int, cursor: tuple[datetime, int] | None,
             style: str | None, query: str | None) -> list[PromptRecord]:
        pr = t.prompt_requests
        stmt = select(pr).where(pr.c.user_id == user_id, pr.c.deleted_at.is_(None),
                                pr.c.status == RecordStatus.SUCCEEDED.value)
        if style:
            stmt = stmt.where(pr.c.style == style)
        if query:
            pattern = "%" + escape_like(query.lower()) + "%"
            if self._c.dialect.name == "postgresql" and t.HISTORY_SEARCH_SEPARATOR not in pattern:
                # Both texts as one, joined by a character the words do not hold: a match in it is
                # a match in one of the two, and the trigram index of migration 0014 answers it.
                stmt = stmt.where(t.history_search_text.like(pattern, escape="\\"))
            else:  # SQLite has no trigram index
                stmt = stmt.where(or_(lower(self._c, pr.c.original_prompt).like(pattern, escape="\\"),
                                      lower(self._c, pr.c.generated_prompt).like(pattern, escape="\\")))
        if cursor is not None:
            created, rid = cursor
            stmt = stmt.where(or_(pr.c.created_at < created, and_(pr.c.created_at == created, pr.c.id < rid)))
        stmt = stmt.order_by(pr.c.created_at.desc(), pr.c.id.desc()).limit(limit)
        return [_record(r) for r in self._c.execute(stmt)]

    def soft_delete(self, user_id: int, record_id: int, now: datetime) -> bool:
        pr = t.prompt_requests
        result = self._c.execute(update(pr).where(
            pr.c.id == record_id, pr.c.user_id == user_id, pr.c.deleted_at.is_(None)).values(
            deleted_at=now, **DELETED_RECORD_BLANKS))
        return result.rowcount == 1

    def stats(self, user_id: int, since_day: datetime) -> tuple[int, dict[str, int], dict[str, int]]:
        uc = t.usage_counters
        by_style = {r.style: int(r.n) for r in self._c.execute(
            select(uc.c.style, func.sum(uc.c.count).label("n")).where(uc.c.user_id == user_id).group_by(uc.c.style))}
        by_day = {(r.day.isoformat() if isinstance(r.day, date) else str(r.day)): int(r.n) for r in self._c.execute(
            select(uc.c.day, func.sum(uc.c.count).label("n"))
            .where(uc.c.user_id == user_id, uc.c.day >= since_day.date()).group_by(uc.c.day))}
        return sum(by_style.values()), by_style, by_day
