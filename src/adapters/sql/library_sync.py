"""The built-in quick templates in the database, kept equal to the code's.

``promptcore.domain.quick_templates.QUICK_TEMPLATES`` is the one source of the quick templates
(SPEC §13.2). Migration 0008 seeds them into ``templates`` (no owner, a ``builtin`` key and a
language); ``sync_quick_templates`` makes the stored ones equal to the code's afterwards: a new one
is inserted with its first version, a changed one updated (a changed body becomes a new version,
so the versions of a quick template read like any template's), one the code no longer has deleted
with its versions and tags. Users' copies are templates of their own and are never touched.

Like the styles' sync (styles_sync.py) it runs at the end of every ``adapters.migrations.upgrade``
that reaches the head revision and is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from promptcore.domain import quick_templates
from promptcore.domain.clock import utcnow
from promptcore.domain.quick_templates import QuickTemplate

from . import tables as t
from .engine import mark_read_only
from .repositories.common import advisory_key

__all__ = ["QuickTemplatesSync", "quick_templates_in_sync", "sync_quick_templates"]

Key = tuple[str, str]  # (builtin key, language)
_COLUMNS = ("position", "title", "description", "body", "tags")


@dataclass
class QuickTemplatesSync:
    """What a sync changed, as ``language/key``."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def __str__(self) -> str:
        if not self.changed:
            return "quick templates up to date"
        parts = [f"{what} {', '.join(names)}" for what, names in
                 (("added", self.added), ("updated", self.updated), ("removed", self.removed)) if names]
        return "quick templates " + "; ".join(parts)


def _name(key: Key) -> str:
    return f"{key[1]}/{key[0]}"


def _values(quick: QuickTemplate) -> dict[str, Any]:
    return {"position": quick.position, "title": quick.title, "description": quick.description,
            "body": quick.body, "tags": tuple(sorted(set(quick.tags)))}


def _code_templates(templates: Iterable[QuickTemplate] | None) -> dict[Key, dict[str, Any]]:
    wanted: dict[Key, dict[str, Any]] = {}
    for quick in quick_templates.QUICK_TEMPLATES if templates is None else templates:
        key = (quick.key, quick.language)
        if key in wanted:
            raise ValueError(f"two quick templates are {_name(key)}")
        wanted[key] = _values(quick)
    if not wanted:
        raise ValueError("there are no quick templates: refusing to delete every one")
    return wanted


def _stored(conn: Connection) -> dict[Key, dict[str, Any]]:
    tp, tt = t.templates, t.template_tags
    rows = conn.execute(select(tp).where(tp.c.builtin.is_not(None))).all()
    tags: dict[int, list[str]] = {}
    if rows:
        for row in conn.execute(select(tt.c.template_id, tt.c.tag).join(tp, tp.c.id == tt.c.template_id)
                                .where(tp.c.builtin.is_not(None))):
            tags.setdefault(row.template_id, []).append(row.tag)
    return {(row.builtin, row.language): {"id": row.id, "position": row.position, "title": row.title,
                                          "description": row.description, "body": row.body,
                                          "tags": tuple(sorted(tags.get(row.id, ())))}
            for row in rows}


def _plan(stored: dict[Key, dict[str, Any]], wanted: dict[Key, dict[str, Any]]) -> tuple[list[Key], ...]:
    added = sorted(key for key in wanted if key not in stored)
    updated = sorted(key for key in wanted if key in stored
                     and any(stored[key][c] != wanted[key][c] for c in _COLUMNS))
    removed = sorted((key for key in stored if key not in wanted), key=lambda k: (str(k[0]), str(k[1])))
    return added, updated, removed


def _report(added: list[Key], updated: list[Key], removed: list[Key]) -> QuickTemplatesSync:
    return QuickTemplatesSync(added=[_name(k) for k in added], updated=[_name(k) for k in updated],
                              removed=[_name(k) for k in removed])


def _set_tags(conn: Connection, template_id: int, tags: tuple[str, ...]) -> None:
    tt = t.template_tags
    conn.execute(delete(tt).where(tt.c.template_id == template_id))
    if tags:
        conn.execute(insert(tt), [{"template_id": template_id, "tag": tag} for tag in tags])


def _add(conn: Connection, key: Key, values: dict[str, Any], now: datetime) -> None:
    tp = t.templates
    template_id = conn.execute(insert(tp).values(
        owner_id=None, builtin=key[0], language=key[1], position=values["position"], title=values["title"],
        title_key=values["title"].casefold(), description=values["description"], body=values["body"], version=1,
        favourite=False, created_at=now, updated_at=now)).inserted_primary_key[0]
    conn.execute(insert(t.template_versions).values(template_id=template_id, number=1, body=values["body"],
                                                    author_id=None, note=None, created_at=now))
    _set_tags(conn, template_id, values["tags"])


def _update(conn: Connection, old: dict[str, Any], values: dict[str, Any], now: datetime) -> None:
    tp, tv = t.templates, t.template_versions
    template_id = old["id"]
    changes: dict[str, Any] = {"position": values["position"], "title": values["title"],
                               "title_key": values["title"].casefold(), "description": values["description"],
                               "updated_at": now}
    if old["body"] != values["body"]:
        last = conn.execute(select(func.max(tv.c.number)).where(tv.c.template_id == template_id)).scalar()
        number = int(last or 0) + 1
        conn.execute(insert(tv).values(template_id=template_id, number=number, body=values["body"], author_id=None,
                                       note=None, created_at=now))
        changes.update(body=values["body"], version=number)
    conn.execute(update(tp).where(tp.c.id == template_id).values(**changes))
    if old["tags"] != values["tags"]:
        _set_tags(conn, template_id, values["tags"])


def sync_quick_templates(engine: Engine, templates: Iterable[QuickTemplate] | None = None,
                         now: datetime | None = None) -> QuickTemplatesSync:
    """Make the stored quick templates equal to ``templates`` (default: the code's QUICK_TEMPLATES),
    in one transaction."""
    wanted = _code_templates(templates)
    now = now or utcnow()  # the system clock, as the migrations' own times
    with engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE, so two syncs run one after the other
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(advisory_key("sync", "quick-templates"))))
        stored = _stored(conn)
        added, updated, removed = _plan(stored, wanted)
        if removed:
            # Their versions and tags go with them (ON DELETE CASCADE).
            conn.execute(delete(t.templates).where(t.templates.c.id.in_([stored[k]["id"] for k in removed])))
        for key in updated:
            _update(conn, stored[key], wanted[key], now)
        for key in added:
            _add(conn, key, wanted[key], now)
    return _report(added, updated, removed)


def quick_templates_in_sync(engine: Engine, templates: Iterable[QuickTemplate] | None = None) -> bool:
    """Whether the stored quick templates already equal the code's (nothing for a sync to do)."""
    wanted = _code_templates(templates)
    with engine.connect() as conn:
        return not any(_plan(_stored(mark_read_only(conn)), wanted))
