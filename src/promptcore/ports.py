"""The ports: what the core needs from the outside world. Adapters implement them;
tests/fakes.py holds in-memory versions of each."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterator

from .domain.prompts import Improvement, ImprovementRequest, PromptRecord, Style
from .domain.users import User


@dataclass(frozen=True)
class MailMessage:
    to: str
    subject: str
    text: str
    html: str
    kind: str = ""


@dataclass(frozen=True)
class MailRequest:
    """A mail someone asked for without signing in (password reset, confirmation resend): the
    request path only queues it; the worker looks the account up, so a known address and an
    unknown one cost the request the same."""

    id: int
    kind: str
    email: str
    language: str


@dataclass(frozen=True)
class OutboxItem:
    id: int
    message: MailMessage
    attempts: int


@dataclass(frozen=True)
class RefreshTokenRow:
    id: int
    user_id: int
    family_id: str
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class HistoryPage:
    items: list[PromptRecord]
    next_cursor: str | None


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


class Outbox(ABC):
    @abstractmethod
    def add(self, message: MailMessage, now: datetime) -> None: ...
    @abstractmethod
    def claim(self, now: datetime, lease: timedelta, limit: int) -> list[OutboxItem]:
        """Lease up to ``limit`` due messages so no other worker takes them meanwhile."""
    @abstractmethod
    def mark_sent(self, item_id: int, now: datetime) -> None: ...
    @abstractmethod
    def mark_failed(self, item_id: int, error: str, retry_at: datetime) -> None: ...
    @abstractmethod
    def pending_count(self) -> int: ...
    @abstractmethod
    def recent(self, limit: int) -> list[tuple[MailMessage, datetime, datetime | None]]: ...
    @abstractmethod
    def queued_since(self, to: str, kind: str, since: datetime) -> bool:
        """Whether a message of this kind to this address was queued at or after ``since``."""


class MailRequestRepository(ABC):
    @abstractmethod
    def add(self, kind: str, email: str, language: str, now: datetime) -> None: ...
    @abstractmethod
    def claim(self, now: datetime, lease: timedelta, limit: int) -> list[MailRequest]:
        """Lease up to ``limit`` open requests so no other worker takes them meanwhile."""
    @abstractmethod
    def mark_done(self, request_id: int, now: datetime) -> None: ...


class StyleRepository(ABC):
    @abstractmethod
    def list(self) -> list[Style]: ...
    @abstractmethod
    def get(self, slug: str) -> Style | None: ...


class PromptRepository(ABC):
    @abstractmethod
    def add(self, record: PromptRecord) -> PromptRecord: ...
    @abstractmethod
    def get(self, user_id: int, record_id: int) -> PromptRecord | None:
        """A record of this user's, not deleted; None for anyone else's."""
    @abstractmethod
    def finish(self, record: PromptRecord) -> None:
        """Store the outcome (status, text, model, usage, latency) of a pending record; of a
        record deleted meanwhile, the status only."""
    @abstractmethod
    def quota_usage(self, user_id: int, since: datetime, stale_before: datetime,
                    limit: int) -> tuple[int, datetime | None]:
        """Of the records created at or after ``since`` that count against the quota
        (succeeded ones, and pending ones created at or after ``stale_before``; deleted ones
        included), take the newest ``limit``: their number and the oldest creation time among
        them. That is all the quota arithmetic needs (QuotaPolicy.status_of)."""
    @abstractmethod
    def count_success(self, user_id: int, at: datetime, style: str) -> None:
        """Add one to the per-day, per-style usage counters behind the stats."""
    @abstractmethod
    def page(self, user_id: int, limit: int, cursor: tuple[datetime, int] | None,
             style: str | None, query: str | None) -> list[PromptRecord]: ...
    @abstractmethod
    def all_for_export(self, user_id: int) -> Iterator[PromptRecord]: ...
    @abstractmethod
    def soft_delete(self, user_id: int, record_id: int, now: datetime) -> bool:
        """Delete a record of this user's, whatever its status: erase its texts (prompt, answer,
        feedback, usage, error, model, parent link) and keep only what the quota and the stats
        need (user, status, style, created_at). A later ``finish`` then stores the status only."""
    @abstractmethod
    def stats(self, user_id: int, since_day: datetime) -> tuple[int, dict[str, int], dict[str, int]]:
        """(total generations, counts by style, counts by UTC day (ISO date) since ``since_day``),
        from the usage counters; deleting history does not change them."""


class UnitOfWork(ABC):
    users: UserRepository
    refresh_tokens: RefreshTokenRepository
    login_failures: LoginFailureRepository
    outbox: Outbox
    mail_requests: MailRequestRepository
    styles: StyleRepository
    prompts: PromptRepository

    def __enter__(self) -> "UnitOfWork":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.rollback()

    @abstractmethod
    def commit(self) -> None: ...
    @abstractmethod
    def rollback(self) -> None: ...


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
        """Claims of a valid token; raises InvalidToken otherwise."""


class SignedTokenCodec(ABC):
    """Purpose-bound, timed tokens sent by e-mail."""

    @abstractmethod
    def dumps(self, purpose: str, payload: dict[str, Any]) -> str: ...
    @abstractmethod
    def loads(self, purpose: str, token: str, max_age: timedelta) -> dict[str, Any]:
        """The payload; raises InvalidToken when tampered, expired or of another purpose."""


class Mailer(ABC):
    @abstractmethod
    def send(self, message: MailMessage) -> None:
        """Hand the message to the mail server; raise DeliveryFailed if it is not accepted."""


class MailTemplates(ABC):
    @abstractmethod
    def render(self, kind: str, language: str, to: str, context: dict[str, Any]) -> MailMessage: ...


class PromptImprover(ABC):
    """Rewrites a prompt. Raises LlmUnavailable or PromptRejected on failure."""

    name: str = "improver"

    @abstractmethod
    def improve(self, request: ImprovementRequest) -> Improvement: ...

    def stream(self, request: ImprovementRequest) -> Iterator["str | Improvement"]:
        """Yield text deltas as they are produced, then the final Improvement last.
        The default streams the whole answer as one delta."""
        result = self.improve(request)
        yield result.text
        yield result


class Clock(ABC):
    @abstractmethod
    def now(self) -> datetime: ...
