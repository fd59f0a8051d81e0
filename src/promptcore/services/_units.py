"""Opening a use case's unit of work for an actor, shared by the services that check team access
inside it (templates, custom styles, shared records)."""

from __future__ import annotations

from collections.abc import Callable

from ..domain.access import Actor, settle
from ..ports import UnitOfWork


def open_unit(uow: Callable[[], UnitOfWork], actor: Actor) -> UnitOfWork:
    """A unit of work for the actor's request, their memberships read first (access.settle), so
    they are never read through a second connection while the unit's transaction holds SQLite's
    write lock."""
    settle(actor)
    return uow()
