"""Repositories: SQL statements in, domain objects out, a module per capability. They never commit."""

from __future__ import annotations

from .accounts import SqlLoginFailureRepository, SqlRefreshTokenRepository, SqlUserRepository
from .mail import SqlMailRequestRepository, SqlOutbox
from .prompts import DELETED_RECORD_BLANKS, SqlPromptRepository, SqlStyleRepository

__all__ = [
    "DELETED_RECORD_BLANKS",
    "SqlLoginFailureRepository",
    "SqlMailRequestRepository",
    "SqlOutbox",
    "SqlPromptRepository",
    "SqlRefreshTokenRepository",
    "SqlStyleRepository",
    "SqlUserRepository",
]
