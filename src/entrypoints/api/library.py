"""The library (SPEC §13): templates with versions, quick templates, custom styles, and library
import and export. Every id goes to the use cases, which answer another user's template, style or
record with 404 and a change to a quick template with 403.

Import bodies are read here, as bytes, by ``read_upload``: a JSON body or the ``file`` part of a
multipart form, up to IMPORT_MAX_BYTES (the app's usual request limit is far smaller). The limit
is set on the request before the body is touched, so a larger upload is refused with 413 from its
Content-Length, or, sent chunked, as soon as the limit is passed, never read whole into memory.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request
from flask.views import MethodView
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from promptcore.domain.custom_styles import CustomStyle
from promptcore.domain.errors import ImportRejected, ValidationFailed
from promptcore.domain.templates import Template, TemplateVersion
from promptcore.services.library_io import IMPORT_MAX_BYTES, LIBRARY_SCHEMA

from ..deps import services
from ..downloads import attachment
from .auth import BEARER, current_actor, login_required
from .errors import flatten_webargs
from .library_schemas import (
    CopyIn,
    CustomStyleIn,
    CustomStyleOut,
    CustomStylePatchIn,
    DiffOut,
    DiffQuery,
    FileUploadIn,
    FromRecordIn,
    ImportReportOut,
    ImproveIn,
    ImproveOut,
    LibraryDocumentIn,
    LibraryExportQuery,
    LibraryImportQuery,
    QuickQuery,
    RenderIn,
    RenderOut,
    RestoreIn,
    TagsOut,
    TeamLibraryQuery,
    TemplateIn,
    TemplateListQuery,
    TemplateOut,
    TemplatePatchIn,
    TemplatesOut,
    VersionOut,
)
from .parsing import NO_BODY, Blueprint
from .schemas import ID_CONVERTER, ErrorOut, QuotaExceededOut

__all__ = ["blp", "check_json_body", "import_request_body", "read_upload", "styles_blp", "template_dict"]

blp = Blueprint("templates", __name__, url_prefix="/api/v1",
                description="Templates with {{variables}} and versions, quick templates, library import and export")
styles_blp = Blueprint("custom_styles", __name__, url_prefix="/api/v1",
                       description="Your own styles, used as custom:<id> wherever a style is named")

# A version number in a path: bounded like the column that holds it (404 beyond).
VERSION_CONVERTER = "int(min=1, max=2147483647)"
# A multipart form carries the file and its part headers and boundaries: room for those.
MULTIPART_SLACK = 64 * 1024
_TOO_LARGE = f"The file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MiB; split it and import the parts."


# -- representations ------------------------------------------------------------------------------

def template_dict(template: Template) -> dict[str, Any]:
    return {
        "id": template.id,
        "title": template.title,
        "description": template.description,
        "body": template.body,
        "variables": template.variables,
        "tags": list(template.tags),
        "favourite": template.favourite,
        "version": template.version,
        "builtin": template.builtin,
        "language": template.language,
        "created_at": template.created_at,
        "updated_at": template.updated_at,
        "read_only": template.builtin is not None and template.owner_id is None,
        "team_id": template.team_id,
        "author_id": template.author_id,
    }


def version_dict(version: TemplateVersion) -> dict[str, Any]:
    return {"number": version.number, "body": version.body, "variables": version.variables,
            "author_id": version.author_id, "created_at": version.created_at, "note": version.note}


def style_dict(style: CustomStyle) -> dict[str, Any]:
    return {"id": style.id, "slug": style.slug, "title": style.title, "description": style.description,
            "instructions": style.instructions, "created_at": style.created_at, "updated_at": style.updated_at,
            "team_id": style.team_id, "author_id": style.author_id}


# -- import bodies --------------------------------------------------------------------------------

def _read_at_most(stream: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream``, whose reads may each return less than asked."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = stream.read(min(64 * 1024, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def read_upload() -> tuple[bytes, str | None]:
    """The file of an import request and its format when known: a JSON body (``json``), or the
    ``file`` part of a multipart form (the format from the file name's extension, else None for
    the use case to judge). The bytes are not decoded here: the use case says what is wrong with
    them (not UTF-8, not an export, the wrong kind of export, formula cells)."""
    if request.mimetype == "multipart/form-data":
        request.max_content_length = IMPORT_MAX_BYTES + MULTIPART_SLACK
        request.max_form_parts = 20
        request.max_form_memory_size = 64 * 1024
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed.on("file", "Send the export file in the form field `file`.")
        data = _read_at_most(upload.stream, IMPORT_MAX_BYTES + 1)
        if len(data) > IMPORT_MAX_BYTES:
            raise RequestEntityTooLarge(_TOO_LARGE)
        name = (upload.filename or "").lower()
        fmt = "json" if name.endswith(".json") else "csv" if name.endswith(".csv") else None
        return data, fmt
    # One byte over the limit may come in, so that a body of exactly the limit is told apart from
    # a longer one sent chunked (werkzeug stops such a stream at the limit without a word).
    request.max_content_length = IMPORT_MAX_BYTES + 1
    if request.is_json:
        data = _read_at_most(request.stream, IMPORT_MAX_BYTES + 1)
        if len(data) > IMPORT_MAX_BYTES:
            raise RequestEntityTooLarge(_TOO_LARGE)
        if not data:
            raise BadRequest(NO_BODY)
        return data, "json"
    if request.content_length or request.headers.get("Transfer-Encoding"):
        raise UnsupportedMediaType("Send the export file as a JSON body (Content-Type: application/json) or as "
                                   "the field `file` of a multipart/form-data form.")
    raise BadRequest("Send the export file: a JSON body, or the field `file` of a multipart/form-data form.")


def check_json_body(data: bytes, schema: Schema, shape: type, prefix: str | None = None) -> None:
    """A JSON body of the expected shape (an object, an array) is checked against the documented
    schema; an invalid item is an ImportRejected naming it (``templates.3.title``, ``rows.17.style``).
    Anything that is not readable JSON of that shape goes to the use case unchecked: it says what
    is wrong (not UTF-8, not JSON, the other kind of export)."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return
    if not isinstance(doc, shape):
        return
    try:
        schema.load(doc)
    except ValidationError as exc:
        messages: Any = exc.messages
        errors = flatten_webargs({"json": {prefix: messages} if prefix else messages})
        raise ImportRejected(errors, f"Nothing was imported: {len(errors)} problem(s) in the file. "
                                     "Fix them and import again.") from None


