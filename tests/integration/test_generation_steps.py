"""A generation's one-step writes on PostgreSQL (migration 0015, adapters/sql/generation.py) hold
to the general path's rules: the plan limit equals Subscription.effective_plan's; a reservation in
one step is taken exactly when the general path would take it without reaching the limit, counted
against the same usage; everything else is left to Quota.reserve; the outcome in one step is what
Prompts._finish writes; and a generation costs two round trips to the database."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text

from adapters.migrations import upgrade
from adapters.sql import tables as t
from adapters.sql.engine import build_engine
from adapters.sql.generation import PgGenerationSteps, generation_steps
from adapters.sql.uow import SqlUnitOfWork
from promptcore.domain.access import UncheckedToken
from promptcore.domain.billing import FREE_PLAN, Owner, effective_plan
from promptcore.domain.prompts import PromptRecord, RecordStatus
from promptcore.domain.quota import QuotaPolicy
from promptcore.services.quota import Quota
from tests.conftest import build_test_app, fresh_postgres_database, make_settings
from tests.fakes import FakeClock
from tests.integration.team_support import API, create_team, join, signup, user_id

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
POLICY = QuotaPolicy()
PLANS = {"gen-p7": 7, "gen-p12": 12, "gen-team8": 8}  # slug → daily limit (and "free", which counts as none)


@pytest.fixture(scope="module")
def engine(postgres_server_url):
    """One migrated database for the module: every example makes its own users and teams."""
    with fresh_postgres_database(postgres_server_url) as url:
        eng = build_engine(url)
        upgrade(eng)
        with eng.begin() as conn:
            for slug, limit in {**PLANS, FREE_PLAN: 0}.items():
                if conn.execute(select(t.plans.c.slug).where(t.plans.c.slug == slug)).first() is None:
                    conn.execute(insert(t.plans).values(slug=slug, title_ru=slug, title_en=slug, daily_limit=limit,
                                                        price_minor=100, currency="RUB", period_days=30,
                                                        is_public=True, is_team=slug.endswith("team8")))
        yield eng
        eng.dispose()


_serial = [0]


def add_user(conn, *, active=True, confirmed=True, override=None) -> int:
    _serial[0] += 1
    return conn.execute(insert(t.users).values(
        email=f"u{_serial[0]}@example.com", password_hash="x", is_email_confirmed=confirmed, role="user",
        is_active=active, daily_limit=override, settings={}, created_at=NOW, updated_at=NOW)).inserted_primary_key[0]


def add_team(conn) -> int:
    return conn.execute(insert(t.teams).values(name="t", created_at=NOW)).inserted_primary_key[0]


subscriptions = st.fixed_dictionaries({
    "plan_slug": st.sampled_from([FREE_PLAN, *PLANS]),
    "status": st.sampled_from(["active", "past_due", "canceled", "expired"]),
    "period_end": st.integers(-72, 72).map(lambda h: NOW + timedelta(hours=h, seconds=1)),
    "payment_method_id": st.sampled_from([None, "pm_1"]),
    "cancel_at_period_end": st.booleans(),
    "grace_until": st.one_of(st.none(), st.integers(-72, 72).map(lambda h: NOW + timedelta(hours=h))),
})


def add_subscription(conn, owner: Owner, sub: dict[str, Any]) -> None:
    conn.execute(insert(t.subscriptions).values(
        owner_kind=owner.kind.value, owner_id=owner.id, period_start=NOW - timedelta(days=30), renewal_attempt=0,
        next_renewal_at=None, granted=False, created_at=NOW, updated_at=NOW,
        payment_method_title="card *4242" if sub["payment_method_id"] else None, **sub))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sub=subscriptions, at=st.integers(-80, 80).map(lambda h: NOW + timedelta(hours=h)))
def test_the_plan_limit_in_sql_is_effective_plans(engine, sub, at):
    with engine.begin() as conn:
        uid = add_user(conn)
        add_subscription(conn, Owner.user(uid), sub)
    with SqlUnitOfWork(engine) as uow:
        slug = effective_plan(uow.subscriptions.get(Owner.user(uid)), at)
        plan = uow.plans.get(slug)
    expected = None if slug == FREE_PLAN or plan is None else plan.daily_limit
    with engine.connect() as conn:
        got = conn.execute(text("SELECT promptcore_plan_limit('user', :id, :at)"), {"id": uid, "at": at}).scalar()
    assert got == expected
    assert expected in (None, *PLANS.values())


units = st.lists(st.tuples(st.sampled_from(["kept", "pending"]), st.integers(0, 1500), st.booleans()), max_size=9)


mostly = st.sampled_from([True, True, True, True, False])
paid = st.just({"plan_slug": "gen-team8", "status": "active", "period_end": NOW + timedelta(days=3),  # in force
                "payment_method_id": None, "cancel_at_period_end": False, "grace_until": None})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(active=mostly, confirmed=mostly, override=st.one_of(st.none(), st.integers(0, 6)),
       default=st.integers(0, 6), sub=st.one_of(st.none(), subscriptions), ledger=units,
       token=st.one_of(st.none(), st.tuples(st.integers(-3, 3), st.integers(-1, 1))),
       team=st.one_of(st.none(), st.fixed_dictionaries({
           "member": mostly, "cap": st.one_of(st.none(), st.none(), st.integers(0, 4)),
           "sub": st.one_of(paid, paid, st.none(), subscriptions)})))
def test_one_step_reserves_exactly_when_the_general_path_would_below_the_limit(
        engine, active, confirmed, override, default, sub, ledger, token, team):
    """``token``: none (an actor already checked), or an access token issued ``seconds`` from the
    account's creation in the session generation ``current + shift``."""
    with engine.begin() as conn:
        uid = add_user(conn, active=active, confirmed=confirmed, override=override)
        other = add_user(conn)
        if sub is not None:
            add_subscription(conn, Owner.user(uid), sub)
        tid = None
        if team is not None:
            tid = add_team(conn)
            if team["member"]:
                conn.execute(insert(t.team_members).values(team_id=tid, user_id=uid, role="member",
                                                           daily_cap=team["cap"], joined_at=NOW))
            if team["sub"] is not None:
                add_subscription(conn, Owner.team(tid), team["sub"])
        for status, minutes, pooled in ledger:  # the user's units, and a teammate's pool units
            who = other if pooled and tid is not None and minutes % 2 else uid
            conn.execute(insert(t.quota_units).values(
                user_id=who, created_at=NOW - timedelta(minutes=minutes), status=status, source_kind="generation",
                team_id=tid if pooled else None))

    unchecked = None if token is None else UncheckedToken(NOW.timestamp() + token[0], token[1])
    quota = Quota(lambda: SqlUnitOfWork(engine), FakeClock(NOW), POLICY, default)
    with SqlUnitOfWork(engine) as uow:  # the general path's view of the same rows
        user = uow.users.get(uid)
        accepted = unchecked is None or user.accepts_credential(unchecked.issued_at, unchecked.generation)
        active = active and accepted
        if tid is None:
            limit, used, oldest = quota._usage(uow, user, NOW)
            takes = active and confirmed and used + 1 < limit
        else:
            limit, used, oldest = quota._pool(uow, tid, NOW)
            member = uow.teams.member(tid, uid)
            takes = active and confirmed and member is not None and 0 < limit and used < limit
            if takes and member.daily_cap is not None:
                drawn, _ = uow.quota.pool_usage(tid, POLICY.window_start(NOW), POLICY.stale_before(NOW),
                                                max(member.daily_cap, 0), uid)
                takes = drawn < member.daily_cap

    event(f"{'team' if tid else 'personal'}: {'one step' if takes else 'general path'}")
    event(f"token: {'none' if unchecked is None else 'accepted' if accepted else 'refused'}")
    record = PromptRecord(user_id=uid, original_prompt="Промпт", style="general", model="m")
    got = PgGenerationSteps(engine).reserve(uid, tid, record, NOW, POLICY.window_start(NOW),
                                            POLICY.stale_before(NOW), default, unchecked)
    if not takes:
        assert got is None
        with engine.connect() as conn:
            assert conn.execute(select(t.prompt_requests.c.id).where(t.prompt_requests.c.user_id == uid)).first() \
                is None
        return
    assert got is not None and (got.limit, got.used, got.oldest) == (limit, used, oldest)
    with engine.connect() as conn:
        row = conn.execute(select(t.prompt_requests).where(t.prompt_requests.c.id == got.record_id)).one()
        unit = conn.execute(select(t.quota_units).where(t.quota_units.c.id == got.unit_id)).one()
    assert (row.user_id, row.original_prompt, row.style, row.model, row.status, row.created_at) == (
        uid, "Промпт", "general", "m", "pending", NOW)
    assert (unit.user_id, unit.status, unit.source_kind, unit.source_id, unit.team_id, unit.created_at) == (
        uid, "pending", "generation", got.record_id, tid, NOW)


