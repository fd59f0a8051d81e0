"""Try it (SPEC §15.3): POST /prompts/{record_id}/compare answers a record's original prompt and
its improved prompt on one model, in parallel — streamed (``a``, ``b``, then ``done``) or as JSON."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

from flask import Response, stream_with_context
from flask.views import MethodView

from promptcore.domain.compare import SIDES, Comparison, Side
from promptcore.domain.errors import LlmUnavailable, PromptcoreError
from promptcore.domain.quota import QuotaStatus
from promptcore.services.compare import Compared

from ..deps import services
from .auth import BEARER, current_actor, login_required
from .errors import ERROR_TABLE, error_body, lookup
from .parsing import Blueprint
from .prompts import _sse, _wants_stream, quota_dict
from .schemas import ID_CONVERTER, CompareIn, ComparisonOut, ErrorOut, QuotaExceededOut

blp = Blueprint("compare", __name__, url_prefix="/api/v1",
                description="Try it: the answers to a record's original and improved prompt, side by side")


def side_error(name: str | None) -> dict[str, str] | None:
    """A failed side's error as the API names it (slug and message), from the class name the
    core records (as a history record keeps its error)."""
    if name is None:
        return None
    for cls, (_status, slug) in ERROR_TABLE.items():
        if cls.__name__ == name:
            return {"error": slug, "message": cls.default_message}
    return {"error": "llm_unavailable", "message": LlmUnavailable.default_message}


def _side_dict(side: Side) -> dict[str, Any]:
    return {"status": side.status.value, "text": side.text, "model": side.model, "latency_ms": side.latency_ms,
            "usage": side.usage, "error": side_error(side.error) if not side.succeeded else None}


def comparison_dict(comparison: Comparison, quota: QuotaStatus | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "record_id": comparison.record_id,
        "model": comparison.model,
        "input": comparison.input,
        "status": comparison.status.value,
        "spent": comparison.whole,
        "created_at": comparison.created_at,
        "quota": quota_dict(quota),
    }
    for name in SIDES:
        out[name] = _side_dict(comparison.side(name))
    return out


def _stream_response(events: Generator[Any, None, None]) -> Response:
    def body() -> Iterator[str]:
        try:
            for item in events:
                if isinstance(item, Compared):
                    yield _sse("done", ComparisonOut().dump(comparison_dict(item.comparison, item.quota)))
                else:
                    yield _sse(item.side, {"text": item.text})
        except PromptcoreError as exc:
            status, slug = lookup(exc)
            yield _sse("error", error_body(status, slug, exc.message))
        finally:  # the client hung up: the use case reads both answers to their end and settles now
            events.close()

    response = Response(stream_with_context(body()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


@blp.route(f"/prompts/<{ID_CONVERTER}:record_id>/compare")
class CompareView(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(CompareIn)
    @blp.response(201, ComparisonOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="email_not_confirmed")
    @blp.alt_response(404, schema=ErrorOut, description="not one of your succeeded records")
    @blp.alt_response(422, schema=ErrorOut, description=(
        "validation_error (a model not offered, input too long); prompt_rejected when both sides were refused"))
    @blp.alt_response(429, schema=QuotaExceededOut, description="quota_exceeded, with Retry-After, as POST /prompts")
    @blp.alt_response(503, schema=ErrorOut, description=(
        "llm_unavailable: no model to answer with (the offline improver), or both sides failed; no unit spent"))
    @blp.alt_response(
        200, content_type="text/event-stream", success=True,
        description=("With `Accept: text/event-stream`: `event: a` and `event: b` with `{\"text\"}` deltas of the "
                     "original prompt's and the improved prompt's answers, interleaved as they arrive, then "
                     "`event: done` with the comparison (and the quota), or `event: error` with the error body when "
                     "both sides failed."),
        example=('event: b\ndata: {"text": "Dear"}\n\nevent: a\ndata: {"text": "Hi"}\n\n'
                 'event: done\ndata: {"record_id": 1, "status": "succeeded", "spent": true}\n\n'))
    def post(self, data, record_id):
        """Try it: run the record's original prompt (side `a`) and its improved prompt (side `b`) on one
        model in parallel, with the optional `input` appended to both. One quota unit, reserved first
        and spent only when both sides answer; if one side fails the other's answer is still given and
        kept, and the failed side says why (`status: partial`, the unit given back). The latest
        comparison is kept with the record (GET /prompts/{record_id} shows it). With
        `Accept: text/event-stream` the answers stream as `a` and `b` events, then `done`. The
        offline improver cannot answer prompts: 503 `llm_unavailable`, nothing spent."""
        compare = services().compare()
        args = (current_actor(), record_id, data.get("model"), data.get("input"))
        if _wants_stream():
            return _stream_response(compare.stream(*args))
        compared = compare.compare(*args)
        return comparison_dict(compared.comparison, compared.quota)
