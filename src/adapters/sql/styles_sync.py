"""The built-in style catalogue in the database, kept equal to the code's.

``promptcore.domain.catalogue.STYLES`` is the one source of the built-in styles. The CLI and the
library read it directly; the API and the pages read the ``prompt_styles`` table (SPEC §6.1 keeps
the catalogue stored), which ``sync_styles`` makes equal to it: every style of the code inserted
or updated (titles, descriptions, instructions, position), every row the code no longer has
deleted. Nothing references ``prompt_styles`` by foreign key: a record keeps its style's slug as
text and shows it as is once the style is gone. Custom styles (SPEC §13.3) will live in a table of
their own, so this table is the code's alone.

It runs at the end of every ``adapters.migrations.upgrade`` that reaches the head revision, i.e.
``promptcore db upgrade`` and the development ``serve``; it is idempotent, so a changed style
text reaches production with the deploy's ``db upgrade``, and a production ``serve`` refuses to
start on a catalogue that differs from its code, as it does on pending migrations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from promptcore.domain import catalogue
from promptcore.domain.prompts import Style

from . import tables as t
from .engine import mark_read_only

__all__ = ["StylesSync", "styles_in_sync", "sync_styles"]

_COLUMNS = ("position", "title_en", "title_ru", "description_en", "description_ru", "instructions")


@dataclass
class StylesSync:
    """What a sync changed, by slug."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def __str__(self) -> str:
        if not self.changed:
            return "styles up to date"
        parts = [f"{what} {', '.join(slugs)}" for what, slugs in
                 (("added", self.added), ("updated", self.updated), ("removed", self.removed)) if slugs]
        return "styles " + "; ".join(parts)


def _values(style: Style) -> dict[str, Any]:
    return {"position": style.position, "title_en": style.title["en"], "title_ru": style.title["ru"],
            "description_en": style.description["en"], "description_ru": style.description["ru"],
            "instructions": style.instructions}


def _code_styles(styles: Iterable[Style] | None) -> dict[str, dict[str, Any]]:
    wanted = {s.slug: _values(s) for s in (catalogue.STYLES if styles is None else styles)}
    if not wanted:
        raise ValueError("the style catalogue is empty: refusing to delete every style")
    return wanted


def _plan(conn: Connection, wanted: dict[str, dict[str, Any]]) -> StylesSync:
    ps = t.prompt_styles
    stored = {row.slug: {c: getattr(row, c) for c in _COLUMNS} for row in conn.execute(select(ps))}
    return StylesSync(
        added=sorted(slug for slug in wanted if slug not in stored),
        updated=sorted(slug for slug in wanted if slug in stored and stored[slug] != wanted[slug]),
        removed=sorted(slug for slug in stored if slug not in wanted),
    )


def sync_styles(engine: Engine, styles: Iterable[Style] | None = None) -> StylesSync:
    """Make ``prompt_styles`` equal to ``styles`` (default: the code's STYLES), in one transaction."""
    wanted = _code_styles(styles)
    ps = t.prompt_styles
    with engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE, so two syncs run one after the other
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE prompt_styles IN SHARE ROW EXCLUSIVE MODE")
        plan = _plan(conn, wanted)
        for slug in plan.added:
            conn.execute(insert(ps).values(slug=slug, **wanted[slug]))
        for slug in plan.updated:
            conn.execute(update(ps).where(ps.c.slug == slug).values(**wanted[slug]))
        if plan.removed:
            conn.execute(delete(ps).where(ps.c.slug.in_(plan.removed)))
    return plan


def styles_in_sync(engine: Engine, styles: Iterable[Style] | None = None) -> bool:
    """Whether ``prompt_styles`` already equals the code's catalogue (nothing for a sync to do)."""
    wanted = _code_styles(styles)
    with engine.connect() as conn:
        return not _plan(mark_read_only(conn), wanted).changed
