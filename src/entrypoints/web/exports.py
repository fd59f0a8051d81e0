"""History export as CSV (spreadsheet-safe) or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from promptcore.domain.prompts import PromptRecord

COLUMNS = ("id", "created_at", "style", "model", "original_prompt", "generated_prompt",
           "feedback", "parent_id", "status", "latency_ms")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def record_dict(record: PromptRecord) -> dict:
    return {
        "id": record.id,
        "created_at": record.created_at.isoformat() if record.created_at else None,
        "style": record.style,
        "model": record.model,
        "original_prompt": record.original_prompt,
        "generated_prompt": record.generated_prompt,
        "feedback": record.feedback,
        "parent_id": record.parent_id,
        "status": getattr(record.status, "value", record.status),
        "latency_ms": record.latency_ms,
    }


def csv_rows(records: Iterable[PromptRecord]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield "\ufeff"  # spreadsheets then read the file as UTF-8
    writer.writerow(COLUMNS)
    yield flush()
    for record in records:
        row = record_dict(record)
        writer.writerow([defuse(row[c]) for c in COLUMNS])
        yield flush()


def json_chunks(records: Iterable[PromptRecord]) -> Iterator[str]:
    yield "["
    first = True
    for record in records:
        yield ("" if first else ",") + "\n  " + json.dumps(record_dict(record), ensure_ascii=False)
        first = False
    yield "\n]\n"
