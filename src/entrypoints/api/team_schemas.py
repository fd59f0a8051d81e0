"""Request and response schemas of the teams API (SPEC §14): teams, members, invitations, and the
administrators' list. Invitation tokens are never part of an answer (they are only e-mailed), nor
are their hashes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from promptcore.domain.teams import NAME_MAX
from promptcore.domain.users import EMAIL_MAX
from promptcore.services.teams import CAP_MAX

from .schemas import QuotaOut, StrictSchema, Text

ROLES = ["owner", "admin", "member"]

Role = lambda **kw: Text(validate=validate.OneOf(ROLES), **kw)  # noqa: E731


# -- teams ----------------------------------------------------------------------------------------

class TeamIn(StrictSchema):
    name = Text(required=True, validate=validate.Length(min=1, max=NAME_MAX), metadata={
        "example": "Support desk",
        "description": f"1-{NAME_MAX} characters; runs of spaces and line breaks are stored as one space."})


class TeamOut(Schema):
    id = fields.Integer(required=True)
    name = Text(required=True)
    role = Text(required=True, metadata={"enum": ROLES, "description": "Your role in the team."})
    created_at = fields.DateTime(required=True, allow_none=True)


class TeamDetailOut(TeamOut):
    members_count = fields.Integer(required=True)


# -- members --------------------------------------------------------------------------------------

class MemberOut(Schema):
    user_id = fields.Integer(required=True)
    email = Text(required=True, allow_none=True)
    name = Text(required=True, allow_none=True)
    role = Text(required=True, metadata={"enum": ROLES})
    daily_cap = fields.Integer(required=True, allow_none=True, metadata={
        "description": "The member's own cap on the team's daily pool; null: no cap of their own."})
    joined_at = fields.DateTime(required=True)


class MemberPatchIn(StrictSchema):
    role = Role(metadata={"description": "Admins move people between admin and member; only owners make "
                                         "owners or change an owner's role; the last owner cannot be demoted."})
    daily_cap = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=CAP_MAX),
                               metadata={"description": "Units a day from the team pool (owners and admins set "
                                                        "it); null removes the cap."})


class MemberUsageOut(Schema):
    user_id = fields.Integer(required=True)
    email = Text(required=True, allow_none=True)
    name = Text(required=True, allow_none=True)
    role = Text(required=True, metadata={"enum": ROLES})
    daily_cap = fields.Integer(required=True, allow_none=True, metadata={
        "description": "The member's own cap on the pool; null: no cap of their own."})
    used = fields.Integer(required=True, metadata={
        "description": "Units the member drew from the team's pool in the current window."})


class TeamUsageOut(Schema):
    quota = fields.Nested(QuotaOut, required=True, metadata={
        "description": "The team's pool now; limit 0 while the team has no team plan."})
    members = fields.List(fields.Nested(MemberUsageOut), required=True)


# -- invitations ----------------------------------------------------------------------------------

class InvitationIn(StrictSchema):
    email = Text(required=True, validate=validate.Length(min=1, max=EMAIL_MAX),
                 metadata={"example": "grace@example.com"})
    role = Role(load_default="member", metadata={"description": "The role on joining (default member); only "
                                                                "owners invite owners."})


class InvitationOut(Schema):
    id = fields.Integer(required=True)
    email = Text(required=True)
    role = Text(required=True, metadata={"enum": ROLES})
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)


class AcceptIn(StrictSchema):
    token = Text(required=True, validate=validate.Length(min=1, max=2048), metadata={
        "description": "The token of the invitation link (<BASE_URL>/invitations/<token>)."})


class AcceptedTeamOut(Schema):
    team = fields.Nested(TeamOut, required=True)
    role = Text(required=True, metadata={"enum": ROLES})


# -- administration -------------------------------------------------------------------------------

class AdminTeamsQuery(StrictSchema):
    cursor = Text(load_default=None, validate=validate.Length(max=30))


class AdminMemberOut(Schema):
    user_id = fields.Integer(required=True)
    email = Text(required=True, allow_none=True)
    role = Text(required=True, metadata={"enum": ROLES})


class AdminTeamOut(Schema):
    id = fields.Integer(required=True)
    name = Text(required=True)
    created_at = fields.DateTime(required=True, allow_none=True)
    members = fields.List(fields.Nested(AdminMemberOut), required=True)


class AdminTeamsOut(Schema):
    items = fields.List(fields.Nested(AdminTeamOut), required=True)
    next_cursor = Text(allow_none=True, required=True)
