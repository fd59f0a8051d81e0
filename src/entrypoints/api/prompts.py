"""Styles, models, prompt improvement (plain and streamed), history, export and stats."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from datetime import date, datetime
from typing import Any

from flask import Response, request, stream_with_context
from flask.views import MethodView

from promptcore.domain.errors import PromptcoreError
from promptcore.domain.prompts import PromptRecord
from promptcore.domain.quota import QuotaStatus
from promptcore.services.improvement import Generated

from ..deps import services
from ..downloads import attachment
from .auth import BEARER, current_actor, login_checked_by_reservation, login_required
from .errors import error_body, lookup
from .library import check_json_body, import_request_body, read_upload
from .library_schemas import HISTORY_ROWS_MAX, HistoryImportQuery, HistoryImportReportOut, HistoryRowIn
from .parsing import Blueprint
from .schemas import (
    ID_CONVERTER,
    ErrorOut,
    ExportQuery,
    HistoryOut,
    HistoryQuery,
    ModelOut,
    PromptIn,
    QuotaExceededOut,
    RecordOut,
    StatsOut,
    StyleOut,
)

blp = Blueprint("prompts", __name__, url_prefix="/api/v1", description="Styles, prompt improvement, history, stats")


def quota_dict(quota: QuotaStatus | None) -> dict[str, Any] | None:
    return quota.to_dict() if quota is not None else None


def record_dict(record: PromptRecord, quota: QuotaStatus | None = None) -> dict[str, Any]:
    return {
        "id": record.id,
        "original_prompt": record.original_prompt,
        "style": record.style,
        "model": record.model,
        "generated_prompt": record.generated_prompt,
        "status": record.status.value,
        "parent_id": record.parent_id,
        "feedback": record.feedback,
        "created_at": record.created_at,
        "latency_ms": record.latency_ms,
        "usage": record.usage,
        "source": record.source,
        "quota": quota_dict(quota),
    }


def _language() -> str:
    return request.accept_languages.best_match(["en", "ru"]) or "en"


@blp.route("/styles")
class Styles(MethodView):
    @blp.response(200, StyleOut(many=True))
    def get(self):
        """The styles, titled and described in the language of `Accept-Language` (en or ru)."""
        lang = _language()
        return [{"slug": s.slug, "title": s.title_in(lang), "description": s.description_in(lang)}
                for s in services().catalogue().list()]


@blp.route("/models")
class Models(MethodView):
    @blp.response(200, ModelOut(many=True))
    def get(self):
        """The models users may pick; the first is the default (`offline` without an OpenRouter key)."""
        models = services().prompts().models
        return [{"id": m, "default": i == 0} for i, m in enumerate(models)]


def _sse(event: str, data: Any) -> str:
    payload = json.dumps(data, ensure_ascii=False, default=_json_default)
    return f"event: {event}\ndata: {payload}\n\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _stream_response(events: Generator[str | Generated, None, None]) -> Response:
    def body() -> Iterator[str]:
        try:
            for item in events:
                if isinstance(item, Generated):
                    yield _sse("done", RecordOut().dump(record_dict(item.record, item.quota)))
                else:
                    yield _sse("delta", {"text": item})
        except PromptcoreError as exc:
            status, slug = lookup(exc)
            yield _sse("error", error_body(status, slug, exc.message))
        finally:  # the server closed us (the client hung up): let the use case settle the unit now
            events.close()

    response = Response(stream_with_context(body()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _wants_stream() -> bool:
    return request.accept_mimetypes.best_match(["application/json", "text/event-stream"]) == "text/event-stream" \
        and "text/event-stream" in request.headers.get("Accept", "")


class _Generate(MethodView):
    decorators = [login_checked_by_reservation]

    @blp.doc(security=BEARER)
    @blp.arguments(PromptIn)
    @blp.response(201, RecordOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="email_not_confirmed")
    @blp.alt_response(402, schema=ErrorOut, description=(
        "team_plan_required: team_id names a team without a team plan (no pooled limit); nothing was spent"))
    @blp.alt_response(404, schema=ErrorOut, description="parent_id not found, or team_id is not a team of yours")
    @blp.alt_response(422, schema=ErrorOut, description="validation_error or prompt_rejected")
    @blp.alt_response(429, schema=QuotaExceededOut, description=(
        "quota_exceeded, with Retry-After, the quota and upgrade_url (<BASE_URL>/pricing); with team_id, the "
        "team's pool (or your daily cap in it) is used up and the quota is the pool's (or your cap's)"))
    @blp.alt_response(503, schema=ErrorOut, description="llm_unavailable")
    @blp.alt_response(
        200, content_type="text/event-stream", success=True,
        description=("With `Accept: text/event-stream`: `event: delta` with `{\"text\"}` as the model "
                     "writes, then `event: done` with the record, or `event: error` with the error body."),
        example='event: delta\ndata: {"text": "You are"}\n\nevent: done\ndata: {"id": 1, "status": "succeeded"}\n\n')
    def post(self, data):
        """Improve a prompt. With `Accept: text/event-stream` the answer streams: `delta` events with
        `{"text"}`, then `done` (the record) or `error` (the error body). The quota unit is
        reserved before the first byte and given back only for a failure before the first delta;
        once output has been sent it is spent, even if the client hangs up. With `team_id` the unit
        comes from that team's pooled limit (and the member's cap), never from your own, and the
        quota in the answer is the pool's."""
        args = (current_actor(), data.get("prompt"), data["style"], data.get("model"), data.get("parent_id"),
                data.get("feedback"))
        team_id = data.get("team_id")
        if _wants_stream():
            return _stream_response(services().prompts().improve_stream(*args, team_id=team_id))
        generated = services().prompts().improve(*args, team_id=team_id)
        return record_dict(generated.record, generated.quota)


