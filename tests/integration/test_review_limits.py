"""Security review, issue 9, Medium findings 2, 3 and 4, each shown by the attack it stops:

- Medium 3: parallel sign-ins for unknown addresses ran one 64 MiB argon2 hash per thread and
  took a server from 282 MiB to 4.9 GiB; hashing is now bounded per process (ServiceBusy, 503).
- Medium 4: behind a reverse proxy every client shared the proxy's per-IP limits;
  PROMPTCORE_TRUSTED_PROXIES now says how many X-Forwarded-For hops to believe.
- Medium 2 (per-IP part): sign-in attempts were counted after the answer, so parallel guesses
  all got through before any was counted; every attempt now counts before the view runs.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from dependency_injector import providers

from adapters.migrations import upgrade
from adapters.security import ARGON2_MEMORY_KIB, Argon2PasswordHasher, default_hash_slots
from adapters.sql.engine import build_engine
from entrypoints.client import client_address
from promptcore.services.mail import deliver_outbox
from tests.conftest import FAST_HASH, TEST_REDIS_URL, build_test_app, make_settings
from tests.integration.live import live_server
from tests.integration.smtp_server import text_body

PW = "correct horse battery"
MIB = 1024 * 1024
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REDIS_URL = TEST_REDIS_URL


def csrf(client, path: str) -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


# -- Medium 3: a busy hasher refuses with 503 + Retry-After on every path that hashes ----------


@pytest.fixture
def busy_site(tmp_path, smtp_server):
    settings = make_settings(tmp_path, PROMPTCORE_SMTP_URL=smtp_server.url)
    app, container = build_test_app(settings)
    hasher = Argon2PasswordHasher(**FAST_HASH, max_concurrent=1, slot_wait=0.05)
    container.hasher.override(providers.Object(hasher))
    container.accounts.reset()
    yield app, container, hasher, smtp_server
    container.engine().dispose()


def assert_busy_api(r, what: str) -> None:
    assert r.status_code == 503, (what, r.status_code, r.get_data(as_text=True))
    assert r.json["error"] == "service_busy", what
    assert int(r.headers["Retry-After"]) >= 1, what


def test_every_path_that_hashes_answers_503_with_retry_after_while_hashing_is_full(busy_site):
    app, container, hasher, smtp = busy_site
    api = app.test_client()
    assert api.post("/api/v1/auth/register", json={"email": "ada@example.com", "password": PW}).status_code == 202
    tokens = api.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": PW}).json
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert api.post("/api/v1/auth/forgot-password", json={"email": "ada@example.com"}).status_code == 202
    container.accounts().process_mail_requests()  # the worker's half of forgot-password
    deliver_outbox(container.uow, container.mailer(), container.clock())
    [reset_mail] = [m for m in smtp.wait_for("ada@example.com", count=2) if "reset-password" in text_body(m)]
    reset_token = re.search(r"/reset-password\?token=(\S+)", text_body(reset_mail)).group(1)

    with hasher.slot():  # every slot taken by other sign-ins
        assert_busy_api(api.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": PW}),
                        "sign-in, unknown address (dummy verify)")
        assert_busy_api(api.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": "wrong pw 1"}),
                        "sign-in, known address")
        assert_busy_api(api.post("/api/v1/auth/register", json={"email": "bob@example.com", "password": PW}),
                        "register")
        assert_busy_api(api.post("/api/v1/auth/reset-password", json={"token": reset_token, "password": PW + "2"}),
                        "reset")
        assert_busy_api(api.post("/api/v1/profile/password", headers=bearer,
                                 json={"current_password": PW, "new_password": PW + "3"}), "password change")
        assert_busy_api(api.post("/api/v1/profile/email", headers=bearer,
                                 json={"new_email": "ada2@example.com", "password": PW}), "e-mail change")
        assert_busy_api(api.delete("/api/v1/profile", headers=bearer, json={"password": PW}), "delete account")

        # The OAuth2 token endpoint answers in RFC 6749's shape, never a 500.
        r = api.post("/api/v1/auth/token", data={"grant_type": "password", "username": "ada@example.com",
                                                 "password": PW})
        assert r.status_code == 503, r.get_data(as_text=True)
        assert r.json["error"] == "temporarily_unavailable" and r.json["error_description"]
        assert int(r.headers["Retry-After"]) >= 1 and r.headers["Cache-Control"] == "no-store"

        # The pages show a clear 503 page with Retry-After.
        page = app.test_client()
        token = csrf(page, "/login")
        r = page.post("/login", data={"csrf_token": token, "email": "nobody@example.com", "password": PW})
        assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1
        text = r.get_data(as_text=True)
        assert "<h1>Busy right now</h1>" in text and "Try again in a few seconds." in text
        r = page.post("/register", data={"csrf_token": token, "email": "carol@example.com", "password": PW})
        assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1

    assert hasher.slots_in_use == 0
    # Nothing changed while busy: the old password still works, the account still exists.
    assert api.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": PW}).status_code == 200
    assert api.post("/api/v1/auth/login", json={"email": "bob@example.com", "password": PW}).status_code == 401


def _tree_rss(master: int) -> int:
    """Resident memory of the master and its children (the gunicorn workers), in bytes."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            pid, ppid = int(entry), int(stat.rsplit(")", 1)[1].split()[1])
            if pid != master and ppid != master:
                continue
            with open(f"/proc/{entry}/statm") as fh:
                total += int(fh.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
    return total


def _master_of(base: str) -> int:
    from tests.integration import live

    return live._MASTERS[base]


def test_parallel_signins_for_unknown_addresses_keep_memory_bounded(postgres_url, tmp_path):
    engine = build_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    workers, threads, attempts = 3, 16, 100
    env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": postgres_url, "PROMPTCORE_VAR_DIR": str(tmp_path)}
    # live_server keeps the production argon2 parameters (64 MiB a hash).
    with live_server(env, workers=workers, threads=threads, cwd=str(tmp_path)) as base:
        master = _master_of(base)
        time.sleep(1.0)
        baseline = _tree_rss(master)
        peak = baseline
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(master))
                time.sleep(0.005)

        barrier = threading.Barrier(attempts)

        def sign_in(i: int) -> int:
            barrier.wait()
            r = requests.post(f"{base}/api/v1/auth/login", json={"email": f"ghost{i}@example.com", "password": PW},
                              headers={"Connection": "close"}, timeout=120)
            return r.status_code

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.monotonic()
        try:
            with ThreadPoolExecutor(attempts) as pool:
                statuses = Counter(pool.map(sign_in, range(attempts)))
        finally:
            done.set()
            sampler.join()
        elapsed = time.monotonic() - started

    slots = default_hash_slots()
    hashing = workers * slots * ARGON2_MEMORY_KIB * 1024
    bound = baseline + hashing + 256 * MIB  # + slack for request buffers and allocator noise
    print(f"\n[medium 3] attempts={attempts} workers={workers} threads={threads} slots/process={slots} "
          f"statuses={dict(sorted(statuses.items()))} baseline={baseline / MIB:.0f} MiB "
          f"peak={peak / MIB:.0f} MiB bound={bound / MIB:.0f} MiB elapsed={elapsed:.1f}s")
    assert set(statuses) <= {401, 429, 503}, statuses
    assert statuses[401] > 0, "some attempts were answered"
    assert sum(statuses.values()) == attempts
    assert peak < bound, f"peak {peak / MIB:.0f} MiB over the bound {bound / MIB:.0f} MiB"


