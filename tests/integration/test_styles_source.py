"""The style catalogue has one source, the code's STYLES (issue 10, item 3c): ``db upgrade`` (and the
development ``serve``) stores it in ``prompt_styles``, so a changed style text reaches a database
that already exists; a production ``serve`` refuses a stored catalogue that differs from its code."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap

import pytest
from dependency_injector import providers
from sqlalchemy import delete, insert, select, update

from adapters.migrations import upgrade
from adapters.sql import tables as t
from adapters.sql.engine import build_engine
from adapters.sql.styles_sync import styles_in_sync, sync_styles
from promptcore.domain import catalogue
from tests.conftest import build_test_app, make_settings
from tests.fakes import FakeClock


def stored(engine) -> list[tuple]:
    ps = t.prompt_styles
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(
            ps.c.slug, ps.c.position, ps.c.title_en, ps.c.title_ru, ps.c.description_en, ps.c.description_ru,
            ps.c.instructions).order_by(ps.c.slug))]


def in_code(styles=None) -> list[tuple]:
    return sorted((s.slug, s.position, s.title["en"], s.title["ru"], s.description["en"], s.description["ru"],
                   s.instructions) for s in (catalogue.STYLES if styles is None else styles))


def improved_general() -> tuple:
    """The catalogue of a new version: one style's texts improved, one style added."""
    general = catalogue.style_by_slug("general")
    better = dataclasses.replace(general, title={"en": "General (improved)", "ru": "Общий (улучшенный)"},
                                 instructions=general.instructions + "\n- Prefer short sentences.")
    extra = dataclasses.replace(general, slug="legal", position=99, title={"en": "Legal", "ru": "Юридический"})
    return tuple(better if s.slug == "general" else s for s in catalogue.STYLES) + (extra,)


def test_upgrade_stores_the_code_catalogue_and_repairs_any_drift(database_url):
    engine = build_engine(database_url)
    upgrade(engine)
    assert stored(engine) == in_code() and styles_in_sync(engine)
    ps = t.prompt_styles
    with engine.begin() as conn:  # drift: an old text, a style lost, a style the code no longer has
        conn.execute(update(ps).where(ps.c.slug == "general").values(instructions="an old text"))
        conn.execute(delete(ps).where(ps.c.slug == "image"))
        conn.execute(insert(ps).values(slug="retired", position=50, title_en="R", title_ru="R", description_en="",
                                       description_ru="", instructions="x"))
    assert not styles_in_sync(engine)
    report = upgrade(engine)
    assert (report.added, report.updated, report.removed) == (["image"], ["general"], ["retired"])
    assert stored(engine) == in_code() and styles_in_sync(engine)
    again = upgrade(engine)
    assert not again.changed and str(again) == "styles up to date"
    engine.dispose()


def test_a_changed_style_text_reaches_the_api_after_upgrade(tmp_path, database_url, monkeypatch):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url))
    clock = FakeClock()
    container.clock.override(providers.Object(clock))
    client = app.test_client()
    titles = {s["slug"]: s["title"] for s in client.get("/api/v1/styles").json}
    assert titles["general"] == "General" and "legal" not in titles

    monkeypatch.setattr(catalogue, "STYLES", improved_general())  # a new version of the code is deployed
    report = upgrade(container.engine())  # ... and `promptcore db upgrade` runs
    assert (report.added, report.updated, report.removed) == (["legal"], ["general"], [])
    assert stored(container.engine()) == in_code()

    clock.advance(seconds=61)  # the running servers' catalogue is kept for a minute
    styles = client.get("/api/v1/styles").json
    titles = {s["slug"]: s["title"] for s in styles}
    assert titles["general"] == "General (improved)" and titles["legal"] == "Legal"
    ru = {s["slug"]: s["title"] for s in client.get("/api/v1/styles", headers={"Accept-Language": "ru"}).json}
    assert ru["general"] == "Общий (улучшенный)"
    assert container.catalogue().get("general").instructions.endswith("Prefer short sentences.")
    container.engine().dispose()


def test_sync_refuses_an_empty_catalogue(tmp_path):
    engine = build_engine(f"sqlite:///{tmp_path}/empty.db")
    upgrade(engine)
    with pytest.raises(ValueError):
        sync_styles(engine, ())
    assert stored(engine) == in_code()
    engine.dispose()


NEW_VERSION = textwrap.dedent("""
    import dataclasses, sys
    from promptcore.domain import catalogue
    general = catalogue.style_by_slug("general")
    catalogue.STYLES = tuple(dataclasses.replace(s, instructions=s.instructions + " (v2)") if s is general else s
                             for s in catalogue.STYLES)
    from entrypoints.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def run_version(code: str | None, args: list[str], env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", code, *args] if code else [
        os.path.join(os.path.dirname(sys.executable), "promptcore"), *args]
    return subprocess.run(command, env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_db_upgrade_delivers_a_new_version_s_style_texts_and_production_waits_for_it(tmp_path):
    env = {"PROMPTCORE_ENV": "production", "PROMPTCORE_SECRET_KEY": "p" * 40,
           "PROMPTCORE_SMTP_URL": "smtp://127.0.0.1:2", "PROMPTCORE_LLM": "offline",
           "PROMPTCORE_DATABASE_URL": f"sqlite:///{tmp_path}/prod.db", "PROMPTCORE_VAR_DIR": str(tmp_path)}
    first = run_version(None, ["db", "upgrade"], env, tmp_path)
    assert first.returncode == 0 and "styles up to date" in first.stdout, first.stderr

    refused = run_version(NEW_VERSION, ["serve", "--port", "1"], env, tmp_path)
    assert refused.returncode == 2 and "style catalogue differs" in refused.stderr, refused.stderr
    deployed = run_version(NEW_VERSION, ["db", "upgrade"], env, tmp_path)
    assert deployed.returncode == 0 and "styles updated general" in deployed.stdout, deployed.stderr
    engine = build_engine(env["PROMPTCORE_DATABASE_URL"])
    assert dict((row[0], row[6]) for row in stored(engine))["general"].endswith(" (v2)")
    engine.dispose()
