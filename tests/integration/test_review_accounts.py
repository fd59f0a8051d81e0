"""Issue 9's account and session findings, reproduced against the real stack: SQLite and a fresh
PostgreSQL database, a multi-process server for the concurrency ones."""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

import pytest
import requests
from sqlalchemy import event, insert, select, text

from adapters.migrations import upgrade
from adapters.sql import tables as t
from adapters.sql.engine import build_engine
from promptcore.domain.access import Actor
from tests.conftest import age_outbox, build_test_app, make_settings
from tests.integration.live import live_server

PW = "correct horse battery"


@pytest.fixture
def stack(tmp_path, database_url):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url))
    yield app, container
    container.engine().dispose()


def outbox(container, kind=None, to=None):
    with container.uow() as uow:
        found = [m for m, _c, _s in uow.outbox.recent(500)]
    return [m for m in found if (kind is None or m.kind == kind) and (to is None or m.to == to)]


def token_in(message, path):
    match = re.search(re.escape(path) + r"\?token=(\S+)", message.text)
    assert match, message.text
    return unquote(match.group(1))


def confirmed(client, container, email, name=None):
    body = {"email": email, "password": PW} | ({"name": name} if name else {})
    assert client.post("/api/v1/auth/register", json=body).status_code == 202
    token = token_in(outbox(container, "confirm_email", email)[-1], "/confirm-email")
    assert client.post("/api/v1/auth/confirm-email", json={"token": token}).status_code == 200
    return login(client, email)


def login(client, email, password=PW):
    r = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.json
    return r.json


def bearer(pair):
    return {"Authorization": f"Bearer {pair['access_token']}"}


def mail_requested_link(client, container, email, path="/reset-password"):
    age_outbox(container, minutes=3)  # past the recipient's cooldown
    assert client.post("/api/v1/auth/forgot-password", json={"email": email}).status_code == 202
    container.accounts().process_mail_requests()
    return token_in(outbox(container, "reset_password", email)[0], path)


def change_link(client, container, pair, new_email, password=PW):
    r = client.post("/api/v1/profile/email", json={"new_email": new_email, "password": password},
                    headers=bearer(pair))
    assert r.status_code == 202
    return token_in(outbox(container, "change_email", new_email)[0], "/confirm-email-change")


# -- Medium 1: reset and resend do the same work for known and unknown addresses ----------


def test_reset_and_resend_run_the_same_statements_for_known_and_unknown_addresses(stack):
    app, container = stack
    client = app.test_client()
    confirmed(client, container, "known@example.com")
    client.post("/api/v1/auth/register", json={"email": "pending@example.com", "password": PW})
    statements: list[str] = []

    def capture(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(container.engine(), "before_cursor_execute", capture)
    try:
        def work(path, email):
            statements.clear()
            assert client.post(path, json={"email": email}).status_code == 202
            return list(statements)

        for path, known in (("/api/v1/auth/forgot-password", "known@example.com"),
                            ("/api/v1/auth/resend-confirmation", "pending@example.com")):
            assert work(path, known) == work(path, "nobody@example.com")
            assert not any("users" in s for s in work(path, known)), "the request path never looks the account up"
    finally:
        event.remove(container.engine(), "before_cursor_execute", capture)

    # Timing, reported for the record (same statements, so only noise separates them).
    def median_ms(email):
        samples = []
        for _ in range(40):
            started = time.perf_counter()
            client.post("/api/v1/auth/forgot-password", json={"email": email})
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)

    print(f"\nforgot-password median: known {median_ms('known@example.com'):.2f} ms, "
          f"unknown {median_ms('nobody@example.com'):.2f} ms")


# -- Medium 2: sign-in throttling holds under concurrency ---------------------------------


def test_a_burst_of_wrong_passwords_gets_exactly_ten_checked_across_processes(postgres_url, tmp_path):
    engine = build_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": postgres_url, "PROMPTCORE_VAR_DIR": str(tmp_path)}
    with live_server(env, workers=3, threads=16, cwd=str(tmp_path)) as base:
        for email in ("ada@example.com", "bob@example.com"):
            assert requests.post(f"{base}/api/v1/auth/register", json={"email": email, "password": PW},
                                 timeout=10).status_code == 202

        def attempt(args):
            email, password = args
            with requests.Session() as s:  # a connection each, spread over the processes
                return s.post(f"{base}/api/v1/auth/login", json={"email": email, "password": password},
                              headers={"Connection": "close"}, timeout=60).status_code

        # An attempt that got past the throttle is counted before the password is checked: it
        # answers 401, or 503 when every hashing slot stayed busy (a loaded machine) — counted either way.
        def checked(codes):
            return codes[401] + codes[503]

        with ThreadPoolExecutor(max_workers=60) as pool:
            codes = Counter(pool.map(attempt, [("ada@example.com", f"wrong guess {i}") for i in range(60)]))
        print(f"\n60 parallel wrong passwords: {dict(codes)}")
        assert checked(codes) == 10 and codes[429] == 50 and sum(codes.values()) == 60
        assert attempt(("ada@example.com", PW)) == 429

        with ThreadPoolExecutor(max_workers=39) as pool:
            codes = Counter(pool.map(attempt, [("bob@example.com", f"wrong guess {i}") for i in range(39)]))
        right = attempt(("bob@example.com", PW))
        print(f"39 parallel wrong passwords then the right one: {dict(codes)}, then {right}")
        assert checked(codes) == 10 and codes[429] == 29 and sum(codes.values()) == 39 and right == 429