# -- Medium 4: per-IP limits behind a reverse proxy --------------------------------------------


def proxied_app(tmp_path, hops: str):
    settings = make_settings(tmp_path, PROMPTCORE_TRUSTED_PROXIES=hops, PROMPTCORE_AUTH_RATE_LIMIT="3/minute")
    app, container = build_test_app(settings)
    return app, container


def sign_in_from(client, forwarded_for: str | None, proxy: str = "10.0.0.1") -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    r = client.post("/api/v1/auth/login", json={"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": PW},
                    headers=headers, environ_base={"REMOTE_ADDR": proxy})
    return r.status_code


def test_behind_one_trusted_proxy_each_client_has_its_own_limit(tmp_path):
    app, container = proxied_app(tmp_path, "1")
    client = app.test_client()
    alice, bob = "198.51.100.7", "203.0.113.9"
    assert [sign_in_from(client, alice) for _ in range(4)] == [401, 401, 401, 429]
    assert sign_in_from(client, bob) == 401, "another client behind the same proxy is not blocked"
    container.engine().dispose()


def test_a_client_cannot_escape_by_adding_its_own_forwarded_entries(tmp_path):
    app, container = proxied_app(tmp_path, "1")
    client = app.test_client()
    # The proxy appends the address it saw; the client's own entries are to its left.
    codes = [sign_in_from(client, f"192.0.2.{i}, 198.51.100.7") for i in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    container.engine().dispose()


def test_without_trusted_proxies_x_forwarded_for_is_ignored(tmp_path):
    app, container = proxied_app(tmp_path, "0")
    client = app.test_client()
    codes = [sign_in_from(client, f"192.0.2.{i}", proxy="198.51.100.7") for i in range(5)]
    assert codes == [401, 401, 401, 429, 429], "spoofing X-Forwarded-For does not escape the limit"
    container.engine().dispose()


@pytest.mark.parametrize("hops,forwarded,remote,expected", [
    ("0", "192.0.2.1", "198.51.100.7", "198.51.100.7"),
    ("1", "192.0.2.1, 198.51.100.7", "10.0.0.1", "198.51.100.7"),
    ("2", "192.0.2.1, 198.51.100.7, 10.0.0.2", "10.0.0.1", "198.51.100.7"),
    ("2", "198.51.100.7", "10.0.0.1", "10.0.0.1"),  # fewer entries than hops: the socket's address
    ("1", "::ffff:198.51.100.7", "10.0.0.1", "198.51.100.7"),  # one address, one spelling
    ("1", "2001:DB8:0:0::1", "10.0.0.1", "2001:db8::1"),
])
def test_client_address_is_the_socket_or_the_trusted_hop(tmp_path, hops, forwarded, remote, expected):
    app, container = proxied_app(tmp_path, hops)
    seen = {}

    @app.get("/_probe_client_address")
    def _probe():
        seen["address"] = client_address()
        return "ok"

    r = app.test_client().get("/_probe_client_address", headers={"X-Forwarded-For": forwarded},
                              environ_base={"REMOTE_ADDR": remote})
    assert r.status_code == 200 and seen["address"] == expected
    container.engine().dispose()


# -- Medium 2: per-IP sign-in attempts are counted before the view runs ------------------------


def test_parallel_wrong_signins_are_counted_before_they_reach_the_view(postgres_url, tmp_path, redis_db):
    engine = build_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    attempts = 40
    env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": postgres_url, "PROMPTCORE_VAR_DIR": str(tmp_path),
           "PROMPTCORE_RATELIMIT_STORAGE_URL": REDIS_URL, "PROMPTCORE_AUTH_RATE_LIMIT": "10/minute"}
    with live_server(env, workers=3, threads=16, cwd=str(tmp_path)) as base:
        barrier = threading.Barrier(attempts)

        def guess(i: int) -> tuple[int, str]:
            barrier.wait()
            r = requests.post(f"{base}/api/v1/auth/login",
                              json={"email": f"target{i}@example.com", "password": f"guess number {i}"},
                              headers={"Connection": "close"}, timeout=120)
            return r.status_code, r.json().get("error", "")

        with ThreadPoolExecutor(attempts) as pool:
            answers = list(pool.map(guess, range(attempts)))
    limited = sum(1 for status, error in answers if status == 429 and error == "rate_limited")
    reached = attempts - limited
    print(f"\n[medium 2] attempts={attempts} limit=10/minute reached_the_view={reached} "
          f"rate_limited={limited} statuses={dict(sorted(Counter(s for s, _ in answers).items()))}")
    assert {status for status, error in answers if error != "rate_limited"} <= {401, 503}
    assert reached <= 10, f"{reached} parallel guesses reached the view, the limit is 10"
    assert reached >= 1
