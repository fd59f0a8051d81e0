"""Custom styles and import/export on the pages (SPEC §13.3, §13.4, §8): /styles (list, new, edit,
delete with a confirm step), /library/export (JSON or CSV download), /library/import and
/history/import (upload → the dry-run report → Confirm → the real import). With ``?team=<id>``
the style list and the new-style form are a team's (SPEC §14, team_library_pages.py).

The pages call the same use cases as the API: services().custom_styles(), services().library()
and services().history_import().

Between the dry run and the confirmation the uploaded text travels back with the Confirm form,
never in a URL and never trusted as it comes: the form carries the text (zlib, base64) and a token
signed with the app's secret that names the account, the kind of import, the chosen on_conflict
and the SHA-256 of the text, and holds a one-time nonce that this browser's session also keeps.
A confirmation whose text, token, account or session does not match, or whose token is older
than IMPORT_TOKEN_AGE, imports nothing. Uploads may be IMPORT_MAX_BYTES (2 MiB), more than the
app's 256 KiB request limit: the import routes raise the limit for their own requests only."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import zlib
from datetime import timedelta
from typing import Any

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import StringField, TextAreaField

from promptcore.domain.access import require_library_item
from promptcore.domain.custom_styles import (
    INSTRUCTIONS_MAX,
    STYLE_DESCRIPTION_MAX,
    STYLE_TITLE_MAX,
    clean_instructions,
    custom_style_id,
)
from promptcore.domain.errors import Forbidden, ImportRejected, PromptcoreError, ValidationFailed
from promptcore.domain.templates import clean_description, clean_title
from promptcore.services.library_io import CONFLICT_MODES, IMPORT_MAX_BYTES, ImportReport, TooLarge

from ..api.errors import lookup
from ..deps import services
from ..downloads import attachment
from .forms import CsrfForm, Form, apply_errors
from .messages import translate
from .session import current_actor, current_user, login_required
from .team_library_pages import library_item_editable, posted_team, team_scope
from .views import bp

# -- limits -----------------------------------------------------------------------------------------

IMPORT_TOKEN_AGE = timedelta(hours=1)
# The upload's form around the file (boundaries, headers, the CSRF token, on_conflict).
UPLOAD_LIMIT = IMPORT_MAX_BYTES + 64 * 1024
# The Confirm form: the text compressed (zlib adds at most ~0.1 % to incompressible text) and in
# base64 (4/3), the token and the CSRF token.
CONFIRM_LIMIT = IMPORT_MAX_BYTES * 3 // 2 + 64 * 1024
UPLOAD_ENDPOINTS = frozenset({"web.library_import_check", "web.history_import_check"})
CONFIRM_ENDPOINTS = frozenset({"web.library_import_confirm", "web.history_import_confirm"})
_NONCE_KEY = "import_nonce_"


@bp.url_value_preprocessor
def _import_limits(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    """Runs before every before_request function (the CSRF check reads the form), so the import
    routes parse their larger bodies under their own limits; every other page keeps the app's."""
    if endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = UPLOAD_LIMIT
    elif endpoint in CONFIRM_ENDPOINTS:
        request.max_content_length = CONFIRM_LIMIT
        request.max_form_memory_size = CONFIRM_LIMIT


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge):
    """A file over the limit on an import page: that page again, saying how large a file may be."""
    from .errors import page_error

    # The refused body reads as empty: rendering the page (its forms look at request.files) must
    # not try to parse it again and fail the same way.
    for name in ("form", "files"):
        request.__dict__.setdefault(name, ImmutableMultiDict())
    endpoint = request.endpoint or ""
    if endpoint in UPLOAD_ENDPOINTS | CONFIRM_ENDPOINTS and current_user() is not None:
        kind = "history" if endpoint.startswith("web.history") else "library"
        return _import_page(kind, 413, problem=_problem(TooLarge(IMPORT_MAX_BYTES)))
    return page_error(error)


_ITEM_KEY = re.compile(r"^(templates|styles|rows)\.(\d+)(?:\.([\w.]+))?$")


