"""Helpers of the contract tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from promptcore.domain.prompts import PromptRecord, RecordStatus
from promptcore.domain.users import User, UserSettings

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
MOSCOW = timezone(timedelta(hours=3))


def new_user(email: str = "ann@example.com", name: str | None = "Ann", at: datetime = T0) -> User:
    return User(email=email, password_hash="hash", name=name, daily_limit=3, settings=UserSettings(language="en"),
                created_at=at, updated_at=at)


def add_user(uow, email: str = "ann@example.com", name: str | None = "Ann", at: datetime = T0) -> int:
    return uow.users.add(new_user(email, name, at)).id


def new_record(user_id: int, prompt: str = "write a poem", style: str = "general", at: datetime = T0,
               status: RecordStatus = RecordStatus.SUCCEEDED, generated: str | None = "A better prompt",
               **fields) -> PromptRecord:
    return PromptRecord(user_id=user_id, original_prompt=prompt, style=style, model="m/1", status=status,
                        generated_prompt=generated, created_at=at, **fields)
