"""Teams (SPEC §14): teams, members and roles, e-mail invitations, and the administrators' list.

Every team id goes to the Teams use case, which asks the core's access rule
(promptcore.domain.access): a team the caller does not belong to is 404, whatever its id, and an
action the caller's role does not allow is 403. Memberships are read afresh for every request
(entrypoints/actor.py), so a member removed a moment ago gets 404 with the access token they still
hold. Invitation tokens are only e-mailed: no answer carries a token or its hash.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from promptcore.domain.access import require_manage_users
from promptcore.domain.errors import NotFound, ValidationFailed
from promptcore.domain.teams import Invitation, Member, Team
from promptcore.services.teams import TeamView

from ..deps import services
from ..limits import mail_limit
from .auth import BEARER, current_actor, login_required
from .parsing import Blueprint
from .schemas import ID_CONVERTER, ErrorOut
from .team_schemas import (
    AcceptedTeamOut,
    AcceptIn,
    AdminTeamsOut,
    AdminTeamsQuery,
    InvitationIn,
    InvitationOut,
    MemberOut,
    MemberPatchIn,
    TeamDetailOut,
    TeamIn,
    TeamOut,
    TeamUsageOut,
)

__all__ = ["blp", "invitation_dict", "member_dict", "team_dict"]

blp = Blueprint("teams", __name__, url_prefix="/api/v1",
                description="Teams: members with roles (owner, admin, member) and e-mail invitations")

ADMIN_PAGE = 50
TEAM = f"/teams/<{ID_CONVERTER}:team_id>"


# -- representations ------------------------------------------------------------------------------

def team_dict(view: TeamView) -> dict[str, Any]:
    team = view.team
    return {"id": team.id, "name": team.name, "role": view.role.value, "created_at": team.created_at}


def member_dict(member: Member) -> dict[str, Any]:
    return {"user_id": member.user_id, "email": member.email, "name": member.name, "role": member.role.value,
            "daily_cap": member.daily_cap, "joined_at": member.joined_at}


def invitation_dict(invitation: Invitation) -> dict[str, Any]:
    # never the token hash
    return {"id": invitation.id, "email": invitation.email, "role": invitation.role.value,
            "created_at": invitation.created_at, "expires_at": invitation.expires_at}


def admin_team_dict(team: Team, members: list[Member]) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "created_at": team.created_at,
            "members": [{"user_id": m.user_id, "email": m.email, "role": m.role.value} for m in members]}


def _member(team_id: int, user_id: int) -> Member:
    """One member as the list shows them (with address and name)."""
    for member in services().teams().members(current_actor(), team_id):
        if member.user_id == user_id:
            return member
    raise NotFound("No such member in this team.")


# -- teams ----------------------------------------------------------------------------------------

@blp.route("/teams")
class TeamCollection(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, TeamOut(many=True))
    @blp.alt_response(401, schema=ErrorOut)
    def get(self):
        """The teams you belong to with your role in each, by name."""
        return [team_dict(view) for view in services().teams().list(current_actor())]

    @blp.doc(security=BEARER)
    @blp.arguments(TeamIn)
    @blp.response(201, TeamOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="email_not_confirmed")
    @blp.alt_response(409, schema=ErrorOut, description="limit_reached: you created 20 teams")
    @blp.alt_response(422, schema=ErrorOut)
    def post(self, data):
        """Create a team; you are its owner."""
        return team_dict(services().teams().create(current_actor(), data["name"]))


@blp.route(TEAM)
class TeamItem(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, TeamDetailOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut, description="not_found: no such team, or you are not a member")
    def get(self, team_id):
        """A team you belong to, with your role and the number of members."""
        teams, actor = services().teams(), current_actor()
        view = teams.get(actor, team_id)
        return {**team_dict(view), "members_count": len(teams.members(actor, team_id))}

    @blp.doc(security=BEARER)
    @blp.arguments(TeamIn)
    @blp.response(200, TeamOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="forbidden: owners only")
    @blp.alt_response(404, schema=ErrorOut)
    @blp.alt_response(422, schema=ErrorOut)
    def patch(self, data, team_id):
        """Rename the team (owners)."""
        return team_dict(services().teams().rename(current_actor(), team_id, data["name"]))

    @blp.doc(security=BEARER)
    @blp.response(204)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="forbidden: owners only")
    @blp.alt_response(404, schema=ErrorOut)
    @blp.alt_response(409, schema=ErrorOut, description="team_has_paid_plan; or conflict: a payment for the team "
                                                        "is in progress")
    def delete(self, team_id):
        """Delete the team with its memberships and invitations (owners; not while it has an active
        paid plan, nor while a payment for it is in progress)."""
        services().teams().delete(current_actor(), team_id)


# -- members --------------------------------------------------------------------------------------

@blp.route(f"{TEAM}/members")
class MemberCollection(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, MemberOut(many=True))
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut)
    def get(self, team_id):
        """The members: owners first, then admins, then members, each by e-mail."""
        return [member_dict(m) for m in services().teams().members(current_actor(), team_id)]


@blp.route(f"{TEAM}/members/<{ID_CONVERTER}:user_id>")
class MemberItem(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(MemberPatchIn)
    @blp.response(200, MemberOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="forbidden: your role does not allow it")
    @blp.alt_response(404, schema=ErrorOut)
    @blp.alt_response(409, schema=ErrorOut, description="last_owner: the last owner cannot be demoted")
    @blp.alt_response(422, schema=ErrorOut)
    def patch(self, data, team_id, user_id):
        """Change a member's role and/or daily cap, both or neither. Admins change roles below
        owner and cap members and admins; only owners make owners, or change or cap an owner."""
        services().teams().update_member(current_actor(), team_id, user_id, **data)
        return member_dict(_member(team_id, user_id))

    @blp.doc(security=BEARER)
    @blp.response(204)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="forbidden: your role does not allow it")
    @blp.alt_response(404, schema=ErrorOut)
    @blp.alt_response(409, schema=ErrorOut, description="last_owner: the last owner cannot leave or be removed")
    def delete(self, team_id, user_id):
        """Remove a member; with your own id, leave the team. What they made in the team stays."""
        services().teams().remove(current_actor(), team_id, user_id)


@blp.route(f"{TEAM}/usage")
class TeamUsageView(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, TeamUsageOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut, description="not_found: no such team, or you are not a member")
    def get(self, team_id):
        """The team's pooled daily quota now and what each member drew from it in the current
        window (members as GET /members lists them)."""
        usage = services().quota().team_usage(current_actor(), team_id)
        return {"quota": usage.quota.to_dict(),
                "members": [{"user_id": m.member.user_id, "email": m.member.email, "name": m.member.name,
                             "role": m.member.role.value, "daily_cap": m.member.daily_cap, "used": m.used}
                            for m in usage.members]}


# -- invitations ----------------------------------------------------------------------------------

@blp.route(f"{TEAM}/invitations")
class InvitationCollection(MethodView):
    decorators = [login_required, mail_limit]

    @blp.doc(security=BEARER)
    @blp.response(200, InvitationOut(many=True))
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="forbidden: owners and admins only")
    @blp.alt_response(404, schema=ErrorOut)
    def get(self, team_id):
        """The pending invitations, newest first (owners and admins)."""
        return [invitation_dict(i) for i in services().teams().invitations(current_actor(), team_id)]

    @blp.doc(security=BEARER)
    @blp.arguments(InvitationIn)
    @blp.response(201, InvitationOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="forbidden (members do not invite; admins do not invite "
                                                        "owners), or email_not_confirmed")
    @blp.alt_response(404, schema=ErrorOut)
    @blp.alt_response(409, schema=ErrorOut, description="conflict: the address belongs to a member or has a "
                                                        "pending invitation; limit_reached: 200 members and "
                                                        "invitations")
    @blp.alt_response(422, schema=ErrorOut)
    @blp.alt_response(429, schema=ErrorOut, description="rate_limited")
    def post(self, data, team_id):
        """Invite an address (owners and admins): it gets an e-mail with a link valid for 7 days
        that works once, for an account with exactly that address."""
        return invitation_dict(services().teams().invite(current_actor(), team_id, data["email"], data["role"]))


@blp.route(f"{TEAM}/invitations/<{ID_CONVERTER}:invitation_id>")
class InvitationItem(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(204)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut, description="not_found: no such pending invitation in this team")
    def delete(self, team_id, invitation_id):
        """Revoke a pending invitation: its link stops working."""
        services().teams().revoke(current_actor(), team_id, invitation_id)


@blp.route(f"{TEAM}/invitations/<{ID_CONVERTER}:invitation_id>/resend")
class InvitationResend(MethodView):
    decorators = [login_required, mail_limit]

    @blp.doc(security=BEARER)
    @blp.response(200, InvitationOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut)
    @blp.alt_response(409, schema=ErrorOut, description="conflict: sent less than a minute ago")
    @blp.alt_response(429, schema=ErrorOut, description="rate_limited")
    def post(self, team_id, invitation_id):
        """Send the invitation again with a new link and seven more days; the old link stops
        working."""
        return invitation_dict(services().teams().resend(current_actor(), team_id, invitation_id))


@blp.route("/invitations/accept")
class InvitationAccept(MethodView):
    decorators = [login_required, mail_limit]

    @blp.doc(security=BEARER)
    @blp.arguments(AcceptIn)
    @blp.response(200, AcceptedTeamOut)
    @blp.alt_response(400, schema=ErrorOut, description="invalid_token: unknown, expired, revoked, used, or "
                                                        "addressed to someone else")
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="email_not_confirmed")
    @blp.alt_response(409, schema=ErrorOut, description="conflict: you are already a member")
    @blp.alt_response(422, schema=ErrorOut)
    @blp.alt_response(429, schema=ErrorOut, description="rate_limited")
    def post(self, data):
        """Join a team with the token of an invitation sent to your own, confirmed address."""
        view = services().teams().accept(current_actor(), data["token"])
        return {"team": team_dict(view), "role": view.role.value}


# -- administration -------------------------------------------------------------------------------

@blp.route("/admin/teams")
class AdminTeams(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER, tags=["admin"])
    @blp.arguments(AdminTeamsQuery, location="query")
    @blp.response(200, AdminTeamsOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="forbidden: administrators only")
    @blp.alt_response(422, schema=ErrorOut)
    def get(self, args):
        """Every team with its members, by id, 50 a page (administrators)."""
        actor = current_actor()
        require_manage_users(actor)  # before the cursor is judged: a non-admin learns nothing more
        cursor = args.get("cursor")
        after = None
        if cursor:
            if not cursor.isdigit() or len(cursor) > 18:
                raise ValidationFailed.on("cursor", "The cursor is not valid; start from the first page.")
            after = int(cursor)
        rows = services().teams().all(actor, ADMIN_PAGE + 1, after)
        page = rows[:ADMIN_PAGE]
        next_cursor = str(page[-1][0].id) if len(rows) > ADMIN_PAGE else None
        return {"items": [admin_team_dict(team, members) for team, members in page], "next_cursor": next_cursor}
