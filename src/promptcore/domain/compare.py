"""Try it (SPEC §15.3): a record's original prompt and its improved prompt, each answered by the
same model, side by side.

Side ``a`` is the answer to the original prompt, side ``b`` the answer to the improved one. The
optional ``input`` is extra text (the material the prompt works on: a draft to review, a question
to answer) appended to both prompts alike. A comparison is whole when both sides answered; a side
that failed says so and the other side's answer is kept all the same. Only a whole comparison
spends its quota unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from .errors import ValidationFailed

# The extra text appended to both prompts: at most this many characters (after trimming).
INPUT_MAX = 4000
# What separates a prompt from the extra text.
INPUT_SEPARATOR = "\n\n"

SIDES = ("a", "b")
# Why Try it is refused without a model (the offline improver): 503 llm_unavailable, no unit spent.
NEEDS_MODEL = "Try it needs a language model; the offline improver cannot answer prompts."


class SideStatus(str, Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ComparisonStatus(str, Enum):
    """``succeeded``: both sides answered (the unit is spent); ``partial``: one side failed (the
    unit was given back). A comparison where both sides failed is not kept."""

    SUCCEEDED = "succeeded"
    PARTIAL = "partial"


@dataclass(frozen=True)
class AnswerRequest:
    """A prompt to answer as it is (no rewriting), with the model to answer it."""

    prompt: str
    model: str | None = None


@dataclass(frozen=True)
class ModelAnswer:
    """A model's whole answer to an AnswerRequest."""

    text: str
    model: str
    usage: dict[str, Any] | None = None
    cost: float | None = None


@dataclass
class Side:
    """One column of a comparison: what the model wrote (all of it, or the part written before a
    failure), whether it answered, and why not (the core error's class name, as records keep it)."""

    status: SideStatus
    text: str = ""
    model: str | None = None
    error: str | None = None
    latency_ms: int | None = None
    usage: dict[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is SideStatus.SUCCEEDED


@dataclass
class Comparison:
    """The comparison kept with a record (the latest one made for it)."""

    record_id: int
    user_id: int
    model: str
    input: str | None
    a: Side
    b: Side
    created_at: datetime | None = None

    @property
    def status(self) -> ComparisonStatus:
        return ComparisonStatus.SUCCEEDED if self.whole else ComparisonStatus.PARTIAL

    @property
    def whole(self) -> bool:
        """Both sides answered: the only outcome that spends the unit."""
        return self.a.succeeded and self.b.succeeded

    def side(self, name: str) -> Side:
        if name not in SIDES:
            raise KeyError(name)
        return self.a if name == "a" else self.b


def clean_input(raw: Any) -> str | None:
    """The optional extra text: trimmed, at most INPUT_MAX characters; empty is none."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValidationFailed.on("input", "Enter the extra text as text.")
    text = raw.strip()
    if "\x00" in text:
        raise ValidationFailed.on("input", "The extra text contains a NUL character.")
    if len(text) > INPUT_MAX:
        raise ValidationFailed.on("input", f"Use at most {INPUT_MAX} characters (got {len(text)}).")
    return text or None


def with_input(prompt: str, extra: str | None) -> str:
    """The prompt as the model gets it: the prompt, then the extra text, if any."""
    return prompt if not extra else prompt.rstrip() + INPUT_SEPARATOR + extra


__all__ = ["INPUT_MAX", "NEEDS_MODEL", "SIDES", "AnswerRequest", "Comparison", "ComparisonStatus", "ModelAnswer",
           "Side", "SideStatus", "clean_input", "with_input"]
