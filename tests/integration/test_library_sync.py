"""The quick templates have one source, the code's QUICK_TEMPLATES (SPEC §13.2): migration 0008
seeds them and ``db upgrade`` keeps the stored ones equal to the code's; a changed body becomes a
new version. The migration also goes down and up again cleanly."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest
from alembic import command
from sqlalchemy import func, inspect, select, update

from adapters.migrations import alembic_config, upgrade
from adapters.sql import tables as t
from adapters.sql.engine import build_engine
from adapters.sql.library_sync import quick_templates_in_sync, sync_quick_templates
from adapters.sql.uow import SqlUnitOfWork
from promptcore.domain import quick_templates
from promptcore.domain.quick_templates import QuickTemplate
from promptcore.domain.templates import Template
from tests.contract.support import T0, add_user

LATER = datetime(2031, 5, 6, 7, 8, tzinfo=timezone.utc)


def stored(engine) -> dict[tuple[str, str], tuple]:
    with SqlUnitOfWork(engine, read_only=True) as uow:
        return {(b.builtin, b.language): (b.title, b.description, b.body, b.tags, b.version)
                for b in uow.templates.builtins()}


def in_code(templates=None) -> dict[tuple[str, str], tuple]:
    templates = quick_templates.QUICK_TEMPLATES if templates is None else templates
    return {(q.key, q.language): (q.title, q.description, q.body, tuple(sorted(set(q.tags))), 1) for q in templates}


def test_upgrade_seeds_the_quick_templates_and_a_sync_keeps_them_equal_to_the_code(database_url):
    engine = build_engine(database_url)
    upgrade(engine)
    assert stored(engine) == in_code() and quick_templates_in_sync(engine)
    with SqlUnitOfWork(engine) as uow:
        owner = add_user(uow)
        first = uow.templates.builtins()[0]
        users_copy = uow.templates.add(Template(title=first.title, body=first.body, owner_id=owner,
                                                created_at=T0), owner)
        uow.commit()

    original = quick_templates.QUICK_TEMPLATES
    changed = dataclasses.replace(original[0], body=original[0].body + " Thanks, {{name}}.", title="Renamed",
                                  tags=("zeta", "alpha"))
    retitled = dataclasses.replace(original[1], description="A new description")
    extra = QuickTemplate(key="extra-one", language="en", position=99, title="Extra", description="d",
                          body="Extra {{thing}}", tags=("new",))
    new_version = (changed, retitled, *original[3:], extra)  # original[2] is retired
    assert not quick_templates_in_sync(engine, new_version)

    report = sync_quick_templates(engine, new_version, now=LATER)
    name = lambda q: f"{q.language}/{q.key}"  # noqa: E731
    assert (report.added, report.updated, report.removed) == (
        ["en/extra-one"], sorted([name(changed), name(retitled)], key=lambda n: n.split("/")[::-1]),
        [name(original[2])])
    assert quick_templates_in_sync(engine, new_version)
    expected = in_code(new_version)
    key = (changed.key, changed.language)
    expected[key] = expected[key][:4] + (2,)  # the changed body is the second version
    assert stored(engine) == expected
    with SqlUnitOfWork(engine, read_only=True) as uow:
        template = next(b for b in uow.templates.builtins() if (b.builtin, b.language) == key)
        versions = uow.templates.versions(template.id)
        assert template.updated_at == LATER and template.tags == ("alpha", "zeta")
        assert [(v.number, v.body, v.author_id) for v in versions] == [
            (2, changed.body, None), (1, original[0].body, None)]
        # a user's copy is theirs: the sync never touches it
        assert uow.templates.get(users_copy.id).body == original[0].body
    with engine.connect() as conn:  # the retired one went with its versions and tags
        assert conn.execute(select(func.count()).select_from(t.templates)
                            .where(t.templates.c.builtin == original[2].key,
                                   t.templates.c.language == original[2].language)).scalar_one() == 0

    again = sync_quick_templates(engine, new_version)
    assert not again.changed and str(again) == "quick templates up to date"

    # drift in the database is repaired by the next upgrade, back to the code's list
    with engine.begin() as conn:
        conn.execute(update(t.templates).where(t.templates.c.owner_id.is_(None)).values(title="Drifted"))
    upgrade(engine)
    assert {k: v[:4] for k, v in stored(engine).items()} == {k: v[:4] for k, v in in_code().items()}
    assert quick_templates_in_sync(engine)
    engine.dispose()


def test_a_sync_refuses_no_quick_templates_or_two_with_one_key(tmp_path):
    engine = build_engine(f"sqlite:///{tmp_path}/sync.db")
    upgrade(engine)
    with pytest.raises(ValueError):
        sync_quick_templates(engine, ())
    twice = quick_templates.QUICK_TEMPLATES[0]
    with pytest.raises(ValueError):
        sync_quick_templates(engine, (twice, dataclasses.replace(twice, title="Other")))
    assert stored(engine) == in_code()
    engine.dispose()


def test_the_library_migration_goes_down_and_up_again(database_url):
    engine = build_engine(database_url)
    upgrade(engine)
    command.downgrade(alembic_config(engine), "0007_billing")
    tables = set(inspect(engine).get_table_names())
    assert not tables & {"templates", "template_versions", "template_tags", "custom_styles"}
    assert "source" not in {c["name"] for c in inspect(engine).get_columns("prompt_requests")}
    upgrade(engine)
    assert stored(engine) == in_code()
    engine.dispose()