# -- Medium 5 and Low 2: mailed links bound to the account's security stamp ---------------


def test_an_address_change_link_dies_with_a_password_reset(stack):
    app, container = stack
    client = app.test_client()
    pair = confirmed(client, container, "victim@example.com")
    # The attacker, who once knew the password, asks to move the account to their address ...
    link = change_link(client, container, pair, "attacker@example.com")
    # ... the victim resets the password ...
    reset = mail_requested_link(client, container, "victim@example.com")
    assert client.post("/api/v1/auth/reset-password", json={"token": reset, "password": "the owner's own"}
                       ).status_code == 204
    # ... and the attacker's link no longer moves the account.
    r = client.post("/api/v1/auth/confirm-email-change", json={"token": link})
    assert r.status_code == 400 and r.json["error"] == "invalid_token"
    assert login(client, "victim@example.com", "the owner's own")


def test_a_used_change_link_fails_after_the_address_moves_back(stack):
    app, container = stack
    client = app.test_client()
    pair = confirmed(client, container, "ada@example.com")
    away = change_link(client, container, pair, "away@example.com")
    assert client.post("/api/v1/auth/confirm-email-change", json={"token": away}).status_code == 200
    assert client.post("/api/v1/auth/confirm-email-change", json={"token": away}).json["error"] == "invalid_token"
    age_outbox(container, minutes=3)
    back = change_link(client, container, pair, "ada@example.com")
    assert client.post("/api/v1/auth/confirm-email-change", json={"token": back}).status_code == 200
    r = client.post("/api/v1/auth/confirm-email-change", json={"token": away})
    assert r.status_code == 400 and r.json["error"] == "invalid_token"
    assert client.get("/api/v1/profile", headers=bearer(pair)).json["email"] == "ada@example.com"


def test_a_reset_link_dies_when_the_address_changes(stack):
    app, container = stack
    client = app.test_client()
    pair = confirmed(client, container, "ada@example.com")
    reset = mail_requested_link(client, container, "ada@example.com")
    link = change_link(client, container, pair, "moved@example.com")
    assert client.post("/api/v1/auth/confirm-email-change", json={"token": link}).status_code == 200
    r = client.post("/api/v1/auth/reset-password", json={"token": reset, "password": "a brand new one"})
    assert r.status_code == 400 and r.json["error"] == "invalid_token"


# -- Medium 7: ids are never reused, and a token is for the account it was issued to ------


def test_a_deleted_accounts_token_does_not_open_the_next_account(stack):
    app, container = stack
    client = app.test_client()
    old = confirmed(client, container, "gone@example.com")
    old_id = client.get("/api/v1/profile", headers=bearer(old)).json["id"]
    assert client.delete("/api/v1/profile", json={"password": PW}, headers=bearer(old)).status_code == 204
    new = confirmed(client, container, "next@example.com")
    assert client.get("/api/v1/profile", headers=bearer(new)).json["id"] != old_id
    r = client.get("/api/v1/profile", headers=bearer(old))
    assert r.status_code == 401


def test_the_sqlite_migration_keeps_every_row_and_stops_reusing_ids(tmp_path):
    from datetime import datetime, timezone

    engine = build_engine(f"sqlite:///{tmp_path}/old.db")
    upgrade(engine, "0003_styles_and_usage")
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:  # the columns of revision 0003, before this issue's
        for uid in (1, 2):
            conn.execute(text(
                "INSERT INTO users (id, email, password_hash, is_email_confirmed, role, is_active, daily_limit,"
                " settings, created_at, updated_at) VALUES (:id, :email, 'x', 1, 'user', 1, 3, '{}', :now, :now)"),
                {"id": uid, "email": f"u{uid}@example.com", "now": now.replace(tzinfo=None)})
            conn.execute(text(
                "INSERT INTO prompt_requests (user_id, original_prompt, style, status, created_at)"
                " VALUES (:id, 'hello', 'general', 'succeeded', :now)"), {"id": uid, "now": now.replace(tzinfo=None)})
    upgrade(engine)
    with engine.begin() as conn:
        assert conn.execute(select(t.users.c.id, t.users.c.session_generation)).all() == [(1, 0), (2, 0)]
        assert len(conn.execute(select(t.prompt_requests.c.id)).all()) == 2  # nothing cascaded away
        conn.execute(t.users.delete().where(t.users.c.id == 2))
        new_id = conn.execute(insert(t.users).values(
            email="u3@example.com", password_hash="x", is_email_confirmed=True, role="user", is_active=True,
            daily_limit=3, settings={}, created_at=now, updated_at=now, session_generation=0)).inserted_primary_key[0]
    assert new_id == 3
    engine.dispose()


