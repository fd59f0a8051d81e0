"""Teams on the pages (SPEC §14): /teams (my teams, create one), /teams/<id> (rename, members with
their roles and daily caps, leave, pending invitations with Resend and Revoke, the invite form,
delete with a confirm step) and /invitations/<token> (see an invitation, accept it).

The pages call the same Teams use case as the API. Every team route asks it for the team first,
so a non-member gets the 404 page whatever the form holds. The controls a member sees follow the
role rules of domain/teams.py (``may_*``); the use case enforces them again, and a refusal (the
last owner leaving, a role that does not allow it, a duplicate invitation, bad input) comes back
as the team page with the reason, in the page's language, and the status of the refusal. A change
that worked is flashed and answered with a 303 (post, redirect, get)."""

from __future__ import annotations

import re
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import EmailField, SelectField, StringField

from promptcore.domain.errors import (
    EmailNotConfirmed,
    Forbidden,
    InvalidToken,
    PromptcoreError,
    ValidationFailed,
)
from promptcore.domain.teams import (
    NAME_MAX,
    TeamRole,
    may_change_role,
    may_delete_team,
    may_invite,
    may_remove,
    may_rename_team,
    may_set_cap,
)
from promptcore.services.teams import CAP_MAX

from ..api.errors import lookup
from ..deps import services
from .forms import CsrfForm, Form, apply_errors
from .messages import translate
from .session import current_actor, current_user, login_required
from .team_library_pages import team_page_context
from .views import bp

_CAP = re.compile(r"[0-9]{1,7}")  # ASCII digits only (str.isdigit would take "²" and "١")


def role_label(role: TeamRole | str) -> str:
    """A team role in the page's language."""
    value = role.value if isinstance(role, TeamRole) else str(role)
    return {"owner": _("owner"), "admin": _("admin"), "member": _("member")}.get(value, value)


@bp.app_template_filter("team_role")
def _team_role(role: TeamRole | str) -> str:
    return role_label(role)


# -- forms ------------------------------------------------------------------------------------------


class TeamNameForm(Form):
    name = StringField(_l("Team name"))


class InviteForm(Form):
    email = EmailField(_l("E-mail"))
    role = SelectField(_l("Role"), validate_choice=False)


def _teams():
    return services().teams()


def _invite_roles(mine: TeamRole) -> list[TeamRole]:
    return [r for r in TeamRole if may_invite(mine, r)]


def _invite_form(mine: TeamRole, form: InviteForm | None = None) -> InviteForm:
    form = form or InviteForm(formdata=None, data={"role": TeamRole.MEMBER.value})
    form.role.choices = [(r.value, role_label(r)) for r in _invite_roles(mine)]
    return form


def _refusal(error: PromptcoreError) -> tuple[list[str], int]:
    """A refusal of the use case: its messages in the page's language, and its status."""
    status, _slug = lookup(error)
    if isinstance(error, ValidationFailed) and error.errors:
        return [translate(m) for ms in error.errors.values() for m in ms], status
    return [translate(error.message)], status


# -- the list ---------------------------------------------------------------------------------------


def _list_page(form: TeamNameForm | None = None, status: int = 200):
    views = _teams().list(current_actor())
    return render_template("teams_list.html", views=views, form=form or TeamNameForm(formdata=None),
                           name_max=NAME_MAX), status


@bp.get("/teams")
@login_required
def teams_list():
    return _list_page()


@bp.post("/teams")
@login_required
def team_create():
    form = TeamNameForm()
    try:
        view = _teams().create(current_actor(), form.name.data)
    except ValidationFailed as exc:
        apply_errors(form, exc)
        return _list_page(form, 422)
    except PromptcoreError as exc:  # an unconfirmed address, the limit of teams
        messages, status = _refusal(exc)
        form.form_errors.extend(messages)
        return _list_page(form, status)
    flash(_("The team “%(name)s” was created. Invite people to it below.", name=view.team.name), "success")
    return redirect(url_for("web.team", team_id=view.team.id), 303)


