"""Teams (SPEC §14): members with roles, invitations, and the rules of who may do what.

The role rules are plain functions of the roles involved, so they can be tested on their own and
read in one place:

- owners and admins invite, revoke and resend invitations; members do not;
- admins remove members and admins, change roles below owner and set caps on members and admins;
  only owners make owners or change, cap or remove an owner;
- only owners and admins see the pending invitations;
- the last owner can neither leave nor be demoted nor removed (hand ownership over first);
- only owners rename or delete the team and pay for it;
- every member uses the team's library (templates, custom styles) and shares records with the
  team; owners, admins and the item's author change or delete a shared item (a record is taken
  back from the team by its author or by an owner or admin).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from .errors import ValidationFailed

__all__ = [
    "INVITATION_TTL", "NAME_MAX", "TEAMS_PER_USER", "MEMBERS_PER_TEAM", "Invitation", "Member", "Team", "TeamRole",
    "clean_team_name", "invitation_token_hash", "may_change_role", "may_delete_team", "may_invite",
    "may_edit_shared", "may_remove", "may_rename_team", "may_see_invitations", "may_set_cap", "parse_role",
    "SharedRecord",
]

INVITATION_TTL = timedelta(days=7)
NAME_MAX = 100
TEAMS_PER_USER = 20  # teams a user may create
MEMBERS_PER_TEAM = 200  # members plus pending invitations


class TeamRole(str, Enum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"

    @property
    def rank(self) -> int:
        return {"owner": 3, "admin": 2, "member": 1}[self.value]


def parse_role(raw: Any, field_name: str = "role") -> TeamRole:
    try:
        return TeamRole(raw)
    except ValueError:
        raise ValidationFailed.on(field_name, "Choose owner, admin or member.") from None


# The zero-width joiners are how several scripts spell words (Persian's ZWNJ, Indic conjuncts) and
# how emoji sequences are made; every other control or format character (bidi overrides included)
# is refused.
_JOINERS = str.maketrans("", "", "\u200c\u200d")


def clean_team_name(raw: Any, field_name: str = "name") -> str:
    if not isinstance(raw, str):
        raise ValidationFailed.on(field_name, "Enter the team's name as text.")
    name = " ".join(raw.split())
    if not name.translate(_JOINERS).strip():
        raise ValidationFailed.on(field_name, "Enter a name for the team.")
    if len(name) > NAME_MAX:
        raise ValidationFailed.on(field_name, f"Use at most {NAME_MAX} characters (got {len(name)}).")
    if not name.translate(_JOINERS).isprintable():
        raise ValidationFailed.on(field_name, "The name contains control characters.")
    return name


def invitation_token_hash(token: str) -> str:
    """What is stored of an invitation token: its SHA-256 (the token itself is only e-mailed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class Team:
    name: str
    created_by: int | None
    id: int | None = None
    created_at: datetime | None = None


@dataclass
class Member:
    team_id: int
    user_id: int
    role: TeamRole
    joined_at: datetime
    # a per-member cap on the team pool (units a day), set by admins; None: no cap of its own
    daily_cap: int | None = None
    email: str | None = None  # filled when listing, for display
    name: str | None = None


@dataclass
class Invitation:
    team_id: int
    email: str
    role: TeamRole
    token_hash: str
    invited_by: int | None
    created_at: datetime
    expires_at: datetime
    id: int | None = None
    accepted_at: datetime | None = None
    revoked_at: datetime | None = None

    def pending(self, now: datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and now < self.expires_at


# -- the role rules ---------------------------------------------------------------------------------

def may_invite(role: TeamRole, invited_role: TeamRole) -> bool:
    """Owners invite anyone; admins invite admins and members; members invite no one."""
    if role is TeamRole.OWNER:
        return True
    return role is TeamRole.ADMIN and invited_role is not TeamRole.OWNER


def may_remove(role: TeamRole, target: TeamRole) -> bool:
    """Owners remove anyone; admins remove admins and members (not owners)."""
    if role is TeamRole.OWNER:
        return True
    return role is TeamRole.ADMIN and target is not TeamRole.OWNER


def may_change_role(role: TeamRole, current: TeamRole, new: TeamRole) -> bool:
    """Only owners make owners or change an owner's role; admins move people between admin and
    member."""
    if role is TeamRole.OWNER:
        return True
    return role is TeamRole.ADMIN and TeamRole.OWNER not in (current, new)


def may_set_cap(role: TeamRole, target: TeamRole | None = None) -> bool:
    """Owners and admins set members' caps on the pool; only owners cap an owner (``target``: the
    role of the member capped, when known)."""
    if role is TeamRole.OWNER:
        return True
    return role is TeamRole.ADMIN and target is not TeamRole.OWNER


def may_see_invitations(role: TeamRole) -> bool:
    """The pending invitations (addresses, roles) are for those who may invite: owners and admins."""
    return role in (TeamRole.OWNER, TeamRole.ADMIN)


def may_rename_team(role: TeamRole) -> bool:
    return role is TeamRole.OWNER


def may_delete_team(role: TeamRole) -> bool:
    return role is TeamRole.OWNER


def may_edit_shared(role: TeamRole, is_author: bool) -> bool:
    """Owners and admins change or delete anything in the team's library or feed; a member, only
    what they made themselves."""
    return role in (TeamRole.OWNER, TeamRole.ADMIN) or is_author


@dataclass
class SharedRecord:
    """A history record shared with a team (SPEC §14): the record stays its author's; the team's
    members read it in the team's feed."""

    team_id: int
    record_id: int
    shared_by: int | None
    shared_at: datetime
    original_prompt: str = ""
    generated_prompt: str | None = None
    style: str = ""
    model: str | None = None
    created_at: datetime | None = None
    author_id: int | None = None  # the record's owner
    author_name: str | None = None  # filled when listing, for display
