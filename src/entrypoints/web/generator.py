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
    session,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _

from promptcore.domain.access import team_role
from promptcore.domain.errors import (
    NotFound,
    PromptcoreError,
    QuotaExceeded,
    TeamPlanRequired,
    ValidationFailed,
)
from promptcore.domain.prompts import PromptRecord
from promptcore.domain.teams import TeamRole
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


def result_context(record: PromptRecord, workspace: int | None) -> dict[str, Any]:
    """A result with its refine form. ``workspace``: the team (None: personal) the page shows the
    result in; the form names it (``team_id``), so a refinement draws from that pool — checked for
    membership when posted — and not from whatever the session has switched to since."""
    return {
        "record": record,
        "diff": word_diff(record.original_prompt, record.generated_prompt or ""),
        "presets": _preset_labels(),
        "iterate_form": CsrfForm(),
        "refine_team": workspace,
    }


# -- workspaces (SPEC §14): the user's own quota, or the pool of a team they belong to ----------

WORKSPACE = "ws"  # the session's key: the id of the team last chosen in the switcher (none: personal)


class WorkspaceNotFound(NotFound):
    """A team_id posted that is not one of the user's teams (a stranger's, or one they were
    removed from since the page was loaded): nothing is generated, personally or otherwise."""

    default_message = "Team not found."


def my_teams() -> list:
    """The signed-in user's teams (TeamView) for the switcher; none, no switcher."""
    actor = current_actor()
    return services().teams().list(actor) if len(actor.teams) else []


def remembered_workspace() -> int | None:
    """The team last chosen in the switcher, if the user is still a member of it (checked on every
    request); otherwise the personal workspace, and the session forgets the team."""
    raw = session.get(WORKSPACE)
    if raw is None:
        return None
    team_id = parse_id(raw)
    if team_id is not None and team_role(current_actor(), team_id) is not None:
        return team_id
    session.pop(WORKSPACE, None)
    return None


def _posted_workspace() -> int | None:
    """The workspace a form asks for: ``team_id`` empty is personal, else one of the user's teams
    (WorkspaceNotFound for any other); a form without the field uses the remembered one (the
    pages' forms all name it; a refine form names the workspace its result was shown in). The
    choice is remembered in the session."""
    if "team_id" not in request.form:
        return remembered_workspace()
    raw = (request.form.get("team_id") or "").strip()
    if not raw:
        session.pop(WORKSPACE, None)
        return None
    team_id = parse_id(raw)
    if team_id is None or team_role(current_actor(), team_id) is None:
        raise WorkspaceNotFound()
    session[WORKSPACE] = team_id
    return team_id


def quota_box(workspace: int | None, personal=None) -> dict[str, Any]:
    """What _quota.html shows: the user's own quota (``personal`` when the caller has it), or the
    team's pool with the user's own share of it and their cap (``team_box``)."""
    actor = current_actor()
    if workspace is None:
        return {"quota": personal or services().prompts().quota(actor), "team_box": None}
    view = services().teams().get(actor, workspace)
    usage = services().quota().team_usage(actor, workspace)
    mine = next((m for m in usage.members if m.member.user_id == actor.user_id), None)
    used = mine.used if mine is not None else 0
    cap = mine.member.daily_cap if mine is not None else None
    capped = cap is not None and used >= cap
    return {"quota": usage.quota, "team_box": {
        "id": workspace, "name": view.team.name, "owner": view.role is TeamRole.OWNER, "plan": usage.quota.limit > 0,
        "used": used, "cap": cap, "capped": capped, "blocked": usage.quota.exhausted or capped,
    }}


def _blocked(box: dict[str, Any]) -> bool:
    return box["team_box"]["blocked"] if box["team_box"] else box["quota"].exhausted


def _render_app(user, form: GenerateForm, record: PromptRecord | None = None, status: int = 200,
                error: str | None = None, feedback_errors: list[str] | None = None, quota=None,
                quick: dict[str, Any] | None = None, workspace: int | None = None,
                workspace_error: str | None = None, upgrade_team: bool = False):
    from .team_library_pages import style_groups
    from .template_pages import quick_picker

    prompts = services().prompts()
    teams = my_teams()
    if workspace_error and not teams:  # no switcher to show it next to
        error = error or workspace_error
    context: dict[str, Any] = {
        "form": form,
        "styles": services().catalogue().list(),
        **style_groups(teams),  # the user's own custom styles, and their teams' by team
        "models": prompts.models,
        "max_chars": services().settings().max_prompt_chars,
        "error": error,
        "upgrade_team": upgrade_team,
        "feedback_errors": feedback_errors or [],
        "resend_form": CsrfForm(),
        "quick": quick if quick is not None else quick_picker(),
        "teams": teams,
        "workspace": workspace,
        "workspace_error": workspace_error,
        **quota_box(workspace, quota),
    }
    if record is not None:
        context.update(result_context(record, workspace))
    return render_template("app.html", **context), status


