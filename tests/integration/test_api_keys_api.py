"""Personal API keys over HTTP (SPEC §15.1), on SQLite and PostgreSQL with the container's clock
faked: make a key (shown once), list and revoke keys, use a key wherever an access token works
within its scopes — and the abuse cases, each with the documented 4xx and nothing changed: too few
scopes, a revoked key, an expired key, a key against the account, key, billing and team endpoints,
forged ``pc_`` strings, the 21st key, 50 creations at once, a stranger's id, bad input, and
``last_used_at`` not written twice within a minute."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from dependency_injector import providers
from sqlalchemy import func, select

from adapters.sql import tables as t
from adapters.sql.repositories.api_keys import SqlApiKeyRepository
from tests.conftest import build_test_app, make_settings
from tests.fakes import FakeClock
from tests.integration.team_support import API, PW, T0, create_team, login, signup

READ_WRITE = ["prompts:read", "prompts:write"]
INVALID = "The API key is invalid, expired or revoked."


@pytest.fixture
def api(tmp_path, database_url):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url))
    clock = FakeClock(T0)
    container.clock.override(providers.Object(clock))
    container.reset_singletons()  # nothing built before the override keeps the system clock
    yield app.test_client(), container, clock
    container.engine().dispose()


@pytest.fixture
def ann(api):
    client, container, _clock = api
    return signup(client, container, "ann@example.com")


def make_key(client, auth, scopes=READ_WRITE, name="ci", **extra) -> dict:
    r = client.post(f"{API}/api-keys", json={"name": name, "scopes": scopes, **extra}, headers=auth)
    assert r.status_code == 201, r.json
    return r.json


def bearer(key: dict | str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['key'] if isinstance(key, dict) else key}"}


def rows(container, table) -> int:
    with container.engine().connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def key_rows(container) -> list[dict]:
    with container.engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t.api_keys).order_by(t.api_keys.c.id))]


def state(container) -> tuple:
    """Everything a refused request could have changed."""
    with container.engine().connect() as conn:
        users = conn.execute(select(t.users.c.id, t.users.c.email, t.users.c.name, t.users.c.password_hash,
                                    t.users.c.settings, t.users.c.session_generation).order_by(t.users.c.id)).all()
    # a key's last use is written even when its request is then refused (it was presented and valid)
    keys = [{k: v for k, v in row.items() if k != "last_used_at"} for row in key_rows(container)]
    return (users, keys, rows(container, t.prompt_requests), rows(container, t.templates),
            rows(container, t.custom_styles), rows(container, t.teams), rows(container, t.payments),
            rows(container, t.refresh_tokens))


def assert_refused(r, status: int, slug: str) -> None:
    assert r.status_code == status and r.json["error"] == slug, (r.status_code, r.json)
    if status == 401:
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


# -- making, listing, revoking ------------------------------------------------------------------------

def test_a_key_is_shown_once_stored_as_a_hash_and_works_within_its_scopes(api, ann):
    client, container, clock = api
    made = make_key(client, ann, name="  Build   server ", expires_at="2031-06-01T12:00:00+03:00")
    secret = made["key"]
    assert secret.startswith("pc_") and len(secret) == 46
    assert made["prefix"] == secret[:11] and made["name"] == "Build server" and made["status"] == "active"
    assert made["scopes"] == READ_WRITE and made["expires_at"] == "2031-06-01T09:00:00+00:00"
    assert made["last_used_at"] is None and made["created_at"] == T0.isoformat()
    (stored,) = key_rows(container)
    assert secret not in str(stored) and stored["prefix"] == secret[:11] and len(stored["key_hash"]) == 64

    # listed without the key or its hash
    r = client.get(f"{API}/api-keys", headers=ann)
    assert r.status_code == 200 and [k["id"] for k in r.json] == [made["id"]]
    assert "key" not in r.json[0] and secret not in r.get_data(as_text=True)
    assert stored["key_hash"] not in r.get_data(as_text=True)

    # used where an access token works, as the same user
    clock.advance(seconds=5)
    r = client.post(f"{API}/prompts", json={"prompt": "write a post about our coffee", "style": "general"},
                    headers=bearer(secret))
    assert r.status_code == 201, r.json
    record = r.json["id"]
    assert client.get(f"{API}/prompts/{record}", headers=ann).status_code == 200
    assert client.get(f"{API}/prompts/{record}", headers=bearer(secret)).json["id"] == record
    assert client.get(f"{API}/stats", headers=bearer(secret)).json["total"] == 1
    assert client.get(f"{API}/api-keys", headers=ann).json[0]["last_used_at"] == (T0 + timedelta(seconds=5)).isoformat()


def test_the_create_answer_is_not_stored_by_caches(api, ann):
    client, _container, _clock = api
    r = client.post(f"{API}/api-keys", json={"name": "ci", "scopes": READ_WRITE}, headers=ann)
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store"


def test_revoking_stops_the_key_at_once_and_a_strangers_id_is_404(api, ann):
    client, container, _clock = api
    bob = signup(client, container, "bob@example.com")
    mine, bobs = make_key(client, ann), make_key(client, bob)
    before = state(container)
    for who, key_id in ((bob, mine["id"]), (ann, bobs["id"]), (ann, 987654)):
        r = client.delete(f"{API}/api-keys/{key_id}", headers=who)
        assert_refused(r, 404, "not_found")
    assert client.get(f"{API}/api-keys", headers=bob).json[0]["id"] == bobs["id"]
    assert state(container) == before
    assert client.get(f"{API}/prompts", headers=bearer(mine)).status_code == 200

    assert client.delete(f"{API}/api-keys/{mine['id']}", headers=ann).status_code == 204
    r = client.get(f"{API}/prompts", headers=bearer(mine))
    assert_refused(r, 401, "unauthorized")
    assert r.json["message"] == INVALID
    assert client.get(f"{API}/api-keys", headers=ann).json == []
    assert_refused(client.delete(f"{API}/api-keys/{mine['id']}", headers=ann), 404, "not_found")
    assert client.get(f"{API}/prompts", headers=bearer(bobs)).status_code == 200


def test_an_expired_key_is_401_and_stays_listed_as_expired(api, ann):
    client, _container, clock = api
    key = make_key(client, ann, expires_at=(T0 + timedelta(hours=1)).isoformat())
    clock.advance(minutes=59, seconds=59)
    assert client.get(f"{API}/prompts", headers=bearer(key)).status_code == 200
    clock.advance(seconds=1)
    r = client.get(f"{API}/prompts", headers=bearer(key))
    assert_refused(r, 401, "unauthorized")
    assert r.json["message"] == INVALID
    (listed,) = client.get(f"{API}/api-keys", headers=login(client, "ann@example.com")).json  # a fresh token
    assert listed["status"] == "expired"


def test_a_deactivated_account_stops_its_keys(api, ann):
    client, container, _clock = api
    key = make_key(client, ann)
    container.accounts().create_admin("root@example.com", PW)
    root = {"Authorization": "Bearer " + client.post(f"{API}/auth/login", json={
        "email": "root@example.com", "password": PW}).json["access_token"]}
    ann_id = client.get(f"{API}/profile", headers=ann).json["id"]
    assert client.patch(f"{API}/admin/users/{ann_id}", json={"is_active": False}, headers=root).status_code == 200
    assert_refused(client.get(f"{API}/prompts", headers=bearer(key)), 401, "unauthorized")


# -- abuse ----------------------------------------------------------------------------------------------

def test_too_few_scopes_are_403_and_nothing_is_made(api, ann):
    client, container, _clock = api
    reader = make_key(client, ann, ["prompts:read"])
    templates_reader = make_key(client, ann, ["templates:read"], name="tr")
    template = client.post(f"{API}/templates", json={"title": "T", "body": "Hi {{name}}"}, headers=ann).json
    before = state(container)
    cases = [
        (reader, "POST", f"{API}/prompts", {"prompt": "write a poem", "style": "general"}, "prompts:write"),
        (reader, "GET", f"{API}/templates", None, "templates:read"),
        (templates_reader, "GET", f"{API}/prompts", None, "prompts:read"),
        (templates_reader, "POST", f"{API}/templates", {"title": "New", "body": "x"}, "templates:write"),
        (templates_reader, "POST", f"{API}/custom-styles", {"title": "S", "instructions": "Be brief."},
         "templates:write"),
        # improving a template is a generation: templates:read is not enough
        (templates_reader, "POST", f"{API}/templates/{template['id']}/improve", {"style": "general"},
         "prompts:write"),
        (reader, "DELETE", f"{API}/templates/{template['id']}", None, "templates:write"),
    ]
    for key, method, path, body, missing in cases:
        r = client.open(path, method=method, json=body, headers=bearer(key))
        assert_refused(r, 403, "insufficient_scope")
        assert r.json["message"] == f"This API key lacks the {missing} scope.", (path, r.json)
    assert state(container) == before
    # and with the scope the same requests go through
    writer = make_key(client, ann, ["prompts:write", "templates:read"], name="w")
    assert client.post(f"{API}/templates/{template['id']}/improve", json={"style": "general"},
                       headers=bearer(writer)).status_code == 200


def test_keys_never_reach_account_key_billing_or_team_endpoints(api, ann):
    client, container, _clock = api
    everything = make_key(client, ann, ["prompts:read", "prompts:write", "templates:read", "templates:write"])
    team = create_team(client, ann)
    before = state(container)
    cases = [
        ("GET", "/profile", None), ("PATCH", "/profile", {"name": "Mallory"}), ("DELETE", "/profile", {"password": PW}),
        ("POST", "/profile/password", {"current_password": PW, "new_password": "another long password"}),
        ("POST", "/profile/email", {"new_email": "mallory@example.com", "password": PW}),
        ("GET", "/api-keys", None), ("POST", "/api-keys", {"name": "more", "scopes": READ_WRITE}),
        ("DELETE", f"/api-keys/{everything['id']}", None),
        ("GET", "/billing", None), ("POST", "/billing/checkout", {"plan": "pro"}), ("POST", "/billing/cancel", None),
        ("GET", "/billing/payments", None), ("PUT", "/billing/renewal", {"enabled": False}),
        ("GET", "/teams", None), ("POST", "/teams", {"name": "Evil"}), ("PATCH", f"/teams/{team['id']}", {"name": "X"}),
        ("DELETE", f"/teams/{team['id']}", None), ("GET", f"/teams/{team['id']}/members", None),
        ("POST", f"/teams/{team['id']}/invitations", {"email": "mallory@example.com"}),
        ("POST", "/invitations/accept", {"token": "x" * 43}),
        ("GET", "/admin/users", None), ("POST", "/auth/logout", {"refresh_token": "x"}),
        ("POST", "/auth/login", {"email": "ann@example.com", "password": PW}),
    ]
    for method, path, body in cases:
        r = client.open(f"{API}{path}", method=method, json=body, headers=bearer(everything))
        assert_refused(r, 403, "insufficient_scope")
    assert state(container) == before
    # the same key, as a bad body would not change that: refused before the body is read
    r = client.post(f"{API}/api-keys", data="not json", headers=bearer(everything))
    assert_refused(r, 403, "insufficient_scope")


@pytest.mark.parametrize("raw", [
    "pc_", "pc_short", "pc_" + "A" * 42, "pc_" + "A" * 44, "pc_" + "A" * 43,  # wrong length; unknown
    "pc_" + "A" * 42 + "!", "pc_" + "Ж" * 43, "pc_" + "A" * 10_000,
])
def test_forged_keys_are_401_everywhere_and_change_nothing(api, ann, raw):
    client, container, _clock = api
    real = make_key(client, ann)
    forged_like_real = real["key"][:-1] + ("A" if real["key"][-1] != "A" else "B")
    before = state(container)
    for token in (raw, forged_like_real):
        for method, path, body in (("GET", "/prompts", None),
                                   ("POST", "/prompts", {"prompt": "x", "style": "general"}),
                                   ("GET", "/profile", None),
                                   ("POST", "/api-keys", {"name": "n", "scopes": READ_WRITE})):
            r = client.open(f"{API}{path}", method=method, json=body, headers=bearer(token))
            assert_refused(r, 401, "unauthorized")
            assert r.json["message"] == INVALID
    assert state(container) == before


def test_the_21st_active_key_is_refused_with_409(api, ann):
    client, container, _clock = api
    for n in range(20):
        make_key(client, ann, name=f"key {n}")
    before = state(container)
    r = client.post(f"{API}/api-keys", json={"name": "one more", "scopes": READ_WRITE}, headers=ann)
    assert_refused(r, 409, "limit_reached")
    assert r.json["message"] == "You can have at most 20 active API keys; revoke one first."
    assert state(container) == before
    first = client.get(f"{API}/api-keys", headers=ann).json[-1]["id"]
    assert client.delete(f"{API}/api-keys/{first}", headers=ann).status_code == 204
    make_key(client, ann, name="after a revocation")


def test_fifty_parallel_creations_make_at_most_twenty_keys(api, ann):
    client, container, _clock = api
    start = threading.Barrier(50)

    def create(n: int) -> int:
        start.wait(timeout=30)
        return client.post(f"{API}/api-keys", json={"name": f"k{n}", "scopes": READ_WRITE}, headers=ann).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = Counter(pool.map(create, range(50)))
    assert codes == Counter({201: 20, 409: 30})
    assert len(key_rows(container)) == 20 == len(client.get(f"{API}/api-keys", headers=ann).json)


@pytest.mark.parametrize("body, field", [
    ({"scopes": READ_WRITE}, "name"),
    ({"name": "", "scopes": READ_WRITE}, "name"),
    ({"name": "   ", "scopes": READ_WRITE}, "name"),
    ({"name": "x" * 101, "scopes": READ_WRITE}, "name"),
    ({"name": "ci"}, "scopes"),
    ({"name": "ci", "scopes": []}, "scopes"),
    ({"name": "ci", "scopes": ["admin"]}, "scopes.0"),
    ({"name": "ci", "scopes": "prompts:read"}, "scopes"),
    ({"name": "ci", "scopes": READ_WRITE, "expires_at": "2031-03-04T09:29:59Z"}, "expires_at"),
    ({"name": "ci", "scopes": READ_WRITE, "expires_at": "2032-03-05T09:30:00Z"}, "expires_at"),
    ({"name": "ci", "scopes": READ_WRITE, "expires_at": "tomorrow"}, "expires_at"),
    ({"name": "ci", "scopes": READ_WRITE, "user_id": 1}, "user_id"),
])
def test_bad_input_is_422_naming_the_field_and_makes_nothing(api, ann, body, field):
    client, container, _clock = api
    before = state(container)
    r = client.post(f"{API}/api-keys", json=body, headers=ann)
    assert_refused(r, 422, "validation_error")
    assert field in r.json["errors"], r.json
    assert state(container) == before


def test_an_unconfirmed_address_cannot_make_keys(api):
    client, container, _clock = api
    unconfirmed = signup(client, container, "new@example.com", confirm=False)
    r = client.post(f"{API}/api-keys", json={"name": "ci", "scopes": READ_WRITE}, headers=unconfirmed)
    assert_refused(r, 403, "email_not_confirmed")
    assert key_rows(container) == []


def test_last_used_is_written_at_most_once_a_minute(api, ann, monkeypatch):
    client, container, clock = api
    key = make_key(client, ann)
    writes = []
    touch = SqlApiKeyRepository.touch

    def counted(self, *args):
        wrote = touch(self, *args)
        writes.append(wrote)
        return wrote

    monkeypatch.setattr(SqlApiKeyRepository, "touch", counted)
    for _ in range(10):
        assert client.get(f"{API}/prompts", headers=bearer(key)).status_code == 200
    clock.advance(seconds=59)
    for _ in range(10):
        assert client.get(f"{API}/prompts", headers=bearer(key)).status_code == 200
    assert writes == [True]  # one write; the other 19 requests did not even try
    assert client.get(f"{API}/api-keys", headers=ann).json[0]["last_used_at"] == T0.isoformat()
    clock.advance(seconds=1)
    assert client.get(f"{API}/prompts", headers=bearer(key)).status_code == 200
    assert writes == [True, True]
    assert client.get(f"{API}/api-keys", headers=ann).json[0]["last_used_at"] == (
        T0 + timedelta(minutes=1)).isoformat()


def test_access_tokens_and_public_reads_are_unchanged(api, ann):
    client, _container, _clock = api
    assert client.get(f"{API}/prompts", headers=ann).status_code == 200
    assert client.get(f"{API}/profile", headers=ann).status_code == 200
    assert client.get(f"{API}/styles", headers=bearer("pc_" + "A" * 43)).status_code == 200
    r = client.get(f"{API}/prompts")
    assert_refused(r, 401, "unauthorized")
    assert client.get(f"{API}/no-such-thing", headers=bearer("pc_" + "A" * 43)).status_code == 404