def _field_label(name: str) -> str:
    labels = {
        "title": _("title"), "description": _("description"), "body": _("text"), "tags": _("tags"),
        "favourite": _("favourite"), "instructions": _("instructions"), "kind": _("kind"),
        "created_at": _("time"), "original_prompt": _("original prompt"),
        "generated_prompt": _("improved prompt"), "style": _("style"), "model": _("model"),
        "feedback": _("feedback"), "status": _("status"), "latency_ms": _("latency"), "usage": _("usage"),
        "id": "id", "parent_id": "parent_id",
    }
    return labels.get(name, name)


def _where(key: str, kind: str) -> str:
    """Where a problem is, in words: "Template 4 · title", "Record 18 · time", "Row 3 · kind"."""
    match = _ITEM_KEY.match(key)
    if match is None:
        return "" if key in ("file", "format", "on_conflict") else key
    group, index, name = match.group(1), int(match.group(2)) + 1, match.group(3)
    if group == "templates":
        item = _("Template %(n)s", n=index)
    elif group == "styles":
        item = _("Style %(n)s", n=index)
    elif kind == "history":
        item = _("Record %(n)s", n=index)
    else:
        item = _("Row %(n)s", n=index)
    return f"{item} · {_field_label(name)}" if name else item


def _sort_key(key: str) -> tuple:
    match = _ITEM_KEY.match(key)
    if match is None:
        return (0, 0, 0, key)
    return (1, ("rows", "templates", "styles").index(match.group(1)), int(match.group(2)), match.group(3) or "")


def _problem(error: PromptcoreError, kind: str = "library") -> dict[str, Any]:
    """An error of an import as the page shows it: a heading and every problem, by item and field."""
    errors = getattr(error, "errors", None) or {}
    if isinstance(error, ImportRejected):
        title = translate(error.message)
    elif isinstance(error, TooLarge):
        title = _("The file is too large")
    else:
        title = _("The file was not imported")
    items = [(_where(key, kind), [translate(m) for m in errors[key]])
             for key in sorted(errors, key=_sort_key) if isinstance(errors[key], list)]
    if not items:
        items = [("", [translate(error.message)])]
    return {"title": title, "items": items, "count": len(items)}


# -- custom styles ----------------------------------------------------------------------------------


class StyleForm(Form):
    title = StringField(_l("Title"))
    description = StringField(_l("Description (optional)"))
    instructions = TextAreaField(_l("Instructions"))


def custom_style_titles() -> dict[str, str]:
    """The custom styles the signed-in user may use (their own and their teams'), slug → title,
    read once per request (history lists, results: ``style_title`` shows "custom:7" by its title)."""
    if "custom_style_titles" not in g:
        actor = current_actor()
        g.custom_style_titles = ({s.slug: s.title for s in services().custom_styles().usable(actor)}
                                 if actor is not None else {})
    return g.custom_style_titles


def _style_form_page(form: StyleForm, style=None, status: int = 200, team: Any = None, team_field: str | None = None):
    """The style form (``team``: the team a new style is made in, ``team_field`` the value its
    hidden field posts); a team's style the user may not change is shown read-only."""
    editable = style is None or library_item_editable(style)
    if style is not None and style.team_id is not None:
        team = services().teams().get(current_actor(), style.team_id)
    if not editable:
        for name in ("title", "description", "instructions"):
            form[name].render_kw = {"readonly": True}
    return render_template("style_edit.html", form=form, style=style, max_chars=INSTRUCTIONS_MAX,
                           title_max=STYLE_TITLE_MAX, description_max=STYLE_DESCRIPTION_MAX, team=team,
                           team_field=team_field if team_field is not None else (str(team.team.id) if team else ""),
                           editable=editable), status


def _styles_url(team_id: int | None) -> str:
    return url_for("web.styles_list", team=team_id) if team_id else url_for("web.styles_list")


@bp.get("/styles")
@login_required
def styles_list():
    team = team_scope(request.args.get("team"))  # ?team=<id>: the team's styles (404 for a non-member)
    styles = services().custom_styles().list(current_actor(), team_id=team.team.id if team else None)
    return render_template("styles_list.html", styles=styles, team=team)


