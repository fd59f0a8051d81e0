"""Repositories: SQL statements in, domain objects out. They never commit."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterator

from sqlalchemy import Connection, and_, delete, func, insert, null, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from promptcore.domain.prompts import PromptRecord, RecordStatus, Style
from promptcore.domain.users import Role, User, UserSettings
from promptcore.ports import (
    DuplicateEmail,
    LoginFailureRepository,
    MailMessage,
    MailRequest,
    MailRequestRepository,
    Outbox,
    OutboxItem,
    PromptRepository,
    RefreshTokenRepository,
    RefreshTokenRow,
    StyleRepository,
    UserRepository,
)

from . import tables as t


def _user(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        password_hash=row.password_hash,
        name=row.name,
        is_email_confirmed=bool(row.is_email_confirmed),
        role=Role(row.role),
        is_active=bool(row.is_active),
        daily_limit=row.daily_limit,
        settings=UserSettings.from_dict(row.settings),
        created_at=row.created_at,
        updated_at=row.updated_at,
        security_stamp=row.security_stamp,
        session_generation=int(row.session_generation or 0),
    )


def _user_values(user: User) -> dict[str, Any]:
    return {
        "email": user.email,
        "password_hash": user.password_hash,
        "name": user.name,
        "is_email_confirmed": user.is_email_confirmed,
        "role": user.role.value,
        "is_active": user.is_active,
        "daily_limit": user.daily_limit,
        "settings": user.settings.to_dict(),
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "security_stamp": user.security_stamp,
        "session_generation": user.session_generation,
    }


class SqlUserRepository(UserRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, user: User) -> User:
        try:
            with self._c.begin_nested():
                new_id = self._c.execute(insert(t.users).values(_user_values(user))).inserted_primary_key[0]
        except IntegrityError:
            raise DuplicateEmail(user.email) from None
        user.id = int(new_id)
        return user

    def get(self, user_id: int) -> User | None:
        row = self._c.execute(select(t.users).where(t.users.c.id == user_id)).first()
        return _user(row) if row else None

    def get_by_email(self, email: str) -> User | None:
        row = self._c.execute(select(t.users).where(t.users.c.email == email)).first()
        return _user(row) if row else None

    def lock(self, user_id: int) -> User | None:
        row = self._c.execute(select(t.users).where(t.users.c.id == user_id).with_for_update()).first()
        return _user(row) if row else None

    def update(self, user: User) -> None:
        try:
            with self._c.begin_nested():
                self._c.execute(update(t.users).where(t.users.c.id == user.id).values(_user_values(user)))
        except IntegrityError:
            raise DuplicateEmail(user.email) from None

    def delete(self, user_id: int) -> None:
        self._c.execute(delete(t.users).where(t.users.c.id == user_id))

    def search(self, query: str | None, after_id: int | None, limit: int) -> list[User]:
        stmt = select(t.users).order_by(t.users.c.id).limit(limit)
        if query:
            pattern = "%" + _escape_like(query.lower()) + "%"
            stmt = stmt.where(or_(t.users.c.email.like(pattern, escape="\\"),
                                  func.lower(t.users.c.name).like(pattern, escape="\\")))
        if after_id is not None:
            stmt = stmt.where(t.users.c.id > after_id)
        return [_user(r) for r in self._c.execute(stmt)]


class SqlRefreshTokenRepository(RefreshTokenRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, user_id: int, family_id: str, token_hash: str, expires_at: datetime, now: datetime) -> None:
        self._c.execute(insert(t.refresh_tokens).values(
            user_id=user_id, family_id=family_id, token_hash=token_hash, created_at=now, expires_at=expires_at))

    def get_by_hash(self, token_hash: str) -> RefreshTokenRow | None:
        rt = t.refresh_tokens
        row = self._c.execute(select(rt).where(rt.c.token_hash == token_hash)).first()
        if row is None:
            return None
        return RefreshTokenRow(row.id, row.user_id, row.family_id, row.expires_at, row.used_at, row.revoked_at)

    def mark_used(self, token_id: int, now: datetime) -> bool:
        rt = t.refresh_tokens
        result = self._c.execute(update(rt).where(
            rt.c.id == token_id, rt.c.used_at.is_(None), rt.c.revoked_at.is_(None)).values(used_at=now))
        return result.rowcount == 1

    def revoke_family(self, family_id: str, now: datetime) -> None:
        rt = t.refresh_tokens
        self._c.execute(update(rt).where(rt.c.family_id == family_id, rt.c.revoked_at.is_(None))
                        .values(revoked_at=now))

    def revoke_user(self, user_id: int, now: datetime) -> None:
        rt = t.refresh_tokens
        self._c.execute(update(rt).where(rt.c.user_id == user_id, rt.c.revoked_at.is_(None))
                        .values(revoked_at=now))


class SqlLoginFailureRepository(LoginFailureRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def lock(self, key: str) -> None:
        # SQLite transactions start with BEGIN IMMEDIATE and are serialised already.
        if self._c.dialect.name == "postgresql":
            self._c.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _advisory_key("login", key)})

    def record(self, key: str, at: datetime) -> int:
        return int(self._c.execute(insert(t.login_failures).values(account_key=key, failed_at=at))
                   .inserted_primary_key[0])

    def remove(self, failure_id: int) -> None:
        self._c.execute(delete(t.login_failures).where(t.login_failures.c.id == failure_id))

    def since(self, key: str, since: datetime) -> list[datetime]:
        lf = t.login_failures
        rows = self._c.execute(select(lf.c.failed_at).where(lf.c.account_key == key, lf.c.failed_at >= since))
        return [r.failed_at for r in rows]

    def clear(self, key: str) -> None:
        self._c.execute(delete(t.login_failures).where(t.login_failures.c.account_key == key))


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
        return [OutboxItem(r.id, MailMessage(r.to_addr, r.subject, r.text_body, r.html_body), r.attempts + 1)
                for r in rows]

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


def _advisory_key(scope: str, key: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory locks."""
    return int.from_bytes(hashlib.sha256(f"{scope}:{key}".encode()).digest()[:8], "big", signed=True)


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
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# What deleting a record erases. Only user_id, status, created_at and style stay (with id and
# deleted_at): the quota and the stats need them; original_prompt is NOT NULL, hence ''.
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
            usage=record.usage, error=record.error, created_at=record.created_at,
        )).inserted_primary_key[0]
        record.id = int(new_id)
        return record

    def get(self, user_id: int, record_id: int) -> PromptRecord | None:
        pr = t.prompt_requests
        row = self._c.execute(select(pr).where(
            pr.c.id == record_id, pr.c.user_id == user_id, pr.c.deleted_at.is_(None))).first()
        return _record(row) if row else None

    def finish(self, record: PromptRecord) -> None:
        pr = t.prompt_requests
        done = self._c.execute(update(pr).where(pr.c.id == record.id, pr.c.deleted_at.is_(None)).values(
            status=record.status.value, generated_prompt=record.generated_prompt, model=record.model,
            latency_ms=record.latency_ms, usage=record.usage, error=record.error))
        if done.rowcount == 0:  # deleted while generating: only the status, which the quota needs
            self._c.execute(update(pr).where(pr.c.id == record.id).values(status=record.status.value))

    def quota_usage(self, user_id: int, since: datetime, stale_before: datetime,
                    limit: int) -> tuple[int, datetime | None]:
        if limit <= 0:
            return 0, None
        pr = t.prompt_requests
        counted = or_(pr.c.status == RecordStatus.SUCCEEDED.value,
                      and_(pr.c.status == RecordStatus.PENDING.value, pr.c.created_at >= stale_before))
        newest = (select(pr.c.created_at).where(pr.c.user_id == user_id, pr.c.created_at >= since, counted)
                  .order_by(pr.c.created_at.desc()).limit(limit).subquery())
        used, oldest = self._c.execute(select(func.count(), func.min(newest.c.created_at))).one()
        return int(used), oldest

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
            pattern = "%" + _escape_like(query.lower()) + "%"
            stmt = stmt.where(or_(func.lower(pr.c.original_prompt).like(pattern, escape="\\"),
                                  func.lower(pr.c.generated_prompt).like(pattern, escape="\\")))
        if cursor is not None:
            created, rid = cursor
            stmt = stmt.where(or_(pr.c.created_at < created, and_(pr.c.created_at == created, pr.c.id < rid)))
        stmt = stmt.order_by(pr.c.created_at.desc(), pr.c.id.desc()).limit(limit)
        return [_record(r) for r in self._c.execute(stmt)]

    def all_for_export(self, user_id: int) -> Iterator[PromptRecord]:
        pr = t.prompt_requests
        stmt = (select(pr).where(pr.c.user_id == user_id, pr.c.deleted_at.is_(None),
                                 pr.c.status == RecordStatus.SUCCEEDED.value)
                .order_by(pr.c.created_at.desc(), pr.c.id.desc()))
        for row in self._c.execute(stmt):
            yield _record(row)

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
