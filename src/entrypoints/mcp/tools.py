"""What the MCP server offers (SPEC §15.2), without the SDK: the tools with their JSON Schemas, the
user's templates as prompts, and the calls into the container's use cases.

Every operation takes the ``Credential`` of the request (the user and the ``Actor`` a personal API
key gave, SPEC §15.1) and asks the same use cases the API asks, so quota, history and stats apply
and the one access rule decides what a stranger's id is (not found). Each operation checks the
scope the API's table (api/scopes.py) gives the matching API operation:

====================  =================================  ========================================
tool / prompt          use case                           scope (as its API operation)
====================  =================================  ========================================
improve_prompt         Prompts.improve                    prompts:write (POST /prompts)
iterate_prompt         Prompts.get + Prompts.improve      prompts:write (POST /prompts, parent_id)
list_styles            StyleCatalogue, CustomStyles       any (the styles one can improve with)
search_history         Prompts.history                    prompts:read (GET /prompts?q=)
render_template        Templates.render                   templates:read (POST /templates/{id}/render)
prompts/list, get      Templates.list, get, render        templates:read
====================  =================================  ========================================

Failures are core errors; ``error_result`` turns one into the API's error body (the same status,
slug and message, from the one table in api/errors.py; with a spent quota also the quota, the
upgrade URL and, since there is no Retry-After header, ``retry_after``), which the server sends as
a tool error.
Arguments are checked here first, field by field, with the messages the API's request schemas
give, so a bad call is a ``validation_error`` naming each field, and nothing is spent.

The calls are synchronous (database, upstream model): the server runs them in worker threads.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from promptcore.domain.access import Actor, require_scope
from promptcore.domain.api_keys import PROMPTS_READ, PROMPTS_WRITE, TEMPLATES_READ
from promptcore.domain.errors import NotFound, PromptcoreError, ValidationFailed
from promptcore.domain.prompts import PromptRecord
from promptcore.domain.quota import QuotaStatus
from promptcore.domain.users import User
from promptcore.services.history import HISTORY_MAX_PAGE
from promptcore.services.history import NOT_FOUND as RECORD_NOT_FOUND

from ..api.errors import error_body, lookup
from ..ids import parse_id

if TYPE_CHECKING:
    from ..container import Container

__all__ = ["HISTORY_DEFAULT", "PROMPT_PREFIX", "Credential", "McpOperations", "PromptInfo", "ToolResult",
           "ToolSpec", "error_result", "internal_error_result"]

log = logging.getLogger("promptcore.mcp")

PROMPT_PREFIX = "template-"  # a template's prompt is named template-<id>
HISTORY_DEFAULT = 10
PROMPTS_PAGE = 100
INTERNAL_MESSAGE = "Something went wrong on our side. Try again in a moment."
# The API's request schemas answer these (marshmallow's messages).
_MISSING = "Missing data for required field."
_UNKNOWN = "Unknown field."
_NOT_STRING = "Not a valid string."
_NOT_INTEGER = "Not a valid integer."
_NOT_OBJECT = "Not a valid mapping type."
_NUL = "Remove the NUL character (\\u0000)."
_SURROGATE_TEXT = "The text is not valid Unicode (it contains an unpaired surrogate)."
_SURROGATE = re.compile("[\ud800-\udfff]")
QUERY_MAX = 200  # as the API's q


@dataclass(frozen=True)
class Credential:
    """Who a request acts for: what ``ApiKeys.authenticate`` answered for its key."""

    user: User
    actor: Actor


@dataclass(frozen=True)
class ToolResult:
    """A tool's answer: text blocks for the model to read, and the structured data."""

    texts: list[str]
    data: dict[str, Any]
    is_error: bool = False


@dataclass(frozen=True)
class PromptInfo:
    name: str
    title: str
    description: str
    arguments: list[str]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    read_only: bool
    open_world: bool = False
    annotations: dict[str, Any] = field(default_factory=dict)


# -- JSON Schemas ------------------------------------------------------------------------------------

