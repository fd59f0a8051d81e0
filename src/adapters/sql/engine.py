"""Engine construction for SQLite and PostgreSQL."""

from __future__ import annotations

import os

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

# Execution option of a connection whose transactions only read (SqlUnitOfWork(read_only=True)).
READ_ONLY = "promptcore_read_only"


def mark_read_only(conn: Connection) -> Connection:
    """Mark a connection, before its first statement, as one whose transactions only read.

    SQLite then begins a deferred transaction (``BEGIN``, no write lock: with WAL a reader never
    blocks a writer) with ``PRAGMA query_only`` on, PostgreSQL a ``READ ONLY`` transaction; on
    both a write in it fails at once instead of taking a lock.
    """
    return conn.execution_options(**{READ_ONLY: True})


def build_engine(url: str, pool_size: int = 20, echo: bool = False) -> Engine:
    """An engine with the settings each backend needs.

    SQLite: every transaction starts with ``BEGIN IMMEDIATE`` so read-then-write use cases
    (quota reservation, token rotation) are serialised across threads and processes; WAL
    lets readers proceed meanwhile. A connection marked with ``mark_read_only`` begins a deferred
    transaction instead, which takes no write lock. PostgreSQL: psycopg 3 with pre-ping so
    the pool recovers by itself after a server restart.
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
            reading = bool(conn.get_execution_options().get(READ_ONLY))
            # query_only belongs to the pooled DBAPI connection: set it only when it changes.
            if conn.info.get(READ_ONLY, False) != reading:
                conn.exec_driver_sql(f"PRAGMA query_only={int(reading)}")
                conn.info[READ_ONLY] = reading
            conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

        return engine
    engine = create_engine(
        parsed,
        echo=echo,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max(2, pool_size // 4),
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
    )

    @event.listens_for(engine, "begin")
    def _on_begin_postgres(conn):  # pragma: no cover - exercised by every PostgreSQL test
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    return engine
