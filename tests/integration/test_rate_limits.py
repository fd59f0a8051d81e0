"""Per-IP limits shared through Redis hold across several server processes."""

from __future__ import annotations

import requests

from tests.conftest import TEST_REDIS_URL
from tests.integration.live import live_server

REDIS_URL = TEST_REDIS_URL
PW = "correct horse battery"


def post(base: str, path: str, body: dict) -> requests.Response:
    # a new connection each time, so the requests spread over the worker processes
    return requests.post(f"{base}{path}", json=body, headers={"Connection": "close"}, timeout=10)


def test_limits_are_shared_across_processes(tmp_path, redis_db):
    env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_VAR_DIR": str(tmp_path),
           "PROMPTCORE_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite",
           "PROMPTCORE_RATELIMIT_STORAGE_URL": REDIS_URL,
           "PROMPTCORE_AUTH_RATE_LIMIT": "4/minute", "PROMPTCORE_MAIL_RATE_LIMIT": "6/minute"}
    with live_server(env, workers=3, threads=4, cwd=str(tmp_path)) as base:
        assert post(base, "/api/v1/auth/register", {"email": "ada@example.com", "password": PW}).status_code == 202

        # every sign-in attempt counts before the view runs, successful or not, whoever it is for
        # (issue 9, Medium 2: counting only failures, after the answer, let parallel guesses through)
        codes = [post(base, "/api/v1/auth/login", {"email": "ada@example.com", "password": PW}).status_code
                 for _ in range(2)]
        codes += [post(base, "/api/v1/auth/login", {"email": f"u{i}@example.com", "password": PW}).status_code
                  for i in range(4)]
        assert codes == [200, 200, 401, 401, 429, 429]
        blocked = post(base, "/api/v1/auth/login", {"email": "ada@example.com", "password": PW})
        assert blocked.status_code == 429 and blocked.json()["error"] == "rate_limited"
        assert int(blocked.headers["Retry-After"]) > 0

        # mail-sending endpoints count every request (one registration above)
        codes = [post(base, "/api/v1/auth/forgot-password", {"email": f"u{i}@example.com"}).status_code
                 for i in range(7)]
        assert codes == [202] * 5 + [429] * 2
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200, "other endpoints are not limited"
    assert redis_db.dbsize() > 0