_QUOTA = {
    "type": "object",
    "description": "The daily quota after this call",
    "properties": {
        "used": {"type": "integer"}, "limit": {"type": "integer"}, "remaining": {"type": "integer"},
        "resets_at": {"type": ["string", "null"], "format": "date-time"}, "window": {"type": "string"},
    },
    "required": ["used", "limit", "remaining", "resets_at", "window"],
}
# The API's record (GET /prompts/{id}), field for field.
_RECORD_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer", "description": "The record's id: iterate_prompt's record_id"},
    "original_prompt": {"type": "string"},
    "style": {"type": "string"},
    "model": {"type": ["string", "null"]},
    "generated_prompt": {"type": ["string", "null"], "description": "The improved prompt"},
    "status": {"type": "string"},
    "parent_id": {"type": ["integer", "null"]},
    "feedback": {"type": ["string", "null"]},
    "created_at": {"type": ["string", "null"], "format": "date-time"},
    "latency_ms": {"type": ["integer", "null"]},
    "usage": {"type": ["object", "null"]},
    "source": {"type": "string"},
}
_IMPROVED = {
    "type": "object",
    "properties": {**_RECORD_PROPERTIES, "quota": _QUOTA},
    "required": ["id", "original_prompt", "style", "generated_prompt", "status", "quota"],
}
_STYLES = {
    "type": "object",
    "properties": {"styles": {"type": "array", "items": {
        "type": "object",
        "properties": {"slug": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
                       "custom": {"type": "boolean"}},
        "required": ["slug", "title", "description", "custom"],
    }}},
    "required": ["styles"],
}
_HISTORY = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": {"type": "object", "properties": _RECORD_PROPERTIES,
                                                        "required": ["id", "original_prompt", "style"]}},
                   "more": {"type": "boolean", "description": "Whether older matches were left out"}},
    "required": ["items", "more"],
}
_RENDERED = {
    "type": "object",
    "properties": {"template_id": {"type": "integer"}, "text": {"type": "string"}},
    "required": ["template_id", "text"],
}


def _tools(models: tuple[str, ...], max_chars: int) -> list[ToolSpec]:
    model_help = ("The model to use: one of " + ", ".join(models) + f"; {models[0]} when left out."
                  if models else "The model to use; the default when left out.")
    return [
        ToolSpec(
            name="improve_prompt",
            title="Improve a prompt",
            description=("Rewrite a rough prompt into a better prompt for a large language model, in the same "
                         "language, in the chosen style (list_styles names them). Spends one unit of the daily "
                         "quota and is saved in the history; the answer is the improved prompt, its record id "
                         "(for iterate_prompt) and the quota left."),
            input_schema={
                "type": "object",
                "properties": {
                    "prompt": {"type": "string", "minLength": 1, "maxLength": max_chars,
                               "description": "The rough prompt to improve"},
                    "style": {"type": "string", "description": "A style's slug from list_styles, e.g. general, "
                                                               "technical, creative, or custom:<id>"},
                    "model": {"type": ["string", "null"], "description": model_help},
                },
                "required": ["prompt", "style"],
                "additionalProperties": False,
            },
            output_schema=_IMPROVED, read_only=False, open_world=True,
        ),
        ToolSpec(
            name="iterate_prompt",
            title="Refine an improved prompt",
            description=("Improve an earlier result again with feedback (\"shorter\", \"add an example\"): the "
                         "new version keeps the record's original prompt and style and links to it. Spends one "
                         "unit of the daily quota; the answer is like improve_prompt's."),
            input_schema={
                "type": "object",
                "properties": {
                    "record_id": {"type": "integer", "minimum": 1,
                                  "description": "The id of a result of improve_prompt or iterate_prompt"},
                    "feedback": {"type": "string", "minLength": 1, "description": "What to change"},
                },
                "required": ["record_id", "feedback"],
                "additionalProperties": False,
            },
            output_schema=_IMPROVED, read_only=False, open_world=True,
        ),
        ToolSpec(
            name="list_styles",
            title="List the styles",
            description=("The styles a prompt can be improved in: the built-in ones and the user's own "
                         "(custom:<id>), with what each is for."),
            input_schema={"type": "object", "properties": {}, "additionalProperties": False},
            output_schema=_STYLES, read_only=True,
        ),
        ToolSpec(
            name="search_history",
            title="Search the history",
            description=("The user's improved prompts, newest first; with a query, those whose original or "
                         "improved text contains it."),
            input_schema={
                "type": "object",
                "properties": {
                    "query": {"type": ["string", "null"], "description": "Words to look for; every record when "
                                                                         "left out"},
                    "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": HISTORY_MAX_PAGE,
                              "description": f"How many records at most (1-{HISTORY_MAX_PAGE}, default "
                                             f"{HISTORY_DEFAULT})"},
                },
                "additionalProperties": False,
            },
            output_schema=_HISTORY, read_only=True,
        ),
        ToolSpec(
            name="render_template",
            title="Fill in a template",
            description=("A template of the user's with its {{variables}} filled in: the text is ready to use "
                         "or to pass to improve_prompt. Every variable needs a value (plain text). The user's "
                         "templates are also offered as prompts named template-<id>."),
            input_schema={
                "type": "object",
                "properties": {
                    "template_id": {"type": "integer", "minimum": 1, "description": "The template's id"},
                    "values": {"type": "object", "additionalProperties": {"type": "string"},
                               "description": "Each variable's value, by name"},
                },
                "required": ["template_id", "values"],
                "additionalProperties": False,
            },
            output_schema=_RENDERED, read_only=True,
        ),
    ]