# -- one team ---------------------------------------------------------------------------------------


def _usage_today(actor, team_id: int) -> dict[str, Any]:
    """The "Usage today" section: the pool (used of its limit; limit 0 without a team plan) and
    each member's draw on it, the bar measured against their cap, else against the pool's limit."""
    usage = services().quota().team_usage(actor, team_id)
    pool = usage.quota
    rows = []
    for drawn in sorted(usage.members, key=lambda m: (-m.used, (m.member.name or m.member.email or "").lower())):
        member = drawn.member
        scale = member.daily_cap if member.daily_cap is not None else pool.limit
        rows.append({"member": member, "used": drawn.used, "cap": member.daily_cap, "max": max(scale, drawn.used, 1),
                     "full": member.daily_cap is not None and drawn.used >= member.daily_cap,
                     "is_me": member.user_id == actor.user_id})
    return {"quota": pool, "plan": pool.limit > 0, "rows": rows}


def _team_page(team_id: int, status: int = 200, *, errors: list[str] | None = None,
               rename_form: TeamNameForm | None = None, invite_form: InviteForm | None = None,
               cap_errors: dict[int, list[str]] | None = None):
    """The team page as the actor's role allows them to see it (NotFound for a non-member)."""
    actor = current_actor()
    teams = _teams()
    view = teams.get(actor, team_id)
    mine = view.role
    members = teams.members(actor, team_id)
    can_invite = bool(_invite_roles(mine))
    invitations = teams.invitations(actor, team_id) if can_invite else []
    rows = []
    for member in members:
        is_me = member.user_id == actor.user_id
        roles = [r for r in TeamRole if r is member.role or may_change_role(mine, member.role, r)]
        rows.append({"member": member, "is_me": is_me, "roles": roles if len(roles) > 1 else [],
                     "removable": not is_me and may_remove(mine, member.role),
                     "cappable": may_set_cap(mine, member.role)})
    return render_template(
        "team.html", view=view, team=view.team, role=mine, rows=rows, invitations=invitations,
        may_rename=may_rename_team(mine), may_delete=may_delete_team(mine),
        can_invite=can_invite, may_manage_invitation=lambda invitation: may_invite(mine, invitation.role),
        errors=errors or [], cap_errors=cap_errors or {}, cap_max=CAP_MAX, name_max=NAME_MAX,
        usage=_usage_today(actor, team_id), **team_page_context(team_id, mine, members),
        rename_form=rename_form or TeamNameForm(formdata=None, data={"name": view.team.name}),
        invite_form=_invite_form(mine, invite_form)), status


def _who(team_id: int, user_id: int) -> str:
    """A member's address (for the flash after a change), or "" when they are not a member."""
    for member in _teams().members(current_actor(), team_id):
        if member.user_id == user_id:
            return member.email or member.name or ""
    return ""


def _refused(team_id: int, error: PromptcoreError, **forms: Any):
    messages, status = _refusal(error)
    return _team_page(team_id, status, errors=messages, **forms)


def _back(team_id: int, anchor: str | None = None):
    return redirect(url_for("web.team", team_id=team_id, _anchor=anchor), 303)


@bp.get("/teams/<int:team_id>")
@login_required
def team(team_id: int):
    return _team_page(team_id)


@bp.post("/teams/<int:team_id>/rename")
@login_required
def team_rename(team_id: int):
    _teams().get(current_actor(), team_id)  # a non-member: 404 before the form is read
    form = TeamNameForm()
    try:
        view = _teams().rename(current_actor(), team_id, form.name.data)
    except ValidationFailed as exc:
        apply_errors(form, exc)
        return _team_page(team_id, 422, rename_form=form)
    except PromptcoreError as exc:
        return _refused(team_id, exc)
    flash(_("The team is now called “%(name)s”.", name=view.team.name), "success")
    return _back(team_id)


