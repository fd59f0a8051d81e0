"""The implementations a contract test runs against: the in-memory fake and the SQL unit of work
on a fresh, migrated database (SQLite here; PostgreSQL in tests/integration/test_contracts_postgres.py).

Each backend hands out units of work, plus the few things a contract needs that no port offers:
putting styles in place (the catalogue is not written through a port) and reading an outbox row's
last error (which only an operator reads, in the database)."""

from __future__ import annotations

from typing import Iterable

from promptcore.domain.prompts import Style
from promptcore.ports import UnitOfWork
from tests.fakes import FakeStore, FakeUnitOfWork


class FakeBackend:
    name = "fake"

    def __init__(self) -> None:
        self.store = FakeStore()

    def uow(self, read_only: bool = False) -> UnitOfWork:
        return FakeUnitOfWork(self.store, read_only=read_only)

    def seed_styles(self, styles: Iterable[Style]) -> None:
        self.store.styles = {s.slug: s for s in styles}

    def outbox_last_error(self, item_id: int) -> str | None:
        return self.store.outbox[item_id]["last_error"]

    def close(self) -> None:
        pass


class SqlBackend:
    def __init__(self, url: str) -> None:
        from adapters.migrations import upgrade
        from adapters.sql.engine import build_engine

        self.name = url.split(":", 1)[0].split("+", 1)[0]
        self.engine = build_engine(url, pool_size=2)
        upgrade(self.engine)

    def uow(self, read_only: bool = False) -> UnitOfWork:
        from adapters.sql.uow import SqlUnitOfWork

        return SqlUnitOfWork(self.engine, read_only=read_only)

    def seed_styles(self, styles: Iterable[Style]) -> None:
        from sqlalchemy import delete, insert

        from adapters.sql import tables as t

        rows = [dict(slug=s.slug, position=s.position, title_en=s.title["en"], title_ru=s.title["ru"],
                     description_en=s.description["en"], description_ru=s.description["ru"],
                     instructions=s.instructions) for s in styles]
        with self.engine.begin() as conn:
            conn.execute(delete(t.prompt_styles))
            if rows:
                conn.execute(insert(t.prompt_styles), rows)

    def outbox_last_error(self, item_id: int) -> str | None:
        from sqlalchemy import select

        from adapters.sql import tables as t

        with self.engine.connect() as conn:
            return conn.execute(select(t.outbox.c.last_error).where(t.outbox.c.id == item_id)).scalar_one()

    def close(self) -> None:
        self.engine.dispose()


def make_backend(kind: str, tmp_path) -> FakeBackend | SqlBackend:
    if kind == "fake":
        return FakeBackend()
    if kind == "sqlite":
        return SqlBackend(f"sqlite:///{tmp_path}/contract.db")
    raise ValueError(kind)
