"""Engine construction for SQLite and PostgreSQL."""

from __future__ import annotations

import os

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def build_engine(url: str, pool_size: int = 20, echo: bool = False) -> Engine:
    """An engine with the settings each backend needs.

    SQLite: every transaction starts with ``BEGIN IMMEDIATE`` so read-then-write use cases
    (quota reservation, token rotation) are serialised across threads and processes; WAL
    lets readers proceed meanwhile. PostgreSQL: psycopg 3 with pre-ping so the pool
    recovers by itself after a server restart.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(database)) or ".", exist_ok=True)
        engine = create_engine(
            parsed,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_pre_ping=True,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if database and database != ":memory:":
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # pragma: no cover - exercised by every test
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(
        parsed,
        echo=echo,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max(2, pool_size // 4),
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
    )
