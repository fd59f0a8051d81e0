"""Import and export (SPEC §13.4): the library (templates and custom styles) as JSON or CSV, and
history imported back from the files the history export writes.

Both imports read the whole file, check every item, and then either write everything in one
transaction or nothing: an invalid item makes an ImportRejected whose ``errors`` name each item
and field (``templates.3.title``, ``rows.17.created_at``). ``dry_run`` answers the same report
and writes nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..domain.access import Actor
from ..domain.custom_styles import (
    STYLE_DESCRIPTION_MAX,
    STYLE_TITLE_MAX,
    STYLES_PER_OWNER,
    CustomStyle,
    clean_instructions,
)
from ..domain.errors import ImportRejected, LimitReached, PromptcoreError, ValidationFailed
from ..domain.prompts import FEEDBACK_MAX, PromptRecord, RecordStatus
from ..domain.templates import (
    TEMPLATES_PER_OWNER,
    Template,
    clean_body,
    clean_description,
    clean_tags,
    clean_title,
)
from ..ports import Clock, UnitOfWork
from .exports import Download, defuse, read_export, undefuse
from .templates import free_title

__all__ = ["CONFLICT_MODES", "HistoryImport", "HistoryImportReport", "IMPORT_MAX_BYTES", "ImportItem",
           "ImportReport", "LIBRARY_SCHEMA", "LibraryTransfer", "SCHEMA_VERSION", "TooLarge"]

SCHEMA_VERSION = 1
LIBRARY_KIND = "promptcore.library"
IMPORT_MAX_BYTES = 2 * 1024 * 1024
HISTORY_IMPORT_MAX_ROWS = 10_000
CONFLICT_MODES = ("rename", "skip", "replace")
CSV_FIELDS = ("kind", "title", "description", "body", "tags", "favourite", "instructions")
_BOM = "\ufeff"
# A cell a spreadsheet would run as a formula, as a foreign CSV may carry it (our own export
# writes such cells with a defusing apostrophe, which the import takes off again).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class TooLarge(ValidationFailed):
    """A file over IMPORT_MAX_BYTES."""

    def __init__(self, limit: int) -> None:
        super().__init__({"file": [f"The file is larger than {limit // (1024 * 1024)} MiB."]},
                         f"The file is larger than {limit // (1024 * 1024)} MiB; split it and import the parts.")


# The JSON Schema of a library export, served at /api/v1/schemas/library-export.json.
LIBRARY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "/api/v1/schemas/library-export.json",
    "title": "promptcore library export",
    "description": "Templates and custom styles of one promptcore library (SPEC §13.4).",
    "type": "object",
    "required": ["schema_version"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "kind": {"const": LIBRARY_KIND},
        "exported_at": {"type": "string", "format": "date-time"},
        "templates": {
            "type": "array",
            "maxItems": TEMPLATES_PER_OWNER,
            "items": {
                "type": "object",
                "required": ["title", "body"],
                "additionalProperties": False,
                "properties": {
                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                    "description": {"type": "string", "maxLength": 1000},
                    "body": {"type": "string", "minLength": 1, "maxLength": 16000,
                             "description": "Text with {{variables}}: 1-64 letters, digits, _, - or ."},
                    "tags": {"type": "array", "maxItems": 20,
                             "items": {"type": "string", "minLength": 1, "maxLength": 32, "pattern": "^[^,]+$"}},
                    "favourite": {"type": "boolean"},
                },
            },
        },
        "styles": {
            "type": "array",
            "maxItems": STYLES_PER_OWNER,
            "items": {
                "type": "object",
                "required": ["title", "instructions"],
                "additionalProperties": False,
                "properties": {
                    "title": {"type": "string", "minLength": 1, "maxLength": STYLE_TITLE_MAX},
                    "description": {"type": "string", "maxLength": STYLE_DESCRIPTION_MAX},
                    "instructions": {"type": "string", "minLength": 1, "maxLength": 4000},
                },
            },
        },
    },
    "additionalProperties": False,
}


@dataclass(frozen=True)
class ImportItem:
    """What an import does (or would do) with one item: ``action`` is created, renamed (created
    under ``final_title``), skipped or replaced."""

    kind: str  # "template" or "style"
    title: str
    action: str
    final_title: str
    id: int | None = None


@dataclass
class ImportReport:
    dry_run: bool
    on_conflict: str
    items: list[ImportItem] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = {"created": 0, "renamed": 0, "skipped": 0, "replaced": 0}
        for item in self.items:
            counts[item.action] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "on_conflict": self.on_conflict, "counts": self.counts,
                "items": [{"kind": i.kind, "title": i.title, "action": i.action, "final_title": i.final_title,
                           "id": i.id} for i in self.items]}


@dataclass
class HistoryImportReport:
    dry_run: bool
    added: int
    skipped: int  # already in the history (the same file imported before, or the user's own records)
    ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "added": self.added, "skipped": self.skipped}


# -- reading files ------------------------------------------------------------------------------

def decode(data: bytes | str) -> str:
    """The text of an uploaded file: UTF-8 (a byte-order mark is allowed), at most 2 MiB."""
    if isinstance(data, str):
        if len(data.encode("utf-8", "surrogatepass")) > IMPORT_MAX_BYTES:
            raise TooLarge(IMPORT_MAX_BYTES)
        text = data
    else:
        if len(data) > IMPORT_MAX_BYTES:
            raise TooLarge(IMPORT_MAX_BYTES)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationFailed.on("file", f"The file is not UTF-8 text (byte {exc.start + 1}); save it as "
                                      "UTF-8 and try again.") from None
    text = text.removeprefix(_BOM)
    if "\x00" in text:
        raise ValidationFailed.on("file", "The file contains NUL characters; it is not a text export.")
    return text


def sniff(text: str, fmt: str | None) -> str:
    """``json`` or ``csv``: as asked, else judged from the first character."""
    if fmt is not None:
        if fmt not in ("json", "csv"):
            raise ValidationFailed.on("format", "Choose json or csv.")
        return fmt
    head = text.lstrip()[:1]
    if not head:
        raise ValidationFailed.on("file", "The file is empty.")
    return "json" if head in "[{" else "csv"


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        message = f"The file is not valid JSON: {exc.msg} (line {exc.lineno})." if isinstance(
            exc, json.JSONDecodeError) else "The file is not valid JSON."
        raise ValidationFailed.on("file", message) from None


def _csv_rows(text: str, expected: tuple[str, ...], what: str) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != expected:
            raise ValidationFailed.on("file", f"This is not {what}: its first row must name the columns "
                                      + ",".join(expected) + ".")
        rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(expected):
                raise ValidationFailed.on("file", f"Line {reader.line_num} has {len(cells)} cells; "
                                          f"{len(expected)} expected.")
            rows.append(dict(zip(expected, cells, strict=True)))
        return rows
    except csv.Error as exc:
        raise ValidationFailed.on("file", f"The CSV file cannot be read: {exc}.") from None


def _cell(raw: str, where: str, errors: dict[str, list[str]]) -> str:
    """A CSV cell's text: our defusing apostrophe taken off; a formula from elsewhere refused."""
    if raw.startswith(_FORMULA_START):
        errors.setdefault(where, []).append(
            "The cell starts like a spreadsheet formula (=, +, -, @); put an apostrophe before it to keep it as "
            "text.")
        return raw
    return undefuse(raw)


