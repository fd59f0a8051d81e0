"""Request and response schemas of the library API (SPEC §13): templates, quick templates, custom
styles, import and export.

The import bodies (``LibraryDocumentIn``, ``HistoryRowIn``) describe what the import routes accept
as JSON; the routes check a JSON body against them before the use case reads it, so the document
and the answers agree (a body outside the document is a 422), and the use case then checks what a
schema cannot say (variables, duplicate titles, times in the future)."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from promptcore.domain.custom_styles import (
    INSTRUCTIONS_MAX,
    STYLE_DESCRIPTION_MAX,
    STYLE_TITLE_MAX,
    STYLES_PER_OWNER,
)
from promptcore.domain.prompts import FEEDBACK_MAX
from promptcore.domain.templates import (
    BODY_MAX,
    DESCRIPTION_MAX,
    NAME_MAX,
    TAG_MAX,
    TAGS_MAX,
    TEMPLATES_PER_OWNER,
    TITLE_MAX,
    VALUE_MAX,
)
from promptcore.services.library_io import CONFLICT_MODES, HISTORY_IMPORT_MAX_ROWS, LIBRARY_KIND, SCHEMA_VERSION

from ..ids import MAX_ID
from .schemas import QuotaOut, StrictSchema, Text


class JsonBool(fields.Boolean):
    """A JSON boolean only: marshmallow's Boolean also takes 1, 0, "yes" and "on" (and 0 == False
    even when the only falsy value is False)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value

Id = lambda **kw: fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kw)  # noqa: E731
# Version numbers: a template has at most a few thousand; the bound keeps them in a 32-bit column.
VersionNumber = lambda **kw: fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1),  # noqa: E731
                                            **kw)
TagList = lambda **kw: fields.List(  # noqa: E731
    Text(validate=validate.Length(max=TAG_MAX)), validate=validate.Length(max=TAGS_MAX),
    metadata={"description": f"At most {TAGS_MAX} tags of at most {TAG_MAX} characters, no commas; "
                             "stored trimmed and lower-cased."}, **kw)

_BODY_DOC = ("The text, with variables written {{name}}: 1-64 letters of any alphabet, digits, '_', '-' or '.'; "
             "spaces inside the braces are allowed. Unbalanced braces and {{}} are refused.")


# -- templates ------------------------------------------------------------------------------------

def _team_library(what: str, in_query: bool = False) -> Any:
    # a query string's values are text: "7" is read as 7 there, never in a JSON body
    field = (lambda **kw: fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kw)) if in_query else Id
    return field(load_default=None, allow_none=True, metadata={
        "description": f"{what} the library of this team (SPEC §14); you must be a member (404 otherwise). "
                       "Omitted or null: your own library."})


class TeamLibraryQuery(StrictSchema):
    team_id = _team_library("Read", in_query=True)


class TemplateOut(Schema):
    id = fields.Integer(required=True)
    title = Text(required=True)
    description = Text(required=True)
    body = Text(required=True)
    variables = fields.List(Text(), required=True, metadata={
        "description": "The distinct variable names of the body, in order of first appearance."})
    tags = fields.List(Text(), required=True)
    favourite = fields.Boolean(required=True)
    version = fields.Integer(required=True, metadata={"description": "The number of the latest version."})
    builtin = Text(required=True, allow_none=True, metadata={
        "description": "A quick template's key (the same in every language); null for your own templates."})
    language = Text(required=True, allow_none=True, metadata={"enum": ["en", "ru", None]})
    created_at = fields.DateTime(required=True, allow_none=True)
    updated_at = fields.DateTime(required=True, allow_none=True)
    read_only = fields.Boolean(required=True, metadata={
        "description": "True for quick templates: they can be read, rendered, improved and copied, not changed."})
    team_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "The team whose library holds the template; null for your own and for quick templates."})
    author_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "Who made it (null for quick templates, or once the author's account is gone)."})


