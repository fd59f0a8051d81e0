"""The quota ledger and the per-user override on real databases (issue 10, item 2): migration 0005
keeps explicit overrides, clears copies of the default and backfills units so nobody's quota changes
at deploy; the SQL ledger keeps the port's promises; the API shows the effective limit and an
administrator clears an override with null. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import insert, select, text

from adapters.migrations import alembic_config, upgrade
from adapters.sql import tables as t
from adapters.sql.engine import build_engine
from adapters.sql.uow import SqlUnitOfWork
from promptcore.domain.quota import QuotaPolicy, UnitSource
from promptcore.domain.users import User
from promptcore.services.quota import Quota
from tests.conftest import build_test_app, make_settings
from tests.fakes import FakeClock, FakeStore, FakeUnitOfWork

PW = "correct horse battery"
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def add_user(conn, email: str, daily_limit: int) -> int:
    return conn.execute(insert(t.users).values(
        email=email, password_hash="x", is_email_confirmed=True, role="user", is_active=True,
        daily_limit=daily_limit, settings={}, created_at=NOW, updated_at=NOW)).inserted_primary_key[0]


def add_record(conn, user_id: int, status: str, ago: timedelta, deleted: bool = False) -> int:
    return conn.execute(insert(t.prompt_requests).values(
        user_id=user_id, original_prompt="" if deleted else "p", style="general", status=status,
        created_at=NOW - ago, deleted_at=NOW if deleted else None)).inserted_primary_key[0]


@pytest.mark.parametrize("default", [None, "10"])
def test_upgrade_keeps_overrides_clears_default_copies_and_backfills_units(database_url, monkeypatch, default):
    if default is None:
        monkeypatch.delenv("PROMPTCORE_DAILY_LIMIT", raising=False)
    else:
        monkeypatch.setenv("PROMPTCORE_DAILY_LIMIT", default)
    engine = build_engine(database_url)
    upgrade(engine, "0004_account_security")
    with engine.begin() as conn:  # rows as 0004 left them: every user's limit written out
        ada = add_user(conn, "ada@example.com", 3)
        bob = add_user(conn, "bob@example.com", 10)
        eve = add_user(conn, "eve@example.com", 0)
        counted = {
            add_record(conn, ada, "succeeded", timedelta(hours=2), deleted=True): "kept",
            add_record(conn, ada, "succeeded", timedelta(hours=1)): "kept",
            add_record(conn, ada, "pending", timedelta(minutes=1)): "pending",
            add_record(conn, bob, "succeeded", timedelta(days=2)): "kept",
            add_record(conn, bob, "succeeded", timedelta(hours=3)): "kept",
        }
        add_record(conn, ada, "failed", timedelta(minutes=30))
        add_record(conn, eve, "failed", timedelta(minutes=5))
    upgrade(engine)

    with engine.connect() as conn:
        limits = dict(conn.execute(select(t.users.c.email, t.users.c.daily_limit)).all())
        units = conn.execute(select(t.quota_units)).all()
        if engine.dialect.name == "sqlite":  # the rebuilt users table still never reuses an id
            sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'users'")).scalar_one()
            assert "AUTOINCREMENT" in sql.upper()
    if default is None:  # the default was 3: Ada's 3 was a copy of it
        assert limits == {"ada@example.com": None, "bob@example.com": 10, "eve@example.com": 0}
    else:  # the default was 10: Bob's 10 was the copy, Ada's 3 an administrator's override
        assert limits == {"ada@example.com": 3, "bob@example.com": None, "eve@example.com": 0}
    assert {u.source_id: u.status for u in units} == counted, "succeeded and pending rows, deleted ones too"
    assert all(u.source_kind == "generation" for u in units)

    # Nobody's quota changed: the ledger answers what the history rows answered before.
    quota = Quota(lambda: SqlUnitOfWork(engine), FakeClock(NOW), QuotaPolicy(), int(default or 3))
    with SqlUnitOfWork(engine) as uow:
        ada_status = quota.status_in(uow, uow.users.get(ada), NOW)
        bob_status = quota.status_in(uow, uow.users.get(bob), NOW)
    assert (ada_status.used, ada_status.limit, ada_status.remaining) == (3, 3, 0)
    assert ada_status.resets_at == NOW - timedelta(hours=2) + timedelta(days=1)
    assert (bob_status.used, bob_status.limit) == (1, 10)

    command.downgrade(alembic_config(engine), "0004_account_security")
    with engine.connect() as conn:
        restored = dict(conn.execute(select(t.users.c.email, t.users.c.daily_limit)).all())
    assert restored == {"ada@example.com": 3, "bob@example.com": 10, "eve@example.com": 0}
    upgrade(engine)
    engine.dispose()


@pytest.fixture(params=["fake", "sqlite", "postgres"])
def ledger_uow(request, tmp_path):
    """The same assertions against the fake and the SQL ledger on SQLite and PostgreSQL."""
    if request.param == "fake":
        store = FakeStore()
        with FakeUnitOfWork(store) as uow:
            user_id = uow.users.add(User(email="ada@example.com", password_hash="x")).id
            uow.commit()
        yield (lambda: FakeUnitOfWork(store)), user_id
        return
    database_url = f"sqlite:///{tmp_path}/test.db" if request.param == "sqlite" else request.getfixturevalue(
        "postgres_url")
    engine = build_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        user_id = add_user(conn, "ada@example.com", 3)
    yield (lambda: SqlUnitOfWork(engine)), user_id
    engine.dispose()


def test_the_ledger_counts_kept_and_fresh_pending_units_newest_first(ledger_uow):
    make_uow, uid = ledger_uow
    since, stale = NOW - timedelta(days=1), NOW - timedelta(minutes=5)
    with make_uow() as uow:
        old = uow.quota.reserve(uid, NOW - timedelta(days=2), UnitSource.GENERATION, 1)
        kept = [uow.quota.reserve(uid, NOW - timedelta(hours=h), UnitSource.GENERATION, 10 + h) for h in (5, 3, 1)]
        stale_unit = uow.quota.reserve(uid, NOW - timedelta(minutes=10), UnitSource.GENERATION)
        fresh = uow.quota.reserve(uid, NOW - timedelta(minutes=1), UnitSource.GENERATION)
        for unit in [old, *kept]:
            uow.quota.keep(unit)
        uow.commit()
    with make_uow() as uow:
        assert uow.quota.usage(uid, since, stale, 10) == (4, NOW - timedelta(hours=5))
        assert uow.quota.usage(uid, since, stale, 2) == (2, NOW - timedelta(hours=1)), "the newest two"
        assert uow.quota.usage(uid, since, stale, 0) == (0, None)
        assert uow.quota.usage(uid + 1000, since, stale, 10) == (0, None)
        uow.quota.release(fresh)
        uow.quota.release(kept[0])  # kept units are spent for good
        uow.quota.keep(stale_unit)  # a slow spender that did finish: its unit counts again
        uow.quota.keep(fresh)  # released: nothing to keep
        uow.commit()
    with make_uow() as uow:
        assert uow.quota.usage(uid, since, stale, 10) == (4, NOW - timedelta(hours=5))
    with make_uow() as uow:  # uncommitted work is lost
        uow.quota.reserve(uid, NOW, UnitSource.GENERATION)
    with make_uow() as uow:
        assert uow.quota.usage(uid, since, stale, 10)[0] == 4
        uow.users.delete(uid)
        uow.commit()
    with make_uow() as uow:
        assert uow.quota.usage(uid, since, stale, 10) == (0, None), "units go with the account"


@pytest.fixture
def api(tmp_path, database_url):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url,
                                                  PROMPTCORE_DAILY_LIMIT="4"))
    yield app.test_client(), container
    container.engine().dispose()


def bearer(client, email: str) -> dict:
    token = client.post("/api/v1/auth/login", json={"email": email, "password": PW}).json["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_the_api_shows_the_effective_limit_and_an_admin_clears_an_override(api):
    client, container = api
    container.accounts().create_admin("root@example.com", PW)
    client.post("/api/v1/auth/register", json={"email": "ada@example.com", "password": PW})
    ada = container.accounts().authenticate("ada@example.com", PW)
    token = container.signed_tokens().dumps("confirm-email", {"uid": ada.id, "email": ada.email})
    assert client.post("/api/v1/auth/confirm-email", json={"token": token}).json["daily_limit"] == 4
    admin, user = bearer(client, "root@example.com"), bearer(client, "ada@example.com")
    assert client.get("/api/v1/profile", headers=user).json["daily_limit"] == 4, "no override: the default"
    [listed] = client.get("/api/v1/admin/users?q=ada", headers=admin).json["items"]
    assert listed["daily_limit"] == 4 and listed["daily_limit_override"] is None

    r = client.patch(f"/api/v1/admin/users/{ada.id}", json={"daily_limit": 1}, headers=admin)
    assert r.status_code == 200 and r.json["daily_limit"] == 1 and r.json["daily_limit_override"] == 1
    assert client.get("/api/v1/profile", headers=user).json["daily_limit"] == 1
    assert client.post("/api/v1/prompts", json={"prompt": "one", "style": "general"}, headers=user).status_code == 201
    r = client.post("/api/v1/prompts", json={"prompt": "two", "style": "general"}, headers=user)
    assert r.status_code == 429 and r.json["quota"]["limit"] == 1 and r.json["quota"]["remaining"] == 0

    r = client.patch(f"/api/v1/admin/users/{ada.id}", json={"daily_limit": None}, headers=admin)
    assert r.status_code == 200 and r.json["daily_limit"] == 4 and r.json["daily_limit_override"] is None
    with container.uow() as uow:
        assert uow.users.get(ada.id).daily_limit is None
    stats = client.get("/api/v1/stats", headers=user).json["quota"]
    assert stats["limit"] == 4 and stats["used"] == 1 and stats["remaining"] == 3
    assert client.post("/api/v1/prompts", json={"prompt": "two", "style": "general"}, headers=user).status_code == 201
