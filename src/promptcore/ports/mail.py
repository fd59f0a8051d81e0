"""Mail: messages, the outbox, mail requests, the mailer and the templates."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# The context each kind needs (render() refuses a message without them: ValueError). Every kind
# also takes ``name`` (the greeting; give it only for a confirmed address) and ``link`` (the
# button, with its address repeated under it and in the text; a kind whose button label is None
# shows none). A datetime value is written for the message's language, in UTC
# ("15 January 2026, 09:05 UTC", "15 января 2026, 09:05 UTC"); a date as "15 January 2026"; any
# other value as it is (so format money yourself).
#
#   confirm_email, reset_password, change_email: link (the e-mailed token link)
#   already_registered: login_url, reset_url
#   password_changed: -
#   email_changed: new_email
#   limit_reached: limit (int), resets_at (datetime: when a unit frees up), upgrade_url
#       (<BASE_URL>/pricing; the button goes there unless ``link`` says otherwise)
#   payment_received: amount (a formatted string, e.g. "490.00 ₽"), plan (its title), period_end
#       (datetime or date: the end of the paid period); link, e.g. <BASE_URL>/account/billing
#   renewal_failed: plan, grace_until (datetime or date: the plan holds until then); link
#   ends_soon: plan, period_end (after a cancel, the day the plan ends); link
#   subscription_expired: plan; link, e.g. <BASE_URL>/pricing
#   team_invitation: team (its name), inviter (the inviter's confirmed address), role (owner, admin
#       or member), expires_at (datetime); link: <BASE_URL>/invitations/<token>
MAIL_KINDS: dict[str, frozenset[str]] = {
    "confirm_email": frozenset({"link"}),
    "already_registered": frozenset({"login_url", "reset_url"}),
    "reset_password": frozenset({"link"}),
    "password_changed": frozenset(),
    "change_email": frozenset({"link"}),
    "email_changed": frozenset({"new_email"}),
    "limit_reached": frozenset({"limit", "resets_at", "upgrade_url"}),
    "payment_received": frozenset({"amount", "plan", "period_end"}),
    "renewal_failed": frozenset({"plan", "grace_until"}),
    "ends_soon": frozenset({"plan", "period_end"}),
    "subscription_expired": frozenset({"plan"}),
    "team_invitation": frozenset({"team", "inviter", "role", "expires_at"}),
}


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
