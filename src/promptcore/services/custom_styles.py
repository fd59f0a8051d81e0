"""Custom styles (SPEC §13.3, §14): a user's own styles and their teams', used beside the built-in
ones as ``custom:<id>``.

``_load`` is the one place that checks who may read or change a style (domain/access.py): another
user's style, or a team's to a non-member, is not found, in every route and in the generator alike;
a team's style is used by every member and changed by its owners, admins and author.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..domain.access import Actor, require_library, require_library_item
from ..domain.custom_styles import (
    STYLE_DESCRIPTION_MAX,
    STYLE_TITLE_MAX,
    STYLES_PER_OWNER,
    CustomStyle,
    clean_instructions,
    custom_style_id,
)
from ..domain.errors import LimitReached, NotFound, ValidationFailed, gather
from ..domain.prompts import Style
from ..domain.templates import clean_description, clean_title
from ..ports import Clock, UnitOfWork
from ._units import open_unit

__all__ = ["CustomStyles"]

_NOT_FOUND = "Style not found."


def _title(raw: Any) -> str:
    title = clean_title(raw)
    if len(title) > STYLE_TITLE_MAX:
        raise ValidationFailed.on("title", f"Use at most {STYLE_TITLE_MAX} characters (got {len(title)}).")
    return title


def _description(raw: Any) -> str:
    return clean_description(raw, limit=STYLE_DESCRIPTION_MAX)


class CustomStyles:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock, per_owner: int = STYLES_PER_OWNER) -> None:
        self._uow = uow
        self._clock = clock
        self._per_owner = per_owner

    @staticmethod
    def _load(uow: UnitOfWork, actor: Actor, style_id: Any, change: bool = False) -> CustomStyle:
        style = uow.custom_styles.get(style_id) if isinstance(style_id, int) else None
        if style is None:
            raise NotFound(_NOT_FOUND)
        require_library_item(actor, style.owner_id, style.team_id, style.author_id, change, _NOT_FOUND)
        return style

    _library = staticmethod(require_library)

    def list(self, actor: Actor, team_id: int | None = None) -> list[CustomStyle]:
        owner_id, team_id = self._library(actor, team_id)
        with open_unit(self._uow, actor) as uow:
            return uow.custom_styles.list(owner_id, team_id=team_id)

    def usable(self, actor: Actor) -> list[CustomStyle]:
        """Every style the actor may generate with: their own, then each of their teams'."""
        with open_unit(self._uow, actor) as uow:
            found = uow.custom_styles.list(actor.user_id)
            for team_id in sorted(actor.teams):
                found += uow.custom_styles.list(None, team_id=team_id)
        return found

    def get(self, actor: Actor, style_id: int) -> CustomStyle:
        with open_unit(self._uow, actor) as uow:
            return self._load(uow, actor, style_id)

    def style_for(self, actor: Actor, slug: Any) -> Style | None:
        """The improver's Style for ``custom:<id>`` of the actor's; None when ``slug`` is not a
        custom slug at all; NotFound for anyone else's (or a missing) style."""
        if not isinstance(slug, str) or not slug.startswith("custom:"):
            return None
        style_id = custom_style_id(slug)
        if style_id is None:
            raise ValidationFailed.on("style", "A custom style is written custom:<id>, with the id of one of "
                                               "your styles.")
        return self.get(actor, style_id).as_style()

    def create(self, actor: Actor, title: Any, instructions: Any, description: Any = "",
               team_id: int | None = None) -> CustomStyle:
        owner_id, team_id = self._library(actor, team_id)  # a stranger's team: 404 before the fields
        v = gather({"title": lambda: _title(title), "description": lambda: _description(description),
                    "instructions": lambda: clean_instructions(instructions)})
        style = CustomStyle(owner_id=owner_id, title=v["title"], description=v["description"],
                            instructions=v["instructions"], team_id=team_id, author_id=actor.user_id)
        with open_unit(self._uow, actor) as uow:
            if uow.custom_styles.count(owner_id, team_id=team_id) >= self._per_owner:
                raise LimitReached(f"You can have at most {self._per_owner} styles; delete some first.")
            style.created_at = style.updated_at = self._clock.now()
            uow.custom_styles.add(style)
            uow.commit()
        return style

    def update(self, actor: Actor, style_id: int, title: Any = None, instructions: Any = None,
               description: Any = None) -> CustomStyle:
        checks = {name: check for name, given, check in (
            ("title", title, lambda: _title(title)),
            ("description", description, lambda: _description(description)),
            ("instructions", instructions, lambda: clean_instructions(instructions)),
        ) if given is not None}
        with open_unit(self._uow, actor) as uow:
            style = self._load(uow, actor, style_id, change=True)  # before the fields: a stranger gets 404
            v = gather(checks)
            style.title = v.get("title", style.title)
            style.instructions = v.get("instructions", style.instructions)
            style.description = v.get("description", style.description)
            style.updated_at = self._clock.now()
            uow.custom_styles.save(style)
            uow.commit()
        return style

    def delete(self, actor: Actor, style_id: int) -> None:
        with open_unit(self._uow, actor) as uow:
            self._load(uow, actor, style_id, change=True)
            uow.custom_styles.delete(style_id)
            uow.commit()
