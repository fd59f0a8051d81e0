"""A small HTTP/1.1 keep-alive client on asyncio streams and a closed-loop load generator.

One connection per virtual user (VU); each VU sends its next request as soon as the previous
answer is read (no think time). Every run is bounded by a request count and by time: VUs stop
issuing at the end of the window (or at ``max_requests``), and any request still open
``timeout`` seconds after it was sent is abandoned and counted as an error.

Parsing is minimal on purpose (status line, Content-Length or chunked, Connection: close) so
that on a 2-core machine the generator costs a small fraction of one core; each run reports
its own CPU time so the reader can check that.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Builder = Callable[[int, int], "tuple[bytes, Any]"]


def build_request(method: str, path: str, host: str, headers: dict[str, str] | None = None,
                  body: bytes | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: promptcore-bench"]
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects after the server closes it."""

    __slots__ = ("host", "port", "reader", "writer")

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        reader = self.reader
        assert reader is not None
        self.writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            end = lower.index(b"\r\n", at + 2)
            length = int(lower[at + 17:end])
            body = await reader.readexactly(length) if length else b""
        elif b"\r\ntransfer-encoding: chunked" in lower:
            body = await self._chunked(reader)
        else:
            body = await reader.read()
            self.close()
            return status, body
        if b"\r\nconnection: close" in lower:
            self.close()
        return status, body

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    def close(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:  # noqa: BLE001 - closing a broken socket
                pass
        self.reader = self.writer = None


@dataclass
class LoadResult:
    """Samples are ``(start, latency_s, status, body_or_None, tag)`` for requests started inside
    the measured window (after warm-up)."""

    vus: int
    window_s: float
    samples: list[tuple[float, float, int, bytes | None, Any]] = field(default_factory=list)
    ok_in_window: int = 0  # expected-status answers that completed inside the window
    issued: int = 0
    errors: Counter = field(default_factory=Counter)  # over every request, warm-up included
    errors_in_window: int = 0
    cpu_s: float = 0.0  # this process's CPU time during the run
    wall_s: float = 0.0
    aborted: bool = False

    @property
    def throughput(self) -> float:
        return self.ok_in_window / self.window_s if self.window_s > 0 else 0.0

    def latencies(self, ok_only: bool = True, expect: int | tuple[int, ...] = (200, 201)) -> list[float]:
        expected = (expect,) if isinstance(expect, int) else expect
        return [s[1] for s in self.samples if not ok_only or s[2] in expected]


async def closed_loop(
    host: str,
    port: int,
    vus: int,
    build: Builder,
    *,
    duration: float,
    warmup: float = 1.0,
    max_requests: int = 1_000_000,
    timeout: float = 30.0,
    expect: int | tuple[int, ...] = 200,
    keep_body: bool = False,
    during: Callable[[], Awaitable[None]] | None = None,
    ramp: float = 0.0,
    interval: float = 0.0,
) -> LoadResult:
    """Run ``vus`` virtual users against ``host:port`` for ``warmup + duration`` seconds.

    ``build(vu, seq)`` returns the raw request bytes and a tag stored with the sample.
    ``during`` is an optional coroutine function run alongside (e.g. a memory sampler); it
    is cancelled when the load ends. ``ramp`` spreads the VUs' first requests evenly over that
    many seconds (inside the warm-up), as users do not all click in the same millisecond; with
    a slow upstream it also keeps the VUs from moving in lock-step waves. ``interval`` > 0 paces
    each VU to one request per ``interval`` seconds (a fixed offered load instead of "as fast as
    the server answers"); a VU that falls behind sends at once.
    """
    expected = (expect,) if isinstance(expect, int) else tuple(expect)
    result = LoadResult(vus=vus, window_s=duration)
    cpu0 = _cpu_self()
    start = time.perf_counter()
    t_measure = start + warmup
    t_end = t_measure + duration
    hard_stop = t_end + timeout + 5.0
    counter = [0]

    async def vu_loop(vu: int) -> None:
        conn = Connection(host, port)
        seq = 0
        samples = result.samples
        if ramp > 0:
            await asyncio.sleep(ramp * vu / vus)
        next_at = time.perf_counter() + (interval * vu / vus if interval > 0 else 0.0)
        try:
            while True:
                now = time.perf_counter()
                if interval > 0:
                    if next_at > now:
                        await asyncio.sleep(next_at - now)
                        now = time.perf_counter()
                    next_at = max(next_at + interval, now)
                if now >= t_end or counter[0] >= max_requests:
                    return
                counter[0] += 1
                raw, tag = build(vu, seq)
                seq += 1
                t0 = time.perf_counter()
                try:
                    async with asyncio.timeout(timeout):
                        status, body = await conn.request(raw)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                        ValueError) as exc:
                    conn.close()
                    result.errors[type(exc).__name__] += 1
                    if t0 >= t_measure:
                        result.errors_in_window += 1
                    await asyncio.sleep(0.05)  # no hot loop against a refusing server
                    continue
                t1 = time.perf_counter()
                ok = status in expected
                if not ok:
                    result.errors[f"HTTP {status}"] += 1
                    if t0 >= t_measure:
                        result.errors_in_window += 1
                if t0 >= t_measure:
                    samples.append((t0, t1 - t0, status, body if keep_body else None, tag))
                if ok and t_measure <= t1 <= t_end:
                    result.ok_in_window += 1
        finally:
            conn.close()

    side = asyncio.ensure_future(during()) if during is not None else None
    tasks = [asyncio.ensure_future(vu_loop(i)) for i in range(vus)]
    try:
        done, pending = await asyncio.wait(tasks, timeout=max(0.1, hard_stop - time.perf_counter()))
        if pending:
            result.aborted = True
            result.errors["abandoned at hard stop"] += len(pending)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                result.errors[f"vu crashed: {type(task.exception()).__name__}"] += 1
    finally:
        if side is not None:
            side.cancel()
            await asyncio.gather(side, return_exceptions=True)
    result.issued = counter[0]
    result.wall_s = time.perf_counter() - start
    result.cpu_s = _cpu_self() - cpu0
    return result


async def sequential(host: str, port: int, requests: list[tuple[bytes, Any]], timeout: float = 30.0
                     ) -> list[tuple[Any, float, int]]:
    """Send ``requests`` one after another on one connection per distinct tag[0] (the tag is
    ``(connection_key, label)``); returns ``(tag, latency_s, status)``."""
    conns: dict[Any, Connection] = {}
    out = []
    try:
        for raw, tag in requests:
            key = tag[0] if isinstance(tag, tuple) else tag
            conn = conns.setdefault(key, Connection(host, port))
            t0 = time.perf_counter()
            async with asyncio.timeout(timeout):
                status, _ = await conn.request(raw)
            out.append((tag, time.perf_counter() - t0, status))
    finally:
        for conn in conns.values():
            conn.close()
    return out


def _cpu_self() -> float:
    t = os.times()
    return t.user + t.system


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]