# -- the library --------------------------------------------------------------------------------

@dataclass
class _Incoming:
    kind: str
    index: int
    title: str
    values: dict[str, Any]


def _collect(errors: dict[str, list[str]], where: str, check: Callable[[], Any]) -> Any:
    try:
        return check()
    except ValidationFailed as exc:
        for messages in exc.errors.values():
            errors.setdefault(where, []).extend(messages)
        return None


class LibraryTransfer:
    """Library export and import for one owner (the actor)."""

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    # -- export ----------------------------------------------------------------------------------

    def _everything(self, actor: Actor) -> tuple[list[Template], list[CustomStyle]]:
        with self._uow() as uow:
            templates: list[Template] = []
            cursor = None
            while True:
                page = uow.templates.search(actor.user_id, limit=200, cursor=cursor)
                templates.extend(page)
                if len(page) < 200:
                    break
                last = page[-1]
                assert last.updated_at is not None and last.id is not None
                cursor = (last.updated_at, last.id)
            styles = uow.custom_styles.list(actor.user_id)
        templates.sort(key=lambda t: (t.title.casefold(), t.id or 0))
        return templates, styles

    def document(self, actor: Actor) -> dict[str, Any]:
        """The JSON export as a value (LIBRARY_SCHEMA describes it)."""
        templates, styles = self._everything(actor)
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": LIBRARY_KIND,
            "exported_at": self._clock.now().astimezone(timezone.utc).isoformat(),
            "templates": [{"title": t.title, "description": t.description, "body": t.body, "tags": list(t.tags),
                           "favourite": t.favourite} for t in templates],
            "styles": [{"title": s.title, "description": s.description, "instructions": s.instructions}
                       for s in styles],
        }

    def export(self, actor: Actor, fmt: str) -> Download:
        if fmt not in ("json", "csv"):
            raise ValidationFailed.on("format", "Choose json or csv.")
        doc = self.document(actor)
        stamp = self._clock.now().strftime("%Y%m%d")
        if fmt == "json":
            text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
            return Download(f"promptcore-library-{stamp}.json", "application/json", iter([text]))
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write(_BOM)
        writer.writerow(CSV_FIELDS)
        for t in doc["templates"]:
            writer.writerow([defuse(v) for v in ("template", t["title"], t["description"], t["body"],
                                                 ", ".join(t["tags"]), "true" if t["favourite"] else "false", "")])
        for s in doc["styles"]:
            writer.writerow([defuse(v) for v in ("style", s["title"], s["description"], "", "", "",
                                                 s["instructions"])])
        return Download(f"promptcore-library-{stamp}.csv", "text/csv; charset=utf-8", iter([buffer.getvalue()]))

    # -- import ----------------------------------------------------------------------------------

    def _read(self, text: str, fmt: str, errors: dict[str, list[str]]) -> list[_Incoming]:
        if fmt == "json":
            doc = _json(text)
            if isinstance(doc, list):
                raise ValidationFailed.on("file", "This looks like a history export; import it on the history "
                                          "page (POST /api/v1/prompts/import).")
            if not isinstance(doc, dict) or doc.get("kind", LIBRARY_KIND) != LIBRARY_KIND:
                raise ValidationFailed.on("file", "This is not a promptcore library export.")
            version = doc.get("schema_version")
            if type(version) is not int or version != SCHEMA_VERSION:
                raise ValidationFailed.on("schema_version", f"Unsupported schema_version {version!r}; this "
                                          f"server reads version {SCHEMA_VERSION}.")
            unknown = sorted(set(doc) - {"schema_version", "kind", "exported_at", "templates", "styles"})
            if unknown:
                raise ValidationFailed.on("file", "Unknown keys: " + ", ".join(map(str, unknown)) + ".")
            items: list[_Incoming] = []
            for kind, key, allowed in (
                    ("template", "templates", {"title", "description", "body", "tags", "favourite"}),
                    ("style", "styles", {"title", "description", "instructions"})):
                listed = doc.get(key, [])
                if not isinstance(listed, list):
                    raise ValidationFailed.on(key, "Give a list.")
                for i, raw in enumerate(listed):
                    if not isinstance(raw, dict):
                        errors.setdefault(f"{key}.{i}", []).append("Each item is an object.")
                        continue
                    extra = sorted(set(raw) - allowed)
                    if extra:
                        errors.setdefault(f"{key}.{i}", []).append(
                            "Unknown fields: " + ", ".join(map(str, extra)) + ".")
                    items.append(_Incoming(kind, i, "", dict(raw)))
            return items
        rows = _csv_rows(text, CSV_FIELDS, "a promptcore library export")
        items = []
        counters = {"template": 0, "style": 0}
        for line, row in enumerate(rows):
            kind = row["kind"].strip()
            if kind not in counters:
                errors.setdefault(f"rows.{line}.kind", []).append("Write template or style.")
                continue
            key = "templates" if kind == "template" else "styles"
            where = f"{key}.{counters[kind]}"
            counters[kind] += 1
            values = {name: _cell(row[name], f"{where}.{name}", errors)
                      for name in ("title", "description", "body", "instructions")}
            if kind == "template":
                values["tags"] = _cell(row["tags"], f"{where}.tags", errors)
                flag = row["favourite"].strip().lower()
                if flag not in ("", "true", "false"):
                    errors.setdefault(f"{where}.favourite", []).append("Write true or false.")
                values["favourite"] = flag == "true"
                values.pop("instructions")
                if row["instructions"].strip():
                    errors.setdefault(f"{where}.instructions", []).append("Templates have no instructions.")
            else:
                values.pop("body")
                if row["body"].strip() or row["tags"].strip() or row["favourite"].strip():
                    errors.setdefault(where, []).append("Styles have no body, tags or favourite.")
            items.append(_Incoming(kind, counters[kind] - 1, "", values))
        return items

    @staticmethod
    def _check(item: _Incoming, errors: dict[str, list[str]]) -> None:
        where = ("templates." if item.kind == "template" else "styles.") + str(item.index)
        v = item.values
        title = _collect(errors, f"{where}.title", lambda: clean_title(v.get("title")))
        item.title = title or ""
        if item.kind == "template":
            cleaned = {
                "title": title,
                "description": _collect(errors, f"{where}.description",
                                        lambda: clean_description(v.get("description"))),
                "body": _collect(errors, f"{where}.body", lambda: clean_body(v.get("body"))),
                "tags": _collect(errors, f"{where}.tags", lambda: clean_tags(v.get("tags"))),
                "favourite": v.get("favourite", False),
            }
            if not isinstance(cleaned["favourite"], bool):
                errors.setdefault(f"{where}.favourite", []).append("Give true or false.")
        else:
            if title and len(title) > STYLE_TITLE_MAX:
                errors.setdefault(f"{where}.title", []).append(f"Use at most {STYLE_TITLE_MAX} characters.")
            cleaned = {
                "title": title,
                "description": _collect(errors, f"{where}.description",
                                        lambda: clean_description(v.get("description"), limit=STYLE_DESCRIPTION_MAX)),
                "instructions": _collect(errors, f"{where}.instructions",
                                         lambda: clean_instructions(v.get("instructions"))),
            }
        item.values = cleaned

    def import_library(self, actor: Actor, data: bytes | str, fmt: str | None = None, on_conflict: str = "rename",
                       dry_run: bool = False) -> ImportReport:
        """Import a library export; all or nothing. ``on_conflict`` says what to do with an item
        whose title the owner already uses (case-insensitively) among the same kind: ``rename``
        ("Title (2)"), ``skip`` or ``replace`` (a template gets the imported body as a new version;
        a style is overwritten)."""
        if on_conflict not in CONFLICT_MODES:
            raise ValidationFailed.on("on_conflict", "Choose rename, skip or replace.")
        text = decode(data)
        fmt = sniff(text, fmt)
        errors: dict[str, list[str]] = {}
        items = self._read(text, fmt, errors)
        for item in items:
            self._check(item, errors)
        seen: dict[tuple[str, str], int] = {}
        for item in items:
            if not item.title:
                continue
            key = (item.kind, item.title.casefold())
            if key in seen:
                where = ("templates." if item.kind == "template" else "styles.") + str(item.index)
                errors.setdefault(f"{where}.title", []).append(
                    f"The title is used by another item of this file ({item.kind} {seen[key] + 1}); titles in one "
                    "file must differ.")
            else:
                seen[key] = item.index
        if not items and not errors:
            raise ValidationFailed.on("file", "The file holds no templates or styles.")
        if errors:
            raise ImportRejected(errors, f"Nothing was imported: {len(errors)} problem(s) in the file. "
                                 "Fix them and import again.")
        report = ImportReport(dry_run=dry_run, on_conflict=on_conflict)
        with self._uow() as uow:
            template_titles = uow.templates.titles(actor.user_id)
            style_titles = {s.title: s.id for s in uow.custom_styles.list(actor.user_id)}
            template_keys = {t.casefold(): i for t, i in template_titles.items()}
            style_keys = {t.casefold(): i for t, i in style_titles.items() if i is not None}
            now = self._clock.now()
            adding = {"template": 0, "style": 0}
            for item in items:
                keys = template_keys if item.kind == "template" else style_keys
                titles = template_titles if item.kind == "template" else style_titles
                existing = keys.get(item.title.casefold())
                if existing is None:
                    action, final = "created", item.title
                elif on_conflict == "skip":
                    report.items.append(ImportItem(item.kind, item.title, "skipped", item.title, existing))
                    continue
                elif on_conflict == "replace":
                    action, final = "replaced", item.title
                else:
                    action, final = "renamed", free_title(item.title, set(titles),
                                                          200 if item.kind == "template" else STYLE_TITLE_MAX)
                item_id = existing if action == "replaced" else None
                if action != "replaced":
                    adding[item.kind] += 1
                    titles[final] = -1
                    keys[final.casefold()] = -1
                if not dry_run:
                    item_id = self._write(uow, actor, item, action, final, existing, now)
                    titles[final] = item_id
                    keys[final.casefold()] = item_id
                report.items.append(ImportItem(item.kind, item.title, action, final, item_id))
            if uow.templates.count(actor.user_id) + (0 if not dry_run else adding["template"]) > TEMPLATES_PER_OWNER:
                raise LimitReached(f"After this import the library would hold more than {TEMPLATES_PER_OWNER} "
                                   "templates; nothing was imported.")
            if uow.custom_styles.count(actor.user_id) + (0 if not dry_run else adding["style"]) > STYLES_PER_OWNER:
                raise LimitReached(f"After this import you would have more than {STYLES_PER_OWNER} styles; nothing "
                                   "was imported.")
            if not dry_run:
                uow.commit()
        return report

    @staticmethod
    def _write(uow: UnitOfWork, actor: Actor, item: _Incoming, action: str, final: str, existing: int | None,
               now: datetime) -> int:
        v = item.values
        if item.kind == "template":
            if action == "replaced" and existing is not None:
                template = uow.templates.get(existing)
                assert template is not None and template.owner_id == actor.user_id
                template.description, template.tags, template.favourite = v["description"], v["tags"], v["favourite"]
                template.updated_at = now
                uow.templates.save(template)
                if template.body != v["body"]:
                    uow.templates.add_version(template, v["body"], actor.user_id, now, "imported")
                assert template.id is not None
                return template.id
            created = uow.templates.add(Template(title=final, body=v["body"], owner_id=actor.user_id,
                                                 description=v["description"], tags=v["tags"],
                                                 favourite=v["favourite"], created_at=now, updated_at=now),
                                        actor.user_id, "imported")
            assert created.id is not None
            return created.id
        if action == "replaced" and existing is not None:
            style = uow.custom_styles.get(existing)
            assert style is not None and style.owner_id == actor.user_id
            style.description, style.instructions, style.updated_at = v["description"], v["instructions"], now
            uow.custom_styles.save(style)
            assert style.id is not None
            return style.id
        added = uow.custom_styles.add(CustomStyle(owner_id=actor.user_id, title=final, description=v["description"],
                                                  instructions=v["instructions"], created_at=now, updated_at=now))
        assert added.id is not None
        return added.id


