"""Notifications sent: insert-or-skip under the unique (user, kind, period key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from promptcore.domain.notifications import SentNotification
from promptcore.ports import NotificationRepository

from .. import tables as t


class SqlNotificationRepository(NotificationRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def latest(self, user_id: int, kind: str) -> SentNotification | None:
        ns = t.notifications_sent
        row = self._c.execute(select(ns).where(ns.c.user_id == user_id, ns.c.kind == kind)
                              .order_by(ns.c.created_at.desc(), ns.c.id.desc()).limit(1)).first()
        if row is None:
            return None
        return SentNotification(id=row.id, user_id=row.user_id, kind=row.kind, period_key=row.period_key,
                                created_at=row.created_at)

    def add_once(self, user_id: int, kind: str, period_key: str, now: datetime) -> bool:
        values = {"user_id": user_id, "kind": kind, "period_key": period_key, "created_at": now}
        insert = pg_insert if self._c.dialect.name == "postgresql" else sqlite_insert
        ns = t.notifications_sent
        stmt = insert(ns).values(values).on_conflict_do_nothing(
            index_elements=["user_id", "kind", "period_key"]).returning(ns.c.id)
        return self._c.execute(stmt).first() is not None  # a row comes back only when inserted