def _reserved(engine, uid: int) -> tuple[PromptRecord, int]:
    record = PromptRecord(user_id=uid, original_prompt="p", style="formal", model="m")
    got = PgGenerationSteps(engine).reserve(uid, None, record, NOW, POLICY.window_start(NOW),
                                            POLICY.stale_before(NOW), 10)
    assert got is not None
    record.id, record.created_at = got.record_id, NOW
    return record, got.unit_id


def test_the_outcome_in_one_step(engine):
    steps = PgGenerationSteps(engine)
    with engine.begin() as conn:
        uid = add_user(conn)
    ok, ok_unit = _reserved(engine, uid)
    ok.status, ok.generated_prompt, ok.latency_ms, ok.usage = RecordStatus.SUCCEEDED, "Ответ", 12, {"total_tokens": 9}
    steps.finish(ok, ok_unit)
    steps.finish(ok, ok_unit)  # settling twice changes nothing more than once

    bad, bad_unit = _reserved(engine, uid)
    bad.status, bad.error = RecordStatus.FAILED, "LlmUnavailable"
    steps.finish(bad, bad_unit)

    gone, gone_unit = _reserved(engine, uid)
    with engine.begin() as conn:  # deleted while generating
        conn.execute(t.prompt_requests.update().where(t.prompt_requests.c.id == gone.id).values(deleted_at=NOW))
    gone.status, gone.generated_prompt = RecordStatus.SUCCEEDED, "secret"
    steps.finish(gone, gone_unit)

    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(t.prompt_requests).where(t.prompt_requests.c.user_id == uid))}
        units = {r.id: r.status for r in conn.execute(select(t.quota_units).where(t.quota_units.c.user_id == uid))}
        counter = conn.execute(select(t.usage_counters.c.count).where(t.usage_counters.c.user_id == uid)).scalar()
    assert (rows[ok.id].status, rows[ok.id].generated_prompt, rows[ok.id].latency_ms, rows[ok.id].usage) == (
        "succeeded", "Ответ", 12, {"total_tokens": 9})
    assert (rows[bad.id].status, rows[bad.id].error) == ("failed", "LlmUnavailable")
    assert (rows[gone.id].status, rows[gone.id].generated_prompt) == ("succeeded", None)
    assert units == {ok_unit: "kept", gone_unit: "kept"}  # the failure's unit is released
    assert counter == 3  # two successes counted; the repeated outcome of the first is counted again
    with engine.begin() as conn:
        conn.execute(delete(t.usage_counters).where(t.usage_counters.c.user_id == uid))