@bp.post("/teams/<int:team_id>/members/<int:user_id>/role")
@login_required
def team_member_role(team_id: int, user_id: int):
    _teams().get(current_actor(), team_id)
    try:
        member = _teams().change_role(current_actor(), team_id, user_id, request.form.get("role", ""))
    except PromptcoreError as exc:
        return _refused(team_id, exc)
    who = _who(team_id, user_id)
    flash(_("%(who)s is now %(role)s.", who=who, role=role_label(member.role)), "success")
    return _back(team_id, f"member-{user_id}")


@bp.post("/teams/<int:team_id>/members/<int:user_id>/cap")
@login_required
def team_member_cap(team_id: int, user_id: int):
    _teams().get(current_actor(), team_id)
    raw = (request.form.get("daily_cap") or "").strip()
    problem = _("Use a whole number from 0 to %(max)s, or leave the box empty for no cap.", max=CAP_MAX)
    if raw and (not _CAP.fullmatch(raw) or int(raw) > CAP_MAX):
        return _team_page(team_id, 422, errors=[problem], cap_errors={user_id: [problem]})
    try:
        member = _teams().set_cap(current_actor(), team_id, user_id, int(raw) if raw else None)
    except ValidationFailed:
        return _team_page(team_id, 422, errors=[problem], cap_errors={user_id: [problem]})
    except PromptcoreError as exc:
        return _refused(team_id, exc)
    who = _who(team_id, user_id)
    if member.daily_cap is None:
        flash(_("%(who)s has no daily cap of their own now.", who=who), "success")
    else:
        flash(_("%(who)s may use at most %(cap)s of the team's improvements a day.", who=who, cap=member.daily_cap),
              "success")
    return _back(team_id, f"member-{user_id}")


@bp.post("/teams/<int:team_id>/members/<int:user_id>/remove")
@login_required
def team_member_remove(team_id: int, user_id: int):
    actor = current_actor()
    _teams().get(actor, team_id)
    who = _who(team_id, user_id)
    try:
        _teams().remove(actor, team_id, user_id)
    except PromptcoreError as exc:
        return _refused(team_id, exc)
    if user_id == actor.user_id:
        flash(_("You left the team."), "success")
        return redirect(url_for("web.teams_list"), 303)
    flash(_("%(who)s was removed from the team.", who=who), "success")
    return _back(team_id, "members")


@bp.post("/teams/<int:team_id>/leave")
@login_required
def team_leave(team_id: int):
    view = _teams().get(current_actor(), team_id)
    try:
        _teams().leave(current_actor(), team_id)
    except PromptcoreError as exc:
        return _refused(team_id, exc)
    flash(_("You left the team “%(name)s”.", name=view.team.name), "success")
    return redirect(url_for("web.teams_list"), 303)


# -- invitations ------------------------------------------------------------------------------------


@bp.post("/teams/<int:team_id>/invitations")
@login_required
def team_invite(team_id: int):
    view = _teams().get(current_actor(), team_id)
    form = _invite_form(view.role, InviteForm())
    try:
        invitation = _teams().invite(current_actor(), team_id, form.email.data or "", form.role.data or "")
    except ValidationFailed as exc:
        apply_errors(form, exc)
        return _team_page(team_id, 422, invite_form=form)
    except PromptcoreError as exc:
        return _refused(team_id, exc, invite_form=form)
    flash(_("An invitation to join as %(role)s was sent to %(email)s. The link works for 7 days.",
            role=role_label(invitation.role), email=invitation.email), "success")
    return _back(team_id, "invitations")


@bp.post("/teams/<int:team_id>/invitations/<int:invitation_id>/resend")
@login_required
def team_invitation_resend(team_id: int, invitation_id: int):
    _teams().get(current_actor(), team_id)
    try:
        invitation = _teams().resend(current_actor(), team_id, invitation_id)
    except PromptcoreError as exc:
        return _refused(team_id, exc)
    flash(_("The invitation was sent to %(email)s again; the earlier link no longer works.",
            email=invitation.email), "success")
    return _back(team_id, "invitations")


