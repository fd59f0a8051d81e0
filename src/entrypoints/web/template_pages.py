"""The template library on the pages (SPEC §13.1, §13.2, §8).

/templates lists a person's templates (search, tag chips, favourites, paging) and the quick
templates; /templates/new and /templates/<id> edit one with the live list of its variables (the
server lists them too, so the page works without JavaScript) and improve it keeping them;
/templates/<id>/versions compares two versions line by line and restores an old one;
/templates/<id>/use fills in the variables and opens the generator with the text. A quick template
is shown read-only, with Copy and Use. The generator offers the quick templates of the page's
language with the same fill-in form, and a history record can be saved as a template. With
``?team=<id>`` the list and the new-template form are a team's (SPEC §14, team_library_pages.py);
a team's template is shown read-only to a member who may not change it.

The pages call the same Templates use cases as the API. Every id goes through them, so another
person's template is a 404 here as there, and a quick template cannot be changed (403). Bad input
gets the page again with a 4xx and the reason next to its field; a change that worked is flashed
and answered with a 303 (post, redirect, get)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField

from promptcore.domain.access import require_library_item
from promptcore.domain.errors import (
    Forbidden,
    LimitReached,
    NotFound,
    PromptcoreError,
    QuotaExceeded,
    TitleTaken,
    ValidationFailed,
    VariablesChanged,
)
from promptcore.domain.templates import BODY_MAX, DESCRIPTION_MAX, TITLE_MAX, Template, find_variables

from ..api.errors import lookup
from ..deps import services
from ..ids import parse_id
from .diff import word_diff
from .forms import Form
from .i18n import current_language
from .messages import note_text, translate
from .session import current_actor, current_user, login_required, safe_next
from .team_library_pages import library_item_editable, posted_team, team_name, team_scope
from .views import bp, model_label

PAGE_SIZE = 20
QUERY_MAX = 200
VALUE_PREFIX = "values."
READ_ONLY = "Quick templates are read-only; copy one to your library to change it."


def _field_errors(error: ValidationFailed) -> dict[str, list[str]]:
    """The core's errors by field name, translated; "" for those of no field."""
    found: dict[str, list[str]] = {}
    for key, messages in (error.errors or {}).items():
        found.setdefault(key, []).extend(translate(m) for m in messages)
    if not found:
        found[""] = [translate(error.message)]
    return found


# -- forms ------------------------------------------------------------------------------------------


class TemplateForm(Form):
    title = StringField(_l("Title"))
    description = TextAreaField(_l("Description (optional)"))
    tags = StringField(_l("Tags"))
    body = TextAreaField(_l("Template text"))


def _apply(form: TemplateForm, error: ValidationFailed) -> None:
    for key, messages in _field_errors(error).items():
        field = form._fields.get(key.split(".")[-1]) if key else None
        if field is not None:
            field.errors = list(field.errors or []) + messages
        else:
            form.form_errors.extend(messages)


# -- helpers ----------------------------------------------------------------------------------------


def _templates():
    return services().templates()


def _lines(raw: Any) -> Any:
    """Text from a form with the browser's CRLF line ends made LF, as the API sends them: a
    text saved unchanged must not become a new version for its line ends alone."""
    return raw.replace("\r\n", "\n").replace("\r", "\n") if isinstance(raw, str) else raw


def _get(template_id: int) -> Template:
    """The template if the signed-in person may read it (theirs, or a quick template); else 404."""
    return _templates().get(current_actor(), template_id)


def _is_quick(template: Template) -> bool:
    return template.owner_id is None and template.team_id is None


def _changeable(template_id: int) -> Template:
    """The person's own template or one of their team's; 404 for anyone else's, 403 for a quick
    template. Checked before the fields, so a stranger's id is a 404 whatever the form holds
    (whether a team member may change a team's template, the use case says: 403 if not)."""
    template = _get(template_id)
    if _is_quick(template):
        raise Forbidden(READ_ONLY)
    return template


