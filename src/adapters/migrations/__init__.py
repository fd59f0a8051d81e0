"""Alembic migrations, run from code (``promptcore db upgrade``) with no alembic.ini."""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from adapters.sql.library_sync import sync_quick_templates
from adapters.sql.styles_sync import StylesSync, sync_styles

HERE = os.path.dirname(os.path.abspath(__file__))


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", HERE)
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> StylesSync | None:
    """Apply the migrations up to ``revision``; at the head, also bring the stored style catalogue
    in line with the code's (adapters.sql.styles_sync) and say what that changed, and the stored
    quick templates too (adapters.sql.library_sync)."""
    command.upgrade(alembic_config(engine), revision)
    if is_up_to_date(engine):
        styles = sync_styles(engine)
        sync_quick_templates(engine)
        return styles
    return None


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's include_object for comparing tables.py with a migrated database: the indexes
    tables.py declares for PostgreSQL alone (``postgresql_only``, the pg_trgm GIN index) are left
    out, on every backend. No migration builds them on SQLite, and Alembic cannot compare them
    where they exist: it compares an expression index by its normalised text, and its
    normalisation of PostgreSQL's rendering of ``((a || b) || c)`` matches no declaration.
    tests/integration/test_history_search.py checks that index's exact definition instead."""
    from adapters.sql.tables import metadata

    return type_ != "index" or not any(index.name == name and index.info.get("only_dialect")
                                       for table in metadata.tables.values() for index in table.indexes)


def head_revision() -> str | None:
    return ScriptDirectory(HERE).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