# -- history ------------------------------------------------------------------------------------

def _moment(raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise ValueError("give the time as ISO 8601 text")
    moment = datetime.fromisoformat(raw)
    if moment.tzinfo is None:
        raise ValueError("the time needs a UTC offset")
    return moment.astimezone(timezone.utc)


class HistoryImport:
    """Records read back from a history export (SPEC §13.4): kept with their texts and times,
    marked ``source: "import"``, never counted in the quota or the usage stats; a record the
    history already holds (same time, same texts) is skipped, so importing a file twice adds
    nothing."""

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock, max_chars: int = 8000) -> None:
        self._uow = uow
        self._clock = clock
        self._max_chars = max_chars

    def _records(self, actor: Actor, rows: list[dict[str, Any]]) -> tuple[list[PromptRecord], dict[int, int]]:
        errors: dict[str, list[str]] = {}
        records: list[PromptRecord] = []
        parents: dict[int, int] = {}  # position in records -> the exported id of its parent
        ids: dict[int, int] = {}  # exported id -> position
        now = self._clock.now()
        longest = max(self._max_chars, 16_000)
        for i, row in enumerate(rows):
            where = f"rows.{i}"

            def bad(name: str, message: str, where: str = where) -> None:
                errors.setdefault(f"{where}.{name}", []).append(message)

            try:
                created = _moment(row.get("created_at"))
                if created > now:
                    bad("created_at", "The time is in the future.")
            except (ValueError, TypeError) as exc:
                bad("created_at", f"Not a time: {exc}.")
                created = now
            original, generated = row.get("original_prompt"), row.get("generated_prompt")
            for name, value, required in (("original_prompt", original, True), ("generated_prompt", generated, True),
                                          ("feedback", row.get("feedback"), False)):
                if value is None and not required:
                    continue
                if not isinstance(value, str) or (required and not value.strip()):
                    bad(name, "Give the text.")
                elif "\x00" in value:
                    bad(name, "The text contains a NUL character.")
                elif len(value) > (FEEDBACK_MAX if name == "feedback" else longest):
                    bad(name, "The text is too long.")
            if row.get("status", "succeeded") != RecordStatus.SUCCEEDED.value:
                bad("status", "Only succeeded records are imported.")
            style, model = row.get("style"), row.get("model")
            if not isinstance(style, str) or not 0 < len(style) <= 32:
                bad("style", "Give the style's slug (at most 32 characters).")
            if model is not None and (not isinstance(model, str) or len(model) > 200):
                bad("model", "Give the model as text of at most 200 characters.")
            latency, usage = row.get("latency_ms"), row.get("usage")
            if latency is not None and (not isinstance(latency, int) or isinstance(latency, bool) or latency < 0):
                bad("latency_ms", "Give a whole number of milliseconds.")
            if usage is not None and not isinstance(usage, dict):
                bad("usage", "Give an object.")
            for name in ("id", "parent_id"):
                value = row.get(name)
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    bad(name, "Give a whole number.")
            record = PromptRecord(user_id=actor.user_id, original_prompt=original if isinstance(original, str) else "",
                                  style=style if isinstance(style, str) else "", model=model,
                                  status=RecordStatus.SUCCEEDED, generated_prompt=generated,
                                  feedback=row.get("feedback"), latency_ms=latency, usage=usage,
                                  created_at=created, source="import")
            if isinstance(row.get("id"), int):
                ids.setdefault(row["id"], len(records))
            if isinstance(row.get("parent_id"), int):
                parents[len(records)] = row["parent_id"]
            records.append(record)
        if errors:
            raise ImportRejected(errors, f"Nothing was imported: {len(errors)} problem(s) in the file. "
                                 "Fix them and import again.")
        links = {pos: ids[parent] for pos, parent in parents.items() if parent in ids and ids[parent] != pos}
        return records, links

    def import_history(self, actor: Actor, data: bytes | str, fmt: str | None = None,
                       dry_run: bool = False) -> HistoryImportReport:
        text = decode(data)
        fmt = sniff(text, fmt)
        if fmt == "json":
            doc = _json(text)
            if isinstance(doc, dict):
                raise ValidationFailed.on("file", "This looks like a library export; import it on the templates "
                                          "page (POST /api/v1/templates/import).")
        try:
            rows = read_export(text, fmt)
        except PromptcoreError:
            raise
        except (ValueError, TypeError, csv.Error) as exc:
            raise ValidationFailed.on("file", f"This is not a promptcore history export: {exc}.") from None
        if not rows:
            raise ValidationFailed.on("file", "The file holds no records.")
        if len(rows) > HISTORY_IMPORT_MAX_ROWS:
            raise ValidationFailed.on("file", f"Import at most {HISTORY_IMPORT_MAX_ROWS} records at a time.")
        records, links = self._records(actor, rows)
        with self._uow() as uow:
            existing = uow.prompts.same_texts(actor.user_id, sorted({r.created_at for r in records if r.created_at}))
            fresh: list[int] = []
            for pos, record in enumerate(records):
                key = (record.created_at, record.original_prompt, record.generated_prompt)
                if key in existing:
                    continue
                existing.add(key)  # type: ignore[arg-type]
                fresh.append(pos)
            report = HistoryImportReport(dry_run=dry_run, added=len(fresh), skipped=len(records) - len(fresh))
            if dry_run or not fresh:
                return report
            new_ids: dict[int, int] = {}
            for pos in sorted(fresh, key=lambda p: (records[p].created_at, p)):
                record = records[pos]
                parent = links.get(pos)
                record.parent_id = new_ids.get(parent) if parent is not None else None
                uow.prompts.add(record)
                assert record.id is not None
                new_ids[pos] = record.id
            uow.commit()
        report.ids = [new_ids[p] for p in fresh]
        return report
