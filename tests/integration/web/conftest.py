"""Browser fixtures: Debian's Chromium driven by Playwright, and `promptcore serve` to drive."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import required
from tests.integration.live import live_server

# Debian's Chromium by default; PROMPTCORE_CHROMIUM=playwright uses a browser installed by
# `playwright install` (hosts that can download it, such as GitHub's runners).
CHROMIUM = os.environ.get("PROMPTCORE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PASSWORD = "correct horse battery"


def _need_browser() -> None:
    if CHROMIUM != "playwright" and not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing (install it with `make browser`)"
        if required("PROMPTCORE_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        executable = {} if CHROMIUM == "playwright" else {"executable_path": CHROMIUM}
        chromium = playwright.chromium.launch(headless=True, args=CHROMIUM_ARGS, **executable)
        yield chromium
        chromium.close()


def server_env(var_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {
        "PROMPTCORE_ENV": "development",
        "PROMPTCORE_VAR_DIR": str(var_dir),
        "PROMPTCORE_DATABASE_URL": database_url,
        "PROMPTCORE_LLM": "offline",
        "PROMPTCORE_DAILY_LIMIT": "3",
        "PROMPTCORE_SMTP_URL": "",
    }
    env.update(extra)
    return env


@contextmanager
def serve(var_dir: Path, database_url: str, **extra: str) -> Iterator[str]:
    env = server_env(var_dir, database_url, **extra)
    with live_server(env, workers=2, threads=8, cwd=str(var_dir)) as base:
        yield base


def cli(var_dir: Path, database_url: str, *args: str, stdin: str = "") -> None:
    """Run the `promptcore` command against the same database as the server."""
    env = {**os.environ, "PROMPTCORE_SECRET_KEY": "l" * 40, **server_env(var_dir, database_url)}
    exe = os.path.join(os.path.dirname(sys.executable), "promptcore")
    subprocess.run([exe, *args], input=stdin, text=True, env=env, cwd=str(var_dir), check=True,
                   capture_output=True, timeout=60)


def create_admin(var_dir: Path, database_url: str, email: str, password: str = PASSWORD) -> None:
    cli(var_dir, database_url, "users", "create-admin", email, stdin=password + "\n")


def link_path(text: str, path: str) -> str:
    """The path and query of the first link to ``path`` in a mail body."""
    match = re.search(r"https?://[^/\s]+(" + re.escape(path) + r"\?token=[^\s]+)", text)
    assert match, f"no {path} link in: {text}"
    return match.group(1)
