"""Prompts: the styles, the history records and the improver."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from ..domain.prompts import Improvement, ImprovementRequest, PromptRecord, Style


@dataclass(frozen=True)
class HistoryPage:
    items: list[PromptRecord]
    next_cursor: str | None


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
    def same_texts(self, user_id: int, created_at: list[datetime]) -> set[tuple[datetime, str, str | None]]:
        """(created_at, original_prompt, generated_prompt) of this user's records, not deleted,
        created at any of the given instants: what a history import compares against to add
        nothing twice."""
    @abstractmethod
    def finish(self, record: PromptRecord) -> None:
        """Store the outcome (status, text, model, usage, latency) of a pending record; of a
        record deleted meanwhile, the status only."""
    @abstractmethod
    def count_success(self, user_id: int, at: datetime, style: str) -> None:
        """Add one to the per-day, per-style usage counters behind the stats."""
    @abstractmethod
    def page(self, user_id: int, limit: int, cursor: tuple[datetime, int] | None,
             style: str | None, query: str | None) -> list[PromptRecord]: ...
    @abstractmethod
    def soft_delete(self, user_id: int, record_id: int, now: datetime) -> bool:
        """Delete a record of this user's, whatever its status: erase its texts (prompt, answer,
        feedback, usage, error, model, parent link) and keep only what the stats
        need (user, status, style, created_at). A later ``finish`` then stores the status only."""
    @abstractmethod
    def stats(self, user_id: int, since_day: datetime) -> tuple[int, dict[str, int], dict[str, int]]:
        """(total generations, counts by style, counts by UTC day (ISO date) since ``since_day``),
        from the usage counters; deleting history does not change them."""


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
