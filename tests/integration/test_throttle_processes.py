"""Per-account login throttling holds across several server processes (PostgreSQL)."""

from __future__ import annotations

import requests

from adapters.migrations import upgrade
from adapters.sql.engine import build_engine
from tests.integration.live import live_server

PW = "correct horse battery"


def test_eleventh_failure_gets_429_across_processes(postgres_url, tmp_path):
    engine = build_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": postgres_url, "PROMPTCORE_VAR_DIR": str(tmp_path)}
    with live_server(env, workers=3, threads=4, cwd=str(tmp_path)) as base:
        assert requests.post(f"{base}/api/v1/auth/register", json={"email": "ada@example.com", "password": PW},
                             timeout=10).status_code == 202
        for _ in range(10):
            # a new connection each time so the kernel spreads them across the worker processes
            with requests.Session() as s:
                r = s.post(f"{base}/api/v1/auth/login", json={"email": "ada@example.com", "password": "bad pass 1"},
                           headers={"Connection": "close"}, timeout=10)
            assert r.status_code == 401
        r = requests.post(f"{base}/api/v1/auth/login", json={"email": "ada@example.com", "password": PW}, timeout=10)
        assert r.status_code == 429
        assert r.json()["error"] == "too_many_attempts"
        assert 0 < int(r.headers["Retry-After"]) <= 900
        r = requests.post(f"{base}/api/v1/auth/token",
                          data={"grant_type": "password", "username": "ada@example.com", "password": PW}, timeout=10)
        assert r.status_code == 429 and "Retry-After" in r.headers
