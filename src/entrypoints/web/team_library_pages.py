"""A team's shared library and shared prompts on the pages (SPEC §14).

- The team page (/teams/<id>, team_pages.py) gets two sections from ``team_page_context``: the
  shared library (the team's templates and custom styles, with Use, Edit for those who may change
  them, New team template, New team style) and the shared prompts, newest first, a page at a time
  (``?feed=<cursor>``), each with its author, time, texts, Copy and, for its author and the team's
  owners and admins, Remove from team (POST /teams/<id>/records/<rid>/remove).
- The library pages take a team scope: /templates?team=<id>, /templates/new?team=<id>,
  /styles?team=<id>, /styles/new?team=<id> (``team_scope``: the team, or the 404 page for a
  non-member); a team item's page says which team it belongs to, and its controls follow
  ``library_item_editable``.
- A history item is shared with one of the user's teams (POST /history/<id>/share) and made
  private again (POST /history/<id>/unshare); ``record_sharing`` tells its page where it is shared.
- The generator's style picker lists the team styles the user may use, by team (``style_groups``).

Every id goes to the use cases (Templates, CustomStyles, SharedRecords, Teams), which ask
domain/access.py: a non-member gets the 404 page whatever the form holds, a member without the
role gets the reason and a 403, and nothing changes. What the pages show or hide only follows the
same rule (``require_library_item``, ``may_edit_shared``)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _

from promptcore.domain.access import require_library_item
from promptcore.domain.errors import Forbidden, NotFound, PromptcoreError, ValidationFailed
from promptcore.domain.prompts import PromptRecord, RecordStatus
from promptcore.domain.teams import Member, TeamRole, may_edit_shared

from ..deps import services
from ..ids import parse_id
from .messages import translate
from .session import current_actor, login_required
from .views import bp

FEED_PAGE = 10  # shared prompts a page on the team page
LIBRARY_PREVIEW = 12  # templates listed on the team page; every one on /templates?team=<id>


# -- who may change what (the core's one rule, asked for display) ----------------------------------


@bp.app_template_global("library_item_editable")
def library_item_editable(item: Any) -> bool:
    """Whether the signed-in user may change a template or custom style: their own, or their
    team's when they are one of its owners or admins or its author. A quick template (no owner,
    no team): never. The use cases check it again on every change."""
    if getattr(item, "owner_id", None) is None and getattr(item, "team_id", None) is None:
        return False
    try:
        require_library_item(current_actor(), item.owner_id, item.team_id, item.author_id, change=True)
    except (NotFound, Forbidden):
        return False
    return True


def team_scope(raw: str | None):
    """The team a library page is scoped to by ``?team=<id>`` (a TeamView), None without one;
    NotFound (the 404 page) for an id that is not one of the user's teams."""
    if raw is None or raw == "":
        return None
    team_id = parse_id(raw)
    if team_id is None:
        raise NotFound("Team not found.")
    return services().teams().get(current_actor(), team_id)


def posted_team(raw: str | None) -> Any:
    """A ``team_id`` a library form posts, for the use case to check: None (the user's own
    library) when empty, the id when it is one, else the raw text (refused as 422 there)."""
    if raw is None or not raw.strip():
        return None
    team_id = parse_id(raw.strip())
    return team_id if team_id is not None else raw


def team_name(team_id: int | None) -> str | None:
    if team_id is None:
        return None
    return services().teams().get(current_actor(), team_id).team.name


# -- the team page's sections -------------------------------------------------------------------------


def _author(names: dict[int, str], author_id: int | None) -> str:
    return names.get(author_id, "") if author_id is not None else ""


def team_page_context(team_id: int, role: TeamRole, members: list[Member]) -> dict[str, Any]:
    """The shared library and the shared prompts for the team page."""
    actor = current_actor()
    names = {m.user_id: m.name or m.email or "" for m in members}
    templates, more = services().templates().list(actor, limit=LIBRARY_PREVIEW, team_id=team_id)
    styles = services().custom_styles().list(actor, team_id=team_id)
    sharing = services().shared_records()
    cursor = request.args.get("feed") or None
    try:
        shared, next_cursor = sharing.feed(actor, team_id, FEED_PAGE, cursor)
    except ValidationFailed:  # a cursor that is not ours: the first page
        cursor = None
        shared, next_cursor = sharing.feed(actor, team_id, FEED_PAGE, None)
    return {
        "library_templates": [{"item": t, "author": _author(names, t.author_id),
                               "editable": library_item_editable(t)} for t in templates],
        "more_templates": more is not None,
        "library_styles": [{"item": s, "author": _author(names, s.author_id),
                            "editable": library_item_editable(s)} for s in styles],
        "shared": [{"item": s, "removable": may_edit_shared(role, s.author_id == actor.user_id)} for s in shared],
        "feed_cursor": next_cursor,
        "feed_paged": cursor is not None,
    }