@bp.get("/styles/new")
@login_required
def style_new():
    return _style_form_page(StyleForm(), team=team_scope(request.args.get("team")))


@bp.post("/styles/new")
@login_required
def style_create():
    form = StyleForm()
    raw_team = request.form.get("team_id")
    team_id = posted_team(raw_team)
    # A team the user is not in: 404 before the fields; text that is no id: the use case's 422.
    team = services().teams().get(current_actor(), team_id) if isinstance(team_id, int) else None
    try:
        style = services().custom_styles().create(current_actor(), form.title.data, form.instructions.data,
                                                  form.description.data or "", team_id=team_id)
    except ValidationFailed as exc:
        _show_errors(form, exc)
        return _style_form_page(form, status=422, team=team, team_field=raw_team or "")
    except PromptcoreError as exc:
        form.form_errors.append(translate(exc.message))
        return _style_form_page(form, status=lookup(exc)[0], team=team, team_field=raw_team or "")
    if team is not None:
        flash(_("The style “%(title)s” was created for the team “%(team)s”. Members find it in the generator "
                "under the team's name.", title=style.title, team=team.team.name), "success")
        return redirect(_styles_url(team.team.id), 303)
    flash(_("The style “%(title)s” was created. It is in the generator under “My styles”.", title=style.title),
          "success")
    return redirect(url_for("web.styles_list"), 303)


@bp.get("/styles/<int:style_id>")
@login_required
def style_edit(style_id: int):
    style = services().custom_styles().get(current_actor(), style_id)
    form = StyleForm(data={"title": style.title, "description": style.description,
                           "instructions": style.instructions})
    return _style_form_page(form, style)


@bp.post("/styles/<int:style_id>")
@login_required
def style_update(style_id: int):
    styles = services().custom_styles()
    style = styles.get(current_actor(), style_id)  # another user's: 404 before anything is read
    form = StyleForm()
    try:
        style = styles.update(current_actor(), style_id, title=form.title.data or "",
                              instructions=form.instructions.data or "", description=form.description.data or "")
    except ValidationFailed as exc:
        _show_errors(form, exc)
        return _style_form_page(form, style, 422)
    except Forbidden as exc:  # a team's style, for a member who may not change it: keep what they typed
        form.form_errors.append(translate(exc.message))
        return _style_form_page(form, style, 403)
    flash(_("The style “%(title)s” was saved.", title=style.title), "success")
    return redirect(_styles_url(style.team_id), 303)


@bp.get("/styles/<int:style_id>/delete")
@login_required
def style_delete_confirm(style_id: int):
    style = services().custom_styles().get(current_actor(), style_id)
    # Only a page that leads to a change: the core's rule, asked now (403 for a plain team member).
    require_library_item(current_actor(), style.owner_id, style.team_id, style.author_id, change=True,
                         message="Style not found.")
    return render_template("style_delete.html", style=style, form=CsrfForm())


@bp.post("/styles/<int:style_id>/delete")
@login_required
def style_delete(style_id: int):
    styles = services().custom_styles()
    style = styles.get(current_actor(), style_id)
    styles.delete(current_actor(), style_id)
    flash(_("The style “%(title)s” was deleted.", title=style.title), "success")
    return redirect(_styles_url(style.team_id), 303)


def _show_errors(form: StyleForm, error: ValidationFailed) -> None:
    """The use case stops at the first bad field; the page names every bad field at once (the
    same checks, from the domain), each next to its field, in the page's language."""
    errors = {key: list(messages) for key, messages in error.errors.items()}
    checks = (("title", lambda: _checked_title(form.title.data)),
              ("description", lambda: clean_description(form.description.data or "", limit=STYLE_DESCRIPTION_MAX)),
              ("instructions", lambda: clean_instructions(form.instructions.data)))
    for name, check in checks:
        if name in errors:
            continue
        try:
            check()
        except ValidationFailed as exc:
            errors[name] = [m for ms in exc.errors.values() for m in ms]
    apply_errors(form, ValidationFailed(errors, error.message))  # translated there (messages.translate)


