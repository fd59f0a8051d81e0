"""Try it (SPEC §15.3): answering a prompt as it is, and the comparisons kept with the records."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterator

from ..domain.compare import AnswerRequest, Comparison, ModelAnswer


class PromptAnswerer(ABC):
    """Sends a prompt to a model as it is and streams the answer. Raises LlmUnavailable or
    PromptRejected on failure, with the same deadline and retries as the improver's calls."""

    name: str = "answerer"

    @property
    def can_answer(self) -> bool:
        """False for an answerer that has no model behind it (the offline one): asked anyway, it
        raises LlmUnavailable. The use case asks before it reserves a unit."""
        return True

    @abstractmethod
    def answer_stream(self, request: AnswerRequest) -> Iterator["str | ModelAnswer"]:
        """Yield text deltas as the model writes, then the whole ModelAnswer last."""


class ComparisonRepository(ABC):
    @abstractmethod
    def put(self, comparison: Comparison) -> None:
        """Keep this comparison with its record, replacing the one kept before (one per record)."""
    @abstractmethod
    def get(self, user_id: int, record_id: int) -> Comparison | None:
        """The comparison kept with this user's record; None when there is none, the record is
        someone else's or it was deleted."""
    @abstractmethod
    def delete(self, record_id: int) -> None:
        """Forget the comparison of a record (its record was deleted: the answers go with its texts)."""
