"""Personal API keys (SPEC §15.1): the ``api_keys`` table.

Revoking and writing a key's last use are conditional UPDATEs: the WHERE clause says which stored
state may change, so of two racing requests only one changes the row (PostgreSQL re-checks the
condition on the row the first one committed; SQLite's writers run one at a time).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from promptcore.domain.api_keys import ApiKey, format_scopes, parse_scopes
from promptcore.ports import ApiKeyRepository

from .. import tables as t

__all__ = ["SqlApiKeyRepository"]

k = t.api_keys


def _key(row: Any) -> ApiKey:
    return ApiKey(id=row.id, user_id=row.user_id, name=row.name, prefix=row.prefix, key_hash=row.key_hash,
                  scopes=parse_scopes(row.scopes), created_at=row.created_at, expires_at=row.expires_at,
                  last_used_at=row.last_used_at, revoked_at=row.revoked_at)


def _not_expired(now: datetime) -> Any:
    return or_(k.c.expires_at.is_(None), k.c.expires_at > now)


class SqlApiKeyRepository(ApiKeyRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, key: ApiKey) -> ApiKey:
        new_id = self._c.execute(insert(k).values(
            user_id=key.user_id, name=key.name, prefix=key.prefix, key_hash=key.key_hash,
            scopes=format_scopes(key.scopes), created_at=key.created_at, expires_at=key.expires_at,
            last_used_at=key.last_used_at, revoked_at=key.revoked_at)).inserted_primary_key[0]
        key.id = int(new_id)
        return key

    def get(self, key_id: int) -> ApiKey | None:
        row = self._c.execute(select(k).where(k.c.id == key_id)).first()
        return _key(row) if row else None

    def by_hash(self, key_hash: str) -> ApiKey | None:
        row = self._c.execute(select(k).where(k.c.key_hash == key_hash)).first()
        return _key(row) if row else None

    def of_user(self, user_id: int) -> list[ApiKey]:
        rows = self._c.execute(select(k).where(k.c.user_id == user_id, k.c.revoked_at.is_(None))
                               .order_by(k.c.created_at.desc(), k.c.id.desc()))
        return [_key(row) for row in rows]

    def count_active(self, user_id: int, now: datetime) -> int:
        return int(self._c.execute(select(func.count()).select_from(k).where(
            k.c.user_id == user_id, k.c.revoked_at.is_(None), _not_expired(now))).scalar_one())

    def count_kept(self, user_id: int) -> int:
        return int(self._c.execute(select(func.count()).select_from(k).where(
            k.c.user_id == user_id, k.c.revoked_at.is_(None))).scalar_one())

    def revoke(self, key_id: int, now: datetime) -> bool:
        result = self._c.execute(update(k).where(k.c.id == key_id, k.c.revoked_at.is_(None)).values(revoked_at=now))
        return result.rowcount == 1

    def touch(self, key_id: int, now: datetime, stale_before: datetime) -> bool:
        result = self._c.execute(update(k).where(
            k.c.id == key_id, or_(k.c.last_used_at.is_(None), k.c.last_used_at <= stale_before),
        ).values(last_used_at=now))
        return result.rowcount == 1
