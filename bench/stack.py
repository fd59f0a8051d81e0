"""What the benchmark runs: a fresh PostgreSQL database, migrations, the OpenRouter stand-in
and ``promptcore serve`` in the production environment, each in its own process."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import procs

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


@dataclass
class Options:
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    llm_timeout: float = 10.0
    log_dir: Path = ROOT / "artifacts" / "bench"
    extra_path: str = ""  # e.g. a `pip install --target DIR gevent`, for bench.gserve only


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    workers: int
    threads: int
    worker_class: str
    started_s: float  # spawn to first /healthz 200

    def pids(self) -> list[int]:
        return procs.tree(self.proc.pid)


@dataclass
class Stack:
    opts: Options = field(default_factory=Options)
    db_name: str = ""
    tmp: Path | None = None
    secret: str = ""
    standin: subprocess.Popen | None = None
    standin_port: int = 0
    servers: list[Server] = field(default_factory=list)

    # -- database ------------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        o = self.opts
        return f"postgresql+psycopg://{o.pg_user}@{o.pg_host}:{o.pg_port}/{self.db_name}"

    def _admin_conn(self):
        import psycopg

        o = self.opts
        return psycopg.connect(host=o.pg_host, port=o.pg_port, user=o.pg_user, dbname="postgres", autocommit=True)

    def create_database(self) -> None:
        self.db_name = f"promptcore_bench_{os.getpid()}_{secrets.token_hex(3)}"
        with self._admin_conn() as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')

    def drop_database(self) -> None:
        if not self.db_name:
            return
        with self._admin_conn() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        self.db_name = ""

    # -- environment ---------------------------------------------------------------------

    def setup(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="promptcore-bench-"))
        (self.tmp / "metrics").mkdir()
        self.secret = secrets.token_urlsafe(48)
        self.opts.log_dir.mkdir(parents=True, exist_ok=True)
        self.create_database()

    def env(self) -> dict[str, str]:
        """The production environment of the app (SPEC §3); no .env file is read (cwd is a
        scratch directory)."""
        assert self.tmp is not None
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PROMPTCORE_", "OPENROUTER_", "PROMETHEUS_", "SENTRY_"))}
        env.update({
            "PROMPTCORE_ENV": "production",
            "PROMPTCORE_SECRET_KEY": self.secret,
            "PROMPTCORE_SMTP_URL": "smtp://127.0.0.1:2525",
            "PROMPTCORE_DATABASE_URL": self.database_url,
            "PROMPTCORE_LLM": "openrouter",
            "OPENROUTER_API_KEY": "bench-key-not-secret",
            "OPENROUTER_BASE_URL": f"http://{HOST}:{self.standin_port or 9}/api/v1",
            "PROMPTCORE_LLM_TIMEOUT": str(self.opts.llm_timeout),
            "PROMPTCORE_AUTH_RATE_LIMIT": "100000/minute",
            "PROMPTCORE_DAILY_LIMIT": "100000",
            "PROMPTCORE_VAR_DIR": str(self.tmp / "var"),
            "PROMETHEUS_MULTIPROC_DIR": str(self.tmp / "metrics"),
        })
        return env

    def settings(self):
        from entrypoints.config import load_settings

        return load_settings(self.env())

    def upgrade(self) -> None:
        out = subprocess.run([str(BIN / "promptcore"), "db", "upgrade"], check=False, env=self.env(), cwd=self.tmp,
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"promptcore db upgrade failed: {out.stderr[-2000:]}")

    # -- the OpenRouter stand-in ---------------------------------------------------------

    def start_standin(self, latency: float, nagle: bool = False) -> None:
        self.standin_port = procs.free_port()
        log = open(self.opts.log_dir / "standin.log", "ab")
        cmd = [sys.executable, "-m", "bench.standin", "--port", str(self.standin_port), "--latency", str(latency)]
        self.standin = subprocess.Popen(cmd + (["--nagle"] if nagle else []), cwd=ROOT, stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()
        procs.wait_http(HOST, self.standin_port, "/__bench/ping", self.standin, timeout=15)

    def standin_get(self, path: str):
        with urllib.request.urlopen(f"http://{HOST}:{self.standin_port}{path}", timeout=30) as resp:
            return json.loads(resp.read())

    def set_latency(self, seconds: float) -> None:
        self.standin_get(f"/__bench/latency?seconds={seconds}")

    def take_timings(self) -> dict[str, float]:
        return self.standin_get("/__bench/timings")

    # -- the server ----------------------------------------------------------------------

    def start_server(self, workers: int, threads: int, worker_class: str = "gthread",
                     timeout: float = 30.0) -> Server:
        """``promptcore serve`` (gthread, as production runs it); other worker classes go through
        bench.gserve, which differs from ``serve`` only in the worker class."""
        port = procs.free_port()
        if worker_class == "gthread":
            cmd = [str(BIN / "promptcore"), "serve", "--host", HOST, "--port", str(port),
                   "--workers", str(workers), "--threads", str(threads)]
        else:
            cmd = [sys.executable, "-m", "bench.gserve", "--worker-class", worker_class, "--host", HOST,
                   "--port", str(port), "--workers", str(workers), "--connections", str(threads)]
        log = open(self.opts.log_dir / f"server-{worker_class}.log", "ab")
        env = self.env()
        if worker_class != "gthread":
            extra = [str(ROOT)] + ([self.opts.extra_path] if self.opts.extra_path else [])
            env["PYTHONPATH"] = os.pathsep.join(extra + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=self.tmp, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            procs.wait_http(HOST, port, "/healthz", proc, timeout=timeout, interval=0.005)
        except RuntimeError:
            procs.stop(proc, signal.SIGINT)
            raise
        server = Server(proc, port, workers, threads, worker_class, time.perf_counter() - t0)
        self.servers.append(server)
        return server

    def stop_server(self, server: Server) -> None:
        # SIGINT: gunicorn's quick shutdown (a benchmark has nothing in flight to finish)
        procs.stop(server.proc, signal.SIGINT, timeout=20)
        if server in self.servers:
            self.servers.remove(server)

    # -- teardown ------------------------------------------------------------------------

    def teardown(self) -> None:
        for server in list(self.servers):
            try:
                self.stop_server(server)
            except Exception as exc:  # noqa: BLE001 - keep tearing down
                print(f"bench: could not stop server {server.proc.pid}: {exc}", file=sys.stderr)
        if self.standin is not None:
            procs.stop(self.standin, signal.SIGTERM, timeout=10)
            self.standin = None
        try:
            self.drop_database()
        except Exception as exc:  # noqa: BLE001
            print(f"bench: could not drop database {self.db_name}: {exc}", file=sys.stderr)
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
