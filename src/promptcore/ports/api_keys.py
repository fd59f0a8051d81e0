"""Personal API keys (SPEC §15.1). Whose key it is and whether it may be used is decided by the use
case (services/api_keys.py), never here."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from ..domain.api_keys import ApiKey


class ApiKeyRepository(ABC):
    @abstractmethod
    def add(self, key: ApiKey) -> ApiKey:
        """Store a key; sets ``id``. ``key_hash`` is unique (a clash is an error, never a merge)."""
    @abstractmethod
    def get(self, key_id: int) -> ApiKey | None: ...
    @abstractmethod
    def by_hash(self, key_hash: str) -> ApiKey | None: ...
    @abstractmethod
    def of_user(self, user_id: int) -> list[ApiKey]:
        """The user's keys that are not revoked (expired ones included), newest first."""
    @abstractmethod
    def count_active(self, user_id: int, now: datetime) -> int:
        """The user's keys neither revoked nor expired at ``now``."""
    @abstractmethod
    def count_kept(self, user_id: int) -> int:
        """The user's keys that are not revoked (what of_user lists)."""
    @abstractmethod
    def revoke(self, key_id: int, now: datetime) -> bool:
        """Revoke a key that is not revoked yet; False when there was none to revoke."""
    @abstractmethod
    def touch(self, key_id: int, now: datetime, stale_before: datetime) -> bool:
        """Write ``last_used_at = now`` only when the stored value is empty or at most
        ``stale_before`` (one conditional UPDATE): of racing uses only one writes. True when it
        wrote."""
