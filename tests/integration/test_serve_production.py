"""Production start-up refuses pending migrations; after `db upgrade` it serves."""

from __future__ import annotations

import os
import subprocess
import sys

import requests

from tests.integration.live import live_server

PROD = {"PROMPTCORE_ENV": "production", "PROMPTCORE_SECRET_KEY": "p" * 40, "PROMPTCORE_SMTP_URL": "smtp://127.0.0.1:2",
        "PROMPTCORE_LLM": "offline"}


def run_cli(args, env, cwd):
    exe = os.path.join(os.path.dirname(sys.executable), "promptcore")
    return subprocess.run([exe, *args], env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def test_production_refuses_pending_migrations_then_serves(tmp_path, postgres_url):
    env = {**PROD, "PROMPTCORE_DATABASE_URL": postgres_url}
    refused = run_cli(["serve", "--port", "1"], env, str(tmp_path))
    assert refused.returncode == 2 and "migrations are pending" in refused.stderr
    bad = run_cli(["db", "current"], {**env, "PROMPTCORE_SECRET_KEY": "short"}, str(tmp_path))
    assert bad.returncode == 2 and "PROMPTCORE_SECRET_KEY" in bad.stderr
    assert run_cli(["db", "upgrade"], env, str(tmp_path)).returncode == 0
    assert "(head)" in run_cli(["db", "current"], env, str(tmp_path)).stdout
    with live_server(env, workers=2, threads=4, cwd=str(tmp_path)) as base:
        r = requests.get(f"{base}/readyz", timeout=5)
        assert r.status_code == 200
        assert requests.get(f"{base}/dev/mailbox", timeout=5).status_code == 404
