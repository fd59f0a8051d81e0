"""Teams (SPEC §14): teams, their memberships and e-mail invitations.

Locks: PostgreSQL takes row locks (``SELECT ... FOR UPDATE``); on SQLite every writing
transaction already begins with ``BEGIN IMMEDIATE`` (adapters/sql/engine.py) and so holds the
database's write lock from its first statement, which serialises it with every other writer
(SQLAlchemy leaves ``FOR UPDATE`` out on SQLite). An invitation is used once through a conditional
UPDATE that only a pending row matches: of two racing acceptances only one changes a row.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from promptcore.domain.teams import Invitation, Member, Team, TeamRole
from promptcore.ports import InvitationRepository, TeamRepository

from .. import tables as t

__all__ = ["SqlInvitationRepository", "SqlTeamRepository"]


def _team(row: Any) -> Team:
    return Team(id=row.id, name=row.name, created_by=row.created_by, created_at=row.created_at)


def _member(row: Any) -> Member:
    return Member(team_id=row.team_id, user_id=row.user_id, role=TeamRole(row.role), joined_at=row.joined_at,
                  daily_cap=row.daily_cap, email=row.email, name=row.name)


def _listing_order(member: Member) -> tuple[int, str, int]:
    """Owners first, then admins, then members, each by e-mail (in Python, the same on every
    backend whatever the database's collation)."""
    return -member.role.rank, member.email or "", member.user_id


def _invitation(row: Any) -> Invitation:
    return Invitation(id=row.id, team_id=row.team_id, email=row.email, role=TeamRole(row.role),
                      token_hash=row.token_hash, invited_by=row.invited_by, created_at=row.created_at,
                      expires_at=row.expires_at, accepted_at=row.accepted_at, revoked_at=row.revoked_at)


def _members_query() -> Any:
    tm, u = t.team_members, t.users
    return select(tm, u.c.email, u.c.name).select_from(tm.join(u, u.c.id == tm.c.user_id))


class SqlTeamRepository(TeamRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, team: Team, owner_id: int, now: datetime) -> Team:
        new_id = self._c.execute(insert(t.teams).values(name=team.name, created_by=team.created_by,
                                                        created_at=now)).inserted_primary_key[0]
        self._c.execute(insert(t.team_members).values(team_id=new_id, user_id=owner_id, role=TeamRole.OWNER.value,
                                                      daily_cap=None, joined_at=now))
        team.id, team.created_at = int(new_id), now
        return team

    def get(self, team_id: int) -> Team | None:
        row = self._c.execute(select(t.teams).where(t.teams.c.id == team_id)).first()
        return _team(row) if row else None

    def rename(self, team_id: int, name: str) -> None:
        self._c.execute(update(t.teams).where(t.teams.c.id == team_id).values(name=name))

    def delete(self, team_id: int) -> None:
        # The foreign keys cascade too; said here so the deletion does not depend on them.
        self._c.execute(delete(t.team_invitations).where(t.team_invitations.c.team_id == team_id))
        self._c.execute(delete(t.team_members).where(t.team_members.c.team_id == team_id))
        self._c.execute(delete(t.teams).where(t.teams.c.id == team_id))

    def of_user(self, user_id: int) -> list[tuple[Team, TeamRole]]:
        tm, tt = t.team_members, t.teams
        rows = self._c.execute(select(tt, tm.c.role).select_from(tt.join(tm, tm.c.team_id == tt.c.id))
                               .where(tm.c.user_id == user_id)).all()
        found = [(_team(row), TeamRole(row.role)) for row in rows]
        return sorted(found, key=lambda pair: (pair[0].name.casefold(), pair[0].id))

    def roles_of(self, user_id: int) -> dict[int, str]:
        tm = t.team_members
        return {row.team_id: row.role for row in self._c.execute(
            select(tm.c.team_id, tm.c.role).where(tm.c.user_id == user_id))}

    def count_created_by(self, user_id: int) -> int:
        return int(self._c.execute(select(func.count()).select_from(t.teams)
                                   .where(t.teams.c.created_by == user_id)).scalar_one())

    def members(self, team_id: int) -> list[Member]:
        rows = self._c.execute(_members_query().where(t.team_members.c.team_id == team_id))
        return sorted((_member(row) for row in rows), key=_listing_order)

    def member(self, team_id: int, user_id: int, lock: bool = False) -> Member | None:
        tm = t.team_members
        query = _members_query().where(tm.c.team_id == team_id, tm.c.user_id == user_id)
        row = self._c.execute(query.with_for_update(of=tm) if lock else query).first()
        return _member(row) if row else None

    def lock_team(self, team_id: int) -> None:
        self._c.execute(select(t.teams.c.id).where(t.teams.c.id == team_id).with_for_update())

    def _is_member(self, team_id: int, user_id: int) -> bool:
        tm = t.team_members
        return self._c.execute(select(tm.c.user_id).where(tm.c.team_id == team_id, tm.c.user_id == user_id)
                               ).first() is not None

    def add_member(self, member: Member) -> bool:
        if self._is_member(member.team_id, member.user_id):
            return False
        try:
            with self._c.begin_nested():
                self._c.execute(insert(t.team_members).values(
                    team_id=member.team_id, user_id=member.user_id, role=member.role.value,
                    daily_cap=member.daily_cap, joined_at=member.joined_at))
        except IntegrityError:
            if self._is_member(member.team_id, member.user_id):  # added meanwhile by another transaction
                return False
            raise  # the team or the user is gone
        return True

    def _update_member(self, team_id: int, user_id: int, **values: Any) -> None:
        tm = t.team_members
        self._c.execute(update(tm).where(tm.c.team_id == team_id, tm.c.user_id == user_id).values(**values))

    def set_role(self, team_id: int, user_id: int, role: TeamRole) -> None:
        self._update_member(team_id, user_id, role=role.value)

    def set_cap(self, team_id: int, user_id: int, cap: int | None) -> None:
        self._update_member(team_id, user_id, daily_cap=cap)

    def remove_member(self, team_id: int, user_id: int) -> None:
        tm = t.team_members
        self._c.execute(delete(tm).where(tm.c.team_id == team_id, tm.c.user_id == user_id))

    def _count(self, *where: Any) -> int:
        return int(self._c.execute(select(func.count()).select_from(t.team_members).where(*where)).scalar_one())

    def count_owners(self, team_id: int) -> int:
        tm = t.team_members
        return self._count(tm.c.team_id == team_id, tm.c.role == TeamRole.OWNER.value)

    def count_members(self, team_id: int) -> int:
        return self._count(t.team_members.c.team_id == team_id)

    def all(self, limit: int, after_id: int | None = None) -> list[tuple[Team, list[Member]]]:
        query = select(t.teams).order_by(t.teams.c.id).limit(limit)
        if after_id is not None:
            query = query.where(t.teams.c.id > after_id)
        teams = [_team(row) for row in self._c.execute(query)]
        if not teams:
            return []
        members: dict[int, list[Member]] = defaultdict(list)
        for row in self._c.execute(_members_query().where(t.team_members.c.team_id.in_([team.id for team in teams]))):
            members[row.team_id].append(_member(row))
        return [(team, sorted(members.get(team.id, []), key=_listing_order)) for team in teams]


class SqlInvitationRepository(InvitationRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, invitation: Invitation) -> Invitation:
        invitation.email = invitation.email.lower()
        new_id = self._c.execute(insert(t.team_invitations).values(
            team_id=invitation.team_id, email=invitation.email, role=invitation.role.value,
            token_hash=invitation.token_hash, invited_by=invitation.invited_by, created_at=invitation.created_at,
            expires_at=invitation.expires_at, accepted_at=invitation.accepted_at,
            revoked_at=invitation.revoked_at)).inserted_primary_key[0]
        invitation.id = int(new_id)
        return invitation

    def get(self, invitation_id: int) -> Invitation | None:
        ti = t.team_invitations
        row = self._c.execute(select(ti).where(ti.c.id == invitation_id)).first()
        return _invitation(row) if row else None

    def by_token_hash(self, token_hash: str) -> Invitation | None:
        ti = t.team_invitations
        row = self._c.execute(select(ti).where(ti.c.token_hash == token_hash)).first()
        return _invitation(row) if row else None

    @staticmethod
    def _pending(team_id: int, now: datetime) -> list[Any]:
        ti = t.team_invitations
        return [ti.c.team_id == team_id, ti.c.accepted_at.is_(None), ti.c.revoked_at.is_(None), ti.c.expires_at > now]

    def pending_for(self, team_id: int, email: str, now: datetime) -> Invitation | None:
        ti = t.team_invitations
        # addresses are stored lower-cased (add), so the index on (team_id, email) serves this
        row = self._c.execute(select(ti).where(*self._pending(team_id, now), ti.c.email == email.lower())
                              .order_by(ti.c.id.desc())).first()
        return _invitation(row) if row else None

    def pending(self, team_id: int, now: datetime) -> list[Invitation]:
        ti = t.team_invitations
        return [_invitation(row) for row in self._c.execute(
            select(ti).where(*self._pending(team_id, now)).order_by(ti.c.created_at.desc(), ti.c.id.desc()))]

    def count_pending(self, team_id: int, now: datetime) -> int:
        return int(self._c.execute(select(func.count()).select_from(t.team_invitations)
                                   .where(*self._pending(team_id, now))).scalar_one())

    def _unused(self, invitation_id: int, *where: Any, **values: Any) -> bool:
        """One conditional UPDATE of an invitation that is neither accepted nor revoked (and matches
        ``where``): of two racing changes, the second re-reads the row after the first commits
        (PostgreSQL) or waits for it from its first statement (SQLite), and so matches nothing."""
        ti = t.team_invitations
        result = self._c.execute(update(ti).where(ti.c.id == invitation_id, ti.c.accepted_at.is_(None),
                                                  ti.c.revoked_at.is_(None), *where).values(**values))
        return result.rowcount == 1

    def replace_token(self, invitation_id: int, token_hash: str, now: datetime, expires_at: datetime) -> bool:
        return self._unused(invitation_id, token_hash=token_hash, expires_at=expires_at)

    def mark_accepted(self, invitation_id: int, token_hash: str, now: datetime) -> bool:
        return self._unused(invitation_id, t.team_invitations.c.token_hash == token_hash, accepted_at=now)

    def mark_revoked(self, invitation_id: int, now: datetime) -> bool:
        return self._unused(invitation_id, revoked_at=now)
