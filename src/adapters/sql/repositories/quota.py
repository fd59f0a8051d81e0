"""The quota ledger: units reserved, kept and released, and the usage the quota arithmetic needs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from promptcore.domain.quota import UnitSource, UnitStatus
from promptcore.ports import QuotaLedger

from .. import tables as t


class SqlQuotaLedger(QuotaLedger):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def reserve(self, user_id: int, at: datetime, source: UnitSource, source_id: int | None = None,
                team_id: int | None = None) -> int:
        new_id = self._c.execute(insert(t.quota_units).values(
            user_id=user_id, created_at=at, status=UnitStatus.PENDING.value, source_kind=source.value,
            source_id=source_id, team_id=team_id)).inserted_primary_key[0]
        return int(new_id)

    def keep(self, unit_id: int) -> None:
        qu = t.quota_units
        self._c.execute(update(qu).where(qu.c.id == unit_id, qu.c.status == UnitStatus.PENDING.value)
                        .values(status=UnitStatus.KEPT.value))

    def release(self, unit_id: int) -> None:
        qu = t.quota_units
        self._c.execute(delete(qu).where(qu.c.id == unit_id, qu.c.status == UnitStatus.PENDING.value))

    @staticmethod
    def _counted(stale_before: datetime) -> Any:
        qu = t.quota_units
        return or_(qu.c.status == UnitStatus.KEPT.value,
                   and_(qu.c.status == UnitStatus.PENDING.value, qu.c.created_at >= stale_before))

    def _newest(self, where: list[Any], limit: int) -> tuple[int, datetime | None]:
        if limit <= 0:
            return 0, None
        qu = t.quota_units
        newest = select(qu.c.created_at).where(*where).order_by(qu.c.created_at.desc()).limit(limit).subquery()
        used, oldest = self._c.execute(select(func.count(), func.min(newest.c.created_at))).one()
        return int(used), oldest

    def usage(self, user_id: int, since: datetime, stale_before: datetime,
              limit: int) -> tuple[int, datetime | None]:
        qu = t.quota_units
        return self._newest([qu.c.user_id == user_id, qu.c.team_id.is_(None), qu.c.created_at >= since,
                             self._counted(stale_before)], limit)

    def pool_usage(self, team_id: int, since: datetime, stale_before: datetime, limit: int,
                   user_id: int | None = None) -> tuple[int, datetime | None]:
        qu = t.quota_units
        where = [qu.c.team_id == team_id, qu.c.created_at >= since, self._counted(stale_before)]
        if user_id is not None:
            where.append(qu.c.user_id == user_id)
        return self._newest(where, limit)

    def pool_by_member(self, team_id: int, since: datetime, stale_before: datetime) -> dict[int, int]:
        qu = t.quota_units
        rows = self._c.execute(select(qu.c.user_id, func.count()).where(
            qu.c.team_id == team_id, qu.c.created_at >= since, self._counted(stale_before)).group_by(qu.c.user_id))
        return {int(user_id): int(n) for user_id, n in rows}