def _require_change(template: Template) -> None:
    """The core's rule for changing a library item, asked before a page that only leads to a
    change (the confirm step of Delete): 403 for a team member who may not change it."""
    require_library_item(current_actor(), template.owner_id, template.team_id, template.author_id, change=True,
                         message="Template not found.")


def _list_url(template: Template | None) -> str:
    """The list a template belongs in: its team's, or the person's own."""
    team_id = template.team_id if template is not None else None
    return url_for("web.templates_list", team=team_id) if team_id else url_for("web.templates_list")


def _style_choices() -> list[tuple[str, str]]:
    """The built-in styles, then the person's own and their teams' as custom:<id>."""
    language = current_language()
    choices = [(s.slug, s.title_in(language)) for s in services().catalogue().list()]
    choices += [(f"custom:{s.id}", s.title) for s in services().custom_styles().usable(current_actor())]
    return choices


def _default_style() -> str:
    user = current_user()
    wanted = user.settings.default_style if user is not None else None
    slugs = [slug for slug, _title in _style_choices()]
    return wanted if wanted in slugs else "general"


def _braces() -> dict[str, str]:
    return {"example_variable": "{{name}}"}


def _edit_page(form: TemplateForm, template: Template | None, status: int = 200, *,
               improve_error: str | None = None, style: str | None = None, model: str | None = None,
               team: Any = None, team_field: str | None = None):
    """The edit page (``team``: the team a new template is made in, ``team_field`` the value its
    hidden field posts). A team's template the person may not change is shown read-only."""
    body = form.body.data if form.body.data is not None else (template.body if template else "")
    models = services().prompts().models
    editable = template is None or library_item_editable(template)
    if template is not None and template.team_id is not None:
        team = services().teams().get(current_actor(), template.team_id)
    if not editable:
        for name in ("title", "description", "tags"):
            form[name].render_kw = {"readonly": True}
    return render_template(
        "template_edit.html", form=form, template=template, variables=find_variables(body or ""),
        team=team, team_field=team_field if team_field is not None else (str(team.team.id) if team else ""),
        editable=editable, my_teams=_my_teams() if template is not None and template.team_id is None else [],
        body_max=BODY_MAX, title_max=TITLE_MAX, description_max=DESCRIPTION_MAX,
        style_choices=_style_choices() if template is not None else [], style=style or _default_style(),
        models=models, model=model or (models[0] if models else None), model_label=model_label,
        improve_error=improve_error, **_braces()), status


def _form_for(template: Template) -> TemplateForm:
    return TemplateForm(data={"title": template.title, "description": template.description,
                              "tags": ", ".join(template.tags), "body": template.body})


def _flash_refusal(error: PromptcoreError) -> None:
    flash(translate(error.message), "error")


def _my_teams() -> list:
    """The person's teams (for "Copy to team"); none without a membership."""
    actor = current_actor()
    return services().teams().list(actor) if len(actor.teams) else []


# -- the list ---------------------------------------------------------------------------------------


@bp.get("/templates")
@login_required
def templates_list():
    actor = current_actor()
    team = team_scope(request.args.get("team"))  # ?team=<id>: the team's library (404 for a non-member)
    team_id = team.team.id if team else None
    query = (request.args.get("q") or "").strip()[:QUERY_MAX]
    tags = _templates().tags(actor, team_id=team_id)
    tag = " ".join((request.args.get("tag") or "").split()).lower()
    if tag not in tags:
        tag = ""
    favourites = request.args.get("fav") == "1"
    cursor = request.args.get("cursor") or None
    try:
        items, next_cursor = _templates().list(actor, query or None, tag or None, True if favourites else None,
                                               PAGE_SIZE, cursor, team_id=team_id)
    except ValidationFailed:  # a cursor that is not ours: the first page
        cursor = None
        items, next_cursor = _templates().list(actor, query or None, tag or None, True if favourites else None,
                                               PAGE_SIZE, None, team_id=team_id)
    filters = {"q": query or None, "tag": tag or None, "fav": "1" if favourites else None, "team": team_id}
    return render_template(
        "templates_list.html", items=items, next_cursor=next_cursor, paged=bool(cursor), query=query,
        tag=tag, tags=sorted(tags.items()), favourites=favourites, filters=filters, team=team,
        quick=_templates().quick(current_language()) if team is None else [],
        team_libraries=_my_teams() if team is None else [])


