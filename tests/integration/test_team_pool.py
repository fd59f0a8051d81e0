"""The team pool over HTTP (SPEC §12, §14), on SQLite and PostgreSQL with the offline improver:
``team_id`` on POST /prompts (plain and streamed), /generate-prompt and /templates/{id}/improve
draws from the team plan's pooled limit; GET /teams/{id}/usage shows each member's draw; 402
without a team plan, 429 with Retry-After at a member's cap or an empty pool, and 404 for anyone
who is not (or no longer) a member — nothing spent in every refused case."""

from __future__ import annotations

import json

import pytest
from dependency_injector import providers

from tests.conftest import build_test_app, make_settings
from tests.fakes import FakeClock
from tests.integration.team_support import API, T0, create_team, join, login, signup, user_id

POOL = 5  # the team plan's daily limit here


@pytest.fixture
def api(tmp_path, database_url):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url))
    clock = FakeClock(T0)
    container.clock.override(providers.Object(clock))
    container.reset_singletons()
    yield app.test_client(), container, clock
    container.engine().dispose()


@pytest.fixture
def team(api):
    """Ann owns "Desk" with Bob (admin) and Cid (member); Dan is a confirmed outsider. The team plan's
    limit is POOL; the team has no plan until a test grants one."""
    client, container, _clock = api
    people = {name: signup(client, container, f"{name}@example.com") for name in ("ann", "bob", "cid", "dan")}
    tid = create_team(client, people["ann"], "Desk")["id"]
    join(client, container, people["ann"], tid, "bob@example.com", people["bob"], "admin")
    join(client, container, people["ann"], tid, "cid@example.com", people["cid"], "member")
    container.billing().set_plan("team", daily_limit=POOL)
    return tid, people


def grant(container, tid: int) -> None:
    container.billing().grant(None, "team", team_id=tid)


def advance(client, clock, people, **delta) -> None:
    """Move the clock on; the access tokens expire, so everyone signs in again."""
    clock.advance(**delta)
    for name in people:
        people[name] = login(client, f"{name}@example.com")


def generate(client, auth, team_id=None, path="/prompts"):
    body = {"prompt": "write a post about our new coffee machine", "style": "general"}
    if team_id is not None:
        body["team_id"] = team_id
    return client.post(f"{API}{path}", json=body, headers=auth)


def usage(client, auth, tid: int) -> dict:
    r = client.get(f"{API}/teams/{tid}/usage", headers=auth)
    assert r.status_code == 200, r.json
    return r.json


def drawn(client, auth, tid: int) -> dict[str, int]:
    return {m["email"].split("@")[0]: m["used"] for m in usage(client, auth, tid)["members"]}


def personal_used(client, auth) -> int:
    return client.get(f"{API}/stats", headers=auth).json["quota"]["used"]


def units(container) -> list[tuple[int, int | None, str]]:
    from sqlalchemy import select

    from adapters.sql import tables as t

    qu = t.quota_units
    with container.engine().connect() as conn:
        return [tuple(row) for row in conn.execute(select(qu.c.user_id, qu.c.team_id, qu.c.status).order_by(qu.c.id))]