# -- argument checks ---------------------------------------------------------------------------------


class _Args:
    """One tool call's arguments, checked field by field; ``done`` reports every problem at once,
    as the API's request schemas do."""

    def __init__(self, arguments: Any, known: set[str]) -> None:
        self._raw: dict[str, Any] = arguments if isinstance(arguments, dict) else {}
        self.errors: dict[str, list[str]] = {}
        if arguments is not None and not isinstance(arguments, dict):
            self.errors["_schema"] = ["Give the arguments as an object."]
        for name in self._raw:
            if name not in known:
                self.errors.setdefault(name, []).append(_UNKNOWN)

    def _value(self, name: str, required: bool) -> Any:
        value = self._raw.get(name)
        if value is None and required:
            self.errors.setdefault(name, []).append(_MISSING)
        return value

    def _unusable(self, name: str, text: str) -> bool:
        """Text the database and UTF-8 cannot hold (the API's Text field refuses it the same way)."""
        problem = _NUL if "\x00" in text else _SURROGATE_TEXT if _SURROGATE.search(text) else None
        if problem is not None:
            self.errors.setdefault(name, []).append(problem)
        return problem is not None

    def text(self, name: str, required: bool = False, max_length: int | None = None) -> str | None:
        value = self._value(name, required)
        if value is not None and not isinstance(value, str):
            self.errors.setdefault(name, []).append(_NOT_STRING)
            return None
        if value is not None and self._unusable(name, value):
            return None
        if value is not None and max_length is not None and len(value) > max_length:
            self.errors.setdefault(name, []).append(f"Longer than maximum length {max_length}.")
            return None
        return value

    def integer(self, name: str, required: bool = False) -> int | None:
        value = self._value(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            self.errors.setdefault(name, []).append(_NOT_INTEGER)
            return None
        return value

    def mapping(self, name: str, required: bool = False) -> dict[str, Any] | None:
        value = self._value(name, required)
        if value is not None and not isinstance(value, dict):
            self.errors.setdefault(name, []).append(_NOT_OBJECT)
            return None
        for key, item in (value or {}).items():
            if self._unusable(name, key) or isinstance(item, str) and self._unusable(f"{name}.{key}", item):
                return None
        return value

    def done(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors, "Some fields are invalid: " + ", ".join(sorted(self.errors)) + ".")


# -- results -----------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def quota_data(quota: QuotaStatus) -> dict[str, Any]:
    data = quota.to_dict()
    data["resets_at"] = _iso(data["resets_at"])
    return data


def record_data(record: PromptRecord) -> dict[str, Any]:
    """A record as the API writes it (api/prompts.py record_dict), JSON-ready."""
    return {
        "id": record.id,
        "original_prompt": record.original_prompt,
        "style": record.style,
        "model": record.model,
        "generated_prompt": record.generated_prompt,
        "status": record.status.value,
        "parent_id": record.parent_id,
        "feedback": record.feedback,
        "created_at": _iso(record.created_at),
        "latency_ms": record.latency_ms,
        "usage": record.usage,
        "source": record.source,
    }


def _quota_line(quota: QuotaStatus) -> str:
    line = f"Daily quota: {quota.used} of {quota.limit} used, {quota.remaining} left"
    if quota.resets_at is not None:
        line += f"; the next unit frees up at {quota.resets_at.isoformat(timespec='minutes')}"
    return line + "."


def error_result(error: PromptcoreError, upgrade_url: str | None = None) -> ToolResult:
    """A core error as a tool error: the API's error body (status, slug, message, the fields, and for
    a spent quota the quota and where to upgrade), its message as the text."""
    status, slug = lookup(error)
    body = error_body(status, slug, error.message, getattr(error, "errors", None))
    texts = [error.message]
    quota = getattr(error, "quota", None)
    if isinstance(quota, QuotaStatus):
        body["quota"] = quota_data(quota)
        texts.append(_quota_line(quota) + (f" A larger daily limit: {upgrade_url}" if upgrade_url else ""))
        if upgrade_url:
            body["upgrade_url"] = upgrade_url
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        body["retry_after"] = retry_after
    return ToolResult(texts, body, is_error=True)


def internal_error_result() -> ToolResult:
    return ToolResult([INTERNAL_MESSAGE], error_body(500, "internal_error", INTERNAL_MESSAGE), is_error=True)


# -- the operations ----------------------------------------------------------------------------------


def _encode_cursor(library: int, inner: str | None) -> str:
    raw = json.dumps([library, inner], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[int, str | None]:
    if not cursor:
        return 0, None
    try:
        library, inner = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        if isinstance(library, int) and not isinstance(library, bool) and library >= 0 \
                and (inner is None or isinstance(inner, str)):
            return library, inner
    except (ValueError, UnicodeDecodeError, binascii.Error, TypeError):
        pass
    raise ValidationFailed.on("cursor", "The cursor is not valid; start from the first page.")


_PROMPT_NAME = re.compile(rf"{PROMPT_PREFIX}([1-9][0-9]{{0,17}})")


class McpOperations:
    """The tools and prompts, run against the container for one credential at a time."""

    def __init__(self, container: "Container") -> None:
        self._container = container
        settings = container.settings()
        self.specs = _tools(tuple(settings.model_choices), settings.max_prompt_chars)
        self._run: dict[str, Callable[[Credential, Any], ToolResult]] = {
            "improve_prompt": self._improve,
            "iterate_prompt": self._iterate,
            "list_styles": self._list_styles,
            "search_history": self._search_history,
            "render_template": self._render_template,
        }

    def authenticate(self, raw: str) -> Credential:
        user, actor = self._container.api_keys().authenticate(raw)
        return Credential(user, actor)

    def has_tool(self, name: str) -> bool:
        return name in self._run

    def call(self, credential: Credential, name: str, arguments: Any) -> ToolResult:
        """Run one tool; a core error becomes a tool error, anything unexpected a 500 one (logged,
        never shown)."""
        try:
            return self._run[name](credential, arguments)
        except PromptcoreError as exc:
            return error_result(exc, self._container.upgrade_url())
        except Exception:
            log.exception("MCP tool %s failed", name)
            return internal_error_result()

    # -- tools -------------------------------------------------------------------------------------

    def _improved(self, generated) -> ToolResult:
        record, quota = generated.record, generated.quota
        note = (f"Record {record.id} (style {record.style}, model {record.model}); pass record_id={record.id} to "
                f"iterate_prompt to refine it. {_quota_line(quota)}")
        return ToolResult([record.generated_prompt or "", note], {**record_data(record), "quota": quota_data(quota)})

    def _improve(self, credential: Credential, arguments: Any) -> ToolResult:
        require_scope(credential.actor, PROMPTS_WRITE)
        args = _Args(arguments, {"prompt", "style", "model"})
        prompt, style, model = args.text("prompt", True), args.text("style", True), args.text("model")
        args.done()
        return self._improved(self._container.prompts().improve(credential.actor, prompt, style, model))

    def _iterate(self, credential: Credential, arguments: Any) -> ToolResult:
        require_scope(credential.actor, PROMPTS_WRITE)
        args = _Args(arguments, {"record_id", "feedback"})
        record_id, feedback = args.integer("record_id", True), args.text("feedback", True)
        args.done()
        if parse_id(record_id) is None:  # no row has it (and the database would overflow)
            raise NotFound(RECORD_NOT_FOUND)
        prompts = self._container.prompts()
        parent = prompts.get(credential.actor, record_id)  # another user's record: not found
        model = parent.model if parent.model in prompts.models else None
        return self._improved(prompts.improve(credential.actor, None, parent.style, model, parent_id=record_id,
                                              feedback=feedback))

    def _list_styles(self, credential: Credential, arguments: Any) -> ToolResult:
        _Args(arguments, set()).done()
        language = credential.user.settings.language or "en"
        styles = [{"slug": s.slug, "title": s.title_in(language), "description": s.description_in(language),
                   "custom": False} for s in self._container.catalogue().list()]
        styles += [{"slug": s.slug, "title": s.title, "description": s.description, "custom": True}
                   for s in self._container.custom_styles().usable(credential.actor)]
        text = "\n".join(f"{s['slug']}: {s['title']}" + (f" — {s['description']}" if s["description"] else "")
                         for s in styles)
        return ToolResult([text], {"styles": styles})

    def _search_history(self, credential: Credential, arguments: Any) -> ToolResult:
        require_scope(credential.actor, PROMPTS_READ)
        args = _Args(arguments, {"query", "limit"})
        query, limit = args.text("query", max_length=QUERY_MAX), args.integer("limit")
        if limit is not None and not 1 <= limit <= HISTORY_MAX_PAGE:
            args.errors.setdefault("limit", []).append(f"Must be greater than or equal to 1 and less than or "
                                                       f"equal to {HISTORY_MAX_PAGE}.")
        args.done()
        records, next_cursor = self._container.prompts().history(credential.actor, limit or HISTORY_DEFAULT,
                                                                 None, None, query)
        items = [record_data(r) for r in records]
        if not items:
            text = "No prompts in the history match." if query and query.strip() else "The history is empty."
        else:
            text = "\n\n".join(f"Record {r['id']} · {r['created_at']} · {r['style']}\n"
                               f"Original: {r['original_prompt']}\nImproved: {r['generated_prompt']}" for r in items)
        return ToolResult([text], {"items": items, "more": next_cursor is not None})

    def _render_template(self, credential: Credential, arguments: Any) -> ToolResult:
        require_scope(credential.actor, TEMPLATES_READ)
        args = _Args(arguments, {"template_id", "values"})
        template_id, values = args.integer("template_id", True), args.mapping("values", True)
        args.done()
        if parse_id(template_id) is None:
            raise NotFound("Template not found.")
        text = self._container.templates().render(credential.actor, template_id, values)
        return ToolResult([text], {"template_id": template_id, "text": text})

    # -- prompts: the user's templates -------------------------------------------------------------

    def _libraries(self, actor: Actor) -> list[int | None]:
        """The user's own library, then each of their teams' (SPEC §14: members use them)."""
        return [None, *sorted(actor.teams)]

    def list_prompts(self, credential: Credential, cursor: str | None) -> tuple[list[PromptInfo], str | None]:
        """A page of the user's templates (their own, then their teams'), newest change first in
        each library. A key without templates:read sees none."""
        actor = credential.actor
        if not actor.has_scope(TEMPLATES_READ):
            return [], None
        library, inner = _decode_cursor(cursor)
        libraries = self._libraries(actor)
        found: list[PromptInfo] = []
        while library < len(libraries) and len(found) < PROMPTS_PAGE:
            rows, inner = self._container.templates().list(actor, limit=PROMPTS_PAGE - len(found), cursor=inner,
                                                            team_id=libraries[library])
            found += [_prompt_info(t) for t in rows]
            if inner is None:
                library += 1
        more = library < len(libraries)
        return found, _encode_cursor(library, inner) if more else None

    def get_prompt(self, credential: Credential, name: str, arguments: dict[str, str] | None) -> tuple[str, str]:
        """(description, text): the template ``name`` names, its variables filled in."""
        match = _PROMPT_NAME.fullmatch(name)
        if match is None:
            raise NotFound(f"Unknown prompt: {name}. The prompts are the templates, named {PROMPT_PREFIX}<id>.")
        require_scope(credential.actor, TEMPLATES_READ)
        templates = self._container.templates()
        template = templates.get(credential.actor, int(match.group(1)))
        text = templates.render(credential.actor, template.id, dict(arguments or {}))
        return _prompt_info(template).description, text


def _prompt_info(template) -> PromptInfo:
    description = template.title + (f": {template.description}" if template.description else "")
    return PromptInfo(name=f"{PROMPT_PREFIX}{template.id}", title=template.title, description=description,
                      arguments=template.variables)