# -- create and edit --------------------------------------------------------------------------------


@bp.route("/templates/new", methods=["GET", "POST"])
@login_required
def template_new():
    form = TemplateForm()
    if request.method == "GET":
        return _edit_page(form, None, team=team_scope(request.args.get("team")))  # ?team=<id>: in the team
    raw_team = request.form.get("team_id")
    team_id = posted_team(raw_team)
    # A team the person is not in: 404 before the fields; text that is no id: the use case's 422.
    team = services().teams().get(current_actor(), team_id) if isinstance(team_id, int) else None
    back = {"team": team, "team_field": raw_team or ""}
    try:
        template = _templates().create(current_actor(), form.title.data, _lines(form.body.data),
                                       _lines(form.description.data) or "", form.tags.data or "", team_id=team_id)
    except ValidationFailed as exc:
        _apply(form, exc)
        return _edit_page(form, None, 422, **back)
    except TitleTaken as exc:
        form.title.errors = [translate(exc.message)]
        return _edit_page(form, None, 409, **back)
    except LimitReached as exc:
        form.form_errors.append(translate(exc.message))
        return _edit_page(form, None, 409, **back)
    if team is not None:
        flash(_("The template is saved in the team “%(team)s”: every member can use it.", team=team.team.name),
              "success")
        return redirect(url_for("web.template_edit", template_id=template.id), 303)
    flash(_("The template is saved."), "success")
    return redirect(url_for("web.template_edit", template_id=template.id), 303)


@bp.get("/templates/<int:template_id>")
@login_required
def template_edit(template_id: int):
    template = _get(template_id)
    if _is_quick(template):
        return render_template("template_view.html", template=template)
    return _edit_page(_form_for(template), template)


@bp.post("/templates/<int:template_id>")
@login_required
def template_save(template_id: int):
    template = _changeable(template_id)
    form = TemplateForm()
    before = template.version
    try:
        saved = _templates().update(current_actor(), template_id, title=form.title.data,
                                    body=_lines(form.body.data), description=_lines(form.description.data),
                                    tags=form.tags.data)
    except ValidationFailed as exc:
        _apply(form, exc)
        return _edit_page(form, template, 422)
    except TitleTaken as exc:
        form.title.errors = [translate(exc.message)]
        return _edit_page(form, template, 409)
    except Forbidden as exc:  # a team's template, for a member who may not change it: keep what they typed
        form.form_errors.append(translate(exc.message))
        return _edit_page(form, template, 403)
    if saved.version != before:
        flash(_("Saved as version %(number)s.", number=saved.version), "success")
    else:
        flash(_("The template is saved."), "success")
    return redirect(url_for("web.template_edit", template_id=template_id), 303)


@bp.post("/templates/<int:template_id>/favourite")
@login_required
def template_favourite(template_id: int):
    _changeable(template_id)
    _templates().update(current_actor(), template_id, favourite=request.form.get("favourite") == "1")
    return redirect(safe_next(request.form.get("next"), url_for("web.templates_list")), 303)


@bp.get("/templates/<int:template_id>/delete")
@login_required
def template_delete_confirm(template_id: int):
    template = _changeable(template_id)
    _require_change(template)
    return render_template("template_delete.html", template=template)