class TemplateListQuery(StrictSchema):
    q = Text(load_default=None, validate=validate.Length(max=200), metadata={
        "description": "Words to find in the title, description or body."})
    tag = Text(load_default=None, validate=validate.Length(max=TAG_MAX))
    favourite = fields.Boolean(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    cursor = Text(load_default=None, validate=validate.Length(max=200))
    team_id = _team_library("Search", in_query=True)


class TemplatesOut(Schema):
    items = fields.List(fields.Nested(TemplateOut), required=True)
    next_cursor = Text(allow_none=True, required=True)


class TemplateIn(StrictSchema):
    title = Text(required=True, validate=validate.Length(min=1, max=TITLE_MAX))
    body = Text(required=True, validate=validate.Length(min=1, max=BODY_MAX), metadata={"description": _BODY_DOC})
    description = Text(load_default="", allow_none=True, validate=validate.Length(max=DESCRIPTION_MAX))
    tags = TagList(load_default=None, allow_none=True)
    favourite = JsonBool(load_default=False)
    team_id = _team_library("Add it to")


class TemplatePatchIn(StrictSchema):
    """Any of the fields; a body that differs from the latest version makes a new version."""

    title = Text(validate=validate.Length(min=1, max=TITLE_MAX))
    body = Text(validate=validate.Length(min=1, max=BODY_MAX), metadata={"description": _BODY_DOC})
    description = Text(validate=validate.Length(max=DESCRIPTION_MAX))
    tags = TagList()
    favourite = JsonBool()
    note = Text(validate=validate.Length(max=200), metadata={
        "description": "A note kept with the new version, when the body changes."})


class VersionOut(Schema):
    number = fields.Integer(required=True)
    body = Text(required=True)
    variables = fields.List(Text(), required=True)
    author_id = fields.Integer(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    note = Text(required=True, allow_none=True)


class DiffQuery(StrictSchema):
    old = fields.Integer(required=True, data_key="from", validate=validate.Range(min=1, max=2**31 - 1),
                         metadata={"description": "The older version."})
    new = fields.Integer(required=True, data_key="to", validate=validate.Range(min=1, max=2**31 - 1),
                         metadata={"description": "The newer version."})


class DiffLineOut(Schema):
    op = Text(required=True, metadata={"enum": [" ", "-", "+"], "description": (
        "' ' in both versions, '-' only in the older one, '+' only in the newer one.")})
    text = Text(required=True)
    old_number = fields.Integer(required=True, allow_none=True)
    new_number = fields.Integer(required=True, allow_none=True)


class DiffOut(Schema):
    old = fields.Integer(required=True, data_key="from")
    new = fields.Integer(required=True, data_key="to")
    lines = fields.List(fields.Nested(DiffLineOut), required=True)


class RestoreIn(StrictSchema):
    version = VersionNumber(required=True)


class RenderIn(StrictSchema):
    values = fields.Dict(
        keys=Text(validate=validate.Length(min=1, max=NAME_MAX)), values=Text(validate=validate.Length(max=VALUE_MAX)),
        required=True, metadata={"description": "Variable name to plain text. Values are put in as they are and "
                                                "never read for variables again; a value may not contain {{ or }}."})
    version = VersionNumber(load_default=None, allow_none=True, metadata={
        "description": "Render this version instead of the latest."})


class RenderOut(Schema):
    text = Text(required=True)


class ImproveIn(StrictSchema):
    style = Text(required=True, validate=validate.Length(min=1, max=32), metadata={
        "example": "general", "description": "A style's slug, or custom:<id> for one of your styles."})
    model = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
    team_id = Id(load_default=None, allow_none=True, metadata={
        "description": "Spend a unit of this team's pooled daily limit instead of your own (SPEC §14); you must "
                       "be a member. Omitted or null: your personal workspace."})


class ImproveOut(Schema):
    template_id = fields.Integer(required=True)
    text = Text(required=True, metadata={"description": "The improved body, with exactly the template's variables. "
                                                        "It becomes a new version only when you save it (PATCH)."})
    variables = fields.List(Text(), required=True)
    record_id = fields.Integer(required=True, allow_none=True)
    model = Text(required=True, allow_none=True)
    quota = fields.Nested(QuotaOut, required=True)


class CopyIn(StrictSchema):
    title = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=TITLE_MAX), metadata={
        "description": "The copy's title; by default the original's, with \" (2)\" and so on when taken."})
    team_id = _team_library("Copy it into")


class FromRecordIn(StrictSchema):
    record_id = Id(required=True)
    title = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=TITLE_MAX))
    team_id = _team_library("Add it to")


class TagCountOut(Schema):
    tag = Text(required=True)
    count = fields.Integer(required=True)


class TagsOut(Schema):
    tags = fields.List(fields.Nested(TagCountOut), required=True)


class QuickQuery(StrictSchema):
    language = Text(load_default=None, validate=validate.OneOf(["en", "ru"]), metadata={
        "description": "Only the quick templates in this language; all of them by default."})


# -- custom styles --------------------------------------------------------------------------------

class CustomStyleOut(Schema):
    id = fields.Integer(required=True)
    slug = Text(required=True, metadata={"example": "custom:7", "description": "Use it as `style` anywhere."})
    title = Text(required=True)
    description = Text(required=True)
    instructions = Text(required=True)
    created_at = fields.DateTime(required=True, allow_none=True)
    updated_at = fields.DateTime(required=True, allow_none=True)
    team_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "The team whose style it is; null for your own."})
    author_id = fields.Integer(required=True, allow_none=True)


class CustomStyleIn(StrictSchema):
    title = Text(required=True, validate=validate.Length(min=1, max=STYLE_TITLE_MAX))
    description = Text(load_default="", allow_none=True, validate=validate.Length(max=STYLE_DESCRIPTION_MAX))
    instructions = Text(required=True, validate=validate.Length(min=1, max=INSTRUCTIONS_MAX), metadata={
        "description": "How this style should rewrite prompts. The ground rules (quoted input, keep the language, "
                       "the facts and the placeholders, return only the prompt) always come first and win."})
    team_id = _team_library("Add it to")


