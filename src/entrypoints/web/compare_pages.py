"""Try it (SPEC §15.3): /history/<id>/try compares the answers to a record's original and improved
prompt, side by side. Without JavaScript the form posts and the page shows both answers when they
are done; the page's script (compare.js) posts the same form to the streaming endpoint and fills
the two columns as the model writes."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Response, jsonify, redirect, render_template, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, TextAreaField

from promptcore.domain.compare import INPUT_MAX, Comparison, with_input
from promptcore.domain.errors import NotFound, PromptcoreError, QuotaExceeded, ValidationFailed
from promptcore.domain.prompts import PromptRecord, RecordStatus
from promptcore.services.compare import Compared

from ..api.compare import side_error
from ..api.errors import lookup
from ..deps import services
from .forms import Form, apply_errors
from .messages import translate
from .session import current_actor, login_required
from .views import bp, model_label

log = logging.getLogger("promptcore.web")

NOT_FOUND = "No such prompt in your history."


class CompareForm(Form):
    model = SelectField(_l("Model"), validate_choice=False)
    input = TextAreaField(_l("Extra text for both prompts (optional)"))


@bp.app_template_global()
def try_it_available() -> bool:
    """Whether Try it can run here: a model is configured (not the offline improver)."""
    return services().compare().available


@bp.app_template_global()
def failure_text(error: str | None) -> str:
    """Why a side failed, in the page's language."""
    found = side_error(error)
    return translate(found["message"]) if found else ""


@bp.app_template_global()
def compare_sent(record: PromptRecord, comparison: Comparison | None, extra: str | None = None) -> dict[str, str]:
    """The two prompts as the model gets them: the record's, with the extra text of the kept
    comparison (or ``extra``) appended."""
    if comparison is not None:
        extra = comparison.input
    return {"a": with_input(record.original_prompt, extra), "b": with_input(record.generated_prompt or "", extra)}


def _record(record_id: int) -> PromptRecord:
    """One of the user's records that can be tried: succeeded, with an improved prompt."""
    record = services().prompts().get(current_actor(), record_id)
    if record.status is not RecordStatus.SUCCEEDED or not (record.generated_prompt or "").strip():
        raise NotFound(NOT_FOUND)
    return record


def _form(record: PromptRecord) -> CompareForm:
    compare = services().compare()
    form = CompareForm()
    form.model.choices = [(m, model_label(m)) for m in compare.models]
    if not form.model.data or form.model.data not in compare.models:
        if form.is_submitted() and form.model.data:
            return form  # an unknown model posted: the core says so next to the field
        form.model.data = compare.default_model(record)
    return form


def columns_context(record: PromptRecord, comparison: Comparison | None) -> dict[str, Any]:
    """What _compare_columns.html shows: the prompts as sent and the comparison's answers, if any."""
    return {"record": record, "comparison": comparison, "sent": compare_sent(record, comparison)}


def _quota():
    return services().prompts().quota(current_actor())


def _render(record: PromptRecord, form: CompareForm, status: int = 200, error: str | None = None, quota=None):
    comparison = services().compare().kept(current_actor(), record.id)
    return render_template(
        "compare.html", form=form, error=error, available=services().compare().available,
        models=services().compare().models, input_max=INPUT_MAX, quota=quota or _quota(), team_box=None,
        **columns_context(record, comparison)), status


@bp.get("/history/<int:record_id>/try")
@login_required
def compare_page(record_id: int):
    record = _record(record_id)
    return _render(record, _form(record))


def _quota_message(exc: QuotaExceeded) -> str:
    from .views import reset_text

    return _("You have used all %(limit)s improvements for today. The next one is available on %(when)s.",
             limit=exc.quota.limit, when=reset_text(exc.quota.resets_at))


@bp.post("/history/<int:record_id>/try")
@login_required
def compare_submit(record_id: int):
    """The form without JavaScript: compare, then show the page with both answers (post/redirect/get)."""
    record = _record(record_id)
    form = _form(record)
    form.validate()
    try:
        services().compare().compare(current_actor(), record.id, form.model.data or None, form.input.data)
    except ValidationFailed as exc:
        apply_errors(form, exc)
        return _render(record, form, 422)
    except QuotaExceeded as exc:
        return _render(record, form, 429, error=_quota_message(exc), quota=exc.quota)
    except PromptcoreError as exc:
        status, _slug = lookup(exc)
        return _render(record, form, status, error=translate(exc.message))
    return redirect(url_for("web.compare_page", record_id=record.id) + "#compare-columns", 303)


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@bp.post("/history/<int:record_id>/try/stream")
@login_required
def compare_stream(record_id: int):
    """The same form, answered as a text/event-stream for the page's script: ``a`` and ``b`` events
    with the text of each side as it arrives, then ``done`` (both columns rendered) or ``error``.
    A refusal before anything runs is a JSON error with the form's field errors."""
    record = _record(record_id)
    form = _form(record)
    form.validate()
    try:
        events = services().compare().stream(current_actor(), record.id, form.model.data or None, form.input.data)
    except PromptcoreError as exc:
        status, slug = lookup(exc)
        body: dict[str, Any] = {"error": slug, "message": translate(exc.message)}
        if isinstance(exc, ValidationFailed):
            body["errors"] = {k.split(".")[-1]: [translate(m) for m in v] for k, v in exc.errors.items()}
        if isinstance(exc, QuotaExceeded):
            body["message"] = _quota_message(exc)
            body["quota_html"] = render_template("_quota.html", quota=exc.quota, team_box=None)
        return jsonify(body), status

    def stream():
        try:
            for item in events:
                if isinstance(item, Compared):
                    yield _sse("done", {
                        "status": item.comparison.status.value,
                        "html": render_template("_compare_columns.html",
                                                **columns_context(record, item.comparison)),
                        "quota_html": render_template("_quota.html", quota=item.quota, team_box=None),
                    })
                else:
                    yield _sse(item.side, {"text": item.text})
        except PromptcoreError as exc:
            yield _sse("error", {"message": translate(exc.message)})
        except Exception:
            log.exception("comparing failed")
            yield _sse("error", {"message": _("Something went wrong on our side. Try again in a moment.")})
        finally:  # the client hung up: the use case reads both answers to their end and settles now
            events.close()

    response = Response(stream_with_context(stream()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response
