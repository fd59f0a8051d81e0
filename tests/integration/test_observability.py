"""Metrics that add up across worker processes, request ids, JSON logs without secrets."""

from __future__ import annotations

import json
import re

import requests

from tests.integration.live import live_server
from tests.integration.openrouter_standin import OpenRouterStandin

PW = "Sup3r-secret-passphrase"
KEY = "sk-or-v1-observability-secret-key"


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_request_ids_and_logs_across_processes(tmp_path, postgres_url):
    with OpenRouterStandin() as upstream:
        env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": postgres_url, "PROMPTCORE_VAR_DIR": str(tmp_path),
               "PROMPTCORE_LLM": "openrouter", "OPENROUTER_API_KEY": KEY, "OPENROUTER_BASE_URL": upstream.base_url,
               "PROMPTCORE_LOG_FORMAT": "json", "PROMPTCORE_DAILY_LIMIT": "0"}
        with live_server(env, workers=3, threads=4, cwd=str(tmp_path)) as base:
            # the start-up probe may have been counted more than once (a retried first request)
            before = requests.get(f"{base}/metrics", timeout=5).text
            probes = metric(before, "promptcore_http_requests_total", route="/healthz", status="200")
            assert probes >= 1
            for _ in range(30):
                r = requests.get(f"{base}/healthz", headers={"Connection": "close"}, timeout=5)
                assert r.status_code == 200 and re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"])
            assert requests.get(f"{base}/healthz", headers={"X-Request-ID": "trace-42"}, timeout=5
                                ).headers["X-Request-ID"] == "trace-42"
            assert requests.get(f"{base}/healthz", headers={"X-Request-ID": "bad id <script>"}, timeout=5
                                ).headers["X-Request-ID"] != "bad id <script>"

            requests.post(f"{base}/api/v1/auth/register", json={"email": "ada@example.com", "password": PW}, timeout=10)
            login = requests.post(f"{base}/api/v1/auth/login", json={"email": "ada@example.com", "password": PW},
                                  timeout=10).json()
            requests.post(f"{base}/api/v1/auth/login", json={"email": "ada@example.com", "password": PW + "x"},
                          timeout=10)
            refresh = login["refresh_token"]
            requests.post(f"{base}/api/v1/auth/refresh-token", json={"refresh_token": refresh}, timeout=10)
            invitation = "an-invitation-token-that-must-stay-out-of-logs"
            assert requests.get(f"{base}/invitations/{invitation}", timeout=10).status_code == 200

            text = requests.get(f"{base}/metrics", timeout=5).text
            assert metric(text, "promptcore_http_requests_total", route="/healthz", status="200") == probes + 32
            assert metric(text, "promptcore_http_requests_total", route="/api/v1/auth/login", status="401") == 1
            assert metric(text, "promptcore_http_request_duration_seconds_count", route="/healthz") == probes + 32
            assert "promptcore_outbox_pending 1" in text
        log = (tmp_path / next(p.name for p in tmp_path.iterdir() if p.name.startswith("server-"))).read_text()

    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [e for e in entries if e["logger"] == "promptcore.access"]
    assert len(access) >= 35 and all(e.get("request_id") for e in access)
    assert any(e["request_id"] == "trace-42" for e in access)
    for secret in (PW, KEY, login["access_token"], refresh, login["access_token"].split(".")[2], invitation):
        assert secret not in log
    assert any(e["path"] == "/invitations/<token>" for e in access)