@bp.post("/templates/<int:template_id>/delete")
@login_required
def template_delete(template_id: int):
    template = _changeable(template_id)
    _templates().delete(current_actor(), template_id)
    flash(_("“%(title)s” was deleted with all its versions.", title=template.title), "success")
    return redirect(_list_url(template), 303)


@bp.post("/templates/<int:template_id>/copy")
@login_required
def template_copy(template_id: int):
    """A copy in the person's library, or (``team_id``) in one of their teams' (404 for another
    team, 422 for text that is no id: the error page)."""
    _get(template_id)
    team_id = posted_team(request.form.get("team_id"))
    try:
        copy = _templates().copy(current_actor(), template_id, team_id=team_id)
    except (LimitReached, TitleTaken) as exc:
        _flash_refusal(exc)
        return redirect(url_for("web.templates_list"), 303)
    if copy.team_id is not None:
        flash(_("Copied to the team “%(team)s” as “%(title)s”.", team=team_name(copy.team_id), title=copy.title),
              "success")
        return redirect(url_for("web.template_edit", template_id=copy.id), 303)
    flash(_("Copied to your library as “%(title)s”.", title=copy.title), "success")
    return redirect(url_for("web.template_edit", template_id=copy.id), 303)


@bp.post("/history/<int:record_id>/template")
@login_required
def history_to_template(record_id: int):
    try:
        template = _templates().from_record(current_actor(), record_id)
    except (LimitReached, TitleTaken) as exc:
        _flash_refusal(exc)
        return redirect(url_for("web.history_item", record_id=record_id), 303)
    flash(_("Saved as a template. Give it a title and mark the parts that change as variables."), "success")
    return redirect(url_for("web.template_edit", template_id=template.id), 303)


# -- improve keeping the variables --------------------------------------------------------------


@bp.post("/templates/<int:template_id>/improve")
@login_required
def template_improve(template_id: int):
    template = _changeable(template_id)
    style = request.form.get("style") or ""
    model = request.form.get("model") or None
    form = _form_for(template)
    try:
        result = _templates().improve(current_actor(), template_id, style, model)
    except VariablesChanged as exc:
        message = _("The improved text did not keep the same variables (missing: %(missing)s; new: %(added)s). "
                    "Nothing was changed and no improvement was counted. Try again or choose another style.",
                    missing=", ".join(exc.missing) or _("none"), added=", ".join(exc.added) or _("none"))
        return _edit_page(form, template, 422, improve_error=message, style=style, model=model)
    except QuotaExceeded as exc:
        from .generator import _quota_message

        return _edit_page(form, template, 429, improve_error=_quota_message(exc), style=style, model=model)
    except PromptcoreError as exc:
        status, _slug = lookup(exc)
        messages = [m for ms in (getattr(exc, "errors", None) or {}).values() for m in ms] or [exc.message]
        return _edit_page(form, template, status, improve_error=" ".join(translate(m) for m in messages),
                          style=style, model=model)
    return render_template("template_improve.html", template=template, text=result.text,
                           variables=result.variables, diff=word_diff(template.body, result.text),
                           record_id=result.record_id, quota=result.quota, model_label=model_label,
                           model=result.model)


@bp.post("/templates/<int:template_id>/improved")
@login_required
def template_save_improved(template_id: int):
    template = _changeable(template_id)
    body = _lines(request.form.get("body"))
    try:
        saved = _templates().update(current_actor(), template_id, body=body, note="improved")
    except ValidationFailed as exc:
        errors = [m for ms in _field_errors(exc).values() for m in ms]
        text = body or ""
        return render_template("template_improve.html", template=template, text=text,
                               variables=find_variables(text), diff=word_diff(template.body, text),
                               record_id=None, quota=None, model_label=model_label, model=None,
                               errors=errors), 422
    flash(_("The improved text is saved as version %(number)s.", number=saved.version), "success")
    return redirect(url_for("web.template_edit", template_id=template_id), 303)


