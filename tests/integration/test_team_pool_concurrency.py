"""Issue 13: 50 concurrent generations from 5 members of one team, on a 2-process server, with
exactly 7 units left in the team's pool, give exactly 7 successes and 43 × 429 — on PostgreSQL and
on SQLite. Afterwards the pool is used up to its limit exactly, and no member's personal quota
moved. ``pytest -s`` prints the figures."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import build_test_app, make_settings
from tests.integration.live import live_server
from tests.integration.openrouter_standin import OpenRouterStandin
from tests.integration.team_support import last_token

PW = "correct horse battery"
MEMBERS = [f"member{i}@example.com" for i in range(5)]
POOL = 10  # the team plan's daily limit
PRESPENT = 3  # drawn before the burst: POOL - PRESPENT = 7 units left
LEFT = POOL - PRESPENT
REQUESTS = 50
PERSONAL_LIMIT = 3


def confirmed_token(base: str, container, email: str) -> str:
    """Register over HTTP, confirm with the e-mailed token (minted here), sign in: a bearer token."""
    assert requests.post(f"{base}/api/v1/auth/register", json={"email": email, "password": PW},
                         timeout=10).status_code == 202
    user = container.accounts().authenticate(email, PW)
    token = container.signed_tokens().dumps("confirm-email", {"uid": user.id, "email": user.email})
    assert requests.post(f"{base}/api/v1/auth/confirm-email", json={"token": token}, timeout=10).status_code == 200
    return requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PW},
                         timeout=10).json()["access_token"]


def test_fifty_concurrent_requests_from_five_members_with_seven_units_left_in_the_pool(database_url, tmp_path):
    with OpenRouterStandin(latency=0.3) as upstream:
        env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": database_url,
               "PROMPTCORE_VAR_DIR": str(tmp_path), "PROMPTCORE_LLM": "openrouter",
               "OPENROUTER_API_KEY": "test-key", "OPENROUTER_BASE_URL": upstream.base_url,
               "PROMPTCORE_DAILY_LIMIT": str(PERSONAL_LIMIT), "PROMPTCORE_BASE_URL": "http://promptcore.test"}
        with live_server(env, workers=2, threads=16, cwd=str(tmp_path)) as base:
            _, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url,
                                                        PROMPTCORE_SECRET_KEY="l" * 40))
            try:
                headers = [{"Authorization": f"Bearer {confirmed_token(base, container, email)}"}
                           for email in MEMBERS]
                owner = headers[0]
                r = requests.post(f"{base}/api/v1/teams", json={"name": "Pool"}, headers=owner, timeout=10)
                assert r.status_code == 201, r.text
                team_id = r.json()["id"]
                for email, auth in zip(MEMBERS[1:], headers[1:], strict=True):
                    r = requests.post(f"{base}/api/v1/teams/{team_id}/invitations", json={"email": email},
                                      headers=owner, timeout=10)
                    assert r.status_code == 201, r.text
                    r = requests.post(f"{base}/api/v1/invitations/accept",
                                      json={"token": last_token(container, email)}, headers=auth, timeout=10)
                    assert r.status_code == 200, r.text
                container.billing().set_plan("team", daily_limit=POOL)
                container.billing().grant(None, "team", team_id=team_id)
            finally:
                container.engine().dispose()

            def generate(auth, team: int | None, i: int) -> int:
                body = {"prompt": f"request {i}", "style": "general"}
                if team is not None:
                    body["team_id"] = team
                return requests.post(f"{base}/api/v1/prompts", json=body, headers=auth, timeout=60).status_code

            # each member spends one unit of their own; three of them draw from the pool: 7 left
            assert [generate(auth, None, i) for i, auth in enumerate(headers)] == [201] * len(MEMBERS)
            assert [generate(headers[i], team_id, i) for i in range(PRESPENT)] == [201] * PRESPENT
            before = requests.get(f"{base}/api/v1/teams/{team_id}/usage", headers=owner, timeout=10).json()
            assert (before["quota"]["limit"], before["quota"]["remaining"]) == (POOL, LEFT)
            calls_before = upstream.count

            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
                codes = Counter(pool.map(lambda i: generate(headers[i % len(MEMBERS)], team_id, i), range(REQUESTS)))
            elapsed = time.monotonic() - started
            print(f"\nteam pool, {database_url.split(':', 1)[0].split('+')[0]}: {REQUESTS} concurrent requests from "
                  f"{len(MEMBERS)} members, 2 processes, {LEFT} units left: {codes[201]} successes, "
                  f"{codes[429]} × 429, in {elapsed:.2f}s")
            assert codes == Counter({201: LEFT, 429: REQUESTS - LEFT})
            assert upstream.count - calls_before == LEFT, "refused requests never reach the model"

            after = requests.get(f"{base}/api/v1/teams/{team_id}/usage", headers=owner, timeout=10).json()
            assert after["quota"]["used"] == POOL == after["quota"]["limit"] and after["quota"]["remaining"] == 0
            assert sum(m["used"] for m in after["members"]) == POOL
            for auth in headers:  # the pool never touched anyone's own quota
                quota = requests.get(f"{base}/api/v1/stats", headers=auth, timeout=10).json()["quota"]
                assert (quota["used"], quota["limit"]) == (1, PERSONAL_LIMIT)