def _checked_title(raw: Any) -> str:
    title = clean_title(raw)
    if len(title) > STYLE_TITLE_MAX:
        raise ValidationFailed.on("title", f"Use at most {STYLE_TITLE_MAX} characters (got {len(title)}).")
    return title


def requested_style(raw: str | None) -> str | None:
    """A ``style`` from the generator's query string (the "Use" button of /styles): a built-in
    slug, or one of the signed-in user's custom styles; anything else is ignored."""
    if not raw or len(raw) > 40:
        return None
    if custom_style_id(raw) is not None:
        return raw if raw in custom_style_titles() else None
    return raw if any(s.slug == raw for s in services().catalogue().list()) else None


# -- library export ---------------------------------------------------------------------------------


@bp.get("/library/export")
@login_required
def library_export():
    return render_template("library_export.html")


@bp.get("/library/export/download")
@login_required
def library_export_download():
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        abort(400)
    return attachment(services().library().export(current_actor(), fmt))


# -- import: the two steps --------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    clock = services().clock()

    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock.now().timestamp())

    return URLSafeTimedSerializer(current_app.secret_key, salt="promptcore.web.import-confirm", signer=ClockSigner)


def _pack(text: str) -> str:
    return base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")


def _unpack(packed: str) -> str | None:
    """The text of a Confirm form's ``data``, or None when it is not what _pack makes (at most
    IMPORT_MAX_BYTES once decompressed, so a crafted field cannot make it grow without end)."""
    try:
        raw = base64.urlsafe_b64decode(packed.encode("ascii"))
        inflater = zlib.decompressobj()
        data = inflater.decompress(raw, IMPORT_MAX_BYTES + 1)
        if len(data) > IMPORT_MAX_BYTES or inflater.unconsumed_tail or not inflater.eof:
            return None
        return data.decode("utf-8")
    except (ValueError, binascii.Error, zlib.error, UnicodeError):
        return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _confirmation(kind: str, text: str, on_conflict: str, filename: str) -> dict[str, str]:
    """The hidden fields of the Confirm form; the nonce is kept in the session too."""
    nonce = secrets.token_urlsafe(16)
    session[_NONCE_KEY + kind] = nonce
    token = _serializer().dumps({"k": kind, "u": current_actor().user_id, "n": nonce, "c": on_conflict,
                                 "h": _digest(text), "f": filename})
    return {"token": token, "data": _pack(text)}


class _Refused(Exception):
    pass


def _confirmed(kind: str) -> tuple[str, dict[str, Any]]:
    """The text and the signed facts of a Confirm form, or _Refused."""
    token, packed = request.form.get("token", ""), request.form.get("data", "")
    if not token or not packed or len(token) > 4096:
        raise _Refused()
    try:
        facts = _serializer().loads(token, max_age=int(IMPORT_TOKEN_AGE.total_seconds()))
    except BadData:
        raise _Refused() from None
    if not isinstance(facts, dict) or facts.get("k") != kind or facts.get("u") != current_actor().user_id:
        raise _Refused()
    nonce = session.get(_NONCE_KEY + kind)
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce, str(facts.get("n", ""))):
        raise _Refused()
    text = _unpack(packed)
    if text is None or not hmac.compare_digest(_digest(text), str(facts.get("h", ""))):
        raise _Refused()
    return text, facts


def _refused_problem() -> dict[str, Any]:
    return {"title": _("This confirmation is no longer valid"),
            "items": [("", [_("It has expired, was used already, or was changed. Nothing was imported; "
                              "upload the file again.")])], "count": 1}


def _upload() -> tuple[bytes, str]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed.on("file", "Choose a file to import.")
    data = upload.stream.read(IMPORT_MAX_BYTES + 1)
    filename = re.sub(r"[\x00-\x1f\x7f]", "", upload.filename)[-120:]
    return data, filename



def _templates_url() -> str | None:
    """The templates page, when this server has one."""
    return "/templates" if any(rule.rule == "/templates" for rule in current_app.url_map.iter_rules()) else None