# -- versions -------------------------------------------------------------------------------------


def _version_arg(raw: str | None) -> Any:
    """A version number from the query string, bounded like every id; anything else goes to the
    use case as it is, which refuses it (so a huge number never reaches the database)."""
    return parse_id(raw) or (raw or "")


@bp.get("/templates/<int:template_id>/versions")
@login_required
def template_versions(template_id: int):
    actor = current_actor()
    template = _get(template_id)
    versions = _templates().versions(actor, template_id)
    old_raw, new_raw = request.args.get("from"), request.args.get("to")
    diff = None
    error = None
    status = 200
    chosen_old = versions[1].number if len(versions) > 1 else (versions[0].number if versions else None)
    chosen_new = versions[0].number if versions else None
    if old_raw is not None or new_raw is not None:
        old, new = _version_arg(old_raw), _version_arg(new_raw)
        try:
            diff = _templates().diff(actor, template_id, old, new)
            chosen_old, chosen_new = old, new
        except ValidationFailed as exc:
            error, status = " ".join(m for ms in _field_errors(exc).values() for m in ms), 422
        except NotFound as exc:
            error, status = translate(exc.message), 404
    return render_template("template_versions.html", template=template, versions=versions, diff=diff,
                           chosen_old=chosen_old, chosen_new=chosen_new, error=error, note_text=note_text), status


@bp.post("/templates/<int:template_id>/versions/<int:number>/restore")
@login_required
def template_restore(template_id: int, number: int):
    _changeable(template_id)
    try:
        restored = _templates().restore(current_actor(), template_id, number)
    except NotFound as exc:
        _flash_refusal(exc)
        return redirect(url_for("web.template_versions", template_id=template_id), 303)
    flash(_("Version %(old)s is restored as version %(new)s.", old=number, new=restored.version), "success")
    return redirect(url_for("web.template_versions", template_id=template_id), 303)


# -- use: fill in the variables, then the generator --------------------------------------------------


def quick_picker(chosen: Template | None = None, values: dict[str, str] | None = None,
                 errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The generator's quick templates (the page's language) and the one picked, if any: by
    ``?quick=<id>`` without JavaScript, or passed in when its fill-in form came back with errors."""
    quick = _templates().quick(current_language())
    if chosen is None and request.method == "GET":
        wanted = parse_id(request.args.get("quick"))
        if wanted is not None:  # one of the page's language, or else any quick template (a shared link)
            chosen = next((t for t in quick if t.id == wanted), None) \
                or next((t for t in _templates().quick() if t.id == wanted), None)
    if chosen is not None and all(t.id != chosen.id for t in quick):
        quick.append(chosen)  # of another language
    return {"templates": quick, "chosen": chosen, "filled": values or {}, "problems": errors or {}}


def _values(template: Template) -> dict[str, str]:
    return {name: _lines(request.form.get(VALUE_PREFIX + name, "")) for name in template.variables}


@bp.get("/templates/<int:template_id>/use")
@login_required
def template_use(template_id: int):
    template = _get(template_id)
    return render_template("template_use.html", template=template, values={}, errors={})


@bp.post("/templates/<int:template_id>/use")
@login_required
def template_use_submit(template_id: int):
    """Render the template with the values sent and answer with the generator, its prompt box
    holding the text (the text never travels in a URL)."""
    from .generator import render_generator

    template = _get(template_id)
    values = _values(template)
    from_generator = request.form.get("origin") == "app"
    try:
        text = _templates().render(current_actor(), template_id, values)
    except ValidationFailed as exc:
        errors = _field_errors(exc)
        if from_generator:
            return render_generator(None, 422, quick=quick_picker(template, values, errors))
        return render_template("template_use.html", template=template, values=values, errors=errors), 422
    flash(_("“%(title)s” is filled in. Check the text, choose a style and press Generate.", title=template.title),
          "success")
    return render_generator(text)
