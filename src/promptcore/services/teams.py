"""Teams (SPEC §14): creating and running a team, its members and roles, and e-mail invitations.

Every team id a caller sends goes through domain/access.py (``require_member`` /
``require_team_action``): a non-member gets NotFound, a member without the role Forbidden. Changes
to one team's memberships take the team's lock first and then read the caller's role again under
it, so the last-owner rule holds when two owners demote each other at the same moment, and a
caller demoted or removed a moment ago acts with the role they have now.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from ..domain.access import Actor, require_manage_users, require_member, require_team_action
from ..domain.errors import (
    Conflict,
    EmailNotConfirmed,
    Forbidden,
    HasPaidPlan,
    InvalidToken,
    LastOwner,
    LimitReached,
    NotFound,
    ValidationFailed,
)
from ..domain.teams import (
    INVITATION_TTL,
    MEMBERS_PER_TEAM,
    TEAMS_PER_USER,
    Invitation,
    Member,
    Team,
    TeamRole,
    clean_team_name,
    invitation_token_hash,
    may_change_role,
    may_delete_team,
    may_invite,
    may_remove,
    may_rename_team,
    may_see_invitations,
    may_set_cap,
    parse_role,
)
from ..domain.users import validate_email
from ..ports import Clock, MailTemplates, UnitOfWork

__all__ = ["CAP_MAX", "InvitationPreview", "TeamView", "Teams"]

log = logging.getLogger(__name__)

CAP_MAX = 100_000
_NO_INVITATION = "The invitation was not found."
_NOT_ALLOWED = "Your role in this team does not allow that."
PAYMENT_PENDING = ("A payment for this team is in progress; wait until it is paid or canceled (an unfinished "
                   "checkout is dropped within an hour) before deleting the team.")
_KEEP: Any = object()  # update_member: the field is not being changed
INVITATION_RESEND_GAP = timedelta(minutes=1)  # resending to one address at most once a minute


@dataclass(frozen=True)
class InvitationPreview:
    invitation: Invitation
    team: Team
    inviter_email: str | None
    inviter_name: str | None


@dataclass(frozen=True)
class TeamView:
    team: Team
    role: TeamRole  # the actor's


class Teams:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock, mail: MailTemplates, base_url: str,
                 has_paid_plan: Callable[[UnitOfWork, int], bool] | None = None,
                 has_pending_payment: Callable[[UnitOfWork, int], bool] | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._mail = mail
        self._base_url = base_url.rstrip("/")
        # Whether a team's subscription is active and paid, and whether a payment for it is under
        # way (billing decides both; wired by the container).
        self._has_paid_plan = has_paid_plan or (lambda uow, team_id: False)
        self._has_pending_payment = has_pending_payment or (lambda uow, team_id: False)

    # -- teams ---------------------------------------------------------------------------------

    def roles_of(self, user_id: int) -> dict[int, str]:
        """team id → the user's role, for the request's Actor (entrypoints/actor.py)."""
        with self._uow() as uow:
            return uow.teams.roles_of(user_id)

    def list(self, actor: Actor) -> list[TeamView]:
        with self._uow() as uow:
            return [TeamView(team, role) for team, role in uow.teams.of_user(actor.user_id)]

    def get(self, actor: Actor, team_id: int) -> TeamView:
        role = require_member(actor, team_id)
        with self._uow() as uow:
            team = uow.teams.get(team_id)
        if team is None:
            raise NotFound("Team not found.")
        return TeamView(team, role)

    def create(self, actor: Actor, name: Any) -> TeamView:
        clean = clean_team_name(name)
        with self._uow() as uow:
            user = uow.users.get(actor.user_id)
            if user is None:
                raise NotFound("The account no longer exists.")
            if not user.is_email_confirmed:
                raise EmailNotConfirmed("Confirm your e-mail address before creating a team.")
            if uow.teams.count_created_by(actor.user_id) >= TEAMS_PER_USER:
                raise LimitReached(f"You can create at most {TEAMS_PER_USER} teams.")
            team = uow.teams.add(Team(name=clean, created_by=actor.user_id), actor.user_id, self._clock.now())
            uow.commit()
        return TeamView(team, TeamRole.OWNER)

    def rename(self, actor: Actor, team_id: int, name: Any) -> TeamView:
        role = require_team_action(actor, team_id, may_rename_team)
        clean = clean_team_name(name)
        with self._uow() as uow:
            team = uow.teams.get(team_id)
            if team is None:
                raise NotFound("Team not found.")
            uow.teams.rename(team_id, clean)
            uow.commit()
        team.name = clean
        return TeamView(team, role)

    def delete(self, actor: Actor, team_id: int) -> None:
        """Delete the team (owners): not while it has an active paid plan (HasPaidPlan), nor while a
        payment for it is under way (Conflict) — its success would otherwise land on no team. A
        checkout takes the team's lock too (services/billing.py), so the two cannot cross."""
        require_team_action(actor, team_id, may_delete_team)
        with self._uow() as uow:
            uow.teams.lock_team(team_id)
            self._require_role(uow, actor, team_id, may_delete_team)
            if self._has_paid_plan(uow, team_id):
                raise HasPaidPlan()
            if self._has_pending_payment(uow, team_id):
                raise Conflict(PAYMENT_PENDING)
            uow.teams.delete(team_id)
            uow.commit()

    # -- members -------------------------------------------------------------------------------

    def members(self, actor: Actor, team_id: int) -> list[Member]:
        require_member(actor, team_id)
        with self._uow() as uow:
            return uow.teams.members(team_id)

    def _target(self, uow: UnitOfWork, team_id: int, user_id: Any) -> Member:
        member = uow.teams.member(team_id, user_id, lock=True) if isinstance(user_id, int) else None
        if member is None:
            raise NotFound("No such member in this team.")
        return member

    @staticmethod
    def _role_now(uow: UnitOfWork, actor: Actor, team_id: int) -> TeamRole:
        """The caller's role as stored now, read under the team's lock (the Actor's was read when
        the request began: a demotion or removal committed since then counts)."""
        me = uow.teams.member(team_id, actor.user_id)
        if me is None:
            raise NotFound("Team not found.")
        return me.role

    def _require_role(self, uow: UnitOfWork, actor: Actor, team_id: int,
                      rule: Callable[[TeamRole], bool]) -> TeamRole:
        role = self._role_now(uow, actor, team_id)
        if not rule(role):
            raise Forbidden(_NOT_ALLOWED)
        return role

    @staticmethod
    def _clean_cap(cap: Any) -> int | None:
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or not 0 <= cap <= CAP_MAX):
            raise ValidationFailed.on("daily_cap", f"Use a whole number from 0 to {CAP_MAX}, or null for no cap.")
        return cap

    def update_member(self, actor: Actor, team_id: int, user_id: int, *, role: Any = _KEEP,
                      daily_cap: Any = _KEEP) -> Member:
        """Change a member's role and/or daily cap in one transaction: both or neither. Admins move
        people between admin and member and cap members and admins; only owners make owners, or
        change or cap an owner; the last owner is not demoted. The rules are judged by the caller's
        role under the team's lock, against the target's role before the change (and, for a cap,
        after it too)."""
        mine = require_member(actor, team_id)  # a stranger learns nothing, even from a bad value
        new = parse_role(role) if role is not _KEEP else None
        if daily_cap is not _KEEP:
            if not may_set_cap(mine):
                raise Forbidden(_NOT_ALLOWED)  # before the value is judged, as for a role
            cap = self._clean_cap(daily_cap)
        with self._uow() as uow:
            uow.teams.lock_team(team_id)
            mine = self._role_now(uow, actor, team_id)
            target = self._target(uow, team_id, user_id)
            if new is not None:
                if not may_change_role(mine, target.role, new):
                    raise Forbidden(_NOT_ALLOWED)
                if target.role is TeamRole.OWNER and new is not TeamRole.OWNER and \
                        uow.teams.count_owners(team_id) <= 1:
                    raise LastOwner()
            if daily_cap is not _KEEP and not (may_set_cap(mine, target.role) and may_set_cap(mine, new)):
                raise Forbidden("Only the team's owners set an owner's cap." if may_set_cap(mine) else _NOT_ALLOWED)
            if new is not None:
                uow.teams.set_role(team_id, target.user_id, new)
                target.role = new
            if daily_cap is not _KEEP:
                uow.teams.set_cap(team_id, target.user_id, cap)
                target.daily_cap = cap
            uow.commit()
        return target

    def change_role(self, actor: Actor, team_id: int, user_id: int, role: Any) -> Member:
        return self.update_member(actor, team_id, user_id, role=role)

    def set_cap(self, actor: Actor, team_id: int, user_id: int, cap: Any) -> Member:
        return self.update_member(actor, team_id, user_id, daily_cap=cap)

    def remove(self, actor: Actor, team_id: int, user_id: int) -> None:
        """Remove a member (or, with one's own id, leave). What they made in the team stays."""
        require_member(actor, team_id)
        with self._uow() as uow:
            uow.teams.lock_team(team_id)
            mine = self._role_now(uow, actor, team_id)
            target = self._target(uow, team_id, user_id)
            if target.user_id != actor.user_id and not may_remove(mine, target.role):
                raise Forbidden(_NOT_ALLOWED)
            if target.role is TeamRole.OWNER and uow.teams.count_owners(team_id) <= 1:
                raise LastOwner("The last owner cannot leave or be removed: make someone else an owner first, "
                                "or delete the team.")
            uow.teams.remove_member(team_id, target.user_id)
            uow.commit()

    def leave(self, actor: Actor, team_id: int) -> None:
        self.remove(actor, team_id, actor.user_id)

    # -- invitations ---------------------------------------------------------------------------

    def _link(self, token: str) -> str:
        return f"{self._base_url}/invitations/{quote(token)}"

    def _send(self, uow: UnitOfWork, invitation: Invitation, team: Team, inviter_email: str, token: str,
              language: str) -> None:
        message = self._mail.render("team_invitation", language, invitation.email,
                                    {"link": self._link(token), "team": team.name, "inviter": inviter_email,
                                     "role": invitation.role.value, "expires_at": invitation.expires_at})
        uow.outbox.add(message, self._clock.now())

    def invitations(self, actor: Actor, team_id: int) -> list[Invitation]:
        """The pending invitations, newest first: for owners and admins (a member: Forbidden)."""
        require_team_action(actor, team_id, may_see_invitations)
        with self._uow() as uow:
            return uow.invitations.pending(team_id, self._clock.now())

    def invite(self, actor: Actor, team_id: int, email: Any, role: Any = "member") -> Invitation:
        """Invite an address (one pending invitation per team and address); the e-mail goes
        through the outbox in the inviter's language."""
        mine = require_member(actor, team_id)
        address = validate_email(email if isinstance(email, str) else "")
        wanted = parse_role(role)
        if not may_invite(mine, wanted):
            raise Forbidden(_NOT_ALLOWED)
        now = self._clock.now()
        token = secrets.token_urlsafe(32)
        with self._uow() as uow:
            uow.teams.lock_team(team_id)
            self._require_role(uow, actor, team_id, lambda now_role: may_invite(now_role, wanted))
            team = uow.teams.get(team_id)
            inviter = uow.users.get(actor.user_id)
            if team is None or inviter is None:
                raise NotFound("Team not found.")
            if not inviter.is_email_confirmed:
                raise EmailNotConfirmed("Confirm your e-mail address before inviting people.")
            existing = uow.users.get_by_email(address)
            if existing is not None and uow.teams.member(team_id, existing.id) is not None:
                raise Conflict("This address already belongs to a member of the team.")
            if uow.invitations.pending_for(team_id, address, now) is not None:
                raise Conflict("This address already has a pending invitation; resend or revoke it.")
            if uow.teams.count_members(team_id) + uow.invitations.count_pending(team_id, now) >= MEMBERS_PER_TEAM:
                raise LimitReached(f"A team has at most {MEMBERS_PER_TEAM} members and pending invitations.")
            invitation = uow.invitations.add(Invitation(
                team_id=team_id, email=address, role=wanted, token_hash=invitation_token_hash(token),
                invited_by=actor.user_id, created_at=now, expires_at=now + INVITATION_TTL))
            self._send(uow, invitation, team, inviter.email, token, inviter.settings.language)
            uow.commit()
        return invitation

    def _pending(self, uow: UnitOfWork, actor: Actor, team_id: int, invitation_id: Any) -> Invitation:
        """An invitation of this team that the actor may manage (owners and admins)."""
        invitation = uow.invitations.get(invitation_id) if isinstance(invitation_id, int) else None
        if invitation is None or invitation.team_id != team_id or not invitation.pending(self._clock.now()):
            raise NotFound(_NO_INVITATION)
        mine = require_member(actor, team_id)
        if not may_invite(mine, invitation.role):
            raise Forbidden(_NOT_ALLOWED)
        return invitation

    def resend(self, actor: Actor, team_id: int, invitation_id: int) -> Invitation:
        """A fresh token and seven more days; the old link stops working."""
        require_member(actor, team_id)
        now = self._clock.now()
        token = secrets.token_urlsafe(32)
        with self._uow() as uow:
            invitation = self._pending(uow, actor, team_id, invitation_id)
            team = uow.teams.get(team_id)
            inviter = uow.users.get(actor.user_id)
            if team is None or inviter is None:
                raise NotFound("Team not found.")
            if uow.outbox.queued_since(invitation.email, "team_invitation", now - INVITATION_RESEND_GAP):
                raise Conflict("The invitation was sent moments ago; wait a minute before sending it again.")
            invitation.token_hash = invitation_token_hash(token)
            invitation.expires_at = now + INVITATION_TTL
            if not uow.invitations.replace_token(invitation.id or 0, invitation.token_hash, now, invitation.expires_at):
                raise NotFound(_NO_INVITATION)  # accepted or revoked meanwhile: nothing is sent
            self._send(uow, invitation, team, inviter.email, token, inviter.settings.language)
            uow.commit()
        return invitation

    def revoke(self, actor: Actor, team_id: int, invitation_id: int) -> None:
        require_member(actor, team_id)
        with self._uow() as uow:
            invitation = self._pending(uow, actor, team_id, invitation_id)
            uow.invitations.mark_revoked(invitation.id or 0, self._clock.now())
            uow.commit()

    def preview(self, actor: Actor, token: Any) -> InvitationPreview:
        """The invitation behind a token with its team and who sent it, for the invitation page;
        InvalidToken unless it is pending and addressed to the actor's address."""
        with self._uow() as uow:
            invitation, team = self._usable(uow, actor, token)
            inviter = uow.users.get(invitation.invited_by) if invitation.invited_by is not None else None
        return InvitationPreview(invitation, team, inviter.email if inviter else None,
                                 inviter.name if inviter else None)

    def _usable(self, uow: UnitOfWork, actor: Actor, token: Any) -> tuple[Invitation, Team]:
        if not isinstance(token, str) or not 20 <= len(token) <= 200:
            raise InvalidToken("The invitation link is invalid, expired or already used.")
        invitation = uow.invitations.by_token_hash(invitation_token_hash(token))
        user = uow.users.get(actor.user_id)
        if invitation is None or user is None or not invitation.pending(self._clock.now()):
            raise InvalidToken("The invitation link is invalid, expired or already used.")
        if user.email != invitation.email:
            # someone else's invitation: the same answer as a bad link, so it tells nothing
            raise InvalidToken("The invitation link is invalid, expired or already used.")
        if not user.is_email_confirmed:
            raise EmailNotConfirmed("Confirm your e-mail address before joining a team.")
        team = uow.teams.get(invitation.team_id)
        if team is None:
            raise InvalidToken("The invitation link is invalid, expired or already used.")
        return invitation, team

    def accept(self, actor: Actor, token: Any) -> TeamView:
        """Join the team with an invitation addressed to the actor's own, confirmed address; the
        token works once."""
        with self._uow() as uow:
            invitation, team = self._usable(uow, actor, token)
            uow.teams.lock_team(team.id or 0)
            # with the token it was found by: a resend since then retired it (and keeps the new one)
            if not uow.invitations.mark_accepted(invitation.id or 0, invitation.token_hash, self._clock.now()):
                raise InvalidToken("The invitation link is invalid, expired or already used.")
            added = uow.teams.add_member(Member(team_id=invitation.team_id, user_id=actor.user_id,
                                                role=invitation.role, joined_at=self._clock.now()))
            if not added:
                raise Conflict("You are already a member of this team.")
            uow.commit()
        return TeamView(team, invitation.role)

    # -- administration ------------------------------------------------------------------------

    def all(self, actor: Actor, limit: int = 50, after_id: int | None = None) -> list[tuple[Team, list[Member]]]:
        require_manage_users(actor)
        with self._uow() as uow:
            return uow.teams.all(limit, after_id)

