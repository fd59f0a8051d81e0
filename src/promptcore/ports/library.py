"""The library (SPEC §13): templates with their versions and tags, quick templates, custom styles."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from ..domain.custom_styles import CustomStyle
from ..domain.templates import Template, TemplateVersion


class TemplateRepository(ABC):
    """Templates of every owner, of every team and the built-in quick templates (``owner_id`` and
    ``team_id`` None). Who may read or change one is decided by the use case (domain/access.py),
    never here. The listing methods read one library: a team's when ``team_id`` is given (then
    ``owner_id`` is ignored), else the owner's own."""

    @abstractmethod
    def add(self, template: Template, author_id: int | None, note: str | None = None) -> Template:
        """Store a new template with its first version (number 1, the template's body); sets
        ``id``, ``version`` and the times (``created_at`` must be set by the caller)."""
    @abstractmethod
    def get(self, template_id: int) -> Template | None: ...
    @abstractmethod
    def save(self, template: Template) -> None:
        """Store title, description, tags, favourite and updated_at (the body changes only
        through ``add_version``)."""
    @abstractmethod
    def add_version(self, template: Template, body: str, author_id: int | None, at: datetime,
                    note: str | None = None) -> TemplateVersion:
        """Append the next version and make it the template's body; updates ``template``."""
    @abstractmethod
    def versions(self, template_id: int) -> list[TemplateVersion]:
        """Every version, newest first."""
    @abstractmethod
    def version(self, template_id: int, number: int) -> TemplateVersion | None: ...
    @abstractmethod
    def delete(self, template_id: int) -> None: ...
    @abstractmethod
    def search(self, owner_id: int | None, query: str | None = None, tag: str | None = None,
               favourite: bool | None = None, limit: int = 50,
               cursor: tuple[datetime, int] | None = None, team_id: int | None = None) -> list[Template]:
        """An owner's templates, most recently changed first (then by id, descending); ``query``
        matches title, description or body, case-insensitively; ``cursor`` is the (updated_at, id)
        of the last template of the previous page."""
    @abstractmethod
    def count(self, owner_id: int | None, team_id: int | None = None) -> int: ...
    @abstractmethod
    def titles(self, owner_id: int | None, team_id: int | None = None) -> dict[str, int]:
        """Title → id of every template of the owner."""
    @abstractmethod
    def tags(self, owner_id: int | None, team_id: int | None = None) -> dict[str, int]:
        """Tag → number of the owner's templates carrying it."""
    @abstractmethod
    def builtins(self) -> list[Template]:
        """The quick templates, by language then position."""


class CustomStyleRepository(ABC):
    @abstractmethod
    def add(self, style: CustomStyle) -> CustomStyle: ...
    @abstractmethod
    def get(self, style_id: int) -> CustomStyle | None: ...
    @abstractmethod
    def save(self, style: CustomStyle) -> None:
        """Store title, description, instructions and updated_at."""
    @abstractmethod
    def delete(self, style_id: int) -> None: ...
    @abstractmethod
    def list(self, owner_id: int | None, team_id: int | None = None) -> list[CustomStyle]:
        """An owner's (or a team's) styles, by title (case-insensitively), then id."""
    @abstractmethod
    def count(self, owner_id: int | None, team_id: int | None = None) -> int: ...
