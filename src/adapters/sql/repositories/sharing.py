"""Records shared with a team (SPEC §14), and the team's feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from promptcore.domain.teams import SharedRecord
from promptcore.ports.sharing import SharedRecordRepository

from .. import tables as t

__all__ = ["SqlSharedRecordRepository"]


def _shared(row: Any) -> SharedRecord:
    return SharedRecord(team_id=row.team_id, record_id=row.record_id, shared_by=row.shared_by, shared_at=row.shared_at,
                        original_prompt=row.original_prompt, generated_prompt=row.generated_prompt, style=row.style,
                        model=row.model, created_at=row.created_at, author_id=row.user_id,
                        author_name=row.name or row.email)


class SqlSharedRecordRepository(SharedRecordRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def team_of(self, record_id: int) -> SharedRecord | None:
        sr = t.shared_records
        row = self._c.execute(select(sr).where(sr.c.record_id == record_id)).first()
        return SharedRecord(team_id=row.team_id, record_id=row.record_id, shared_by=row.shared_by,
                            shared_at=row.shared_at) if row else None

    def share(self, record_id: int, team_id: int, shared_by: int, at: datetime) -> None:
        sr = t.shared_records
        values = {"team_id": team_id, "shared_by": shared_by, "shared_at": at}
        if self._c.execute(update(sr).where(sr.c.record_id == record_id).values(**values)).rowcount:
            return
        try:  # not shared yet; a concurrent share may insert first: then ours is an update after all
            with self._c.begin_nested():
                self._c.execute(insert(sr).values(record_id=record_id, **values))
        except IntegrityError:
            self._c.execute(update(sr).where(sr.c.record_id == record_id).values(**values))

    def unshare(self, record_id: int) -> bool:
        sr = t.shared_records
        return self._c.execute(delete(sr).where(sr.c.record_id == record_id)).rowcount > 0

    def _select(self, team_id: int) -> Any:
        sr, pr, u = t.shared_records, t.prompt_requests, t.users
        return (select(sr.c.team_id, sr.c.record_id, sr.c.shared_by, sr.c.shared_at, pr.c.original_prompt,
                       pr.c.generated_prompt, pr.c.style, pr.c.model, pr.c.created_at, pr.c.user_id, u.c.name,
                       u.c.email)
                .join(pr, pr.c.id == sr.c.record_id).join(u, u.c.id == pr.c.user_id)
                .where(sr.c.team_id == team_id, pr.c.deleted_at.is_(None)))

    def feed(self, team_id: int, limit: int, cursor: tuple[datetime, int] | None = None) -> list[SharedRecord]:
        sr = t.shared_records
        stmt = self._select(team_id)
        if cursor is not None:
            at, last = cursor
            stmt = stmt.where(or_(sr.c.shared_at < at, and_(sr.c.shared_at == at, sr.c.record_id < last)))
        rows = self._c.execute(stmt.order_by(sr.c.shared_at.desc(), sr.c.record_id.desc()).limit(limit))
        return [_shared(row) for row in rows]

    def get(self, team_id: int, record_id: int) -> SharedRecord | None:
        row = self._c.execute(self._select(team_id).where(t.shared_records.c.record_id == record_id)).first()
        return _shared(row) if row else None
