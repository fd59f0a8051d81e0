"""History export: every successful record of the actor's, newest first, as CSV or JSON.

One format for every entrypoint (the API's ``GET /prompts/export`` and the history page's Export
give the same bytes), and the format a history import (SPEC §13.4) reads back: ``read_export``
turns a file into the rows ``export_row`` wrote.

The records are read in batches by keyset pagination on (created_at, id), each batch in a short
read-only transaction of its own, so a download that streams for minutes holds no transaction
(and on SQLite no lock) while the client reads.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..domain.access import Actor
from ..domain.errors import ValidationFailed
from ..domain.prompts import PromptRecord
from ..ports import Clock, UnitOfWork

__all__ = ["EXPORT_FIELDS", "EXPORT_FORMATS", "Download", "HistoryExport", "csv_chunks", "defuse",
           "export_row", "json_chunks", "read_export", "undefuse"]

# The columns of a CSV export and the keys of each JSON object, in this order: every field of an
# API record (SPEC §7) but the quota, which belongs to the moment of the request.
EXPORT_FIELDS = ("id", "created_at", "style", "model", "original_prompt", "generated_prompt", "parent_id",
                 "feedback", "status", "latency_ms", "usage")
EXPORT_FORMATS = ("csv", "json")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}

BATCH_SIZE = 500  # records read per transaction
CHUNK_CHARS = 32_768  # a chunk of the response is sent once this much text is ready

_BOM = "\ufeff"  # spreadsheets then read the CSV as UTF-8
# A cell starting with one of these is run as a formula by spreadsheets (OWASP "CSV injection");
# the apostrophe is the defusing prefix itself, escaped too so that defusing can be undone exactly.
_DEFUSE_START = ("=", "+", "-", "@", "\t", "\r", "'")
_INT_FIELDS = frozenset({"id", "parent_id", "latency_ms"})
_REQUIRED_TEXT = frozenset({"original_prompt", "style", "status", "created_at"})


@dataclass(frozen=True)
class Download:
    """A file to send: its name, media type and text, produced lazily chunk by chunk."""

    filename: str
    media_type: str
    chunks: Iterator[str]


def export_row(record: PromptRecord) -> dict[str, Any]:
    """The exported form of a record: JSON values, keys in EXPORT_FIELDS order."""
    return {
        "id": record.id,
        "created_at": record.created_at.isoformat() if record.created_at else None,
        "style": record.style,
        "model": record.model,
        "original_prompt": record.original_prompt,
        "generated_prompt": record.generated_prompt,
        "parent_id": record.parent_id,
        "feedback": record.feedback,
        "status": record.status.value,
        "latency_ms": record.latency_ms,
        "usage": record.usage,
    }


def defuse(text: str) -> str:
    """A cell a spreadsheet will not run as a formula: an apostrophe before a risky first character."""
    return "'" + text if text.startswith(_DEFUSE_START) else text


def undefuse(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return defuse(str(value))


def csv_chunks(batches: Iterable[list[PromptRecord]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(_BOM)
    writer.writerow(EXPORT_FIELDS)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    for batch in batches:
        for record in batch:
            row = export_row(record)
            writer.writerow([_cell(row[name]) for name in EXPORT_FIELDS])
            if buffer.tell() >= CHUNK_CHARS:
                yield flush()
        if buffer.tell():
            yield flush()
    if buffer.tell():
        yield flush()


def json_chunks(batches: Iterable[list[PromptRecord]]) -> Iterator[str]:
    """A JSON array, one record per line."""
    parts = ["["]
    size, first = 1, True
    for batch in batches:
        for record in batch:
            part = ("\n  " if first else ",\n  ") + json.dumps(export_row(record), ensure_ascii=False)
            parts.append(part)
            size, first = size + len(part), False
            if size >= CHUNK_CHARS:
                yield "".join(parts)
                parts, size = [], 0
        if parts:
            yield "".join(parts)
            parts, size = [], 0
    parts.append("\n]\n")
    yield "".join(parts)


def read_export(text: str, fmt: str) -> list[dict[str, Any]]:
    """The rows of an exported file, as ``export_row`` gave them (what a history import reads).

    CSV cannot tell an empty text from a missing one: an empty optional cell reads as None.
    Raises ValueError when the file is not an export."""
    if fmt == "json":
        data = json.loads(text)
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise ValueError("a history export is a JSON array of objects")
        return [{name: row.get(name) for name in EXPORT_FIELDS} for row in data]
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r}")
    reader = csv.reader(io.StringIO(text.removeprefix(_BOM), newline=""))
    header = next(reader, None)
    if header is None or tuple(header) != EXPORT_FIELDS:
        raise ValueError("the first row of a history export names its columns: " + ",".join(EXPORT_FIELDS))
    rows = []
    for cells in reader:
        if len(cells) != len(EXPORT_FIELDS):
            raise ValueError(f"line {reader.line_num}: {len(cells)} cells, {len(EXPORT_FIELDS)} expected")
        row: dict[str, Any] = {}
        for name, cell in zip(EXPORT_FIELDS, cells, strict=True):
            value: Any = undefuse(cell)
            if value == "" and name not in _REQUIRED_TEXT:
                value = None
            elif value is not None and name in _INT_FIELDS:
                value = int(value)
            elif value is not None and name == "usage":
                value = json.loads(value)
            row[name] = value
        rows.append(row)
    return rows


class HistoryExport:
    """Use case: download one's whole history (successful records, deleted ones left out)."""

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock, batch_size: int = BATCH_SIZE) -> None:
        # ``uow`` makes read-only units (SqlUnitOfWork(read_only=True)): nothing here writes.
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._uow = uow
        self._clock = clock
        self._batch_size = batch_size

    def batches(self, actor: Actor) -> Iterator[list[PromptRecord]]:
        """The actor's records, newest first, a batch per short transaction; nothing is held open
        between batches, however long the consumer takes."""
        cursor: tuple[Any, int] | None = None
        while True:
            with self._uow() as uow:
                batch = uow.prompts.page(actor.user_id, self._batch_size, cursor, None, None)
            if batch:
                yield batch
            if len(batch) < self._batch_size:
                return
            last = batch[-1]
            assert last.created_at is not None and last.id is not None
            cursor = (last.created_at, last.id)

    def records(self, actor: Actor) -> Iterator[PromptRecord]:
        for batch in self.batches(actor):
            yield from batch

    def download(self, actor: Actor, fmt: str) -> Download:
        """The export file in ``fmt`` (csv or json); nothing is read until its chunks are."""
        if fmt not in EXPORT_FORMATS:
            raise ValidationFailed.on("format", "Choose csv or json.")
        stamp = self._clock.now().strftime("%Y%m%d")
        serialize = csv_chunks if fmt == "csv" else json_chunks
        return Download(filename=f"promptcore-history-{stamp}.{fmt}", media_type=MEDIA_TYPES[fmt],
                        chunks=serialize(self.batches(actor)))
