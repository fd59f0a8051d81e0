"""The project's OpenRouter stand-in (tests/integration/openrouter_standin.py), run in its own
process for the benchmark, with two additions on a side path the app never calls:

- every ``/chat/completions`` request is timed inside the stand-in (from the first byte of
  the handler to the last byte written), keyed by the ``bench-...`` marker found in the
  prompt; ``GET /__bench/timings`` returns ``{marker: seconds}`` and clears them. The
  benchmark subtracts that from the end-to-end time of the same request, so "overhead" is
  exactly what promptcore adds around the upstream's own service time.
- ``GET /__bench/latency?seconds=S`` changes the answer latency without a restart.
- TCP_NODELAY on its sockets (``disable_nagle_algorithm``). The project's stand-in writes the
  status line + headers and the body in separate sends without it, so on Linux every answer
  waits for the client's delayed ACK (Nagle): about 40 ms per call on loopback, which real
  upstreams do not add. ``--nagle`` keeps the project stand-in's behaviour, to show it.

Run from the repository root: ``python -m bench.standin --port 9100 --latency 0``.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import threading
import time
from urllib.parse import parse_qs, urlsplit

from tests.integration import openrouter_standin as _s

MARKER = re.compile(rb"bench-[0-9a-z]+-[0-9]+-[0-9]+")
MAX_TIMINGS = 500_000  # bound memory if nobody collects


class _TimedHandler(_s._Handler):
    disable_nagle_algorithm = True  # see the module docstring

    def do_POST(self) -> None:
        t0 = time.perf_counter()
        super().do_POST()
        elapsed = time.perf_counter() - t0
        raw = self.server.standin.last_raw  # set by _record below (same thread)
        found = MARKER.search(raw) if raw else None
        if found is not None:
            self.server.standin.timed(found.group(0).decode(), elapsed)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        standin = self.server.standin
        if parts.path == "/__bench/timings":
            self._send_json(200, standin.take_timings())
        elif parts.path == "/__bench/latency":
            seconds = float(parse_qs(parts.query).get("seconds", ["0"])[0])
            standin.latency = max(0.0, seconds)
            self._send_json(200, {"latency": standin.latency})
        elif parts.path == "/__bench/ping":
            self._send_json(200, {"ok": True, "latency": standin.latency})
        else:
            super().do_GET()


class TimedStandin(_s.OpenRouterStandin):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._timings: dict[str, float] = {}
        self._tlock = threading.Lock()
        self._local = threading.local()

    @property
    def last_raw(self) -> bytes | None:
        return getattr(self._local, "raw", None)

    def _record(self, recorded) -> None:  # the stand-in calls this once per POST, in the handler thread
        self._local.raw = recorded.raw
        super()._record(recorded)

    def timed(self, marker: str, seconds: float) -> None:
        with self._tlock:
            if len(self._timings) < MAX_TIMINGS:
                self._timings[marker] = seconds

    def take_timings(self) -> dict[str, float]:
        with self._tlock:
            out, self._timings = self._timings, {}
        return out

    def start(self) -> TimedStandin:
        original = _s._Handler
        _s._Handler = _TimedHandler  # start() builds its server with the module's handler class
        try:
            return super().start()
        finally:
            _s._Handler = original


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="OpenRouter stand-in with per-request timings")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--nagle", action="store_true",
                        help="leave Nagle's algorithm on, as the project's stand-in does (adds ~40 ms a call)")
    args = parser.parse_args(argv)
    _TimedHandler.disable_nagle_algorithm = not args.nagle
    server = TimedStandin(args.host, args.port, args.latency, None, max_recorded=64).start()
    print(json.dumps({"standin": server.base_url, "latency": args.latency, "nagle": args.nagle}), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
