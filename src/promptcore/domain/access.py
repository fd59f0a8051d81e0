"""Who is asking, and the one rule of what they may do.

The entrypoints build an ``Actor`` once per request from whatever authenticated it (a session, an
access token; later an API key with scopes, and team memberships); every use case asks this
module before it reads or changes anything. A resource the actor may not read is reported as not
found, so a stranger cannot tell whether an id exists; an action on something the actor may read
but not change or manage is forbidden.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import Forbidden, InsufficientScope, NotFound, ValidationFailed
from .teams import TeamRole, may_edit_shared
from .users import Role, User


@dataclass(frozen=True)
class UncheckedToken:
    """An access token whose signature, audience and lifetime were checked, but not yet the account
    behind it (User.accepts_credential: active, same session generation, issued after the account
    was made). The use case that locks the account's row first checks it there (a generation's
    reservation), saving the request a read; anything else asks the entrypoint to check it first."""

    issued_at: float
    generation: int


@dataclass(frozen=True)
class Actor:
    """The authenticated caller of one request."""

    user_id: int
    role: Role = Role.USER
    # Filled by later capabilities: the teams the user belongs to (team id → role) and, for an API
    # key, the scopes it was given (None: a session or access token, which carries every scope).
    teams: dict[int, str] = field(default_factory=dict)
    scopes: frozenset[str] | None = None
    # Set only while the account has not been checked against the access token (see UncheckedToken;
    # such an actor has the role of a plain user whatever the token says).
    unchecked: UncheckedToken | None = None

    @classmethod
    def of(cls, user: User) -> "Actor":
        return cls(user_id=user.id, role=user.role)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def has_scope(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes


def may_read(actor: Actor, owner_id: int | None) -> bool:
    """A user reads what they own. (Administrators manage accounts, not people's history.)"""
    return owner_id is not None and owner_id == actor.user_id


def may_change(actor: Actor, owner_id: int | None) -> bool:
    return may_read(actor, owner_id)


def may_manage_users(actor: Actor) -> bool:
    return actor.is_admin and actor.scopes is None


def may_manage_account(actor: Actor) -> bool:
    """Profile, password, address, sign-out and deletion: only with the account's own sign-in,
    never with a scoped credential such as an API key."""
    return actor.scopes is None


def require_read(actor: Actor, owner_id: int | None, message: str = "Not found.") -> None:
    if not may_read(actor, owner_id):
        raise NotFound(message)


def require_change(actor: Actor, owner_id: int | None, message: str = "Not found.") -> None:
    if not may_read(actor, owner_id):
        raise NotFound(message)
    if not may_change(actor, owner_id):
        raise Forbidden()


def require_manage_users(actor: Actor) -> None:
    if not may_manage_users(actor):
        raise Forbidden("Administrators only.")


def require_scope(actor: Actor, scope: str) -> None:
    """A session or access token carries every scope; an API key only the ones it was given."""
    if not actor.has_scope(scope):
        raise InsufficientScope(f"This API key lacks the {scope} scope.")


def require_manage_account(actor: Actor) -> int:
    """The id of the account the actor may manage (their own); Forbidden for a scoped credential."""
    if not may_manage_account(actor):
        raise Forbidden("This credential cannot manage the account.")
    return actor.user_id


def team_role(actor: Actor, team_id: int | None) -> TeamRole | None:
    """The actor's role in a team, or None when they are not a member (as of this request: the
    entrypoints read memberships afresh for every request, so a removed member loses access at
    once)."""
    if team_id is None:
        return None
    role = actor.teams.get(team_id)
    return TeamRole(role) if role is not None else None


def require_library(actor: Actor, team_id: object) -> tuple[int | None, int | None]:
    """(owner_id, team_id) of the library a caller names (SPEC §13, §14): a team's when
    ``team_id`` is given (every member reads it and adds to it; NotFound for anyone else), else
    their own."""
    if team_id is None:
        return actor.user_id, None
    if not isinstance(team_id, int) or isinstance(team_id, bool):
        raise ValidationFailed.on("team_id", "Give the id of one of your teams.")
    require_member(actor, team_id)
    return None, team_id


def settle(actor: Actor) -> Actor:
    """Read the actor's memberships now when they are read lazily (entrypoints/actor.py). A use
    case that may check a team inside its unit of work settles the actor before opening it, so the
    memberships are never read through a second connection while its own transaction holds the
    database (SQLite lets one writer at a time)."""
    len(actor.teams)
    return actor


def require_member(actor: Actor, team_id: int | None, message: str = "Team not found.") -> TeamRole:
    """The actor's role in the team; NotFound for anyone outside it (a stranger cannot tell
    whether the team exists)."""
    role = team_role(actor, team_id)
    if role is None:
        raise NotFound(message)
    return role


def require_team_action(actor: Actor, team_id: int | None, rule: Callable[[TeamRole], bool],
                        message: str = "Team not found.") -> TeamRole:
    """The member's role, once ``rule`` (one of domain/teams.py's ``may_*``) allows it; NotFound
    for a non-member, Forbidden for a member whose role does not allow it."""
    role = require_member(actor, team_id, message)
    if not rule(role):
        raise Forbidden("Your role in this team does not allow that.")
    return role


def require_library_item(actor: Actor, owner_id: int | None, team_id: int | None, author_id: int | None,
                         change: bool = False, message: str = "Not found.") -> None:
    """The one check for a library item (a template, a custom style) that belongs to a user or to a
    team (SPEC §13, §14): a user's item is theirs alone; a team's is read by its members and
    changed by its owners and admins and by its author. NotFound for anyone outside; Forbidden
    for a member whose role does not allow the change."""
    if team_id is None:
        (require_change if change else require_read)(actor, owner_id, message)
        return
    role = require_member(actor, team_id, message)
    if change and not may_edit_shared(role, author_id is not None and author_id == actor.user_id):
        raise Forbidden("Only the team's owners and admins and the author can change this.")


__all__ = [
    "Actor", "may_change", "may_manage_account", "may_manage_users", "may_read", "require_change",
    "require_library", "require_library_item", "require_manage_account", "require_manage_users",
    "require_member", "require_read", "require_scope", "require_team_action", "settle", "team_role",
]
