"""Integers from the outside world (URL segments, query strings, form fields) that name rows.

Every id column is a 64-bit integer (PostgreSQL bigint, SQLite INTEGER), so a number outside
that range cannot name a row; handed to the database it fails as an overflow (a 500). Both ways
in are bounded here, once: the ``int`` URL converter the app registers, and ``parse_id`` for ids
read from query strings and forms."""

from __future__ import annotations

import re

from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**63 - 1
MIN_INT = -(2**63)
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only: int() would also take "１２", " 1" and "1_0"


class BoundedIntConverter(IntegerConverter):
    """Werkzeug's ``int`` converter, limited to what a 64-bit column holds and to ASCII digits.

    Registered as ``int`` on the app, so every ``<int:...>`` route, present or future, answers
    a larger number with 404 (no route matches) instead of reaching the database."""

    regex = r"[0-9]+"

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = None, signed: bool = False) -> None:  # noqa: A002
        max = MAX_ID if max is None or max > MAX_ID else max  # noqa: A001
        if signed and (min is None or min < MIN_INT):
            min = MIN_INT  # noqa: A001
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def parse_id(raw: object) -> int | None:
    """A row id written as ASCII digits from 1 to 2**63-1, else None (the caller answers 404)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if 1 <= raw <= MAX_ID else None
    if not isinstance(raw, str) or not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_ID else None
