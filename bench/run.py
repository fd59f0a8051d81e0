"""Run the benchmark: ``python -m bench.run [--only T1,T2] [--runs 3] [--workers N --threads T] ...``

Everything it starts (database, stand-in, server) is torn down at the end, also on Ctrl-C.
Figures are printed and written to ``<out>/results.json`` and ``<out>/results.png``.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from . import procs, report, targets
from .stack import ROOT, Options, Stack

# Chosen by measurement on 2 cores (T2: 200 users, 2 s upstream; --compare, one run each). A
# keep-alive connection stays with the gthread worker that accepted it, and accepts are uneven:
# the busiest worker held 102-136 of 200 connections with 2 workers, 89 with 3, up to 99 with 4.
# So a worker needs a thread per connection it may hold, not users/workers: 2x32 (serve's
# default) 32 gen/s; 2x64 61/s; 4x64 91/s, p99 3.0 s; 2x128 94.7-99.4/s; 2x200 98.3-99.3/s;
# 3x200 99.4-99.5/s, p99 2.04-2.05 s, 353 MiB; 4x200 99.4/s, 436 MiB; gevent 2x1000 99.3/s,
# 287 MiB. With 2 workers all 10 T1 connections landed on one worker in 4 of 9 runs (one core:
# 130-156 gen/s instead of 250-290); 3 workers keep 2+ busy, and 3 x (10 + 10) pooled database
# connections stay under PostgreSQL's default max_connections of 100.
DEFAULT_WORKERS = 3
DEFAULT_THREADS = 200


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default="T1,T2,T3,T4", help="comma-separated targets (default all)")
    p.add_argument("--runs", type=int, default=3, help="runs of T1, T3 and T4 (median reported)")
    p.add_argument("--t2-runs", type=int, default=2, help="runs of T2 (median reported)")
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    p.add_argument("--worker-class", default="gthread", choices=["gthread", "gevent"],
                   help="gthread is `promptcore serve`; gevent goes through bench.gserve (comparison only)")
    p.add_argument("--duration", type=float, default=6.0, help="seconds measured per T1 phase")
    p.add_argument("--t1-users", type=int, default=10)
    p.add_argument("--t1-paced", type=float, default=50.0,
                   help="T1 diagnostic: the same users paced to this many generations/s in total (0 skips)")
    p.add_argument("--t2-duration", type=float, default=25.0, help="seconds measured per T2 run")
    p.add_argument("--t2-users", type=int, default=200)
    p.add_argument("--t2-latency", type=float, default=2.0, help="stand-in latency for T2, seconds")
    p.add_argument("--cold-burst", type=int, default=40,
                   help="with T2: simultaneous first generations on the fresh server, a diagnostic of the cold "
                        "start (0 skips it; each racing request may build its own argon2 hasher, 64 MiB each)")
    p.add_argument("--t3-records", type=int, default=100_000)
    p.add_argument("--t3-small", type=int, default=100)
    p.add_argument("--t3-iterations", type=int, default=60, help="requests per endpoint and user per T3 run")
    p.add_argument("--quota-scaling", type=int, default=5_000,
                   help="with T3: generations in the last 24 h for the quota-cost diagnostic (0 skips it)")
    p.add_argument("--import-runs", type=int, default=9, help="fresh interpreters for the T4 import time")
    p.add_argument("--compare", default="",
                   help="T2 for several servers, e.g. 'gthread:2x128,gthread:4x64,gevent:2x1000' (runs once each)")
    p.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True,
                   help="cProfile generation requests in-process (Flask test client) and summarise")
    p.add_argument("--pyspy", action=argparse.BooleanOptionalAction, default=None,
                   help="sample the live server with py-spy during the first T1 generation run "
                        "(default: when py-spy is installed)")
    p.add_argument("--extra-path", default="",
                   help="directory added to PYTHONPATH of non-gthread servers (e.g. pip install --target DIR gevent)")
    p.add_argument("--out", type=Path, default=ROOT / "artifacts" / "bench")
    p.add_argument("--llm-timeout", type=float, default=10.0)
    p.add_argument("--standin-nagle", action="store_true",
                   help="run the stand-in with Nagle's algorithm on, as tests/integration/openrouter_standin.py "
                        "does by itself (adds ~40 ms of delayed-ACK wait to every upstream call)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = {x.strip().upper() for x in args.only.split(",") if x.strip()}
    started = time.perf_counter()
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("server-gthread.log", "server-gevent.log", "standin.log"):
        (out_dir / stale).unlink(missing_ok=True)

    def log(msg: str) -> None:
        print(f"[bench {time.perf_counter() - started:6.1f}s] {msg}", flush=True)

    results: dict = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": _cpus(), "python": platform.python_version(), "loadavg_1m_at_start": procs.loadavg()},
        "git": _git(),
        "config": {"workers": args.workers, "threads": args.threads, "worker_class": args.worker_class,
                   "t1_users": args.t1_users, "t1_duration_s": args.duration, "runs": args.runs,
                   "t2_users": args.t2_users, "t2_duration_s": args.t2_duration, "t2_latency_s": args.t2_latency,
                   "t2_runs": args.t2_runs, "t3_records": args.t3_records, "t3_small": args.t3_small,
                   "llm_timeout_s": args.llm_timeout, "standin_nagle": args.standin_nagle},
        "runs": {}, "targets": {},
    }

    if "T4" in only:
        log("T4: import time in fresh interpreters")
        results["runs"]["T4_import"] = targets.t4_import(args.import_runs)

    stack = Stack(Options(llm_timeout=args.llm_timeout, log_dir=out_dir, extra_path=args.extra_path))
    seeder = None
    try:
        log("fresh PostgreSQL database, migrations, stand-in")
        stack.setup()
        stack.start_standin(0.0, nagle=args.standin_nagle)
        stack.upgrade()
        from .seed import Seeder

        seeder = Seeder(stack)
        admin_email, admin_password = seeder.admin()
        log(f"database {stack.db_name} ready; stand-in on port {stack.standin_port}")

        if "T4" in only:
            log(f"T4: promptcore serve spawn -> /healthz, {args.runs} runs")
            ctx0 = targets.Ctx(stack, seeder, None)  # type: ignore[arg-type]
            results["runs"]["T4_serve"] = targets.t4_serve(ctx0, args.runs, args.workers, args.threads)
            results["targets"]["T4"] = targets.t4_verdict(results["runs"]["T4_import"], results["runs"]["T4_serve"])

        if only & {"T1", "T2", "T3"}:
            server = stack.start_server(args.workers, args.threads, args.worker_class)
            ctx = targets.Ctx(stack, seeder, server, log)
            log(f"server up: {args.worker_class} {args.workers}x{args.threads} on port {server.port} "
                f"({server.started_s * 1000:.0f} ms to /healthz)")
            if "T2" in only and args.cold_burst:
                log(f"cold start (diagnostic): {args.cold_burst} simultaneous first generations on the fresh server")
                results["cold_burst"] = targets.cold_burst(ctx, args.cold_burst, args.t2_latency)
                c = results["cold_burst"]
                log(f"  all answered in {c['all_answered_s']} s, max RSS {c['rss_max_mib']} MiB, "
                    f"threads max {c['threads_max']}, errors {c['errors']}")
            targets.login_once(ctx, admin_email, admin_password)

            if "T3" in only:
                log(f"T3: seeding {args.t3_records} + {args.t3_small} records")
                results["runs"]["T3_seed"] = targets.t3_prepare(ctx, args.t3_records, args.t3_small)
                log(f"T3: seeded in {results['runs']['T3_seed']['seed_s']} s")

            if "T1" in only:
                from . import pyspy

                if args.pyspy or (args.pyspy is None and pyspy.available()):
                    ctx.cache["pyspy_out"] = out_dir / "pyspy-t1.txt"
                primed = targets.prime_workers(ctx)
                log(f"primed {primed['primed']}/{primed['workers']} workers with {primed['requests']} sequential "
                    "generations")
                runs = []
                for r in range(args.runs):
                    log(f"T1 run {r + 1}/{args.runs}: /healthz then generations, {args.t1_users} users, "
                        f"{args.duration:.0f} s each")
                    runs.append(targets.t1(ctx, r, args.t1_users, args.duration, paced_rps=args.t1_paced))
                    g = runs[-1]["generation"]
                    log(f"  healthz {runs[-1]['healthz']['throughput_rps']}/s, generation {g['throughput_rps']}/s, "
                        f"overhead median {g['overhead'].get('median_ms')} ms p99 {g['overhead'].get('p99_ms')} ms")
                results["runs"]["T1"] = runs
                results["targets"]["T1"] = targets.t1_verdict(runs)
                if "pyspy" in ctx.cache:
                    results["pyspy"] = ctx.cache["pyspy"]

            if "T3" in only:
                runs = []
                for r in range(args.runs):
                    log(f"T3 run {r + 1}/{args.runs}")
                    runs.append(targets.t3(ctx, r, args.t3_iterations))
                results["runs"]["T3"] = runs
                results["targets"]["T3"] = targets.t3_verdict(runs)
                if args.quota_scaling:
                    log(f"quota scaling (diagnostic): {args.quota_scaling} generations in the last 24 h vs none")
                    results["quota_scaling"] = targets.quota_scaling(ctx, args.quota_scaling)
                    q = results["quota_scaling"]
                    log(f"  generation {q['generation']['heavy']['median_ms']} vs "
                        f"{q['generation']['light']['median_ms']}"
                        f" ms, stats {q['stats']['heavy']['median_ms']} vs {q['stats']['light']['median_ms']} ms")

            if "T2" in only:
                primed = targets.prime_workers(ctx)
                results["t2_priming"] = primed
                log(f"primed {primed['primed']}/{primed['workers']} workers with {primed['requests']} sequential "
                    "generations")
                for key, together in (("T2", False), ("T2_together", True)):
                    runs = []
                    for r in range(args.t2_runs):
                        log(f"{key} run {r + 1}/{args.t2_runs}: {args.t2_users} users "
                            f"({'starting together' if together else 'staggered start'}), upstream "
                            f"{args.t2_latency} s, {args.t2_duration:.0f} s measured")
                        runs.append(targets.t2(ctx, r, args.t2_users, args.t2_duration, args.t2_latency,
                                               together=together))
                        log(f"  {runs[-1]['throughput_rps']}/s p99 {runs[-1]['e2e'].get('p99_ms')} ms "
                            f"errors {runs[-1]['errors_total']} rss {runs[-1]['memory']['rss_max_mib']} MiB")
                    results["runs"][key] = runs
                    results["targets"][key] = targets.t2_verdict(runs, together=together)
                log(f"T2 from wrk: {args.t2_users} connections opened together, {args.t2_duration:.0f} s")
                wrk_t2 = targets.t2_wrk(ctx, 0, args.t2_users, args.t2_duration, args.t2_latency)
                if wrk_t2 is not None:
                    results["runs"]["T2_wrk"] = wrk_t2
                    log(f"  {wrk_t2.get('rps')}/s p99 {wrk_t2.get('p99_ms')} ms non-2xx {wrk_t2.get('non_2xx')} "
                        f"socket errors {wrk_t2.get('socket_errors')}")

            stack.stop_server(server)

        if args.compare:
            results["compare"] = compare(stack, seeder, args, log)

        if args.profile:
            log("profile: cProfile of generation requests in-process (Flask test client)")
            from .profile import profile_generation

            stack.set_latency(0.0)
            results["profile"] = profile_generation(stack, seeder, out_dir / "profile.txt")
    except KeyboardInterrupt:
        log("interrupted; tearing down")
        return 130
    finally:
        if seeder is not None:
            seeder.close()
        stack.teardown()

    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    results["machine"]["loadavg_1m_at_end"] = procs.loadavg()
    report.write_json(results, out_dir / "results.json")
    why = report.write_png(results, out_dir / "results.png")
    print()
    print(report.table(results))
    if "profile" in results:
        print()
        print(results["profile"]["text_summary"])
    if results.get("pyspy", {}).get("samples"):
        from .pyspy import text

        print()
        print(text(results["pyspy"]))
    if "quota_scaling" in results:
        q = results["quota_scaling"]
        print()
        print(f"quota cost (diagnostic): a user with {q['generations_in_window']} generations in the last 24 h "
              "vs none: "
              f"POST /prompts {q['generation']['heavy']['median_ms']} vs {q['generation']['light']['median_ms']} ms "
              f"({q['generation']['ratio']}x), /stats {q['stats']['heavy']['median_ms']} vs "
              f"{q['stats']['light']['median_ms']} ms ({q['stats']['ratio']}x)")
    if "compare" in results:
        print()
        print(compare_table(results["compare"]))
    print()
    print(f"wrote {out_dir / 'results.json'}" + (f" and {out_dir / 'results.png'}" if why is None else f" ({why})"))
    print(f"elapsed {results['elapsed_s']} s")
    return 0


def compare(stack: Stack, seeder, args: argparse.Namespace, log) -> list[dict]:
    """T2 once per server configuration ``class:WxT``."""
    out = []
    for i, spec in enumerate(s.strip() for s in args.compare.split(",") if s.strip()):
        kind, _, shape = spec.partition(":")
        workers, _, threads = shape.partition("x")
        entry: dict = {"spec": spec}
        try:
            server = stack.start_server(int(workers), int(threads), kind)
        except Exception as exc:  # noqa: BLE001 - report why a class could not run
            entry["error"] = f"{type(exc).__name__}: {exc}"
            log(f"compare {spec}: could not start: {exc}")
            out.append(entry)
            continue
        try:
            ctx = targets.Ctx(stack, seeder, server, log)
            entry["priming"] = targets.prime_workers(ctx)
            log(f"compare {spec}: T2 {args.t2_users} users, {args.t2_duration:.0f} s")
            entry["t2"] = targets.t2(ctx, 100 + i, args.t2_users, args.t2_duration, args.t2_latency)
            e = entry["t2"]
            log(f"  {e['throughput_rps']}/s p99 {e['e2e'].get('p99_ms')} ms errors {e['errors_total']} "
                f"rss {e['memory']['rss_max_mib']} MiB")
        finally:
            stack.stop_server(server)
        out.append(entry)
    return out


def compare_table(entries: list[dict]) -> str:
    lines = ["worker comparison at T2 (one run each)",
             f"{'server':<20} {'gen/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'RSS MiB':>8} {'PSS MiB':>8} "
             f"{'cores':>6}"]
    for e in entries:
        if "t2" not in e:
            lines.append(f"{e['spec']:<20} {e.get('error', '')}")
            continue
        t = e["t2"]
        lines.append(f"{e['spec']:<20} {t['throughput_rps']:>7} {t['e2e'].get('median_ms', '-'):>8} "
                     f"{t['e2e'].get('p99_ms', '-'):>8} {t['errors_total']:>7} {t['memory']['rss_max_mib']:>8} "
                     f"{t['memory']['pss_max_mib']:>8} {t['cores'].get('server', '-'):>6}")
    return "\n".join(lines)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _git() -> dict:
    def run(*cmd: str) -> str:
        try:
            out = subprocess.run(["git", *cmd], cwd=ROOT, check=False, capture_output=True, text=True, timeout=10)
            return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": run("rev-parse", "--short", "HEAD"),
            "dirty_files": len(run("--no-optional-locks", "status", "--porcelain").splitlines())}


if __name__ == "__main__":
    sys.exit(main())
