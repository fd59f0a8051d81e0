"""A small scripted HTTP server on loopback for the outbound transport (``adapters/http.py``),
and a fake timer so tests can see what the transport waited without waiting.

The server records every request (method, path, headers, body) and answers from a queue of
scripted replies; when the queue is empty it answers 200 ``{"ok": true}``. A scripted item may
be a callable evaluated when the request arrives (e.g. to move a fake timer on, as if the
upstream took that long)::

    with HttpStandin() as server:
        server.enqueue(Reply(503), Reply(429, headers={"Retry-After": "7"}))
        transport = HttpTransport(server.base_url, timer=FakeTimer())
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.integration.loopback_server import LoopbackHandler, LoopbackServer


@dataclass
class Reply:
    status: int = 200
    json_body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # real seconds before the status line is sent
    drop: bool = False  # close the connection without answering


Scripted = Reply | Callable[["Seen"], Reply]


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class _Handler(LoopbackHandler):
    def _handle(self) -> None:
        standin = self.server.standin
        length = int(self.headers.get("Content-Length") or 0)
        seen = Seen(self.command, self.path, dict(self.headers.items()), self.rfile.read(length) if length else b"")
        item = standin._record(seen)
        reply = item(seen) if callable(item) else item
        if reply.delay > 0 and standin._stopping.wait(reply.delay):
            self.close_connection = True
            return
        if reply.drop:
            self.close_connection = True
            return
        data = json.dumps(reply.json_body if reply.json_body is not None else {"ok": reply.status < 400}).encode()
        try:
            self._send_bytes(reply.status, data, {"Content-Type": "application/json", **reply.headers})
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class HttpStandin(LoopbackServer):
    thread_name = "http-standin"

    def __init__(self) -> None:
        super().__init__()
        self._queue: list[Scripted] = []
        self._seen: list[Seen] = []
        self._bind()  # the port, and so base_url, is known before the server starts
        self.base_url = f"{self.url}/v3"

    def _handler_class(self) -> type[_Handler]:
        return _Handler

    def enqueue(self, *items: Scripted) -> None:
        with self._lock:
            self._queue.extend(items)

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._seen)

    def _record(self, seen: Seen) -> Scripted:
        with self._lock:
            self._seen.append(seen)
            return self._queue.pop(0) if self._queue else Reply()


class FakeTimer:
    """Monotonic and wall time that move only when told to (``advance``) or when the code
    under test sleeps; every sleep is recorded. Safe to advance from a server thread."""

    def __init__(self, epoch: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = 1000.0
        self._epoch_offset = epoch - self._now
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def time(self) -> float:
        with self._lock:
            return self._now + self._epoch_offset

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class Retries:
    """An ``on_retry`` callback that records each ``(attempt, reason)`` it is called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []

    def __call__(self, attempt: int, reason: str) -> None:
        self.calls.append((attempt, reason))


@pytest.fixture
def http_standin() -> Iterator[HttpStandin]:
    with HttpStandin() as server:
        yield server


def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "the condition") -> None:
    """Poll ``condition`` until it is true; fail the test after ``timeout`` real seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)
