"""Per-IP limits shared through Redis hold across several server processes."""

from __future__ import annotations

import pytest
import redis
import requests

from tests.conftest import required
from tests.integration.live import live_server

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_db():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if required("PROMPTCORE_REQUIRE_REDIS"):
            pytest.fail(f"Redis is required but unreachable: {exc}")
        pytest.skip(f"Redis unreachable: {exc}")
    client.flushdb()
    yield client
    client.flushdb()


def test_auth_limit_is_shared_across_processes(tmp_path, redis_db):
    env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_VAR_DIR": str(tmp_path),
           "PROMPTCORE_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite",
           "PROMPTCORE_RATELIMIT_STORAGE_URL": REDIS_URL, "PROMPTCORE_AUTH_RATE_LIMIT": "5/minute"}
    with live_server(env, workers=3, threads=4, cwd=str(tmp_path)) as base:
        codes = []
        for i in range(8):
            r = requests.post(f"{base}/api/v1/auth/forgot-password", json={"email": f"u{i}@example.com"},
                              headers={"Connection": "close"}, timeout=10)
            codes.append(r.status_code)
        assert codes == [202] * 5 + [429] * 3
        assert r.json()["error"] == "rate_limited" and int(r.headers["Retry-After"]) > 0
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200, "other endpoints are not limited"
    assert redis_db.dbsize() > 0
