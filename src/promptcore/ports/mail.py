"""Mail: messages, the outbox, mail requests, the mailer and the templates."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


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


class Mailer(ABC):
    @abstractmethod
    def send(self, message: MailMessage) -> None:
        """Hand the message to the mail server; raise DeliveryFailed if it is not accepted."""


class MailTemplates(ABC):
    @abstractmethod
    def render(self, kind: str, language: str, to: str, context: dict[str, Any]) -> MailMessage: ...
