"""Where a generation request's time goes: cProfile around POST /api/v1/prompts, in-process
through the Flask test client, against the bench database and the zero-latency stand-in.

The app is the production one (same container and settings as the server), minus gunicorn
and the socket between client and server. The summary has: time per request un-profiled and
profiled, time by phase of the request (cumulative time of the app's own functions), self time
by library, SQL statements / pool checkouts / pre-ping round trips / transactions per request,
and the top functions. ``python -m bench.profile`` runs it alone (it builds its own stack).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from .stack import Stack

CATEGORIES = [
    ("psycopg", "PostgreSQL driver (psycopg, incl. waiting for the server)"),
    ("sqlalchemy", "SQLAlchemy"),
    ("/requests/", "upstream HTTP client (requests/urllib3/http.client)"),
    ("urllib3", "upstream HTTP client (requests/urllib3/http.client)"),
    ("http/client", "upstream HTTP client (requests/urllib3/http.client)"),
    ("/email/", "upstream HTTP client (requests/urllib3/http.client)"),
    ("tenacity", "retry wrapper (tenacity)"),
    ("flask_smorest", "flask-smorest/marshmallow/webargs"),
    ("marshmallow", "flask-smorest/marshmallow/webargs"),
    ("webargs", "flask-smorest/marshmallow/webargs"),
    ("apispec", "flask-smorest/marshmallow/webargs"),
    ("flask_limiter", "Flask-Limiter"),
    ("/limits/", "Flask-Limiter"),
    ("werkzeug", "Flask/Werkzeug"),
    ("/flask/", "Flask/Werkzeug"),
    ("flask_babel", "Flask/Werkzeug"),
    ("/babel/", "Flask/Werkzeug"),
    ("jinja2", "Flask/Werkzeug"),
    ("/jwt/", "JWT (pyjwt, hmac)"),
    ("hmac", "JWT (pyjwt, hmac)"),
    ("prometheus_client", "metrics (prometheus_client)"),
    ("/logging/", "logging"),
    ("/json/", "JSON"),
    ("dependency_injector", "dependency-injector"),
    ("/src/", "promptcore code (src/)"),
    ("/bench/", "bench harness (test client)"),
]


def _category(filename: str) -> str:
    for needle, name in CATEGORIES:
        if needle in filename:
            return name
    return "other (stdlib: uuid, datetime, re, threading, ...)"


def _by_category(stats: pstats.Stats) -> dict[str, float]:
    """Self time by library. Built-ins (socket reads, C calls) go to the category of their
    caller, in proportion to the time spent under each caller."""
    out: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), (_cc, _nc, tt, _ct, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if filename == "~" and callers:
            for (cfile, _cl, _cn), edge in callers.items():
                out[_category(cfile)] += edge[2]
        else:
            out[_category(filename)] += tt
    return dict(out)


PHASES = [
    ("whole request (Flask wsgi_app)", "flask/app.py", "wsgi_app"),
    ("view POST /prompts (after auth)", "api/prompts.py", "post"),
    ("auth: JWT verify + user row", "services/accounts.py", "user_from_access_token"),
    ("validate, style, model (_prepare)", "services/improvement.py", "_prepare"),
    ("quota reservation transaction (_reserve)", "services/improvement.py", "_reserve"),
    ("upstream call (OpenRouterImprover.improve)", "adapters/openrouter.py", "improve"),
    ("record result transaction (_finish)", "services/improvement.py", "_finish"),
    ("quota read after the call (Prompts.quota)", "services/improvement.py", "quota"),
]


def _phases(stats: pstats.Stats, n: int) -> list[tuple[str, float]]:
    out = []
    for label, file_part, func in PHASES:
        total = 0.0
        for (filename, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            if name == func and filename.replace("\\", "/").endswith(file_part):
                total += ct
        out.append((label, total * 1000 / n))
    return out


def _count_round_trips(engine: Any, once: Any, n: int) -> dict[str, float]:
    """Round trips to PostgreSQL per request: statements, pre-ping probes, BEGIN/COMMIT/ROLLBACK."""
    from psycopg import _connection_base
    from psycopg import cursor as pcursor

    counts: dict[str, int] = defaultdict(int)
    real_command = _connection_base.BaseConnection._exec_command
    real_execute = pcursor.Cursor.execute

    def command(self: Any, cmd: Any, *a: Any, **k: Any) -> Any:
        word = bytes(cmd).split()[0].decode().upper() if isinstance(cmd, (bytes, bytearray)) else "other command"
        counts[word] += 1
        return real_command(self, cmd, *a, **k)

    def execute(self: Any, query: Any, *a: Any, **k: Any) -> Any:
        text = query if isinstance(query, str) else str(query)
        counts["pre-ping" if text.strip() in (";", "", "SELECT 1", "select 1") else "statement"] += 1
        return real_execute(self, query, *a, **k)

    checkouts = [0]

    def on_checkout(*_a: Any) -> None:
        checkouts[0] += 1

    from sqlalchemy import event

    _connection_base.BaseConnection._exec_command = command  # type: ignore[method-assign]
    pcursor.Cursor.execute = execute  # type: ignore[method-assign]
    event.listen(engine.pool, "checkout", on_checkout)
    try:
        for i in range(n):
            once(5000 + i)
    finally:
        _connection_base.BaseConnection._exec_command = real_command  # type: ignore[method-assign]
        pcursor.Cursor.execute = real_execute  # type: ignore[method-assign]
        event.remove(engine.pool, "checkout", on_checkout)
    out = {k: round(v / n, 2) for k, v in sorted(counts.items())}
    out["round trips"] = round(sum(counts.values()) / n, 2)
    out["pool checkouts"] = round(checkouts[0] / n, 2)
    return out


def profile_generation(stack: Stack, seeder, text_path: Path, requests: int = 300) -> dict[str, Any]:
    import logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        return _profile_generation(stack, seeder, text_path, requests)
    finally:
        for handler in root.handlers:
            if handler not in saved[0]:
                handler.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def _profile_generation(stack: Stack, seeder, text_path: Path, requests: int) -> dict[str, Any]:
    from entrypoints.app import create_app
    from entrypoints.container import build_container

    settings = stack.settings()
    container = build_container(settings)
    applog = open(text_path.with_name("profile-app.log"), "w")  # noqa: SIM115 - closed with the handler
    try:  # the app's production logging, to a file instead of the terminal
        from entrypoints.observability import configure_logging

        old, sys.stderr = sys.stderr, applog
        try:
            configure_logging(getattr(settings, "log_format", "text"), getattr(settings, "log_level", "INFO"))
        finally:
            sys.stderr = old
    except ImportError:
        applog.close()
    app = create_app(container)
    client = app.test_client()
    # A fresh user every 25 requests: the quota check reads every generation of the user's last
    # 24 h (see the quota_scaling figure), so one user would make later requests ever slower.
    uids = seeder.users("profile", 1 + (requests * 2 + 200) // 25)
    heads = [{"Authorization": f"Bearer {tok}", "Accept": "application/json"} for tok in seeder.tokens(uids)]
    styles = seeder.styles
    counter = [0]

    def once(i: int) -> None:
        n = counter[0]
        counter[0] += 1
        resp = client.post("/api/v1/prompts", json={"prompt": f"Write a haiku about green tea, take {i}.",
                                                     "style": styles[i % len(styles)]}, headers=heads[n // 25])
        if resp.status_code != 201:
            raise RuntimeError(f"generation failed in profile: {resp.status_code} {resp.get_data(as_text=True)[:300]}")

    for i in range(30):
        once(i)

    # un-profiled time per request, and the stand-in's own share of it
    stack.take_timings()
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(requests):
        once(1000 + i)
    plain_ms = (time.perf_counter() - t0) * 1000 / requests
    cpu_ms = (time.process_time() - c0) * 1000 / requests  # this process: the app and the test client

    # round trips to PostgreSQL per request, by kind (psycopg instrumented for this block only)
    per_request = _count_round_trips(container.engine(), once, 100)

    prof = cProfile.Profile()
    stack.take_timings()
    prof.enable()
    t0 = time.perf_counter()
    for i in range(requests):
        once(10_000 + i)
    prof.disable()
    profiled_ms = (time.perf_counter() - t0) * 1000 / requests
    standin = stack.take_timings()
    standin_ms = (sum(standin.values()) * 1000 / len(standin)) if standin else None

    container.engine().dispose()
    stats = pstats.Stats(prof)
    cats = _by_category(stats)
    total = sum(cats.values()) or 1.0
    cat_rows = sorted(((name, t * 1000 / requests, t / total) for name, t in cats.items()), key=lambda r: -r[1])
    phases = _phases(stats, requests)

    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(45)
    buf.write("\n")
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(30)
    text_path.write_text(buf.getvalue())
    prof.dump_stats(str(text_path.with_suffix(".prof")))  # for pstats: callers, callees

    lines = [f"profile of POST /api/v1/prompts (in-process, Flask test client, stand-in latency 0, "
             f"{requests} requests)",
             f"  un-profiled {plain_ms:.2f} ms/request ({cpu_ms:.2f} ms CPU of this process, test client "
             f"included); under cProfile {profiled_ms:.2f} ms/request"
             + (f" (stand-in's own service time {standin_ms:.2f} ms)" if standin_ms is not None else ""),
             "  per request: " + ", ".join(f"{k} {v}" for k, v in per_request.items()),
             "  by phase (cumulative, profiled ms/request):"]
    lines += [f"    {label:<46} {value:7.2f}" for label, value in phases]
    lines.append("  self time by library (profiled ms/request, share):")
    lines += [f"    {name:<58} {value:6.2f}  {share * 100:4.1f}%" for name, value, share in cat_rows if value >= 0.01]
    lines.append(f"  full listing: {text_path}")
    return {
        "requests": requests,
        "plain_ms_per_request": round(plain_ms, 3),
        "plain_cpu_ms_per_request": round(cpu_ms, 3),
        "profiled_ms_per_request": round(profiled_ms, 3),
        "standin_service_ms": round(standin_ms, 3) if standin_ms is not None else None,
        "per_request_counts": per_request,
        "phases_ms": {label: round(v, 3) for label, v in phases},
        "self_time_by_library_ms": {name: round(v, 3) for name, v, _ in cat_rows},
        "text_summary": "\n".join(lines),
        "listing": str(text_path),
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    from .seed import Seeder
    from .stack import ROOT, Options

    p = argparse.ArgumentParser(prog="python -m bench.profile")
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--out", type=Path, default=ROOT / "artifacts" / "bench")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    stack = Stack(Options(log_dir=args.out))
    seeder = None
    try:
        stack.setup()
        stack.start_standin(0.0)
        stack.upgrade()
        seeder = Seeder(stack)
        seeder.admin()
        result = profile_generation(stack, seeder, args.out / "profile.txt", args.requests)
        print(result["text_summary"])
    finally:
        if seeder is not None:
            seeder.close()
        stack.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
