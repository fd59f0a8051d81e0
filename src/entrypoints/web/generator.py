"""The generator (/app) with its streaming endpoint, and the history pages with export."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import (
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _

from promptcore.domain.errors import (
    NotFound,
    PromptcoreError,
    QuotaExceeded,
    ValidationFailed,
)
from promptcore.domain.prompts import PromptRecord
from promptcore.services.exports import EXPORT_FORMATS
from promptcore.services.improvement import Generated

from ..api.errors import lookup
from ..deps import services
from ..downloads import attachment
from ..ids import parse_id
from .diff import word_diff
from .forms import CsrfForm, GenerateForm, apply_errors
from .i18n import current_language
from .messages import translate
from .session import current_actor, current_user, login_required
from .views import bp

log = logging.getLogger("promptcore.web")

PRESETS = {
    "shorter": "Make it shorter",
    "example": "Add an example of the expected answer",
    "formal": "Make the tone more formal",
    "steps": "Break the task into steps",
}


def _preset_labels() -> dict[str, str]:
    return {
        "shorter": _("Shorter"),
        "example": _("Add an example"),
        "formal": _("More formal"),
        "steps": _("Step by step"),
    }


# -- generator ----------------------------------------------------------------------------


def _generate_form(user, record: PromptRecord | None = None, prompt: str | None = None) -> GenerateForm:
    form = GenerateForm()
    language = current_language()
    styles = services().catalogue().list()
    form.style.choices = [(s.slug, s.title_in(language)) for s in styles]
    models = services().prompts().models
    form.model.choices = [(m, model_label(m)) for m in models]
    if request.method == "GET" or prompt is not None:  # a prompt: another page's POST fills the box
        if prompt is not None:
            form.prompt.data = prompt
        if record is not None:
            form.prompt.data = record.original_prompt
            form.style.data = record.style
            form.model.data = record.model if record.model in models else None
        if not form.style.data:  # the "Use" button of /styles: ?style=custom:<id>
            from .library_pages import requested_style

            form.style.data = requested_style(request.args.get("style"))
        if not form.style.data:
            default = user.settings.default_style
            form.style.data = default if any(s.slug == default for s in styles) else "general"
        if not form.model.data:
            preferred = user.settings.preferred_model
            form.model.data = preferred if preferred in models else (models[0] if models else None)
    return form


def model_label(model: str | None) -> str:
    from .views import model_label as label

    return label(model)


def result_context(record: PromptRecord) -> dict[str, Any]:
    return {
        "record": record,
        "diff": word_diff(record.original_prompt, record.generated_prompt or ""),
        "presets": _preset_labels(),
        "iterate_form": CsrfForm(),
    }


def _render_app(user, form: GenerateForm, record: PromptRecord | None = None, status: int = 200,
                error: str | None = None, feedback_errors: list[str] | None = None, quota=None,
                quick: dict[str, Any] | None = None):
    from .template_pages import quick_picker

    prompts = services().prompts()
    context: dict[str, Any] = {
        "form": form,
        "styles": services().catalogue().list(),
        "custom_styles": services().custom_styles().list(current_actor()),
        "models": prompts.models,
        "quota": quota or prompts.quota(current_actor()),
        "max_chars": services().settings().max_prompt_chars,
        "error": error,
        "feedback_errors": feedback_errors or [],
        "resend_form": CsrfForm(),
        "quick": quick if quick is not None else quick_picker(),
    }
    if record is not None:
        context.update(result_context(record))
    return render_template("app.html", **context), status


def render_generator(prompt: str | None = None, status: int = 200, quick: dict[str, Any] | None = None):
    """The generator answering another page's POST (a template filled in): the prompt box holds
    ``prompt``, so the text never travels in a URL; ``quick`` is the picker with its errors."""
    user = current_user()
    return _render_app(user, _generate_form(user, prompt=prompt or ""), status=status, quick=quick)


def _own_record(user, raw: Any) -> PromptRecord:
    record_id = parse_id(raw)
    if record_id is None:
        raise NotFound("No such prompt in your history.")
    return services().prompts().get(current_actor(), record_id)


def _request_args(form: GenerateForm) -> dict[str, Any]:
    parent_raw = (form.parent_id.data or "").strip()
    parent_id: int | None = None
    if parent_raw:
        parent_id = parse_id(parent_raw)
        if parent_id is None:
            raise NotFound("The version to iterate on was not found.")
    feedback = (form.feedback.data or "").strip() or PRESETS.get(form.preset.data or "") or None
    if parent_id is not None and feedback is None:
        feedback = ""  # the core then asks for it next to the field
    return {
        "prompt": form.prompt.data,
        "style": form.style.data,
        "model": form.model.data or None,
        "parent_id": parent_id,
        "feedback": feedback,
    }


@bp.get("/app")
@login_required
def generator():
    user = current_user()
    record = None
    if request.args.get("result"):
        record = _own_record(user, request.args["result"])
    return _render_app(user, _generate_form(user, record), record)


@bp.post("/app")
@login_required
def generate():
    """The form without JavaScript: improve, then show the result (post/redirect/get)."""
    user = current_user()
    form = _generate_form(user)
    form.validate()
    parent = None
    try:
        args = _request_args(form)
        if args["parent_id"] is not None:
            parent = _own_record(user, args["parent_id"])
        generated = services().prompts().improve(current_actor(), **args)
    except ValidationFailed as exc:
        feedback_errors = [translate(m) for m in exc.errors.get("feedback", [])]
        errors = ValidationFailed({k: v for k, v in exc.errors.items() if k != "feedback"}, exc.message)
        if errors.errors:
            apply_errors(form, errors)
        return _render_app(user, form, parent, 422, feedback_errors=feedback_errors)
    except QuotaExceeded as exc:
        return _render_app(user, form, parent, 429, error=_quota_message(exc), quota=exc.quota)
    except PromptcoreError as exc:
        status, _slug = lookup(exc)
        return _render_app(user, form, parent, status, error=translate(exc.message))
    return redirect(url_for("web.generator", result=generated.record.id), 303)


def _quota_message(exc: QuotaExceeded) -> str:
    from .views import reset_text

    return _("You have used all %(limit)s improvements for today. The next one is available on %(when)s.",
             limit=exc.quota.limit, when=reset_text(exc.quota.resets_at))


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@bp.post("/app/stream")
@login_required
def generate_stream():
    """The same request as POST /app, answered as a text/event-stream for the page's script:
    ``delta`` events as the model writes, then ``done`` (the rendered result) or ``error``."""
    user = current_user()
    form = _generate_form(user)
    form.validate()
    prompts = services().prompts()
    try:
        args = _request_args(form)
        stream = prompts.improve_stream(current_actor(), **args)
    except PromptcoreError as exc:
        status, slug = lookup(exc)
        body: dict[str, Any] = {"error": slug, "message": translate(exc.message)}
        if isinstance(exc, ValidationFailed):
            body["errors"] = {k.split(".")[-1]: [translate(m) for m in v] for k, v in exc.errors.items()}
        if isinstance(exc, QuotaExceeded):
            body["message"] = _quota_message(exc)
            body["quota_html"] = render_template("_quota.html", quota=exc.quota)
        return jsonify(body), status

    def events():
        try:
            for item in stream:
                if isinstance(item, Generated):
                    record = item.record
                    yield _sse("done", {
                        "id": record.id,
                        "url": url_for("web.generator", result=record.id),
                        "html": render_template("_result.html", **result_context(record)),
                        "quota_html": render_template("_quota.html", quota=item.quota),
                        "exhausted": item.quota.exhausted,
                    })
                else:
                    yield _sse("delta", {"text": item})
        except PromptcoreError as exc:
            yield _sse("error", {"message": translate(exc.message)})
        except Exception:
            log.exception("streaming failed")
            yield _sse("error", {"message": _("Something went wrong on our side. Try again in a moment.")})
        finally:  # the client hung up: let the use case settle the unit now, not at garbage collection
            stream.close()

    response = Response(stream_with_context(events()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


# -- history ------------------------------------------------------------------------------


@bp.get("/history")
@login_required
def history():
    query = (request.args.get("q") or "").strip()[:200]
    style = request.args.get("style") or ""
    styles = services().catalogue().list()
    if style and not any(s.slug == style for s in styles):
        style = ""
    cursor = request.args.get("cursor") or None
    try:
        records, next_cursor = services().prompts().history(current_actor(), 20, cursor, style or None, query or None)
    except ValidationFailed:
        records, next_cursor = services().prompts().history(current_actor(), 20, None, style or None, query or None)
    return render_template("history.html", records=records, next_cursor=next_cursor, query=query,
                           style=style, styles=styles, delete_form=CsrfForm(), paged=bool(cursor))


@bp.get("/history/<int:record_id>")
@login_required
def history_item(record_id: int):
    record = services().prompts().get(current_actor(), record_id)
    return render_template("history_item.html", delete_form=CsrfForm(), show_open=False, **result_context(record))


@bp.post("/history/<int:record_id>/delete")
@login_required
def history_delete(record_id: int):
    services().prompts().delete(current_actor(), record_id)
    flash(_("The prompt was deleted from your history."), "success")
    return redirect(url_for("web.history"), 303)


@bp.get("/history/export")
@login_required
def history_export():
    kind = request.args.get("format", "csv")
    if kind not in EXPORT_FORMATS:
        abort(400)
    return attachment(services().exports().download(current_actor(), kind))