def import_request_body(json_schema: Any, description: str) -> dict[str, Any]:
    """The OpenAPI requestBody of an import route: the JSON document, or a multipart file."""
    return {"requestBody": {"required": True, "description": description, "content": {
        "application/json": {"schema": json_schema},
        "multipart/form-data": {"schema": FileUploadIn},
    }}}


# -- templates ------------------------------------------------------------------------------------

@blp.route("/templates")
class TemplateCollection(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(TemplateListQuery, location="query")
    @blp.response(200, TemplatesOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    def get(self, args):
        """Your templates (or with `team_id`, your team's), most recently changed first: search (`q`)
        in the title, description and text, a tag, favourites only; cursor pagination."""
        items, cursor = services().templates().list(current_actor(), args.get("q"), args.get("tag"),
                                                    args.get("favourite"), args["limit"], args.get("cursor"),
                                                    team_id=args.get("team_id"))
        return {"items": [template_dict(t) for t in items], "next_cursor": cursor}

    @blp.doc(security=BEARER)
    @blp.arguments(TemplateIn)
    @blp.response(201, TemplateOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut, description="team_id names a team you are not in")
    @blp.alt_response(409, schema=ErrorOut, description="title_taken, or limit_reached (500 templates)")
    @blp.alt_response(422, schema=ErrorOut, description="validation_error: a malformed {{variable}} and the like")
    def post(self, data):
        """Add a template to your library, or with `team_id` to your team's (any member may; the
        team's owners and admins and you, its author, may change it). Its variables are read from
        the text: `{{name}}`, 1-64 letters, digits, `_`, `-` or `.`; unbalanced braces, `{{}}` and
        longer names are refused."""
        return template_dict(services().templates().create(
            current_actor(), data["title"], data["body"], data.get("description"), data.get("tags"),
            data.get("favourite", False), team_id=data.get("team_id")))


@blp.route("/templates/tags")
class TemplateTags(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(TeamLibraryQuery, location="query")
    @blp.response(200, TagsOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut, description="team_id names a team you are not in")
    @blp.alt_response(422, schema=ErrorOut)
    def get(self, args):
        """The tags of your templates (or your team's) with how many templates carry each, most used first."""
        counts = services().templates().tags(current_actor(), team_id=args.get("team_id"))
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return {"tags": [{"tag": tag, "count": count} for tag, count in ordered]}


@blp.route(f"/templates/<{ID_CONVERTER}:template_id>")
class TemplateItem(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, TemplateOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut)
    def get(self, template_id):
        """One of your templates, or a quick template; anyone else's is 404."""
        return template_dict(services().templates().get(current_actor(), template_id))

    @blp.doc(security=BEARER)
    @blp.arguments(TemplatePatchIn)
    @blp.response(200, TemplateOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="a quick template (copy it to change it), or a team's "
                                                   "template you are neither the author nor an owner or admin of")
    @blp.alt_response(404, schema=ErrorOut)
    @blp.alt_response(409, schema=ErrorOut, description="title_taken")
    @blp.alt_response(422, schema=ErrorOut)
    def patch(self, data, template_id):
        """Change any of title, text, description, tags and the favourite flag. A new text makes a
        new version; the older ones stay."""
        return template_dict(services().templates().update(
            current_actor(), template_id, title=data.get("title"), body=data.get("body"),
            description=data.get("description"), tags=data.get("tags"), favourite=data.get("favourite"),
            note=data.get("note")))

    @blp.doc(security=BEARER)
    @blp.response(204)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="a quick template, or a team's you may not change")
    @blp.alt_response(404, schema=ErrorOut)
    def delete(self, template_id):
        """Delete a template with all its versions."""
        services().templates().delete(current_actor(), template_id)


@blp.route(f"/templates/<{ID_CONVERTER}:template_id>/versions")
class TemplateVersions(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, VersionOut(many=True))
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut)
    def get(self, template_id):
        """Every version of the template's text, newest first."""
        return [version_dict(v) for v in services().templates().versions(current_actor(), template_id)]


@blp.route(f"/templates/<{ID_CONVERTER}:template_id>/versions/<{VERSION_CONVERTER}:number>")
class TemplateVersionItem(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, VersionOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut)
    def get(self, template_id, number):
        """One version of the template's text."""
        return version_dict(services().templates().version(current_actor(), template_id, number))


@blp.route(f"/templates/<{ID_CONVERTER}:template_id>/diff")
class TemplateDiff(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(DiffQuery, location="query")
    @blp.response(200, DiffOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut, description="the template or a version")
    @blp.alt_response(422, schema=ErrorOut)
    def get(self, args, template_id):
        """The line diff from version `from` to version `to`: every line once, marked ' ' (both),
        '-' (only in `from`) or '+' (only in `to`), with its line numbers."""
        lines = services().templates().diff(current_actor(), template_id, args["old"], args["new"])
        return {"old": args["old"], "new": args["new"],
                "lines": [{"op": d.op, "text": d.text, "old_number": d.old_number, "new_number": d.new_number}
                          for d in lines]}


@blp.route(f"/templates/<{ID_CONVERTER}:template_id>/restore")
class TemplateRestore(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(RestoreIn)
    @blp.response(200, TemplateOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="a quick template, or a team's you may not change")
    @blp.alt_response(404, schema=ErrorOut, description="the template or the version")
    @blp.alt_response(422, schema=ErrorOut)
    def post(self, data, template_id):
        """Make an old version the latest again, as a new version (history is never rewritten)."""
        return template_dict(services().templates().restore(current_actor(), template_id, data["version"]))


@blp.route(f"/templates/<{ID_CONVERTER}:template_id>/render")
class TemplateRender(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(RenderIn)
    @blp.response(200, RenderOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut, description="the template or the version")
    @blp.alt_response(422, schema=ErrorOut, description="a missing value (named in errors as values.<name>), or "
                                                        "a value holding {{ or }}")
    def post(self, data, template_id):
        """The text with every variable filled in. Values are plain text, put in once and never
        read for variables again; values for names the text does not use are ignored."""
        text = services().templates().render(current_actor(), template_id, data["values"], data.get("version"))
        return {"text": text}


@blp.route(f"/templates/<{ID_CONVERTER}:template_id>/improve")
class TemplateImprove(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(ImproveIn)
    @blp.response(200, ImproveOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="email_not_confirmed")
    @blp.alt_response(402, schema=ErrorOut, description="team_plan_required: team_id names a team without a "
                                                        "team plan; nothing was spent")
    @blp.alt_response(404, schema=ErrorOut, description="the template, a custom:<id> style not yours, or a team_id "
                                                        "that is not a team of yours")
    @blp.alt_response(422, schema=ErrorOut, description="validation_error, prompt_rejected, or variables_changed "
                                                        "(errors.missing and errors.added name the variables)")
    @blp.alt_response(429, schema=QuotaExceededOut, description="quota_exceeded (with team_id: the team's pool or "
                                                                "your cap in it)")
    @blp.alt_response(503, schema=ErrorOut, description="llm_unavailable")
    def post(self, data, template_id):
        """Improve the template's text in a style, keeping exactly its variables (one unit of the
        quota; with `team_id`, of that team's pool). The template does not change: save the text
        with PATCH to make it a new version."""
        improved = services().templates().improve(current_actor(), template_id, data["style"], data.get("model"),
                                                  team_id=data.get("team_id"))
        return {"template_id": improved.template_id, "text": improved.text, "variables": improved.variables,
                "record_id": improved.record_id, "model": improved.model, "quota": improved.quota.to_dict()}


@blp.route(f"/templates/<{ID_CONVERTER}:template_id>/copy")
class TemplateCopy(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(CopyIn)
    @blp.response(201, TemplateOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut)
    @blp.alt_response(409, schema=ErrorOut, description="limit_reached")
    @blp.alt_response(422, schema=ErrorOut)
    def post(self, data, template_id):
        """Copy a quick template, one of your own or one of your team's into your library, or with
        `team_id` into a team's (send `{}` to keep the title; a taken title gets " (2)" and so on)."""
        return template_dict(services().templates().copy(current_actor(), template_id, data.get("title"),
                                                         team_id=data.get("team_id")))


@blp.route("/templates/from-record")
class TemplateFromRecord(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(FromRecordIn)
    @blp.response(201, TemplateOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut, description="the record (or it has no improved text)")
    @blp.alt_response(409, schema=ErrorOut, description="limit_reached")
    @blp.alt_response(422, schema=ErrorOut, description="the improved text is not a valid template")
    def post(self, data):
        """Save a history record's improved prompt as a template (with `team_id`, in the team's library)."""
        return template_dict(services().templates().from_record(current_actor(), data["record_id"],
                                                                data.get("title"), team_id=data.get("team_id")))


@blp.route("/quick-templates")
class QuickTemplates(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(QuickQuery, location="query")
    @blp.response(200, TemplateOut(many=True))
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    def get(self, args):
        """The built-in quick templates (read-only; render, improve or copy them), in one language
        or all."""
        return [template_dict(t) for t in services().templates().quick(args.get("language"))]


# -- import and export ----------------------------------------------------------------------------

@blp.route("/templates/export")
class LibraryExport(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(LibraryExportQuery, location="query")
    @blp.response(200, description="An attachment: your templates and custom styles as JSON (described by "
                                    "/api/v1/schemas/library-export.json) or CSV (formula-like cells defused).")
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    def get(self, args):
        """Export your library (templates and custom styles) as JSON or CSV; POST /templates/import
        reads either back."""
        return attachment(services().library().export(current_actor(), args["format"]))


@blp.route("/templates/import")
class LibraryImport(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.doc(**import_request_body(LibraryDocumentIn, "A library export: its JSON as the body, or the JSON or "
                                                      "CSV file as the field `file` of a form. At most 2 MiB."))
    @blp.arguments(LibraryImportQuery, location="query")
    @blp.response(200, ImportReportOut)
    @blp.alt_response(400, schema=ErrorOut, description="no body")
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(409, schema=ErrorOut, description="limit_reached: the library would grow past its limits")
    @blp.alt_response(413, schema=ErrorOut, description="payload_too_large: more than 2 MiB")
    @blp.alt_response(415, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut, description=(
        "import_invalid: errors name every invalid item and field (templates.3.body); validation_error: the "
        "file is not UTF-8, not a library export, or a CSV cell holds a formula. Nothing was written."))
    def post(self, args):
        """Import templates and custom styles, all or nothing. A title you already use is renamed
        ("Title (2)"), skipped or replaced (`on_conflict`); `dry_run=true` answers the plan and
        writes nothing."""
        data, fmt = read_upload()
        if fmt == "json":
            check_json_body(data, LibraryDocumentIn(), dict)
        report = services().library().import_library(current_actor(), data, fmt, args["on_conflict"],
                                                     args["dry_run"])
        return report.to_dict()


@blp.route("/schemas/library-export.json")
class LibrarySchema(MethodView):
    @blp.response(200, description="The JSON Schema (2020-12) of a library export.",
                  content_type="application/schema+json")
    def get(self):
        """The JSON Schema of the library export (`GET /templates/export?format=json`)."""
        body = json.dumps(LIBRARY_SCHEMA, ensure_ascii=False, indent=2)
        response = Response(body, mimetype="application/schema+json")
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response


# -- custom styles --------------------------------------------------------------------------------

@styles_blp.route("/custom-styles")
class CustomStyleCollection(MethodView):
    decorators = [login_required]

    @styles_blp.doc(security=BEARER)
    @styles_blp.arguments(TeamLibraryQuery, location="query")
    @styles_blp.response(200, CustomStyleOut(many=True))
    @styles_blp.alt_response(401, schema=ErrorOut)
    @styles_blp.alt_response(404, schema=ErrorOut, description="team_id names a team you are not in")
    @styles_blp.alt_response(422, schema=ErrorOut)
    def get(self, args):
        """Your custom styles (or with `team_id`, your team's), by title."""
        return [style_dict(s) for s in services().custom_styles().list(current_actor(), team_id=args.get("team_id"))]

    @styles_blp.doc(security=BEARER)
    @styles_blp.arguments(CustomStyleIn)
    @styles_blp.response(201, CustomStyleOut)
    @styles_blp.alt_response(401, schema=ErrorOut)
    @styles_blp.alt_response(404, schema=ErrorOut, description="team_id names a team you are not in")
    @styles_blp.alt_response(409, schema=ErrorOut, description="title_taken, or limit_reached (100 styles)")
    @styles_blp.alt_response(422, schema=ErrorOut)
    def post(self, data):
        """Add a style to your own, or with `team_id` to your team's (every member may use it; its
        owners and admins and you, the author, may change it); use its slug `custom:<id>` as
        `style` in POST /prompts and elsewhere."""
        return style_dict(services().custom_styles().create(current_actor(), data["title"], data["instructions"],
                                                            data.get("description"), team_id=data.get("team_id")))


@styles_blp.route(f"/custom-styles/<{ID_CONVERTER}:style_id>")
class CustomStyleItem(MethodView):
    decorators = [login_required]

    @styles_blp.doc(security=BEARER)
    @styles_blp.response(200, CustomStyleOut)
    @styles_blp.alt_response(401, schema=ErrorOut)
    @styles_blp.alt_response(404, schema=ErrorOut)
    def get(self, style_id):
        """One of your styles; anyone else's is 404."""
        return style_dict(services().custom_styles().get(current_actor(), style_id))

    @styles_blp.doc(security=BEARER)
    @styles_blp.arguments(CustomStylePatchIn)
    @styles_blp.response(200, CustomStyleOut)
    @styles_blp.alt_response(401, schema=ErrorOut)
    @styles_blp.alt_response(403, schema=ErrorOut, description="a team's style you are neither the author nor an "
                                                               "owner or admin of")
    @styles_blp.alt_response(404, schema=ErrorOut)
    @styles_blp.alt_response(409, schema=ErrorOut, description="title_taken")
    @styles_blp.alt_response(422, schema=ErrorOut)
    def patch(self, data, style_id):
        """Change any of title, description and instructions."""
        return style_dict(services().custom_styles().update(
            current_actor(), style_id, title=data.get("title"), instructions=data.get("instructions"),
            description=data.get("description")))

    @styles_blp.doc(security=BEARER)
    @styles_blp.response(204)
    @styles_blp.alt_response(401, schema=ErrorOut)
    @styles_blp.alt_response(403, schema=ErrorOut, description="a team's style you may not change")
    @styles_blp.alt_response(404, schema=ErrorOut)
    def delete(self, style_id):
        """Delete a style (records made with it keep its slug)."""
        services().custom_styles().delete(current_actor(), style_id)

