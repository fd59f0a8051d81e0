"""A word-level before/after diff, computed on the server so it works without JavaScript."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

_TOKENS = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)


def word_diff(before: str, after: str) -> list[tuple[str, str]]:
    """Segments of (kind, text) with kind in {"same", "del", "ins"}; adjacent kinds merged."""
    a = _TOKENS.findall(before or "")
    b = _TOKENS.findall(after or "")
    segments: list[tuple[str, str]] = []

    def push(kind: str, tokens: list[str]) -> None:
        if not tokens:
            return
        text = "".join(tokens)
        if segments and segments[-1][0] == kind:
            segments[-1] = (kind, segments[-1][1] + text)
        else:
            segments.append((kind, text))

    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            push("same", a[i1:i2])
        else:
            push("del", a[i1:i2])
            push("ins", b[j1:j2])
    return segments