def render_generator(prompt: str | None = None, status: int = 200, quick: dict[str, Any] | None = None):
    """The generator answering another page's POST (a template filled in): the prompt box holds
    ``prompt``, so the text never travels in a URL; ``quick`` is the picker with its errors."""
    user = current_user()
    return _render_app(user, _generate_form(user, prompt=prompt or ""), status=status, quick=quick,
                       workspace=remembered_workspace())


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
    return _render_app(user, _generate_form(user, record), record, workspace=remembered_workspace())


@bp.post("/app")
@login_required
def generate():
    """The form without JavaScript: improve, then show the result (post/redirect/get)."""
    user = current_user()
    form = _generate_form(user)
    form.validate()
    parent = None
    try:
        workspace = _posted_workspace()
    except WorkspaceNotFound as exc:  # never generate elsewhere instead
        return _render_app(user, form, None, 404, workspace=remembered_workspace(),
                           workspace_error=translate(exc.message))
    page = {"workspace": workspace}
    try:
        args = _request_args(form)
        if args["parent_id"] is not None:
            parent = _own_record(user, args["parent_id"])
        generated = services().prompts().improve(current_actor(), **args, team_id=workspace)
    except ValidationFailed as exc:
        feedback_errors = [translate(m) for m in exc.errors.get("feedback", [])]
        errors = ValidationFailed({k: v for k, v in exc.errors.items() if k != "feedback"}, exc.message)
        if errors.errors:
            apply_errors(form, errors)
        return _render_app(user, form, parent, 422, feedback_errors=feedback_errors, **page)
    except QuotaExceeded as exc:
        return _render_app(user, form, parent, 429, error=_quota_message(exc, workspace),
                           quota=exc.quota if workspace is None else None, **page)
    except TeamPlanRequired as exc:
        return _render_app(user, form, parent, 402, error=translate(exc.message), **page,
                           upgrade_team=team_role(current_actor(), workspace) is TeamRole.OWNER)
    except PromptcoreError as exc:
        status, _slug = lookup(exc)
        return _render_app(user, form, parent, status, error=translate(exc.message), **page)
    return redirect(url_for("web.generator", result=generated.record.id), 303)


def _quota_message(exc: QuotaExceeded, workspace: int | None = None) -> str:
    from .views import reset_text

    if workspace is not None:  # the team's pool, or the member's own cap on it
        return _("%(reason)s The next one is available on %(when)s.", reason=translate(exc.message),
                 when=reset_text(exc.quota.resets_at))
    return _("You have used all %(limit)s improvements for today. The next one is available on %(when)s.",
             limit=exc.quota.limit, when=reset_text(exc.quota.resets_at))


@bp.post("/app/workspace")
@login_required
def generator_workspace():
    """The switcher: remember the workspace chosen and show its quota. The page's script asks for
    JSON (the quota box) when the select changes; without it the "Switch" button posts the whole
    form here and gets the generator back with what was typed still in it."""
    user = current_user()
    wants_json = request.accept_mimetypes.best == "application/json"
    try:
        workspace = _posted_workspace()
    except WorkspaceNotFound as exc:
        if wants_json:
            box = quota_box(remembered_workspace())
            return jsonify({"error": "not_found", "message": translate(exc.message),
                            "quota_html": render_template("_quota.html", **box), "blocked": _blocked(box)}), 404
        return _render_app(user, _generate_form(user), None, 404, workspace=remembered_workspace(),
                           workspace_error=translate(exc.message))
    if wants_json:
        box = quota_box(workspace)
        return jsonify({"workspace": workspace, "quota_html": render_template("_quota.html", **box),
                        "blocked": _blocked(box)})
    return _render_app(user, _generate_form(user), workspace=workspace)


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
    workspace = None
    try:
        workspace = _posted_workspace()
        args = _request_args(form)
        stream = prompts.improve_stream(current_actor(), **args, team_id=workspace)
    except PromptcoreError as exc:
        status, slug = lookup(exc)
        body: dict[str, Any] = {"error": slug, "message": translate(exc.message)}
        if isinstance(exc, ValidationFailed):
            body["errors"] = {k.split(".")[-1]: [translate(m) for m in v] for k, v in exc.errors.items()}
        if isinstance(exc, WorkspaceNotFound):
            body["errors"] = {"team_id": [body["message"]]}
        if isinstance(exc, QuotaExceeded):
            body["message"] = _quota_message(exc, workspace)
            body["quota_html"] = render_template("_quota.html", **quota_box(workspace, exc.quota))
        if isinstance(exc, TeamPlanRequired):
            body["quota_html"] = render_template("_quota.html", **quota_box(workspace))
        return jsonify(body), status

    def events():
        try:
            for item in stream:
                if isinstance(item, Generated):
                    record = item.record
                    box = quota_box(workspace, item.quota)  # the pool's with the member's share, for a team
                    yield _sse("done", {
                        "id": record.id,
                        "url": url_for("web.generator", result=record.id),
                        "html": render_template("_result.html", **result_context(record, workspace)),
                        "quota_html": render_template("_quota.html", **box),
                        "exhausted": _blocked(box),
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
    comparison = services().compare().kept(current_actor(), record_id)  # Try it's answers (SPEC §15.3)
    return render_template("history_item.html", delete_form=CsrfForm(), show_open=False, comparison=comparison,
                           **result_context(record, remembered_workspace()))


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