def _import_page(kind: str, status: int = 200, problem: dict[str, Any] | None = None,
                 report: Any = None, confirm: dict[str, str] | None = None, on_conflict: str = "rename",
                 filename: str = ""):
    template = "library_import.html" if kind == "library" else "history_import.html"
    return render_template(template, problem=problem, report=report, confirm=confirm, on_conflict=on_conflict,
                           filename=filename, max_mib=IMPORT_MAX_BYTES // (1024 * 1024),
                           templates_url=_templates_url()), status


def _failure(kind: str, error: PromptcoreError, on_conflict: str = "rename"):
    status = 413 if isinstance(error, TooLarge) else lookup(error)[0]
    return _import_page(kind, status, problem=_problem(error, kind), on_conflict=on_conflict)


def report_rows(report: ImportReport) -> list[dict[str, Any]]:
    words = {"created": _("created"), "skipped": _("skipped"), "replaced": _("replaced")}
    rows = []
    for item in report.items:
        if item.action == "renamed":
            text = _("created as “%(title)s”", title=item.final_title)
        else:
            text = words[item.action]
        rows.append({"kind": _("Template") if item.kind == "template" else _("Style"), "title": item.title,
                     "action": item.action, "text": text})
    return rows


def _library_summary(counts: dict[str, int]) -> str:
    return _("Created: %(created)s, renamed: %(renamed)s, replaced: %(replaced)s, skipped: %(skipped)s.", **counts)


@bp.get("/library/import")
@login_required
def library_import():
    return _import_page("library")


@bp.post("/library/import")
@login_required
def library_import_check():
    """Step one: the dry run. Nothing is written; the page shows what would happen."""
    on_conflict = request.form.get("on_conflict", "rename")
    if on_conflict not in CONFLICT_MODES:
        on_conflict = "rename"
    try:
        data, filename = _upload()
        report = services().library().import_library(current_actor(), data, None, on_conflict, dry_run=True)
    except PromptcoreError as exc:
        return _failure("library", exc, on_conflict)
    text = data.decode("utf-8-sig")
    changes = any(item.action != "skipped" for item in report.items)
    return _import_page("library", report={"rows": report_rows(report), "counts": report.counts,
                                           "summary": _library_summary(report.counts)},
                        confirm=_confirmation("library", text, on_conflict, filename) if changes else None,
                        on_conflict=on_conflict, filename=filename)


@bp.post("/library/import/confirm")
@login_required
def library_import_confirm():
    """Step two: the same file, checked again and written in one transaction."""
    try:
        text, facts = _confirmed("library")
    except _Refused:
        return _import_page("library", 400, problem=_refused_problem())
    on_conflict = facts.get("c") if facts.get("c") in CONFLICT_MODES else "rename"
    try:
        report = services().library().import_library(current_actor(), text, None, on_conflict, dry_run=False)
    except PromptcoreError as exc:
        return _failure("library", exc, on_conflict)
    session.pop(_NONCE_KEY + "library", None)
    flash(_("The library was imported. %(summary)s", summary=_library_summary(report.counts)), "success")
    return redirect(url_for("web.library_import"), 303)


@bp.get("/history/import")
@login_required
def history_import():
    return _import_page("history")


@bp.post("/history/import")
@login_required
def history_import_check():
    try:
        data, filename = _upload()
        report = services().history_import().import_history(current_actor(), data, None, dry_run=True)
    except PromptcoreError as exc:
        return _failure("history", exc)
    text = data.decode("utf-8-sig")
    return _import_page("history", report={"added": report.added, "skipped": report.skipped},
                        confirm=_confirmation("history", text, "", filename) if report.added else None,
                        filename=filename)


@bp.post("/history/import/confirm")
@login_required
def history_import_confirm():
    try:
        text, _facts = _confirmed("history")
    except _Refused:
        return _import_page("history", 400, problem=_refused_problem())
    try:
        report = services().history_import().import_history(current_actor(), text, None, dry_run=False)
    except PromptcoreError as exc:
        return _failure("history", exc)
    session.pop(_NONCE_KEY + "history", None)
    flash(_("Imported into your history: %(added)s added, %(skipped)s already there.", added=report.added,
            skipped=report.skipped), "success")
    return redirect(url_for("web.history"), 303)
