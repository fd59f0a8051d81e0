"""Start ``promptcore serve`` as a real multi-process server for a test."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator

import requests

from tests.integration.smtp_server import free_port

_MASTERS: dict[str, int] = {}


def kill_workers(base: str) -> int:
    """SIGKILL every worker of the server at ``base`` (the master starts new ones); returns how many."""
    master = _MASTERS[base]
    killed = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # The fourth field, after the parenthesised command name, is the parent pid.
        if int(stat.rsplit(")", 1)[1].split()[1]) == master:
            try:
                os.kill(int(entry), signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    return killed


@contextmanager
def live_server(env: dict[str, str], workers: int = 3, threads: int = 8, cwd: str | None = None,
                port: int | None = None) -> Iterator[str]:
    """``port``: chosen up front when the server must know its own address (PROMPTCORE_BASE_URL)."""
    port = port or free_port()
    metrics_dir = tempfile.mkdtemp(prefix=f"promptcore-metrics-{port}-")
    full_env = {**os.environ, "PROMPTCORE_SECRET_KEY": "l" * 40, "PROMPTCORE_AUTH_RATE_LIMIT": "10000/minute",
                "PROMPTCORE_MAIL_RATE_LIMIT": "10000/minute",
                "PROMETHEUS_MULTIPROC_DIR": metrics_dir, **env}
    exe = os.path.join(os.path.dirname(sys.executable), "promptcore")
    log_path = os.path.join(cwd or ".", f"server-{port}.log")
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [exe, "serve", "--port", str(port), "--workers", str(workers), "--threads", str(threads)],
        env=full_env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {open(log_path).read()[-2000:]}")
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {open(log_path).read()[-2000:]}")
            time.sleep(0.1)
        _MASTERS[base] = proc.pid
        yield base
    finally:
        _MASTERS.pop(base, None)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