# -- Medium 8 and Low 1: sessions and access tokens end on the server's word --------------


def page_client(app, container, email):
    client = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    r = client.post("/login", data={"csrf_token": token, "email": email, "password": PW})
    assert r.status_code == 303
    return client


def session_cookie(client):
    return client.get_cookie("promptcore_session")


def test_a_saved_session_cookie_dies_at_sign_out(stack):
    app, container = stack
    confirmed(app.test_client(), container, "ada@example.com")
    client = page_client(app, container, "ada@example.com")
    cookie = session_cookie(client)
    assert cookie.max_age is None or cookie.max_age <= 14 * 86400
    assert cookie.expires is not None and (cookie.expires - __import__("datetime").datetime.now(
        __import__("datetime").timezone.utc)).days <= 14
    assert client.get("/account").status_code == 200
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/account").get_data(as_text=True)).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303

    thief = app.test_client()
    thief.set_cookie("promptcore_session", cookie.value)
    r = thief.get("/account")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_a_saved_cookie_and_token_stay_dead_after_deactivation_and_reactivation(stack):
    app, container = stack
    pair = confirmed(app.test_client(), container, "ada@example.com")
    client = page_client(app, container, "ada@example.com")
    cookie = session_cookie(client).value
    user = container.accounts().get_profile(Actor(client.get("/api/v1/profile", headers=bearer(pair)).json["id"]))
    admin = container.accounts().create_admin("boss@example.com", PW)
    container.admin().update_user(Actor.of(admin), user.id, {"is_active": False})
    container.admin().update_user(Actor.of(admin), user.id, {"is_active": True})
    replay = app.test_client()
    replay.set_cookie("promptcore_session", cookie)
    assert replay.get("/account").status_code == 302
    assert app.test_client().get("/api/v1/profile", headers=bearer(pair)).status_code == 401


def test_a_session_ends_after_its_absolute_lifetime(stack):
    app, container = stack
    confirmed(app.test_client(), container, "ada@example.com")
    client = page_client(app, container, "ada@example.com")
    with client.session_transaction() as session:
        session["at"] -= 14 * 86400 + 1
    r = client.get("/account")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_access_tokens_end_at_logout_password_change_and_reset(stack):
    app, container = stack
    client = app.test_client()
    pair = confirmed(client, container, "ada@example.com")
    assert client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}).status_code == 204
    assert client.get("/api/v1/profile", headers=bearer(pair)).status_code == 401

    pair = login(client, "ada@example.com")
    r = client.post("/api/v1/profile/password", json={"current_password": PW, "new_password": "a second one"},
                    headers=bearer(pair))
    assert r.status_code == 204
    assert client.get("/api/v1/profile", headers=bearer(pair)).status_code == 401

    pair = login(client, "ada@example.com", "a second one")
    reset = mail_requested_link(client, container, "ada@example.com")
    assert client.post("/api/v1/auth/reset-password", json={"token": reset, "password": "a third one"}
                       ).status_code == 204
    assert client.get("/api/v1/profile", headers=bearer(pair)).status_code == 401
    assert client.get("/api/v1/profile", headers=bearer(login(client, "ada@example.com", "a third one"))
                      ).status_code == 200


# -- Low 6: no stranger's words in mail, and no floods of it ------------------------------


def test_mail_to_an_unconfirmed_address_carries_no_registrant_name_and_bursts_send_one(stack):
    app, container = stack
    client = app.test_client()
    phishing = "Your account is locked, call +1 555 0100"
    assert client.post("/api/v1/auth/register", json={"email": "victim@example.com", "password": PW,
                                                     "name": phishing}).status_code == 202
    for _ in range(100):
        assert client.post("/api/v1/auth/forgot-password", json={"email": "victim@example.com"}).status_code == 202
        assert client.post("/api/v1/auth/resend-confirmation", json={"email": "victim@example.com"}
                           ).status_code == 202
    while container.accounts().process_mail_requests(batch=100):
        pass
    sent = outbox(container, to="victim@example.com")
    assert sorted(m.kind for m in sent) == ["confirm_email", "reset_password"]
    assert not any(phishing in m.text or phishing in m.html for m in sent)
