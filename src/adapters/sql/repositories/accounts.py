"""Users, refresh tokens and sign-in failures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from promptcore.domain.users import Role, User, UserSettings
from promptcore.ports import (
    DuplicateEmail,
    LoginFailureRepository,
    RefreshTokenRepository,
    RefreshTokenRow,
    UserRepository,
)

from .. import tables as t
from .common import advisory_key, escape_like, lower

# Read on every signed-in request: built once, so neither the statement nor its cache key is made
# again per call (SQLAlchemy memoizes a statement's cache key on the statement object).
_USER_BY_ID = select(t.users).where(t.users.c.id == bindparam("user_id"))


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
        row = self._c.execute(_USER_BY_ID, {"user_id": user_id}).first()
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
            pattern = "%" + escape_like(query.lower()) + "%"
            stmt = stmt.where(or_(lower(self._c, t.users.c.email).like(pattern, escape="\\"),
                                  lower(self._c, t.users.c.name).like(pattern, escape="\\")))
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
            self._c.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key("login", key)})

    def record(self, key: str, at: datetime) -> int:
        return int(self._c.execute(insert(t.login_failures).values(account_key=key, failed_at=at))
                   .inserted_primary_key[0])

    def remove(self, failure_id: int) -> None:
        self._c.execute(delete(t.login_failures).where(t.login_failures.c.id == failure_id))

    def since(self, key: str, since: datetime) -> list[datetime]:
        lf = t.login_failures
        rows = self._c.execute(select(lf.c.failed_at).where(lf.c.account_key == key, lf.c.failed_at >= since)
                               .order_by(lf.c.failed_at, lf.c.id))
        return [r.failed_at for r in rows]

    def clear(self, key: str) -> None:
        self._c.execute(delete(t.login_failures).where(t.login_failures.c.account_key == key))
