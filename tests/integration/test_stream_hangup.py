"""Security review, issue 9, Medium 6: a client that reads a few deltas of a streamed generation
and hangs up still spends its unit, on a real multi-process server (SPEC §7.1), and history
holds the whole answer the upstream wrote."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests
from sqlalchemy import select

from adapters.sql import tables as t
from adapters.sql.engine import build_engine
from tests.integration import openrouter_standin as so
from tests.integration.live import live_server
from tests.integration.openrouter_standin import OpenRouterStandin
from tests.integration.test_faults import make_user

ANSWER = " ".join(f"word{i}" for i in range(30))
ATTEMPTS = 4


def read_a_few_deltas_then_hang_up(base: str, auth: dict, prompt: str, deltas: int = 3) -> bytes:
    """POST with Accept: text/event-stream over a raw socket, read ``deltas`` delta events, close."""
    url = urlsplit(base)
    body = json.dumps({"prompt": prompt, "style": "general"}).encode()
    head = (f"POST /api/v1/prompts HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: {auth['Authorization']}\r\n"
            f"Accept: text/event-stream\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    received = b""
    with socket.create_connection((url.hostname, url.port), timeout=20) as sock:
        sock.sendall(head.encode() + body)
        while received.count(b"event: delta") < deltas:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    return received


def statuses(database_url: str) -> list[str]:
    engine = build_engine(database_url)
    try:
        with engine.connect() as conn:
            return [r.status for r in conn.execute(select(t.prompt_requests.c.status))]
    finally:
        engine.dispose()


def test_hanging_up_mid_stream_spends_the_unit(tmp_path, postgres_url):
    with OpenRouterStandin() as upstream:
        upstream.enqueue(*[so.sse_success(text=ANSWER, event_delay=0.08) for _ in range(ATTEMPTS)])
        env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": postgres_url, "PROMPTCORE_VAR_DIR": str(tmp_path),
               "PROMPTCORE_LLM": "openrouter", "OPENROUTER_API_KEY": "k", "OPENROUTER_BASE_URL": upstream.base_url,
               "PROMPTCORE_LLM_TIMEOUT": "20"}
        with live_server(env, workers=2, threads=4, cwd=str(tmp_path)) as base:
            auth = make_user(base, postgres_url, tmp_path, limit=10)
            with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
                seen = list(pool.map(lambda i: read_a_few_deltas_then_hang_up(base, auth, f"attempt {i}"),
                                     range(ATTEMPTS)))
            assert all(s.count(b"event: delta") >= 3 and b"event: done" not in s for s in seen)
            deadline = time.monotonic() + 30
            while "pending" in statuses(postgres_url) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert statuses(postgres_url) == ["succeeded"] * ATTEMPTS
            stats = requests.get(f"{base}/api/v1/stats", headers=auth, timeout=10).json()
            assert stats["quota"]["used"] == ATTEMPTS and stats["total"] == ATTEMPTS
            items = requests.get(f"{base}/api/v1/prompts", headers=auth, timeout=10).json()["items"]
            assert len(items) == ATTEMPTS
            assert all(item["generated_prompt"] == ANSWER and item["usage"] for item in items), \
                "history holds the whole answer, read to its end after the client left"
