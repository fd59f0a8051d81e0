"""Shared fixtures: settings, apps on SQLite or a fresh PostgreSQL database, an SMTP server."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Iterator

import pytest

from entrypoints.config import Settings, load_settings

# Cheap argon2 parameters keep the suite fast; the production parameters are measured separately.
FAST_HASH = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


def required(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


def make_settings(tmp_path, **overrides: str) -> Settings:
    env = {
        "PROMPTCORE_ENV": "test",
        "PROMPTCORE_VAR_DIR": str(tmp_path),
        "PROMPTCORE_DATABASE_URL": f"sqlite:///{tmp_path}/test.db",
        "PROMPTCORE_SECRET_KEY": "s" * 40,
        "PROMPTCORE_BASE_URL": "http://promptcore.test",
        "PROMPTCORE_AUTH_RATE_LIMIT": "10000/minute",
        "PROMPTCORE_MAIL_RATE_LIMIT": "10000/minute",
        "PROMPTCORE_LLM": "offline",
    }
    env.update(overrides)
    return load_settings(env)


def build_test_app(settings: Settings, fast_hash: bool = True):
    from dependency_injector import providers

    from adapters.migrations import upgrade
    from adapters.security import Argon2PasswordHasher
    from entrypoints.app import create_app
    from entrypoints.container import build_container

    container = build_container(settings)
    if fast_hash:
        container.hasher.override(providers.ThreadSafeSingleton(Argon2PasswordHasher, **FAST_HASH))
    upgrade(container.engine())
    app = create_app(container)
    app.config["TESTING"] = True
    return app, container


def age_outbox(container, **delta) -> None:
    """Move every queued mail back in time (past the per-recipient cooldown, say)."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from adapters.sql import tables as t

    with container.engine().begin() as conn:
        for row in conn.execute(select(t.outbox.c.id, t.outbox.c.created_at)).all():
            conn.execute(update(t.outbox).where(t.outbox.c.id == row.id)
                         .values(created_at=row.created_at - timedelta(**delta)))


# The Redis database the limit tests share (they run one after another): emptied before and after.
TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_db():
    """A client of TEST_REDIS_URL, emptied; fails instead of skipping under PROMPTCORE_REQUIRE_REDIS."""
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if required("PROMPTCORE_REQUIRE_REDIS"):
            pytest.fail(f"Redis is required but unreachable: {exc}")
        pytest.skip(f"Redis unreachable: {exc}")
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    return os.environ.get("PROMPTCORE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def fresh_postgres_database(server_url: str, prefix: str = "promptcore_test") -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards. Fails instead of skipping when
    PROMPTCORE_REQUIRE_POSTGRES is set."""
    import psycopg

    admin_dsn = server_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if required("PROMPTCORE_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    base, _, _ = server_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_server_url) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    with fresh_postgres_database(postgres_server_url) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:
    """Runs a test once on SQLite and once on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/test.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def smtp_server():
    from tests.integration.smtp_server import SmtpSink

    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()
