"""The fakes cover every port: each repository of the unit of work, each abstract port, each piece
of state the fake unit of work commits, and each table that goes with a deleted user."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

import promptcore.ports as ports
import tests.fakes as fakes
from adapters.sql import tables as t
from adapters.sql.engine import build_engine
from adapters.sql.uow import SqlUnitOfWork
from promptcore.ports import UnitOfWork
from tests.fakes import FakeStore, FakeUnitOfWork

REPOSITORIES = typing.get_type_hints(UnitOfWork)


def test_the_unit_of_work_port_names_its_repositories():
    assert {"users", "refresh_tokens", "login_failures", "outbox", "mail_requests", "styles", "prompts",
            "quota", "notifications"} <= set(REPOSITORIES)


@pytest.mark.parametrize("name", sorted(REPOSITORIES))
def test_every_repository_of_the_unit_of_work_has_a_fake_and_a_sql_one(name, tmp_path):
    port = REPOSITORIES[name]
    with FakeUnitOfWork(FakeStore()) as fake:
        assert isinstance(getattr(fake, name, None), port), f"FakeUnitOfWork has no {port.__name__} as {name}"
    engine = build_engine(f"sqlite:///{tmp_path}/empty.db")
    try:
        with SqlUnitOfWork(engine) as sql:
            assert isinstance(getattr(sql, name, None), port), f"SqlUnitOfWork has no {port.__name__} as {name}"
    finally:
        engine.dispose()


def test_every_abstract_port_has_a_fake():
    abstract = {cls for name in ports.__all__ if inspect.isclass(cls := getattr(ports, name))
                and inspect.isabstract(cls)}
    faked = {base for cls in vars(fakes).values() if inspect.isclass(cls) and cls.__name__.startswith("Fake")
             for base in cls.__mro__}
    assert sorted(c.__name__ for c in abstract - faked) == []


def test_commit_writes_back_every_field_of_the_store():
    """A new repository's state only needs a FakeStore field: commit cannot forget it."""
    store = FakeStore()
    names = [f.name for f in dataclasses.fields(FakeStore) if f.name != "ids"]
    with FakeUnitOfWork(store) as uow:
        for name in names:
            setattr(uow._work, name, {"committed": name})
        uow.commit()
    assert {name: getattr(store, name) for name in names} == {name: {"committed": name} for name in names}


def test_uncommitted_state_of_every_field_is_lost():
    store = FakeStore()
    before = {f.name: getattr(store, f.name) for f in dataclasses.fields(FakeStore) if f.name != "ids"}
    with FakeUnitOfWork(store) as uow:
        for name in before:
            setattr(uow._work, name, {"uncommitted": name})
    assert {name: getattr(store, name) for name in before} == before


# Every table whose rows go when their user is deleted (ON DELETE CASCADE), and so must go in
# FakeUserRepository.delete; test_accounts_contract.py::test_deleting_a_user_takes_every_row_that_references_it
# checks each of them on every backend (the library's: test_library_contract.py; the teams':
# test_teams_contract.py; the API keys': test_api_keys_contract.py). A new table that references users
# belongs here and there.
CASCADED_FROM_USERS = {"refresh_tokens", "prompt_requests", "usage_counters", "quota_units", "notifications_sent",
                       "templates", "custom_styles", "team_members", "api_keys"}
# Tables whose reference to a user is emptied instead (ON DELETE SET NULL), as FakeUserRepository.delete
# does too; test_library_contract.py and test_teams_contract.py check it.
NULLED_FROM_USERS = {"template_versions", "teams", "team_invitations", "templates", "custom_styles",
                     "shared_records"}


def test_the_cascade_contract_lists_every_table_that_goes_with_a_user():
    cascaded = {table.name for table in t.metadata.sorted_tables for fk in table.foreign_keys
                if fk.column.table is t.users and (fk.ondelete or "").upper() == "CASCADE"}
    others = {table.name for table in t.metadata.sorted_tables for fk in table.foreign_keys
              if fk.column.table is t.users and (fk.ondelete or "").upper() != "CASCADE"}
    assert (cascaded, others) == (CASCADED_FROM_USERS, NULLED_FROM_USERS)
