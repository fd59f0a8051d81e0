"""Records shared with a team (SPEC §14): a member shares a history record with one of their
teams (``private`` → ``team``), the team's members read it in the team's feed, and it is taken
back by its author, or removed from the feed by the team's owners and admins.

The record stays its author's: it is in their history, goes when they delete it or their account,
and a member who leaves the team leaves their shares with it. Every record id and team id is
checked here, through domain/access.py: someone else's record or a team one is not in is not found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..domain.access import Actor, require_member, require_read
from ..domain.errors import Forbidden, NotFound, ValidationFailed
from ..domain.prompts import PromptRecord, RecordStatus
from ..domain.teams import SharedRecord, may_edit_shared
from ..ports import Clock, UnitOfWork
from ._units import open_unit
from .history import HISTORY_MAX_PAGE, NOT_FOUND, decode_cursor, encode_position

__all__ = ["SharedRecords"]

_NOT_SHARED = "This prompt is not shared with the team."


def _id(raw: Any, field_name: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        raise ValidationFailed.on(field_name, "Give an id (a whole number, 1 or more).")
    return raw


class SharedRecords:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    @staticmethod
    def _own(uow: UnitOfWork, actor: Actor, record_id: Any) -> PromptRecord:
        record = uow.prompts.get(actor.user_id, record_id) if isinstance(record_id, int) else None
        require_read(actor, record.user_id if record is not None else None, NOT_FOUND)
        assert record is not None
        return record

    def of_record(self, actor: Actor, record_id: int) -> SharedRecord | None:
        """Where one of the actor's records is shared, or None while it is private."""
        with open_unit(self._uow, actor) as uow:
            self._own(uow, actor, record_id)
            return uow.shared_records.team_of(record_id)

    def share(self, actor: Actor, record_id: int, team_id: Any) -> SharedRecord:
        """Share one of the actor's finished records with one of their teams (moving it from another
        team if it was shared there). Sharing it again with the same team changes nothing."""
        with open_unit(self._uow, actor) as uow:
            record = self._own(uow, actor, record_id)
            require_member(actor, _id(team_id, "team_id"))
            if record.status is not RecordStatus.SUCCEEDED or not (record.generated_prompt or "").strip():
                raise ValidationFailed.on("record_id", "Only a finished prompt can be shared.")
            current = uow.shared_records.team_of(record_id)
            if current is not None and current.team_id == team_id:
                return current
            uow.shared_records.share(record_id, team_id, actor.user_id, self._clock.now())
            uow.commit()
            found = uow.shared_records.team_of(record_id)
        assert found is not None
        return found

    def unshare(self, actor: Actor, record_id: int) -> None:
        """The author takes their record back from the team (it becomes private)."""
        with open_unit(self._uow, actor) as uow:
            self._own(uow, actor, record_id)
            if not uow.shared_records.unshare(record_id):
                raise NotFound("This prompt is not shared.")
            uow.commit()

    def feed(self, actor: Actor, team_id: int, limit: int = 20,
             cursor: str | None = None) -> tuple[list[SharedRecord], str | None]:
        """The team's shared records, newest share first, with a cursor to the next page."""
        require_member(actor, team_id)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= HISTORY_MAX_PAGE:
            raise ValidationFailed.on("limit", f"Choose between 1 and {HISTORY_MAX_PAGE}.")
        position = decode_cursor(cursor) if cursor else None
        with open_unit(self._uow, actor) as uow:
            rows = uow.shared_records.feed(team_id, limit + 1, position)
        last = rows[limit - 1] if len(rows) > limit else None
        return rows[:limit], (encode_position(last.shared_at, last.record_id) if last else None)

    def get(self, actor: Actor, team_id: int, record_id: int) -> SharedRecord:
        require_member(actor, team_id)
        with open_unit(self._uow, actor) as uow:
            found = uow.shared_records.get(team_id, record_id) if isinstance(record_id, int) else None
        if found is None:
            raise NotFound(_NOT_SHARED)
        return found

    def remove(self, actor: Actor, team_id: int, record_id: int) -> None:
        """Take a record out of the team's feed: its author, or the team's owners and admins."""
        role = require_member(actor, team_id)
        with open_unit(self._uow, actor) as uow:
            found = uow.shared_records.get(team_id, record_id) if isinstance(record_id, int) else None
            if found is None:
                raise NotFound(_NOT_SHARED)
            if not may_edit_shared(role, found.author_id == actor.user_id):
                raise Forbidden("Only the team's owners and admins and the author can remove a shared prompt.")
            uow.shared_records.unshare(record_id)
            uow.commit()
