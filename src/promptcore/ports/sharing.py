"""Records shared with a team (SPEC §14): which record is shared where, and the team's feed."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from ..domain.teams import SharedRecord


class SharedRecordRepository(ABC):
    @abstractmethod
    def team_of(self, record_id: int) -> SharedRecord | None:
        """Where a record is shared (team, by whom, when), or None while it is private."""
    @abstractmethod
    def share(self, record_id: int, team_id: int, shared_by: int, at: datetime) -> None:
        """Share the record with the team (moving it there if it was shared with another)."""
    @abstractmethod
    def unshare(self, record_id: int) -> bool:
        """Make the record private again; False when it was not shared."""
    @abstractmethod
    def feed(self, team_id: int, limit: int, cursor: tuple[datetime, int] | None = None) -> list[SharedRecord]:
        """The team's shared records that are not deleted, newest share first (then by record id,
        descending), with their texts and their author's name; ``cursor`` is the (shared_at,
        record_id) of the last item of the previous page."""
    @abstractmethod
    def get(self, team_id: int, record_id: int) -> SharedRecord | None:
        """One record shared with the team (None when it is not, or is deleted), as ``feed`` reads it."""