def test_only_postgresql_has_the_steps(tmp_path, engine):
    sqlite = build_engine(f"sqlite:///{tmp_path}/x.db")
    assert generation_steps(sqlite) is None
    assert isinstance(generation_steps(engine), PgGenerationSteps)
    sqlite.dispose()


def test_a_generation_is_two_round_trips(tmp_path, postgres_url, monkeypatch):
    """Sign-in check, plan or override, team pool and cap included: personal and team generations."""
    from psycopg import _connection_base
    from psycopg import cursor as pcursor

    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=postgres_url))
    client = app.test_client()
    ann, bob = signup(client, container, "ann@example.com"), signup(client, container, "bob@example.com")
    container.accounts().set_daily_limit("ann@example.com", 50)
    tid = create_team(client, ann, "Desk")["id"]
    join(client, container, ann, tid, "bob@example.com", bob, "member")
    container.billing().set_plan("team", daily_limit=20)
    container.billing().grant(None, "team", team_id=tid)
    assert client.patch(f"{API}/teams/{tid}/members/{user_id(client, bob)}", json={"daily_cap": 10},
                        headers=ann).status_code == 200
    calls = [(ann, None, "general"), (ann, None, "formal"), (bob, tid, "technical"), (bob, tid, "general")]
    for auth, team_id, _style in calls[:1] + calls[2:3]:  # warm up both paths
        body = {"prompt": "warm up", "style": "general", **({"team_id": team_id} if team_id else {})}
        assert client.post(f"{API}/prompts", json=body, headers=auth).status_code == 201

    trips: dict[str, int] = defaultdict(int)
    real_command, real_execute = _connection_base.BaseConnection._exec_command, pcursor.Cursor.execute

    def command(self, cmd, *a, **k):
        trips[bytes(cmd).split()[0].decode().upper()] += 1
        return real_command(self, cmd, *a, **k)

    def execute(self, query, *a, **k):
        trips["statement"] += 1
        return real_execute(self, query, *a, **k)

    monkeypatch.setattr(_connection_base.BaseConnection, "_exec_command", command)
    monkeypatch.setattr(pcursor.Cursor, "execute", execute)
    answers = []
    for auth, team_id, style in calls:
        before = sum(trips.values())
        body = {"prompt": "Напиши хайку о чае", "style": style, **({"team_id": team_id} if team_id else {})}
        r = client.post(f"{API}/prompts", json=body, headers=auth)
        assert r.status_code == 201, r.json
        # The token's account check, the limit and the reservation in one statement, the outcome in
        # another (the target is at most four).
        assert sum(trips.values()) - before == 2, (team_id, dict(trips))
        answers.append(r.json)
    monkeypatch.undo()
    assert [a["quota"]["used"] for a in answers] == [2, 3, 2, 3]  # personal, then the pool's
    assert answers[-1]["quota"]["limit"] == 20 and answers[0]["quota"]["limit"] == 50
    container.engine().dispose()