def read_events(data: bytes) -> list[tuple[str, dict]]:
    events = []
    for block in data.decode().split("\n\n"):
        if block.strip():
            lines = dict(line.split(": ", 1) for line in block.splitlines())
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_members_generate_for_the_team_and_the_usage_shows_who_drew_what(api, team):
    client, container, _clock = api
    tid, people = team
    grant(container, tid)
    before = usage(client, people["cid"], tid)
    assert before["quota"] == {"used": 0, "limit": POOL, "remaining": POOL, "resets_at": None, "window": "rolling"}
    assert [(m["email"], m["role"], m["daily_cap"], m["used"]) for m in before["members"]] == [
        ("ann@example.com", "owner", None, 0), ("bob@example.com", "admin", None, 0),
        ("cid@example.com", "member", None, 0)]
    assert set(before["members"][0]) == {"user_id", "email", "name", "role", "daily_cap", "used"}
    assert before["members"][0]["user_id"] == user_id(client, people["ann"])

    r = generate(client, people["bob"], tid)
    assert r.status_code == 201, r.json
    assert r.json["status"] == "succeeded" and r.json["generated_prompt"]
    assert r.json["quota"]["limit"] == POOL and r.json["quota"]["used"] == 1, "the answer shows the pool"
    assert generate(client, people["bob"], tid, path="/generate-prompt").status_code == 201
    assert generate(client, people["cid"], tid).status_code == 201
    assert generate(client, people["cid"], None).status_code == 201  # personal: not the pool's

    now = usage(client, people["ann"], tid)
    assert (now["quota"]["used"], now["quota"]["remaining"]) == (3, POOL - 3)
    assert now["quota"]["resets_at"].startswith("2031-03-05T09:30")  # 24 hours after the first unit
    assert drawn(client, people["ann"], tid) == {"ann": 0, "bob": 2, "cid": 1}
    assert (personal_used(client, people["bob"]), personal_used(client, people["cid"])) == (0, 1)
    # the records are the member's own history, as any generation
    history = client.get(f"{API}/prompts", headers=people["bob"]).json["items"]
    assert len(history) == 2
    assert client.get(f"{API}/prompts", headers=people["ann"]).json["items"] == []


def test_a_template_improvement_can_draw_from_the_pool(api, team):
    client, container, _clock = api
    tid, people = team
    grant(container, tid)
    r = client.post(f"{API}/templates", json={"title": "Post", "body": "Write a post about {{topic}}."},
                    headers=people["cid"])
    assert r.status_code == 201, r.json
    template = r.json["id"]
    r = client.post(f"{API}/templates/{template}/improve", json={"style": "general", "team_id": tid},
                    headers=people["cid"])
    assert r.status_code == 200, r.json
    assert r.json["quota"]["limit"] == POOL and r.json["quota"]["used"] == 1
    assert drawn(client, people["ann"], tid)["cid"] == 1 and personal_used(client, people["cid"]) == 0
    r = client.post(f"{API}/templates/{template}/improve", json={"style": "general", "team_id": tid},
                    headers=people["dan"])
    assert r.status_code == 404  # neither the template nor the team is Dan's
    r = client.post(f"{API}/templates/{template}/improve", json={"style": "general", "team_id": str(tid)},
                    headers=people["cid"])
    assert r.status_code == 422 and "team_id" in r.json["errors"]


def test_without_a_team_plan_it_is_402_and_nothing_is_spent(api, team):
    client, container, clock = api
    tid, people = team
    for path in ("/prompts", "/generate-prompt"):
        r = generate(client, people["bob"], tid, path=path)
        assert r.status_code == 402, r.json
        assert r.json["error"] == "team_plan_required" and r.json["code"] == 402
        assert "Retry-After" not in r.headers
    r = client.post(f"{API}/prompts", json={"prompt": "x", "style": "general", "team_id": tid},
                    headers={**people["bob"], "Accept": "text/event-stream"})
    assert r.status_code == 402 and r.json["error"] == "team_plan_required", "refused before any byte streams"
    assert units(container) == []
    assert client.get(f"{API}/prompts", headers=people["bob"]).json["items"] == []
    assert usage(client, people["bob"], tid)["quota"]["limit"] == 0

    container.billing().grant(None, "team", 1, team_id=tid)
    assert generate(client, people["bob"], tid).status_code == 201
    advance(client, clock, people, days=1, seconds=1)  # the granted day is over
    assert generate(client, people["bob"], tid).status_code == 402


