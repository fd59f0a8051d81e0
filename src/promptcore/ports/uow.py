"""The unit of work: one transaction over every repository."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from .accounts import LoginFailureRepository, RefreshTokenRepository, UserRepository
from .mail import MailRequestRepository, Outbox
from .prompts import PromptRepository, StyleRepository


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
