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
    blocks a writer) with ``PRAGMA query_only`` on, PostgreSQL a ``READ ONLY`` transaction (said
    in its ``BEGIN``, no round trip of its own); on both a write in it fails at once instead of
    taking a lock.
    """
    if conn.dialect.name == "postgresql":
        return conn.execution_options(**{READ_ONLY: True}, postgresql_readonly=True)
    return conn.execution_options(**{READ_ONLY: True})


def mark_single_statement(conn: Connection) -> Connection:
    """Mark a connection whose use is one statement, before that statement: on PostgreSQL it then
    runs outside any transaction (autocommit: the statement is its own transaction, so no BEGIN
    and no ROLLBACK travel to the server). SQLite is unchanged (its transactions cost no round
    trips)."""
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


def build_engine(url: str, pool_size: int = 20, echo: bool = False) -> Engine:
    """An engine with the settings each backend needs.

    SQLite: every transaction starts with ``BEGIN IMMEDIATE`` so read-then-write use cases
    (quota reservation, token rotation) are serialised across threads and processes; WAL
    lets readers proceed meanwhile. A connection marked with ``mark_read_only`` begins a deferred
    transaction instead, which takes no write lock. PostgreSQL: psycopg 3 without a pre-ping (a
    round trip on every checkout): a connection found dead when used raises, the unit of work
    answers ServiceUnavailable (503), and SQLAlchemy then invalidates the whole pool, so every
    connection older than the failure is replaced on its next checkout and the pool recovers by
    itself after a server restart (tests/integration/test_faults.py).
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
        pool_size=pool_size,
        max_overflow=max(2, pool_size // 4),
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
    )
    return engine