def test_a_member_cap_and_an_empty_pool_are_429_with_retry_after(api, team):
    client, container, clock = api
    tid, people = team
    grant(container, tid)
    bob_id = user_id(client, people["bob"])
    r = client.patch(f"{API}/teams/{tid}/members/{bob_id}", json={"daily_cap": 1}, headers=people["ann"])
    assert r.status_code == 200 and r.json["daily_cap"] == 1
    assert generate(client, people["bob"], tid).status_code == 201
    advance(client, clock, people, hours=2)
    r = generate(client, people["bob"], tid)
    assert r.status_code == 429 and r.json["error"] == "quota_exceeded"
    assert r.headers["Retry-After"] == str(22 * 3600)
    assert (r.json["quota"]["limit"], r.json["quota"]["used"], r.json["quota"]["remaining"]) == (1, 1, 0)
    assert r.json["upgrade_url"] == "http://promptcore.test/pricing"
    assert [m["daily_cap"] for m in usage(client, people["bob"], tid)["members"]] == [None, 1, None]

    for _ in range(POOL - 1):  # the others empty the pool
        assert generate(client, people["cid"], tid).status_code == 201
    for who in ("ann", "cid"):
        r = generate(client, people[who], tid)
        assert r.status_code == 429 and r.json["error"] == "quota_exceeded"
        assert (r.json["quota"]["limit"], r.json["quota"]["used"], r.json["quota"]["remaining"]) == (POOL, POOL, 0)
        assert r.headers["Retry-After"] == str(22 * 3600), "Bob's unit, two hours old, frees up first"
    assert drawn(client, people["ann"], tid) == {"ann": 0, "bob": 1, "cid": POOL - 1}
    assert len(units(container)) == POOL
    for who in ("ann", "bob", "cid"):  # their own limits are all there
        assert generate(client, people[who]).status_code == 201
    advance(client, clock, people, hours=22, seconds=1)
    assert generate(client, people["ann"], tid).status_code == 201, "Bob's unit left the window"


def test_only_members_draw_from_the_pool(api, team):
    client, container, _clock = api
    tid, people = team
    grant(container, tid)
    other = create_team(client, people["dan"], "Elsewhere")["id"]
    grant(container, other)
    for auth, target in [(people["dan"], tid), (people["bob"], other), (people["bob"], 2**62)]:
        r = generate(client, auth, target)
        assert r.status_code == 404 and r.json["error"] == "not_found", r.json
        r = client.post(f"{API}/prompts", json={"prompt": "x", "style": "general", "team_id": target},
                        headers={**auth, "Accept": "text/event-stream"})
        assert r.status_code == 404
    assert client.get(f"{API}/teams/{tid}/usage", headers=people["dan"]).status_code == 404
    assert client.get(f"{API}/teams/{other}/usage", headers=people["bob"]).status_code == 404
    for bad in ("1", 0, -1, 1.5, True, 2**63, [tid]):
        r = generate(client, people["bob"], bad)
        assert r.status_code == 422 and "team_id" in r.json["errors"], (bad, r.json)
    assert units(container) == []
    r = client.post(f"{API}/prompts", json={"prompt": "x", "style": "general", "team_id": None},
                    headers=people["bob"])
    assert r.status_code == 201  # null: personal
    assert units(container)[0][1] is None


def test_a_removed_member_gets_404_with_the_token_they_still_hold(api, team):
    client, container, _clock = api
    tid, people = team
    grant(container, tid)
    assert generate(client, people["cid"], tid).status_code == 201
    cid_id = user_id(client, people["cid"])
    assert client.delete(f"{API}/teams/{tid}/members/{cid_id}", headers=people["ann"]).status_code == 204
    r = generate(client, people["cid"], tid)
    assert r.status_code == 404 and r.json["error"] == "not_found"
    assert client.get(f"{API}/teams/{tid}/usage", headers=people["cid"]).status_code == 404
    assert len(units(container)) == 1
    after = usage(client, people["ann"], tid)
    assert after["quota"]["used"] == 1, "what Cid drew while a member still counts"
    assert [m["email"] for m in after["members"]] == ["ann@example.com", "bob@example.com"]


def test_streaming_with_team_id_spends_from_the_pool(api, team):
    client, container, _clock = api
    tid, people = team
    grant(container, tid)
    r = client.post(f"{API}/prompts", json={"prompt": "explain recursion to a child", "style": "general",
                                            "team_id": tid},
                    headers={**people["bob"], "Accept": "text/event-stream"})
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    events = read_events(r.data)
    kind, done = events[-1]
    assert kind == "done" and done["status"] == "succeeded"
    assert "".join(d["text"] for e, d in events if e == "delta") == done["generated_prompt"]
    assert (done["quota"]["limit"], done["quota"]["used"]) == (POOL, 1)
    assert drawn(client, people["ann"], tid)["bob"] == 1
    assert personal_used(client, people["bob"]) == 0
    assert units(container) == [(user_id(client, people["bob"]), tid, "kept")]