@blp.route("/prompts")
class PromptCreate(_Generate):
    pass


@blp.route("/generate-prompt")
class GeneratePromptAlias(_Generate):
    pass


class _History(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(HistoryQuery, location="query")
    @blp.response(200, HistoryOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    def get(self, args):
        """History, newest first, with cursor pagination, a style filter and search (`q`) in the
        original and improved text. Only successful generations are listed."""
        records, cursor = services().prompts().history(current_actor(), args["limit"], args.get("cursor"),
                                                       args.get("style"), args.get("q"))
        return {"items": [record_dict(r) for r in records], "next_cursor": cursor}


@blp.route("/prompts")
class PromptList(_History):
    pass


@blp.route("/history")
class HistoryAlias(_History):
    pass


@blp.route("/prompts/export")
class Export(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(ExportQuery, location="query")
    @blp.response(200, description="An attachment: CSV or JSON of every record in the history, newest first "
                                    "(the format a history import reads back).")
    @blp.alt_response(401, schema=ErrorOut)
    def get(self, args):
        """Export the whole history as CSV or JSON (an attachment)."""
        return attachment(services().exports().download(current_actor(), args["format"]))


@blp.route("/prompts/import")
class HistoryImportView(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.doc(**import_request_body(
        {"type": "array", "minItems": 1, "maxItems": HISTORY_ROWS_MAX, "items": HistoryRowIn},
        "A history export (GET /prompts/export): its JSON array as the body, or the JSON or CSV file as the "
        "field `file` of a form. At most 2 MiB."))
    @blp.arguments(HistoryImportQuery, location="query")
    @blp.response(200, HistoryImportReportOut)
    @blp.alt_response(400, schema=ErrorOut, description="no body")
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(413, schema=ErrorOut, description="payload_too_large: more than 2 MiB")
    @blp.alt_response(415, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut, description=(
        "import_invalid: errors name every invalid row and field (rows.3.created_at); validation_error: the "
        "file is not UTF-8 or not a history export. Nothing was written."))
    def post(self, args):
        """Import records from a history export, all or nothing. They keep their texts and times,
        are marked `source: "import"`, spend no quota and are left out of the stats; records
        already in your history are skipped, so importing a file twice adds nothing."""
        data, fmt = read_upload()
        if fmt == "json":
            check_json_body(data, HistoryRowIn(many=True), list, "rows")
        return services().history_import().import_history(current_actor(), data, fmt, args["dry_run"]).to_dict()


@blp.route(f"/prompts/<{ID_CONVERTER}:record_id>")
class PromptItem(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, RecordOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut)
    def get(self, record_id):
        """One record of your history, with the comparison kept with it (Try it); anyone else's is 404."""
        from .compare import comparison_dict

        actor = current_actor()
        record = record_dict(services().prompts().get(actor, record_id))
        kept = services().compare().kept(actor, record_id)
        record["comparison"] = comparison_dict(kept) if kept is not None else None
        return record

    @blp.doc(security=BEARER)
    @blp.response(204)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut)
    def delete(self, record_id):
        """Remove a record from your history, failed ones too: its texts are erased (the quota
        unit it used is not given back)."""
        services().prompts().delete(current_actor(), record_id)


@blp.route("/stats")
class StatsView(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, StatsOut)
    @blp.alt_response(401, schema=ErrorOut)
    def get(self):
        """Quota now, total generations, counts by style, counts by day for the last 30 days."""
        stats = services().prompts().stats(current_actor())
        return {"quota": quota_dict(stats.quota), "total": stats.total, "by_style": stats.by_style,
                "by_day": [{"date": date.fromisoformat(d), "count": n} for d, n in stats.by_day]}