@bp.post("/teams/<int:team_id>/records/<int:record_id>/remove")
@login_required
def team_record_remove(team_id: int, record_id: int):
    from .team_pages import _refused

    actor = current_actor()
    services().teams().get(actor, team_id)  # a non-member: 404 before anything else
    try:
        services().shared_records().remove(actor, team_id, record_id)
    except PromptcoreError as exc:  # not shared here (404), another's share for a plain member (403)
        return _refused(team_id, exc)
    flash(_("The prompt was removed from the team's shared prompts. Its author still has it in their history."),
          "success")
    return redirect(url_for("web.team", team_id=team_id, _anchor="shared"), 303)


# -- a history item: share it, make it private ----------------------------------------------------------


def _finished(record: PromptRecord) -> bool:
    return record.status is RecordStatus.SUCCEEDED and bool((record.generated_prompt or "").strip())


@bp.app_template_global("record_sharing")
def record_sharing(record: PromptRecord) -> dict[str, Any]:
    """Where the history item's record is shared (its team's name), and the user's teams to
    share it with; ``shareable`` when it is finished."""
    actor = current_actor()
    shared = services().shared_records().of_record(actor, record.id)
    teams = services().teams().list(actor) if len(actor.teams) else []
    names = {v.team.id: v.team.name for v in teams}
    from .generator import remembered_workspace

    return {"shared": shared, "team_name": names.get(shared.team_id, "") if shared else "",
            "teams": teams, "shareable": _finished(record), "preferred": remembered_workspace()}


def _history_item_again(record_id: int, message: str, status: int):
    """The history item again with the reason at its top, and the refusal's status."""
    from .generator import history_item

    flash(message, "error")
    return history_item(record_id), status


@bp.post("/history/<int:record_id>/share")
@login_required
def history_share(record_id: int):
    actor = current_actor()
    sharing = services().shared_records()
    sharing.of_record(actor, record_id)  # someone else's record: 404 before the form is read
    try:
        shared = sharing.share(actor, record_id, posted_team(request.form.get("team_id")))
    except ValidationFailed as exc:
        messages = [translate(m) for ms in (exc.errors or {}).values() for m in ms] or [translate(exc.message)]
        return _history_item_again(record_id, " ".join(messages), 422)
    # A team the user is not in: NotFound, the 404 page (as for any stranger's id).
    flash(_("Shared with the team “%(team)s”: its members see it on the team page.", team=team_name(shared.team_id)),
          "success")
    return redirect(url_for("web.history_item", record_id=record_id, _anchor="sharing"), 303)


@bp.post("/history/<int:record_id>/unshare")
@login_required
def history_unshare(record_id: int):
    actor = current_actor()
    sharing = services().shared_records()
    if sharing.of_record(actor, record_id) is None:  # someone else's record: 404; already private: say so
        flash(_("This prompt is private already."), "success")
        return redirect(url_for("web.history_item", record_id=record_id, _anchor="sharing"), 303)
    try:
        sharing.unshare(actor, record_id)
    except NotFound:  # made private a moment ago, in another tab
        pass
    flash(_("The prompt is private again: only you see it."), "success")
    return redirect(url_for("web.history_item", record_id=record_id, _anchor="sharing"), 303)


# -- the generator's style picker ---------------------------------------------------------------------


def style_groups(teams: list) -> dict[str, Any]:
    """The custom styles the user may generate with: their own (``custom_styles``) and each
    team's, by team, in the order of ``teams`` (``team_styles``: name, id and styles)."""
    usable = services().custom_styles().usable(current_actor())
    groups = []
    for view in teams:
        styles = [s for s in usable if s.team_id == view.team.id]
        if styles:
            groups.append({"team_id": view.team.id, "name": view.team.name, "styles": styles})
    return {"custom_styles": [s for s in usable if s.team_id is None], "team_styles": groups}


__all__ = ["library_item_editable", "posted_team", "record_sharing", "style_groups", "team_name",
           "team_page_context", "team_scope"]
