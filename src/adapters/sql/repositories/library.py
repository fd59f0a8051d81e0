"""The library (SPEC §13): templates with their versions and tags, and custom styles.

A title is unique per owner regardless of case: the repositories write ``title_key`` (the title
casefolded) and turn the unique constraint's violation into TitleTaken, inside a savepoint so the
caller's transaction goes on. Tags come back sorted alphabetically.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from promptcore.domain.custom_styles import CustomStyle
from promptcore.domain.errors import TitleTaken
from promptcore.domain.templates import Template, TemplateVersion
from promptcore.ports import CustomStyleRepository, TemplateRepository

from .. import tables as t
from .common import escape_like, lower

__all__ = ["SqlCustomStyleRepository", "SqlTemplateRepository", "title_key"]


def title_key(title: str) -> str:
    """What makes two titles the same: the title casefolded."""
    return title.casefold()


def _tags(tags: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(tags)))


def _template(row: Any, tags: Iterable[str]) -> Template:
    return Template(
        id=row.id, owner_id=row.owner_id, title=row.title, description=row.description, body=row.body,
        tags=_tags(tags), favourite=bool(row.favourite), version=row.version, created_at=row.created_at,
        updated_at=row.updated_at, builtin=row.builtin, language=row.language, team_id=row.team_id,
        author_id=row.author_id,
    )


def _library(table: Any, owner_id: int | None, team_id: int | None) -> Any:
    """Whose library: a team's when ``team_id`` is given, else the owner's own (a team's items
    have no owner, so the two never mix)."""
    if team_id is not None:
        return table.c.team_id == team_id
    return table.c.owner_id == owner_id


def _version(row: Any) -> TemplateVersion:
    return TemplateVersion(template_id=row.template_id, number=row.number, body=row.body, author_id=row.author_id,
                           created_at=row.created_at, note=row.note)


class SqlTemplateRepository(TemplateRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    # -- reading --------------------------------------------------------------------------------

    def _tags_of(self, ids: list[int]) -> dict[int, list[str]]:
        found: dict[int, list[str]] = defaultdict(list)
        tt = t.template_tags
        for start in range(0, len(ids), 500):
            for row in self._c.execute(select(tt.c.template_id, tt.c.tag).where(
                    tt.c.template_id.in_(ids[start:start + 500]))):
                found[row.template_id].append(row.tag)
        return found

    def _templates(self, stmt: Any) -> list[Template]:
        rows = self._c.execute(stmt).all()
        tags = self._tags_of([row.id for row in rows])
        return [_template(row, tags.get(row.id, ())) for row in rows]

    def get(self, template_id: int) -> Template | None:
        found = self._templates(select(t.templates).where(t.templates.c.id == template_id))
        return found[0] if found else None

    def versions(self, template_id: int) -> list[TemplateVersion]:
        tv = t.template_versions
        return [_version(row) for row in self._c.execute(
            select(tv).where(tv.c.template_id == template_id).order_by(tv.c.number.desc()))]

    def version(self, template_id: int, number: int) -> TemplateVersion | None:
        tv = t.template_versions
        row = self._c.execute(select(tv).where(tv.c.template_id == template_id, tv.c.number == number)).first()
        return _version(row) if row else None

    def search(self, owner_id: int | None, query: str | None = None, tag: str | None = None,
               favourite: bool | None = None, limit: int = 50,
               cursor: tuple[datetime, int] | None = None, team_id: int | None = None) -> list[Template]:
        tp = t.templates
        stmt = select(tp).where(_library(tp, owner_id, team_id))
        if query:
            pattern = "%" + escape_like(query.lower()) + "%"
            stmt = stmt.where(or_(*(lower(self._c, column).like(pattern, escape="\\")
                                    for column in (tp.c.title, tp.c.description, tp.c.body))))
        if tag is not None:
            tt = t.template_tags
            stmt = stmt.where(exists().where(tt.c.template_id == tp.c.id, tt.c.tag == tag))
        if favourite is not None:
            stmt = stmt.where(tp.c.favourite.is_(True) if favourite else tp.c.favourite.is_(False))
        if cursor is not None:
            changed, last_id = cursor
            stmt = stmt.where(or_(tp.c.updated_at < changed, and_(tp.c.updated_at == changed, tp.c.id < last_id)))
        return self._templates(stmt.order_by(tp.c.updated_at.desc(), tp.c.id.desc()).limit(limit))

    def count(self, owner_id: int | None, team_id: int | None = None) -> int:
        tp = t.templates
        return int(self._c.execute(select(func.count()).select_from(tp).where(_library(tp, owner_id, team_id)))
                   .scalar_one())

    def titles(self, owner_id: int | None, team_id: int | None = None) -> dict[str, int]:
        tp = t.templates
        return {row.title: row.id for row in self._c.execute(
            select(tp.c.title, tp.c.id).where(_library(tp, owner_id, team_id)))}

    def tags(self, owner_id: int | None, team_id: int | None = None) -> dict[str, int]:
        tp, tt = t.templates, t.template_tags
        return {row.tag: int(row.n) for row in self._c.execute(
            select(tt.c.tag, func.count().label("n")).join(tp, tp.c.id == tt.c.template_id)
            .where(_library(tp, owner_id, team_id)).group_by(tt.c.tag))}

    def builtins(self) -> list[Template]:
        tp = t.templates
        return self._templates(select(tp).where(tp.c.builtin.is_not(None))
                               .order_by(tp.c.language, tp.c.position, tp.c.id))

    # -- writing --------------------------------------------------------------------------------

    def _title_taken(self, template: Template, template_id: int | None) -> bool:
        tp = t.templates
        if template.owner_id is None and template.team_id is None:
            return False
        stmt = select(tp.c.id).where(_library(tp, template.owner_id, template.team_id),
                                     tp.c.title_key == title_key(template.title))
        if template_id is not None:
            stmt = stmt.where(tp.c.id != template_id)
        return self._c.execute(stmt).first() is not None

    def _set_tags(self, template_id: int, tags: tuple[str, ...]) -> None:
        tt = t.template_tags
        self._c.execute(delete(tt).where(tt.c.template_id == template_id))
        if tags:
            self._c.execute(insert(tt), [{"template_id": template_id, "tag": tag} for tag in tags])

    def add(self, template: Template, author_id: int | None, note: str | None = None) -> Template:
        if template.created_at is None:
            raise ValueError("a template is added with its created_at")
        tags = _tags(template.tags)
        updated = template.updated_at or template.created_at
        tp = t.templates
        try:
            with self._c.begin_nested():
                new_id = int(self._c.execute(insert(tp).values(
                    owner_id=template.owner_id, team_id=template.team_id, author_id=template.author_id,
                    builtin=template.builtin, language=template.language,
                    title=template.title, title_key=title_key(template.title), description=template.description,
                    body=template.body, version=1, favourite=template.favourite, created_at=template.created_at,
                    updated_at=updated)).inserted_primary_key[0])
        except IntegrityError:
            if self._title_taken(template, None):
                raise TitleTaken() from None
            raise
        self._c.execute(insert(t.template_versions).values(
            template_id=new_id, number=1, body=template.body, author_id=author_id, note=note,
            created_at=template.created_at))
        self._set_tags(new_id, tags)
        template.id, template.version, template.tags, template.updated_at = new_id, 1, tags, updated
        return template

    def save(self, template: Template) -> None:
        tags = _tags(template.tags)
        tp = t.templates
        try:
            with self._c.begin_nested():
                self._c.execute(update(tp).where(tp.c.id == template.id).values(
                    title=template.title, title_key=title_key(template.title), description=template.description,
                    favourite=template.favourite, updated_at=template.updated_at))
        except IntegrityError:
            if self._title_taken(template, template.id):
                raise TitleTaken() from None
            raise
        self._set_tags(template.id, tags)
        template.tags = tags

    def add_version(self, template: Template, body: str, author_id: int | None, at: datetime,
                    note: str | None = None) -> TemplateVersion:
        tp, tv = t.templates, t.template_versions
        # The template's row lock (PostgreSQL; SQLite's write transactions run one at a time)
        # keeps two concurrent edits from taking the same number.
        self._c.execute(select(tp.c.id).where(tp.c.id == template.id).with_for_update())
        last = self._c.execute(select(func.max(tv.c.number)).where(tv.c.template_id == template.id)).scalar()
        version = TemplateVersion(template_id=template.id, number=int(last or 0) + 1, body=body, author_id=author_id,
                                  created_at=at, note=note)
        self._c.execute(insert(tv).values(template_id=version.template_id, number=version.number, body=body,
                                          author_id=author_id, note=note, created_at=at))
        self._c.execute(update(tp).where(tp.c.id == template.id).values(
            body=body, version=version.number, updated_at=at))
        template.body, template.version, template.updated_at = body, version.number, at
        return version

    def delete(self, template_id: int) -> None:
        # Its versions and tags go with it (ON DELETE CASCADE).
        self._c.execute(delete(t.templates).where(t.templates.c.id == template_id))


def _style(row: Any) -> CustomStyle:
    return CustomStyle(id=row.id, owner_id=row.owner_id, title=row.title, description=row.description,
                       instructions=row.instructions, created_at=row.created_at, updated_at=row.updated_at,
                       team_id=row.team_id, author_id=row.author_id)


class SqlCustomStyleRepository(CustomStyleRepository):
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def _title_taken(self, style: CustomStyle, style_id: int | None) -> bool:
        cs = t.custom_styles
        stmt = select(cs.c.id).where(_library(cs, style.owner_id, style.team_id),
                                     cs.c.title_key == title_key(style.title))
        if style_id is not None:
            stmt = stmt.where(cs.c.id != style_id)
        return self._c.execute(stmt).first() is not None

    def add(self, style: CustomStyle) -> CustomStyle:
        if style.created_at is None:
            raise ValueError("a custom style is added with its created_at")
        updated = style.updated_at or style.created_at
        try:
            with self._c.begin_nested():
                new_id = self._c.execute(insert(t.custom_styles).values(
                    owner_id=style.owner_id, team_id=style.team_id, author_id=style.author_id,
                    title=style.title, title_key=title_key(style.title),
                    description=style.description, instructions=style.instructions, created_at=style.created_at,
                    updated_at=updated)).inserted_primary_key[0]
        except IntegrityError:
            if self._title_taken(style, None):
                raise TitleTaken() from None
            raise
        style.id, style.updated_at = int(new_id), updated
        return style

    def get(self, style_id: int) -> CustomStyle | None:
        row = self._c.execute(select(t.custom_styles).where(t.custom_styles.c.id == style_id)).first()
        return _style(row) if row else None

    def save(self, style: CustomStyle) -> None:
        cs = t.custom_styles
        try:
            with self._c.begin_nested():
                self._c.execute(update(cs).where(cs.c.id == style.id).values(
                    title=style.title, title_key=title_key(style.title), description=style.description,
                    instructions=style.instructions, updated_at=style.updated_at))
        except IntegrityError:
            if self._title_taken(style, style.id):
                raise TitleTaken() from None
            raise

    def delete(self, style_id: int) -> None:
        self._c.execute(delete(t.custom_styles).where(t.custom_styles.c.id == style_id))

    def list(self, owner_id: int | None, team_id: int | None = None) -> list[CustomStyle]:
        # Sorted here, not by the database, so that every backend and collation agrees.
        cs = t.custom_styles
        styles = [_style(row) for row in self._c.execute(select(cs).where(_library(cs, owner_id, team_id)))]
        return sorted(styles, key=lambda s: (title_key(s.title), s.id))

    def count(self, owner_id: int | None, team_id: int | None = None) -> int:
        cs = t.custom_styles
        return int(self._c.execute(select(func.count()).select_from(cs).where(_library(cs, owner_id, team_id)))
                   .scalar_one())
