"""In-memory fake of the API key port (SPEC §15.1), as SqlApiKeyRepository: a unique hash, keys
listed newest first without the revoked ones, and revoke/touch as conditional updates that report
whether they changed the key. ``touches`` counts the writes of last_used_at, so a test can say how
many a burst of requests made."""

from __future__ import annotations

import copy
import dataclasses
from datetime import datetime, timezone
from typing import Any

from promptcore.domain.api_keys import ApiKey
from promptcore.ports import ApiKeyRepository


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(timezone.utc) if value is not None else None


class FakeApiKeyRepository(ApiKeyRepository):
    def __init__(self, store: Any) -> None:
        self.s = store

    def add(self, key: ApiKey) -> ApiKey:
        if any(other.key_hash == key.key_hash for other in self.s.api_keys.values()):
            raise ValueError("a key hash is unique (an IntegrityError in SQL)")
        if key.user_id not in self.s.users:
            raise ValueError("a key of an unknown user (a foreign key violation in SQL)")
        key.id = next(self.s.ids)
        self.s.api_keys[key.id] = dataclasses.replace(
            copy.deepcopy(key), scopes=frozenset(key.scopes), created_at=_utc(key.created_at),
            expires_at=_utc(key.expires_at), last_used_at=_utc(key.last_used_at), revoked_at=_utc(key.revoked_at))
        return key

    def get(self, key_id: int) -> ApiKey | None:
        return copy.deepcopy(self.s.api_keys.get(key_id))

    def by_hash(self, key_hash: str) -> ApiKey | None:
        return next((copy.deepcopy(k) for k in self.s.api_keys.values() if k.key_hash == key_hash), None)

    def _kept(self, user_id: int) -> list[ApiKey]:
        return [k for k in self.s.api_keys.values() if k.user_id == user_id and k.revoked_at is None]

    def of_user(self, user_id: int) -> list[ApiKey]:
        return copy.deepcopy(sorted(self._kept(user_id), key=lambda k: (k.created_at, k.id), reverse=True))

    def count_active(self, user_id: int, now: datetime) -> int:
        return sum(1 for k in self._kept(user_id) if k.expires_at is None or k.expires_at > now)

    def count_kept(self, user_id: int) -> int:
        return len(self._kept(user_id))

    def revoke(self, key_id: int, now: datetime) -> bool:
        key = self.s.api_keys.get(key_id)
        if key is None or key.revoked_at is not None:
            return False
        key.revoked_at = _utc(now)
        return True

    def touch(self, key_id: int, now: datetime, stale_before: datetime) -> bool:
        key = self.s.api_keys.get(key_id)
        if key is None or (key.last_used_at is not None and key.last_used_at > stale_before):
            return False
        key.last_used_at = _utc(now)
        self.s.api_key_touches += 1
        return True
