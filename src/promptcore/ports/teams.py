"""Teams (SPEC §14): teams, their members and invitations. Who may do what is decided by the use
case (domain/access.py, domain/teams.py), never here."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from ..domain.teams import Invitation, Member, Team, TeamRole


class TeamRepository(ABC):
    @abstractmethod
    def add(self, team: Team, owner_id: int, now: datetime) -> Team:
        """Store a team with ``owner_id`` as its first member (owner); sets ``id``, ``created_at``."""
    @abstractmethod
    def get(self, team_id: int) -> Team | None: ...
    @abstractmethod
    def rename(self, team_id: int, name: str) -> None: ...
    @abstractmethod
    def delete(self, team_id: int) -> None:
        """Remove the team, its memberships and invitations."""
    @abstractmethod
    def of_user(self, user_id: int) -> list[tuple[Team, TeamRole]]:
        """The teams the user belongs to with their role, by name (case-insensitively), then id."""
    @abstractmethod
    def roles_of(self, user_id: int) -> dict[int, str]:
        """team id → role value, for building a request's Actor (one query)."""
    @abstractmethod
    def count_created_by(self, user_id: int) -> int: ...
    @abstractmethod
    def members(self, team_id: int) -> list[Member]:
        """Every member with ``email`` and ``name`` filled, owners first, then admins, then members,
        each by e-mail."""
    @abstractmethod
    def member(self, team_id: int, user_id: int, lock: bool = False) -> Member | None:
        """One membership; ``lock`` takes a row lock (PostgreSQL ``FOR UPDATE``; SQLite's write
        lock is the transaction's) so role changes and removals of one team run one at a time."""
    @abstractmethod
    def lock_team(self, team_id: int) -> None:
        """Serialise changes of one team's memberships (the last-owner rule under concurrency)."""
    @abstractmethod
    def add_member(self, member: Member) -> bool:
        """Add a membership; False when the user is already a member (nothing changes)."""
    @abstractmethod
    def set_role(self, team_id: int, user_id: int, role: TeamRole) -> None: ...
    @abstractmethod
    def set_cap(self, team_id: int, user_id: int, cap: int | None) -> None: ...
    @abstractmethod
    def remove_member(self, team_id: int, user_id: int) -> None: ...
    @abstractmethod
    def count_owners(self, team_id: int) -> int: ...
    @abstractmethod
    def count_members(self, team_id: int) -> int: ...
    @abstractmethod
    def all(self, limit: int, after_id: int | None = None) -> list[tuple[Team, list[Member]]]:
        """Every team with its members, by id (the admin area)."""


class InvitationRepository(ABC):
    @abstractmethod
    def add(self, invitation: Invitation) -> Invitation: ...
    @abstractmethod
    def get(self, invitation_id: int) -> Invitation | None: ...
    @abstractmethod
    def by_token_hash(self, token_hash: str) -> Invitation | None: ...
    @abstractmethod
    def pending_for(self, team_id: int, email: str, now: datetime) -> Invitation | None:
        """The pending invitation of this address to this team (addresses compared
        case-insensitively), if any."""
    @abstractmethod
    def pending(self, team_id: int, now: datetime) -> list[Invitation]:
        """The team's pending invitations, newest first."""
    @abstractmethod
    def count_pending(self, team_id: int, now: datetime) -> int: ...
    @abstractmethod
    def replace_token(self, invitation_id: int, token_hash: str, now: datetime, expires_at: datetime) -> bool:
        """A resend: a new token (the old one stops working) and a new expiry — only while the
        invitation is neither accepted nor revoked; False (nothing changes) otherwise (a race lost
        to an acceptance or a revocation)."""
    @abstractmethod
    def mark_accepted(self, invitation_id: int, token_hash: str, now: datetime) -> bool:
        """Use the invitation once, with the token it was found by: False when it was already
        accepted or revoked, or its token was replaced meanwhile by a resend (a race lost: the old
        token does not work, and the new one stays unused)."""
    @abstractmethod
    def mark_revoked(self, invitation_id: int, now: datetime) -> bool: ...
