"""The outbox and mail requests."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, func, insert, or_, select, update

from promptcore.ports import (
    MailMessage,
    MailRequest,
    MailRequestRepository,
    Outbox,
    OutboxItem,
)

from .. import tables as t


class SqlOutbox(Outbox):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, message: MailMessage, now: datetime) -> None:
        self._c.execute(insert(t.outbox).values(
            to_addr=message.to, subject=message.subject, text_body=message.text, html_body=message.html,
            kind=message.kind or None, created_at=now, attempts=0, next_attempt_at=now))

    def queued_since(self, to: str, kind: str, since: datetime) -> bool:
        ob = t.outbox
        return self._c.execute(select(ob.c.id).where(
            ob.c.to_addr == to, ob.c.kind == kind, ob.c.created_at >= since).limit(1)).first() is not None

    def claim(self, now: datetime, lease: timedelta, limit: int) -> list[OutboxItem]:
        ob = t.outbox
        due = (
            select(ob)
            .where(ob.c.sent_at.is_(None), ob.c.next_attempt_at <= now,
                   or_(ob.c.locked_until.is_(None), ob.c.locked_until < now))
            .order_by(ob.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = self._c.execute(due).all()
        if not rows:
            return []
        self._c.execute(update(ob).where(ob.c.id.in_([r.id for r in rows])).values(
            locked_until=now + lease, attempts=ob.c.attempts + 1))
        return [OutboxItem(r.id, MailMessage(r.to_addr, r.subject, r.text_body, r.html_body, r.kind or ""),
                           r.attempts + 1) for r in rows]

    def mark_sent(self, item_id: int, now: datetime) -> None:
        ob = t.outbox
        self._c.execute(update(ob).where(ob.c.id == item_id).values(sent_at=now, locked_until=None, last_error=None))

    def mark_failed(self, item_id: int, error: str, retry_at: datetime) -> None:
        ob = t.outbox
        self._c.execute(update(ob).where(ob.c.id == item_id).values(
            locked_until=None, next_attempt_at=retry_at, last_error=error[:500]))

    def pending_count(self) -> int:
        ob = t.outbox
        return int(self._c.execute(select(func.count()).select_from(ob).where(ob.c.sent_at.is_(None))).scalar_one())

    def recent(self, limit: int) -> list[tuple[MailMessage, datetime, datetime | None]]:
        ob = t.outbox
        rows = self._c.execute(select(ob).order_by(ob.c.id.desc()).limit(limit))
        return [(MailMessage(r.to_addr, r.subject, r.text_body, r.html_body, r.kind or ""), r.created_at, r.sent_at)
                for r in rows]


class SqlMailRequestRepository(MailRequestRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, kind: str, email: str, language: str, now: datetime) -> None:
        self._c.execute(insert(t.mail_requests).values(kind=kind, email=email, language=language, created_at=now))

    def claim(self, now: datetime, lease: timedelta, limit: int) -> list[MailRequest]:
        mr = t.mail_requests
        rows = self._c.execute(
            select(mr).where(mr.c.done_at.is_(None), or_(mr.c.locked_until.is_(None), mr.c.locked_until < now))
            .order_by(mr.c.id).limit(limit).with_for_update(skip_locked=True)).all()
        if rows:
            self._c.execute(update(mr).where(mr.c.id.in_([r.id for r in rows])).values(locked_until=now + lease))
        return [MailRequest(r.id, r.kind, r.email, r.language) for r in rows]

    def mark_done(self, request_id: int, now: datetime) -> None:
        mr = t.mail_requests
        self._c.execute(update(mr).where(mr.c.id == request_id).values(done_at=now, locked_until=None))
