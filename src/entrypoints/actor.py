"""The Actor of a request, built the same way for the API and the pages.

Team memberships are read when a use case first asks for them (one query, at most once per
request), so requests that touch no team pay nothing, and a member removed a moment ago has no
access on their very next request."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from promptcore.domain.access import Actor, UncheckedToken
from promptcore.domain.users import User

from .deps import services


class LazyRoles(Mapping[int, str]):
    """team id → role, loaded on first use."""

    def __init__(self, load: Callable[[], dict[int, str]]) -> None:
        self._load = load
        self._roles: dict[int, str] | None = None

    def _get(self) -> dict[int, str]:
        if self._roles is None:
            self._roles = self._load()
        return self._roles

    def __getitem__(self, key: int) -> str:
        return self._get()[key]

    def __iter__(self) -> Iterator[int]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def _roles(user_id: int) -> LazyRoles:
    teams = services().teams()
    return LazyRoles(lambda: teams.roles_of(user_id))


def build_actor(user: User) -> Actor:
    return Actor(user_id=user.id, role=user.role, teams=_roles(user.id))  # type: ignore[arg-type]


def unchecked_actor(user_id: int, token: UncheckedToken) -> Actor:
    """The Actor of an access token not checked against its account yet (a plain user's role until
    then); only a use case that checks ``unchecked`` under the account's lock may serve it."""
    return Actor(user_id=user_id, teams=_roles(user_id), unchecked=token)  # type: ignore[arg-type]
