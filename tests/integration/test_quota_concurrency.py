"""50 concurrent generations for a user with 3 units left give exactly 3 successes and 47 × 429,
against a real multi-process server, on PostgreSQL and on SQLite."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import build_test_app, make_settings
from tests.integration.live import live_server
from tests.integration.openrouter_standin import OpenRouterStandin

PW = "correct horse battery"


def confirmed_token(base: str, database_url: str, tmp_path) -> str:
    assert requests.post(f"{base}/api/v1/auth/register", json={"email": "ada@example.com", "password": PW},
                         timeout=10).status_code == 202
    _, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url,
                                                PROMPTCORE_SECRET_KEY="l" * 40))
    user = container.accounts().authenticate("ada@example.com", PW)
    token = container.signed_tokens().dumps("confirm-email", {"uid": user.id, "email": user.email})
    container.engine().dispose()
    assert requests.post(f"{base}/api/v1/auth/confirm-email", json={"token": token}, timeout=10).status_code == 200
    return requests.post(f"{base}/api/v1/auth/login", json={"email": "ada@example.com", "password": PW},
                         timeout=10).json()["access_token"]


def test_fifty_concurrent_requests_with_three_units_left(database_url, tmp_path):
    with OpenRouterStandin(latency=0.3) as upstream:
        env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": database_url,
               "PROMPTCORE_VAR_DIR": str(tmp_path), "PROMPTCORE_LLM": "openrouter",
               "OPENROUTER_API_KEY": "test-key", "OPENROUTER_BASE_URL": upstream.base_url,
               "PROMPTCORE_DAILY_LIMIT": "3"}
        with live_server(env, workers=3, threads=16, cwd=str(tmp_path)) as base:
            token = confirmed_token(base, database_url, tmp_path)
            headers = {"Authorization": f"Bearer {token}"}

            def generate(i: int) -> int:
                return requests.post(f"{base}/api/v1/prompts", json={"prompt": f"request {i}", "style": "general"},
                                     headers=headers, timeout=30).status_code

            with ThreadPoolExecutor(max_workers=50) as pool:
                codes = Counter(pool.map(generate, range(50)))
            assert codes == Counter({201: 3, 429: 47})
            assert upstream.count == 3, "refused requests never reach the model"
            stats = requests.get(f"{base}/api/v1/stats", headers=headers, timeout=10).json()
            assert stats["quota"]["used"] == 3 and stats["total"] == 3
