"""Faults injected into a running system: the database goes away, SMTP goes away, the model
misbehaves, a worker process dies mid-generation. Nothing is lost and the app recovers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import requests
from sqlalchemy import func, select, text, update

from adapters.sql import tables as t
from adapters.sql.engine import build_engine
from entrypoints.worker import run_worker
from tests.conftest import build_test_app, make_settings
from tests.integration import openrouter_standin as so
from tests.integration.http_standin import wait_until
from tests.integration.live import kill_workers, live_server
from tests.integration.openrouter_standin import OpenRouterStandin
from tests.integration.smtp_server import SmtpSink, free_port

PW = "correct horse battery"


def admin_dsn(postgres_server_url: str) -> str:
    return postgres_server_url.replace("postgresql+psycopg://", "postgresql://")


def set_database_down(server_url: str, name: str, down: bool) -> None:
    with psycopg.connect(admin_dsn(server_url), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if down else "true"}')
        if down:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))


def make_user(base: str, database_url: str, tmp_path, email: str = "ada@example.com", limit: int = 100) -> dict:
    requests.post(f"{base}/api/v1/auth/register", json={"email": email, "password": PW}, timeout=10)
    _, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url,
                                                PROMPTCORE_SECRET_KEY="l" * 40))
    user = container.accounts().authenticate(email, PW)
    token = container.signed_tokens().dumps("confirm-email", {"uid": user.id, "email": email})
    container.accounts().set_daily_limit(email, limit)
    container.engine().dispose()
    requests.post(f"{base}/api/v1/auth/confirm-email", json={"token": token}, timeout=10)
    access = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PW}, timeout=10).json()
    return {"Authorization": f"Bearer {access['access_token']}"}


def tried_and_unsent(container) -> int:
    with container.engine().connect() as conn:
        return conn.execute(select(func.count()).select_from(t.outbox)
                            .where(t.outbox.c.sent_at.is_(None), t.outbox.c.attempts >= 1)).scalar_one()


def pending_mail(container) -> int:
    with container.uow() as uow:
        return uow.outbox.pending_count()


def test_database_outage_fails_fast_with_503_and_recovers_without_restart(tmp_path, postgres_url,
                                                                         postgres_server_url):
    name = postgres_url.rsplit("/", 1)[1]
    env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": postgres_url, "PROMPTCORE_VAR_DIR": str(tmp_path)}
    with live_server(env, workers=2, threads=8, cwd=str(tmp_path)) as base:
        auth = make_user(base, postgres_url, tmp_path, limit=100_000)

        def generate(i: int) -> int:
            try:
                return requests.post(f"{base}/api/v1/prompts", json={"prompt": f"p{i}", "style": "general"},
                                     headers=auth, timeout=15).status_code
            except requests.RequestException:
                return -1

        stop = threading.Event()
        results: list[int] = []

        def load() -> None:
            i = 0
            while not stop.is_set() and i < 2000:
                results.append(generate(i))
                i += 1

        loader = threading.Thread(target=load)
        loader.start()
        wait_until(lambda: 201 in results, what="generations served before the outage")
        set_database_down(postgres_server_url, name, True)
        try:
            wait_until(lambda: 503 in results, what="the outage answered with 503")
            # Real time is the subject: during the outage a request fails fast (the connect
            # timeout is 5 s) instead of hanging for the client's 15 s.
            started = time.monotonic()
            r = requests.get(f"{base}/api/v1/profile", headers=auth, timeout=15)
            elapsed = time.monotonic() - started
            assert r.status_code == 503 and r.json()["error"] == "service_unavailable"
            assert elapsed < 10, f"a request during the outage took {elapsed:.1f}s"
            assert "psycopg" not in r.text and "Traceback" not in r.text
            assert requests.get(f"{base}/readyz", timeout=15).status_code == 503
            assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        finally:
            set_database_down(postgres_server_url, name, False)
        seen = len(results)
        wait_until(lambda: 201 in results[seen:], what="generations served again without a restart")
        stop.set()
        loader.join(30)
        assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
        assert requests.get(f"{base}/api/v1/profile", headers=auth, timeout=10).status_code == 200
        assert generate(99999) == 201
        assert set(results) <= {201, 503}, results
        assert results.count(201) >= 2 and 503 in results

    # Nothing half-written: every generation that answered 201 is in the history, and no
    # record is left pending except those whose request was cut off by the outage.
    engine = build_engine(postgres_url)
    with engine.connect() as conn:
        rows = conn.execute(select(t.prompt_requests.c.status)).all()
    engine.dispose()
    statuses = [r.status for r in rows]
    assert statuses.count("succeeded") == results.count(201) + 1


def test_smtp_outage_with_two_workers_loses_and_duplicates_nothing(tmp_path, postgres_url):
    port = free_port()
    settings = make_settings(tmp_path, PROMPTCORE_DATABASE_URL=postgres_url, PROMPTCORE_SMTP_URL=f"smtp://127.0.0.1:{port}")
    app, container = build_test_app(settings)
    client = app.test_client()
    stop = threading.Event()
    workers = [threading.Thread(target=run_worker, args=(container, stop, 0.05)) for _ in range(2)]
    for w in workers:
        w.start()
    try:
        for i in range(20):
            assert client.post("/api/v1/auth/register", json={"email": f"user{i}@example.com", "password": PW}
                               ).status_code == 202
        wait_until(lambda: tried_and_unsent(container) == 20, what="every message tried and refused")
        with container.uow() as uow:
            assert uow.outbox.pending_count() == 20
            # let the retries fall due now instead of after the backoff
            uow._conn.execute(update(t.outbox).values(next_attempt_at=container.clock().now() - timedelta(seconds=1)))
            uow.commit()
        sink = SmtpSink(port)
        sink.start()
        try:
            wait_until(lambda: pending_mail(container) == 0, timeout=20, what="the outbox delivered")
            stop.set()  # nothing can be sent twice after the workers have stopped
            for w in workers:
                w.join(10)
            assert not any(w.is_alive() for w in workers)
            recipients = [r for rcpts, _ in sink.messages for r in rcpts]
            assert sorted(recipients) == sorted(f"user{i}@example.com" for i in range(20))
        finally:
            sink.stop()
    finally:
        stop.set()
        for w in workers:
            w.join(10)
    with container.uow() as uow:
        assert uow.outbox.pending_count() == 0
    container.engine().dispose()


def test_misbehaving_upstream_leaves_quota_intact_and_others_served(tmp_path, postgres_url):
    with OpenRouterStandin() as upstream:
        env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": postgres_url, "PROMPTCORE_VAR_DIR": str(tmp_path),
               "PROMPTCORE_LLM": "openrouter", "OPENROUTER_API_KEY": "k", "OPENROUTER_BASE_URL": upstream.base_url,
               "PROMPTCORE_LLM_TIMEOUT": "2"}
        with live_server(env, workers=2, threads=8, cwd=str(tmp_path)) as base:
            ada = make_user(base, postgres_url, tmp_path, "ada@example.com", limit=10)
            bob = make_user(base, postgres_url, tmp_path, "bob@example.com", limit=3)
            faults = [so.slow(5), so.slow(5), so.slow(5), so.status_reply(500), so.status_reply(502),
                      so.status_reply(503), so.not_json(), so.disconnect(), so.disconnect(), so.disconnect()]
            upstream.enqueue(*faults)
            with ThreadPoolExecutor(max_workers=8) as pool:
                failures = [pool.submit(requests.post, f"{base}/api/v1/prompts",
                                        json={"prompt": "hello", "style": "general"}, headers=ada, timeout=30)
                            for _ in range(4)]
                # The first three calls to reach the upstream get the slow faults and hang until
                # their 2 s deadline; the server answers others meanwhile.
                wait_until(lambda: upstream.count >= 3, what="three generations hanging upstream")
                health = requests.get(f"{base}/healthz", timeout=5)
                assert health.status_code == 200
                assert not all(f.done() for f in failures), "health answered only after the hanging calls ended"
                answers = [f.result() for f in failures]
            assert all(a.status_code in (201, 503) for a in answers)
            failed = [a for a in answers if a.status_code == 503]
            assert failed and all(a.json()["error"] == "llm_unavailable" for a in failed)
            upstream.reset()  # faults the deadline left unused must not leak into the next calls
            upstream.enqueue(so.sse_mid_stream_error(deltas=()))  # fails before any output: unit given back
            r = requests.post(f"{base}/api/v1/prompts", json={"prompt": "hi", "style": "general"},
                              headers={**bob, "Accept": "text/event-stream"}, timeout=30)
            assert "event: error" in r.text
            ok = 4 - len(failed)
            stats = requests.get(f"{base}/api/v1/stats", headers=ada, timeout=10).json()
            assert stats["quota"]["used"] == ok
            assert requests.get(f"{base}/api/v1/stats", headers=bob, timeout=10).json()["quota"]["used"] == 0
            r = requests.post(f"{base}/api/v1/prompts", json={"prompt": "fine now", "style": "general"}, headers=bob,
                              timeout=30)
            assert r.status_code == 201
    engine = build_engine(postgres_url)
    with engine.connect() as conn:
        statuses = [row.status for row in conn.execute(select(t.prompt_requests.c.status))]
    engine.dispose()
    assert statuses.count("failed") == len(failed) + 1 and "pending" not in statuses


def test_a_worker_killed_mid_generation_leaves_a_reservation_that_expires(tmp_path, postgres_url):
    with OpenRouterStandin(latency=30) as upstream:
        env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": postgres_url, "PROMPTCORE_VAR_DIR": str(tmp_path),
               "PROMPTCORE_LLM": "openrouter", "OPENROUTER_API_KEY": "k", "OPENROUTER_BASE_URL": upstream.base_url,
               "PROMPTCORE_LLM_TIMEOUT": "40"}
        with live_server(env, workers=1, threads=4, cwd=str(tmp_path)) as base:
            auth = make_user(base, postgres_url, tmp_path, limit=1)
            pending = threading.Thread(target=lambda: _swallow(lambda: requests.post(
                f"{base}/api/v1/prompts", json={"prompt": "slow", "style": "general"}, headers=auth, timeout=60)))
            pending.start()
            wait_until(lambda: upstream.count >= 1, what="the generation to reach the model")
            assert upstream.count == 1
            stats = requests.get(f"{base}/api/v1/stats", headers=auth, timeout=10).json()
            assert stats["quota"]["used"] == 1, "the reservation counts while the call may still be running"
            assert kill_workers(base) == 1
            pending.join(10)
            assert not pending.is_alive(), "the killed worker's request ended with it"
            wait_until(lambda: _healthy(base), timeout=20, what="a replacement worker")
            r = requests.post(f"{base}/api/v1/prompts", json={"prompt": "again", "style": "general"}, headers=auth,
                              timeout=10)
            assert r.status_code == 429, "still counted: it is younger than the longest possible call"
            # Age the orphaned reservation past the longest possible call (2 × timeout + 60 s).
            engine = build_engine(postgres_url)
            with engine.begin() as conn:
                # The reservation is the pending unit in the quota ledger (and its pending record).
                for table in ("quota_units", "prompt_requests"):
                    conn.execute(text(f"UPDATE {table} SET created_at = created_at - make_interval(secs => :s) "
                                      "WHERE status = 'pending'"), {"s": 2 * 40 + 61})
            engine.dispose()
            upstream.latency = 0
            r = requests.post(f"{base}/api/v1/prompts", json={"prompt": "again", "style": "general"}, headers=auth,
                              timeout=30)
            assert r.status_code == 201, r.text


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _swallow(call) -> None:
    try:
        call()
    except requests.RequestException:
        pass
