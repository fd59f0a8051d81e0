"""Prompt improvement: styles, requests, results, records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from .errors import ValidationFailed
from .language import prose_language

FEEDBACK_MAX = 1000


class RecordStatus(str, Enum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Style:
    slug: str
    title: dict[str, str]
    description: dict[str, str]
    instructions: str
    position: int = 0

    def title_in(self, language: str) -> str:
        return self.title.get(language) or self.title["en"]

    def description_in(self, language: str) -> str:
        return self.description.get(language) or self.description["en"]


def detect_language(text: str) -> str:
    """'ru' or 'en', judged from the prose and not from the code, SQL, URLs or identifiers the
    text quotes (domain/language.py)."""
    return prose_language(text)


@dataclass(frozen=True)
class ImprovementRequest:
    """What an improver is asked to do. ``previous`` and ``feedback`` are set when the
    user iterates on an earlier result."""

    prompt: str
    style: Style
    model: str | None = None
    previous: str | None = None
    feedback: str | None = None
    # A template being improved (SPEC §13.1): the variables the result must keep, exactly.
    keep_variables: tuple[str, ...] | None = None

    @property
    def language(self) -> str:
        return detect_language(self.prompt)


@dataclass(frozen=True)
class Improvement:
    """An improver's answer."""

    text: str
    model: str
    usage: dict[str, Any] | None = None
    cost: float | None = None


@dataclass
class PromptRecord:
    user_id: int
    original_prompt: str
    style: str
    model: str | None
    status: RecordStatus = RecordStatus.PENDING
    generated_prompt: str | None = None
    parent_id: int | None = None
    feedback: str | None = None
    latency_ms: int | None = None
    usage: dict[str, Any] | None = None
    error: str | None = None
    id: int | None = None
    created_at: datetime | None = None
    # "generation" (made here) or "import" (read from an export file, SPEC §13.4: never counted in
    # the quota or the usage stats).
    source: str = "generation"


def clean_prompt(raw: Any, max_chars: int) -> str:
    if not isinstance(raw, str):
        raise ValidationFailed.on("prompt", "Enter the prompt as text.")
    text = raw.strip()
    if not text:
        raise ValidationFailed.on("prompt", "Enter a prompt to improve.")
    if len(text) > max_chars:
        raise ValidationFailed.on("prompt", f"Use at most {max_chars} characters (got {len(text)}).")
    if "\x00" in text:
        raise ValidationFailed.on("prompt", "The prompt contains a NUL character.")
    return text


def clean_feedback(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValidationFailed.on("feedback", "Enter the feedback as text.")
    text = raw.strip()
    if len(text) > FEEDBACK_MAX:
        raise ValidationFailed.on("feedback", f"Use at most {FEEDBACK_MAX} characters.")
    if "\x00" in text:
        raise ValidationFailed.on("feedback", "The feedback contains a NUL character.")
    return text or None
