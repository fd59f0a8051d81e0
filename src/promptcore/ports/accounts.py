"""Accounts: users, refresh tokens, sign-in failures, password hashing and token codecs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..domain.users import User


@dataclass(frozen=True)
class RefreshTokenRow:
    id: int
    user_id: int
    family_id: str
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


class DuplicateEmail(Exception):
    """Raised by a user repository when an address is already taken."""


class UserRepository(ABC):
    @abstractmethod
    def add(self, user: User) -> User: ...
    @abstractmethod
    def get(self, user_id: int) -> User | None: ...
    @abstractmethod
    def get_by_email(self, email: str) -> User | None: ...
    @abstractmethod
    def update(self, user: User) -> None: ...
    @abstractmethod
    def delete(self, user_id: int) -> None: ...
    @abstractmethod
    def lock(self, user_id: int) -> User | None:
        """Load the user and hold a write lock on the row until the transaction ends."""
    @abstractmethod
    def search(self, query: str | None, after_id: int | None, limit: int) -> list[User]: ...


class RefreshTokenRepository(ABC):
    @abstractmethod
    def add(self, user_id: int, family_id: str, token_hash: str, expires_at: datetime, now: datetime) -> None: ...
    @abstractmethod
    def get_by_hash(self, token_hash: str) -> RefreshTokenRow | None: ...
    @abstractmethod
    def mark_used(self, token_id: int, now: datetime) -> bool:
        """Mark an unused, unrevoked token used; False when someone else got there first."""
    @abstractmethod
    def revoke_family(self, family_id: str, now: datetime) -> None: ...
    @abstractmethod
    def revoke_user(self, user_id: int, now: datetime) -> None: ...


class LoginFailureRepository(ABC):
    @abstractmethod
    def lock(self, key: str) -> None:
        """Serialise sign-in attempts for one account key until the transaction ends."""
    @abstractmethod
    def record(self, key: str, at: datetime) -> int:
        """Store a failure (or an attempt not yet decided); its id."""
    @abstractmethod
    def remove(self, failure_id: int) -> None: ...
    @abstractmethod
    def since(self, key: str, since: datetime) -> list[datetime]: ...
    @abstractmethod
    def clear(self, key: str) -> None: ...


class PasswordHasher(ABC):
    """hash, verify and dummy_verify may raise ServiceBusy when too many run at once."""

    @abstractmethod
    def hash(self, password: str) -> str: ...
    @abstractmethod
    def verify(self, password_hash: str, password: str) -> bool: ...
    @abstractmethod
    def needs_rehash(self, password_hash: str) -> bool: ...
    @abstractmethod
    def dummy_verify(self, password: str) -> None:
        """Spend the time of one verification, for unknown accounts."""


class AccessTokenCodec(ABC):
    @abstractmethod
    def issue(self, user_id: int, role: str, now: datetime, generation: int = 0) -> str:
        """A token carrying the user's session generation (``gen``) and issue time (``iat``)."""
    @abstractmethod
    def verify(self, token: str) -> dict[str, Any]:
        """Claims of a valid, unexpired token; raises Unauthenticated otherwise (401: a bad bearer
        token is not an InvalidToken, which is a bad e-mailed link, 400)."""


class SignedTokenCodec(ABC):
    """Purpose-bound, timed tokens sent by e-mail."""

    @abstractmethod
    def dumps(self, purpose: str, payload: dict[str, Any]) -> str: ...
    @abstractmethod
    def loads(self, purpose: str, token: str, max_age: timedelta) -> dict[str, Any]:
        """The payload; raises InvalidToken when tampered, expired or of another purpose."""
