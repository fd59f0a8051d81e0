"""The ports: what the core needs from the outside world, a module per capability. Adapters
implement them; tests/fakes.py holds in-memory versions of each."""

from __future__ import annotations

from .accounts import (
    AccessTokenCodec,
    DuplicateEmail,
    LoginFailureRepository,
    PasswordHasher,
    RefreshTokenRepository,
    RefreshTokenRow,
    SignedTokenCodec,
    UserRepository,
)
from .clock import Clock
from .mail import Mailer, MailMessage, MailRequest, MailRequestRepository, MailTemplates, Outbox, OutboxItem
from .prompts import HistoryPage, PromptImprover, PromptRepository, StyleRepository
from .uow import UnitOfWork

__all__ = [
    "AccessTokenCodec",
    "Clock",
    "DuplicateEmail",
    "HistoryPage",
    "LoginFailureRepository",
    "MailMessage",
    "MailRequest",
    "MailRequestRepository",
    "MailTemplates",
    "Mailer",
    "Outbox",
    "OutboxItem",
    "PasswordHasher",
    "PromptImprover",
    "PromptRepository",
    "RefreshTokenRepository",
    "RefreshTokenRow",
    "SignedTokenCodec",
    "StyleRepository",
    "UnitOfWork",
    "UserRepository",
]