class CustomStylePatchIn(StrictSchema):
    title = Text(validate=validate.Length(min=1, max=STYLE_TITLE_MAX))
    description = Text(validate=validate.Length(max=STYLE_DESCRIPTION_MAX))
    instructions = Text(validate=validate.Length(min=1, max=INSTRUCTIONS_MAX))


# -- import and export ----------------------------------------------------------------------------

class LibraryExportQuery(StrictSchema):
    format = Text(load_default="json", validate=validate.OneOf(["json", "csv"]))


class LibraryImportQuery(StrictSchema):
    on_conflict = Text(load_default="rename", validate=validate.OneOf(CONFLICT_MODES), metadata={
        "description": "What to do with an item whose title you already use: rename it (\"Title (2)\"), skip it, "
                       "or replace yours (a template gets the imported text as a new version)."})
    dry_run = fields.Boolean(load_default=False, metadata={
        "description": "Answer the plan (created, renamed, skipped, replaced) and write nothing."})


class HistoryImportQuery(StrictSchema):
    dry_run = fields.Boolean(load_default=False, metadata={
        "description": "Answer how many records would be added and write nothing."})


class LibraryTemplateIn(StrictSchema):
    title = Text(required=True, validate=validate.Length(min=1, max=TITLE_MAX))
    description = Text(allow_none=True, validate=validate.Length(max=DESCRIPTION_MAX))
    body = Text(required=True, validate=validate.Length(min=1, max=BODY_MAX), metadata={"description": _BODY_DOC})
    tags = TagList(allow_none=True)
    favourite = JsonBool()


class LibraryStyleIn(StrictSchema):
    title = Text(required=True, validate=validate.Length(min=1, max=STYLE_TITLE_MAX))
    description = Text(allow_none=True, validate=validate.Length(max=STYLE_DESCRIPTION_MAX))
    instructions = Text(required=True, validate=validate.Length(min=1, max=INSTRUCTIONS_MAX))


class LibraryDocumentIn(StrictSchema):
    """A library export (GET /templates/export?format=json); its JSON Schema is published at
    /api/v1/schemas/library-export.json."""

    schema_version = fields.Integer(required=True, strict=True, validate=validate.OneOf([SCHEMA_VERSION]))
    kind = Text(validate=validate.OneOf([LIBRARY_KIND]))
    exported_at = fields.DateTime()
    templates = fields.List(fields.Nested(LibraryTemplateIn), validate=validate.Length(max=TEMPLATES_PER_OWNER))
    styles = fields.List(fields.Nested(LibraryStyleIn), validate=validate.Length(max=STYLES_PER_OWNER))


class HistoryRowIn(Schema):
    """A record as GET /prompts/export writes it (other keys are ignored)."""

    class Meta:
        unknown = EXCLUDE

    id = fields.Integer(strict=True, allow_none=True)
    created_at = Text(required=True, validate=validate.Length(min=1, max=64), metadata={
        "format": "date-time", "description": "ISO 8601 with a UTC offset, not in the future."})
    style = Text(required=True, validate=validate.Length(min=1, max=32))
    model = Text(allow_none=True, validate=validate.Length(max=200))
    original_prompt = Text(required=True, validate=validate.Length(min=1, max=100_000))
    generated_prompt = Text(required=True, validate=validate.Length(min=1, max=100_000))
    parent_id = fields.Integer(strict=True, allow_none=True)
    feedback = Text(allow_none=True, validate=validate.Length(max=FEEDBACK_MAX))
    status = Text(required=True, validate=validate.OneOf(["succeeded"]))
    latency_ms = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0))
    usage = fields.Dict(allow_none=True)


class FileUploadIn(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                               "description": "The export file, JSON or CSV, at most 2 MiB."})


class ImportItemOut(Schema):
    kind = Text(required=True, metadata={"enum": ["template", "style"]})
    title = Text(required=True)
    action = Text(required=True, metadata={"enum": ["created", "renamed", "skipped", "replaced"]})
    final_title = Text(required=True)
    id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "The stored item's id; null in a dry run for an item that would be created."})


class ImportCountsOut(Schema):
    created = fields.Integer(required=True)
    renamed = fields.Integer(required=True)
    skipped = fields.Integer(required=True)
    replaced = fields.Integer(required=True)


class ImportReportOut(Schema):
    dry_run = fields.Boolean(required=True)
    on_conflict = Text(required=True, metadata={"enum": list(CONFLICT_MODES)})
    counts = fields.Nested(ImportCountsOut, required=True)
    items = fields.List(fields.Nested(ImportItemOut), required=True)


class HistoryImportReportOut(Schema):
    dry_run = fields.Boolean(required=True)
    added = fields.Integer(required=True)
    skipped = fields.Integer(required=True, metadata={"description": "Records your history already holds."})


HISTORY_ROWS_MAX = HISTORY_IMPORT_MAX_ROWS
