"""Templates (SPEC §13.1, §13.2, §14): a user's or a team's library of prompts with ``{{variables}}``,
their versions, rendering, improving while keeping the variables, and the built-in quick templates.

Every id a caller sends is loaded through ``_load``, the one place that asks domain/access.py
whether the actor may read or change it: another user's template, or a team's to a non-member, is
not found (404); a team's template is used by its members and changed by its owners, admins and
author (403 for other members); a quick template can be read and copied by anyone signed in, and
changed by no one. A library named by ``team_id`` is checked the same way (``_library``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..domain.access import Actor, require_library, require_library_item, require_read
from ..domain.errors import Forbidden, LimitReached, NotFound, TitleTaken, ValidationFailed, gather
from ..domain.prompts import RecordStatus
from ..domain.quota import QuotaStatus
from ..domain.templates import (
    TEMPLATES_PER_OWNER,
    DiffLine,
    Template,
    TemplateVersion,
    clean_body,
    clean_description,
    clean_tags,
    clean_title,
    diff_lines,
    render,
)
from ..ports import Clock, UnitOfWork
from ._units import open_unit
from .history import decode_cursor, encode_position
from .improvement import Prompts

__all__ = ["PAGE_MAX", "TemplateImprovement", "Templates", "free_title"]

PAGE_MAX = 100
_VERSION_MAX = 2**31 - 1  # the column's range
_NOT_FOUND = "Template not found."


@dataclass(frozen=True)
class TemplateImprovement:
    """An improved body offered for saving: it keeps exactly the template's variables. It is saved
    as a new version only when the user saves it (``update`` with this body)."""

    template_id: int
    text: str
    variables: list[str]
    record_id: int | None
    model: str | None
    quota: QuotaStatus


def free_title(title: str, taken: set[str], limit: int = 200) -> str:
    """``title`` if no taken title matches it (case-insensitively), else "Title (2)", "Title (3)" ...
    the first free one, cut so it fits ``limit`` characters."""
    keys = {t.casefold() for t in taken}
    if title.casefold() not in keys:
        return title
    n = 2
    while True:
        suffix = f" ({n})"
        candidate = title[: limit - len(suffix)].rstrip() + suffix
        if candidate.casefold() not in keys:
            return candidate
        n += 1


def _title_from_text(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = " ".join(first.split())
    return (first[:77].rstrip() + "...") if len(first) > 80 else (first or "Untitled")


class Templates:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock, prompts: Prompts,
                 per_owner: int = TEMPLATES_PER_OWNER) -> None:
        self._uow = uow
        self._clock = clock
        self._prompts = prompts
        self._per_owner = per_owner

    # -- the one access check ----------------------------------------------------------------

    @staticmethod
    def _load(uow: UnitOfWork, actor: Actor, template_id: Any, change: bool = False) -> Template:
        template = uow.templates.get(template_id) if isinstance(template_id, int) else None
        if template is not None and template.builtin is not None and template.owner_id is None:
            if change:
                raise Forbidden("Quick templates are read-only; copy one to your library to change it.")
            return template
        if template is None:
            raise NotFound(_NOT_FOUND)
        require_library_item(actor, template.owner_id, template.team_id, template.author_id, change, _NOT_FOUND)
        return template

    _library = staticmethod(require_library)

    # -- reading -------------------------------------------------------------------------------

    def list(self, actor: Actor, query: str | None = None, tag: str | None = None,
             favourite: bool | None = None, limit: int = 50,
             cursor: str | None = None, team_id: int | None = None) -> tuple[list[Template], str | None]:
        owner_id, team_id = self._library(actor, team_id)
        if not isinstance(limit, int) or not 1 <= limit <= PAGE_MAX:
            raise ValidationFailed.on("limit", f"Choose between 1 and {PAGE_MAX}.")
        position = decode_cursor(cursor) if cursor else None
        query = query.strip() if isinstance(query, str) else None
        tag = " ".join(tag.split()).lower() if isinstance(tag, str) and tag.strip() else None
        with open_unit(self._uow, actor) as uow:
            rows = uow.templates.search(owner_id, query or None, tag, favourite, limit + 1, position, team_id=team_id)
        last = rows[limit - 1] if len(rows) > limit else None
        next_cursor = encode_position(last.updated_at, last.id) if last and last.updated_at and last.id else None
        return rows[:limit], next_cursor

    def tags(self, actor: Actor, team_id: int | None = None) -> dict[str, int]:
        owner_id, team_id = self._library(actor, team_id)
        with open_unit(self._uow, actor) as uow:
            return uow.templates.tags(owner_id, team_id=team_id)

    def get(self, actor: Actor, template_id: int) -> Template:
        with open_unit(self._uow, actor) as uow:
            return self._load(uow, actor, template_id)

    def versions(self, actor: Actor, template_id: int) -> list[TemplateVersion]:
        with open_unit(self._uow, actor) as uow:
            self._load(uow, actor, template_id)
            return uow.templates.versions(template_id)

    def version(self, actor: Actor, template_id: int, number: Any) -> TemplateVersion:
        with open_unit(self._uow, actor) as uow:
            self._load(uow, actor, template_id)
            return self._version(uow, template_id, number)

    @staticmethod
    def _version(uow: UnitOfWork, template_id: int, number: Any, field_name: str = "version") -> TemplateVersion:
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise ValidationFailed.on(field_name, "Give a version number (1 or more).")
        found = uow.templates.version(template_id, number) if number <= _VERSION_MAX else None
        if found is None:
            raise NotFound(f"Version {number} of this template was not found.")
        return found

    def diff(self, actor: Actor, template_id: int, old: Any, new: Any) -> list[DiffLine]:
        """The line diff from version ``old`` to version ``new``."""
        with open_unit(self._uow, actor) as uow:
            self._load(uow, actor, template_id)
            before = self._version(uow, template_id, old, "from")
            after = self._version(uow, template_id, new, "to")
        return diff_lines(before.body, after.body)

    def render(self, actor: Actor, template_id: int, values: Any, version: Any = None) -> str:
        with open_unit(self._uow, actor) as uow:
            template = self._load(uow, actor, template_id)
            body = template.body if version is None else self._version(uow, template_id, version).body
        return render(body, values)

    def quick(self, language: str | None = None) -> list[Template]:
        """The quick templates, in one language or all."""
        with self._uow() as uow:
            found = uow.templates.builtins()
        return [t for t in found if language is None or t.language == language]

    # -- changing ------------------------------------------------------------------------------

    def _check_room(self, uow: UnitOfWork, owner_id: int | None, team_id: int | None, adding: int = 1) -> None:
        if uow.templates.count(owner_id, team_id=team_id) + adding > self._per_owner:
            raise LimitReached(f"A library holds at most {self._per_owner} templates; delete some first.")

    def create(self, actor: Actor, title: Any, body: Any, description: Any = "", tags: Any = None,
               favourite: Any = False, team_id: int | None = None) -> Template:
        owner_id, team_id = self._library(actor, team_id)  # a stranger's team: 404 before the fields
        v = gather({"title": lambda: clean_title(title), "body": lambda: clean_body(body),
                    "description": lambda: clean_description(description), "tags": lambda: clean_tags(tags),
                    "favourite": lambda: _flag(favourite)})
        template = Template(title=v["title"], body=v["body"], owner_id=owner_id, description=v["description"],
                            tags=v["tags"], favourite=v["favourite"], team_id=team_id, author_id=actor.user_id)
        with open_unit(self._uow, actor) as uow:
            self._check_room(uow, owner_id, team_id)
            template.created_at = template.updated_at = self._clock.now()
            uow.templates.add(template, actor.user_id)
            uow.commit()
        return template

    def update(self, actor: Actor, template_id: int, title: Any = None, body: Any = None,
               description: Any = None, tags: Any = None, favourite: Any = None,
               note: str | None = None) -> Template:
        """Change what is given. A new body that differs from the latest version makes a new
        version; title, description, tags and the favourite flag change in place. Marking a
        favourite alone does not count as a change (the template keeps its place in the list)."""
        checks = {name: check for name, given, check in (
            ("title", title, lambda: clean_title(title)),
            ("body", body, lambda: clean_body(body)),
            ("description", description, lambda: clean_description(description)),
            ("tags", tags, lambda: clean_tags(tags)),
            ("favourite", favourite, lambda: _flag(favourite)),
        ) if given is not None}
        with open_unit(self._uow, actor) as uow:
            # the access check first: a stranger learns nothing, even from bad fields
            template = self._load(uow, actor, template_id, change=True)
            v = gather(checks)
            now = self._clock.now()
            changed = False
            for name in ("title", "description", "tags"):
                if name in v and v[name] != getattr(template, name):
                    setattr(template, name, v[name])
                    changed = True
            new_body = v.get("body")
            if new_body is not None and new_body != template.body:
                changed = True
            if "favourite" in v:
                template.favourite = v["favourite"]
            if changed:
                template.updated_at = now
            uow.templates.save(template)
            if new_body is not None and new_body != template.body:
                uow.templates.add_version(template, new_body, actor.user_id, now, note)
            uow.commit()
        return template

    def restore(self, actor: Actor, template_id: int, number: Any) -> Template:
        """Make an old version the latest again, as a new version (history is never rewritten)."""
        with open_unit(self._uow, actor) as uow:
            template = self._load(uow, actor, template_id, change=True)
            old = self._version(uow, template_id, number)
            now = self._clock.now()
            template.updated_at = now
            uow.templates.save(template)
            uow.templates.add_version(template, old.body, actor.user_id, now, f"restored from version {old.number}")
            uow.commit()
        return template

    def delete(self, actor: Actor, template_id: int) -> None:
        with open_unit(self._uow, actor) as uow:
            self._load(uow, actor, template_id, change=True)
            uow.templates.delete(template_id)
            uow.commit()

    def copy(self, actor: Actor, template_id: int, title: Any = None, team_id: int | None = None) -> Template:
        """A copy of a template the actor may read (a quick template, their own, their team's) in
        their library or in one of their teams' (``team_id``); the title gets " (2)" and so on when
        taken."""
        with open_unit(self._uow, actor) as uow:
            source = self._load(uow, actor, template_id)
        library = self._library(actor, team_id)
        wanted = clean_title(title) if title is not None else source.title
        return self._add_free(actor, library, wanted, source.body, source.description, source.tags,
                              f"copied from template {source.id}")

    def from_record(self, actor: Actor, record_id: int, title: Any = None, team_id: int | None = None) -> Template:
        """A template made from a history record's improved prompt (SPEC §13.1), in the actor's
        library or in one of their teams' (``team_id``)."""
        library = self._library(actor, team_id)
        with open_unit(self._uow, actor) as uow:
            record = uow.prompts.get(actor.user_id, record_id) if isinstance(record_id, int) else None
        require_read(actor, record.user_id if record is not None else None, "Record not found.")
        assert record is not None
        if record.status is not RecordStatus.SUCCEEDED or not (record.generated_prompt or "").strip():
            raise NotFound("Record not found.")
        body = clean_body(record.generated_prompt)
        wanted = clean_title(title) if title is not None else _title_from_text(record.original_prompt)
        return self._add_free(actor, library, wanted, body, "", (), f"from history record {record.id}")

    def _add_free(self, actor: Actor, library: tuple[int | None, int | None], title: str, body: str,
                  description: str, tags: tuple[str, ...], note: str) -> Template:
        owner_id, team_id = library
        for _ in range(5):  # a title taken between our look and our insert: look again
            with open_unit(self._uow, actor) as uow:
                self._check_room(uow, owner_id, team_id)
                now = self._clock.now()
                taken = set(uow.templates.titles(owner_id, team_id=team_id))
                template = Template(title=free_title(title, taken), body=body, owner_id=owner_id,
                                    description=description, tags=tags, created_at=now, updated_at=now,
                                    team_id=team_id, author_id=actor.user_id)
                try:
                    uow.templates.add(template, actor.user_id, note)
                except TitleTaken:
                    continue
                uow.commit()
                return template
        raise TitleTaken()

    # -- improving -----------------------------------------------------------------------------

    def improve(self, actor: Actor, template_id: int, style: Any, model: Any = None,
                team_id: int | None = None) -> TemplateImprovement:
        """Rewrite the latest body keeping exactly its variables (one quota unit, from the pool of
        ``team_id`` when given; one retry, then 422 variables_changed). The template itself does not
        change."""
        with open_unit(self._uow, actor) as uow:
            template = self._load(uow, actor, template_id)
        names = template.variables
        generated = self._prompts.improve_keeping(actor, template.body, style, model, tuple(names), team_id)
        record = generated.record
        return TemplateImprovement(template_id=template_id, text=record.generated_prompt or "", variables=names,
                                   record_id=record.id, model=record.model, quota=generated.quota)


def _flag(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    raise ValidationFailed.on("favourite", "Give true or false.")
