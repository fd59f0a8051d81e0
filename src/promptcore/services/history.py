"""History and stats (SPEC §6.6): a user's records, newest first, one at a time, deleted, and counted."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from ..domain.access import Actor, require_change, require_read
from ..domain.errors import NotFound, ValidationFailed
from ..domain.prompts import PromptRecord
from ..domain.quota import QuotaStatus
from ..ports import Clock, UnitOfWork
from .quota import Quota

HISTORY_MAX_PAGE = 100
NOT_FOUND = "No such prompt in your history."
STATS_DAYS = 30


@dataclass(frozen=True)
class Stats:
    quota: QuotaStatus
    total: int
    by_style: dict[str, int]
    by_day: list[tuple[str, int]]


def encode_position(moment: datetime, item_id: int) -> str:
    """An opaque keyset cursor for a (time, id) position; decode_cursor reads it back."""
    raw = f"{moment.isoformat()}|{item_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def encode_cursor(record: PromptRecord) -> str:
    assert record.created_at is not None and record.id is not None
    return encode_position(record.created_at, record.id)


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, rid = raw.partition("|")
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment.astimezone(timezone.utc), int(rid)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ValidationFailed.on("cursor", "The cursor is not valid; start from the first page.") from None


class History:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock, quota: Quota) -> None:
        self._uow = uow
        self._clock = clock
        self._quota = quota

    def page(self, actor: Actor, limit: int = 20, cursor: str | None = None, style: str | None = None,
             query: str | None = None) -> tuple[list[PromptRecord], str | None]:
        limit = max(1, min(HISTORY_MAX_PAGE, limit))
        position = decode_cursor(cursor) if cursor else None
        query = query.strip() if query else None
        with self._uow() as uow:
            rows = uow.prompts.page(actor.user_id, limit + 1, position, style or None, query or None)
        next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return rows[:limit], next_cursor

    def get(self, actor: Actor, record_id: int) -> PromptRecord:
        with self._uow() as uow:
            record = uow.prompts.get(actor.user_id, record_id)
        require_read(actor, record.user_id if record is not None else None, NOT_FOUND)
        return record

    def delete(self, actor: Actor, record_id: int) -> None:
        """Erase a record's texts. Its unit stays spent: the quota ledger is not history."""
        with self._uow() as uow:
            record = uow.prompts.get(actor.user_id, record_id)
            require_change(actor, record.user_id if record is not None else None, NOT_FOUND)
            if not uow.prompts.soft_delete(actor.user_id, record_id, self._clock.now()):
                raise NotFound(NOT_FOUND)
            uow.comparisons.delete(record_id)  # its Try it answers go with its texts (SPEC §15.3)
            uow.commit()

    def stats(self, actor: Actor) -> Stats:
        now = self._clock.now()
        today = now.date()
        first = today - timedelta(days=STATS_DAYS - 1)
        with self._uow() as uow:
            user = uow.users.get(actor.user_id)
            if user is None:
                raise NotFound("The account no longer exists.")
            quota = self._quota.status_in(uow, user, now)
            total, by_style, by_day = uow.prompts.stats(
                actor.user_id, datetime(first.year, first.month, first.day, tzinfo=timezone.utc))
        days = [(first + timedelta(days=i)).isoformat() for i in range(STATS_DAYS)]
        return Stats(quota, total, by_style, [(d, by_day.get(d, 0)) for d in days])


__all__ = ["HISTORY_MAX_PAGE", "STATS_DAYS", "History", "Stats", "decode_cursor", "encode_cursor", "encode_position"]