@bp.post("/teams/<int:team_id>/invitations/<int:invitation_id>/revoke")
@login_required
def team_invitation_revoke(team_id: int, invitation_id: int):
    _teams().get(current_actor(), team_id)
    try:
        emails = {i.id: i.email for i in _teams().invitations(current_actor(), team_id)}  # owners and admins
        _teams().revoke(current_actor(), team_id, invitation_id)
    except PromptcoreError as exc:
        return _refused(team_id, exc)
    flash(_("The invitation for %(email)s was revoked.", email=emails.get(invitation_id, "")), "success")
    return _back(team_id, "invitations")


# -- delete -----------------------------------------------------------------------------------------


def _delete_page(team_id: int, status: int = 200, errors: list[str] | None = None):
    view = _teams().get(current_actor(), team_id)
    if not may_delete_team(view.role):
        raise Forbidden("Your role in this team does not allow that.")
    count = len(_teams().members(current_actor(), team_id))
    return render_template("team_delete.html", team=view.team, count=count, errors=errors or [],
                           form=CsrfForm()), status


@bp.get("/teams/<int:team_id>/delete")
@login_required
def team_delete_confirm(team_id: int):
    return _delete_page(team_id)


@bp.post("/teams/<int:team_id>/delete")
@login_required
def team_delete(team_id: int):
    view = _teams().get(current_actor(), team_id)
    try:
        _teams().delete(current_actor(), team_id)
    except PromptcoreError as exc:
        messages, status = _refusal(exc)
        return _delete_page(team_id, status, messages)
    flash(_("The team “%(name)s” was deleted.", name=view.team.name), "success")
    return redirect(url_for("web.teams_list"), 303)


# -- an invitation from its e-mail ------------------------------------------------------------------


def _invitation_page(token: str, status: int = 200, **context: Any):
    return render_template("team_invitation.html", token=token, **context), status


@bp.get("/invitations/<token>")
def team_invitation(token: str):
    user = current_user()
    if user is None:  # sign in (or create the account) first, then come back here
        return _invitation_page(token, state="signed_out",
                                login_url=url_for("web.login", next=url_for("web.team_invitation", token=token)))
    try:
        preview = _teams().preview(current_actor(), token)
    except (InvalidToken, EmailNotConfirmed) as exc:
        messages, status = _refusal(exc)
        return _invitation_page(token, status, state="invalid" if isinstance(exc, InvalidToken) else "unconfirmed",
                                message=messages[0], email=user.email)
    inviter = preview.inviter_email or ""
    if preview.inviter_name and inviter:
        inviter = f"{preview.inviter_name} ({inviter})"
    return _invitation_page(token, state="open", invitation=preview.invitation, team=preview.team,
                            inviter=inviter, form=CsrfForm())


@bp.post("/invitations/<token>")
@login_required
def team_invitation_accept(token: str):
    user = current_user()
    try:
        view = _teams().accept(current_actor(), token)
    except PromptcoreError as exc:
        messages, status = _refusal(exc)
        state = {InvalidToken: "invalid", EmailNotConfirmed: "unconfirmed"}.get(type(exc), "refused")
        return _invitation_page(token, status, state=state, message=messages[0], email=user.email)
    flash(_("Welcome to the team “%(name)s”. You joined as %(role)s.", name=view.team.name,
            role=role_label(view.role)), "success")
    return redirect(url_for("web.team", team_id=view.team.id), 303)


# -- the admin area ---------------------------------------------------------------------------------

ADMIN_TEAMS_PAGE = 50


def admin_teams() -> tuple[list, int | None]:
    """Every team with its members for /admin, a page at a time (``teams_after``: the last id of
    the page before), and the id to continue after, if there may be more."""
    raw = request.args.get("teams_after") or ""
    after = int(raw) if re.fullmatch(r"[0-9]{1,18}", raw) else None
    teams = _teams().all(current_actor(), ADMIN_TEAMS_PAGE, after)
    more = len(teams) == ADMIN_TEAMS_PAGE and teams[-1][0].id is not None
    return teams, (teams[-1][0].id if more else None)
