"""A team's library and feed through the API (SPEC §14): team templates and custom styles, records
shared with a team, and their isolation. Every route that takes a template, style or record id is
enumerated from the app's url_map, so a new one cannot be forgotten: an outsider, a member of
another team and a former member get 404 on the team's ids, and nothing changes."""

from __future__ import annotations

import re

import pytest

from tests.conftest import build_test_app, make_settings
from tests.integration.team_support import API, create_team, join, share_a_record, signup, team_state

_PARAM = re.compile(r"<(?:[^:<>]+:)?(\w+)>")
ID_PARAMS = ("template_id", "style_id", "record_id")

# a body for each (route, method) that changes something; the others take none
BODIES = {
    ("/templates/{template_id}", "PATCH"): {"title": "Hijacked", "body": "Mine {{x}}"},
    ("/templates/{template_id}/restore", "POST"): {"version": 1},
    ("/templates/{template_id}/render", "POST"): {"values": {"customer": "Ivan"}},
    ("/templates/{template_id}/improve", "POST"): {"style": "general"},
    ("/templates/{template_id}/copy", "POST"): {},
    ("/custom-styles/{style_id}", "PATCH"): {"title": "Hijacked"},
    ("/prompts/{record_id}/share", "PUT"): {"team_id": 1},
    ("/prompts/{record_id}/iterate", "POST"): {"feedback": "shorter"},
}
QUERIES = {("/templates/{template_id}/diff", "GET"): "?from=1&to=1"}


def id_routes(app) -> set[tuple[str, str]]:
    """(path under /api/v1, method) of every API route that takes a template, style or record id
    (and no team id: those are test_team_isolation.py's)."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API + "/") and "team_id" not in rule.arguments \
                and set(ID_PARAMS) & set(rule.arguments):
            path = _PARAM.sub(r"{\1}", rule.rule)[len(API):]
            found |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return found


@pytest.fixture
def world(tmp_path, database_url):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url))
    client = app.test_client()
    auth = {name: signup(client, container, f"{name}@example.com") for name in ("ann", "bob", "cid", "dan", "fay")}
    team = create_team(client, auth["ann"], "Team A")["id"]
    other = create_team(client, auth["dan"], "Team B")["id"]
    join(client, container, auth["ann"], team, "bob@example.com", auth["bob"], "admin")
    join(client, container, auth["ann"], team, "cid@example.com", auth["cid"], "member")
    join(client, container, auth["ann"], team, "fay@example.com", auth["fay"], "member")
    yield client, container, auth, team, other
    container.engine().dispose()


def _post(client, path, body, auth):
    return client.post(f"{API}{path}", json=body, headers=auth)


def test_members_use_the_team_library_and_only_owners_admins_and_authors_change_it(world):
    client, container, auth, team, _ = world
    made = _post(client, "/templates", {"title": "Refund reply", "body": "Answer {{customer}} kindly.",
                                        "team_id": team}, auth["cid"])
    assert made.status_code == 201 and made.json["team_id"] == team, made.json
    template = made.json["id"]
    style = _post(client, "/custom-styles", {"title": "House tone", "instructions": "Friendly, short sentences.",
                                             "team_id": team}, auth["cid"]).json
    assert style["team_id"] == team and style["slug"] == f"custom:{style['id']}"
    for name in ("ann", "bob", "fay"):
        listed = client.get(f"{API}/templates?team_id={team}", headers=auth[name]).json
        assert "items" in listed, listed
        listed = listed["items"]
        assert [t["id"] for t in listed] == [template]
        styles = client.get(f"{API}/custom-styles?team_id={team}", headers=auth[name]).json
        assert [s["id"] for s in styles] == [style["id"]]
        rendered = _post(client, f"/templates/{template}/render", {"values": {"customer": "Ivan"}}, auth[name])
        assert rendered.json["text"] == "Answer Ivan kindly."
    # not in anyone's own library
    assert client.get(f"{API}/templates", headers=auth["cid"]).json["items"] == []
    # a member generates with the team's style
    generated = _post(client, "/prompts", {"prompt": "Reply to a customer", "style": style["slug"]}, auth["fay"])
    assert generated.status_code == 201, generated.json
    # fay is a plain member and not the author: 403, nothing changes
    for method, path, body in (("PATCH", f"/templates/{template}", {"title": "Fay's"}),
                               ("DELETE", f"/templates/{template}", None),
                               ("PATCH", f"/custom-styles/{style['id']}", {"title": "Fay's"}),
                               ("DELETE", f"/custom-styles/{style['id']}", None)):
        r = client.open(f"{API}{path}", method=method, json=body, headers=auth["fay"])
        assert r.status_code == 403 and r.json["error"] == "forbidden", (method, path, r.json)
    assert team_state(container, team)[3] == ({"Refund reply": template}, ["House tone"])
    # the author and an admin may
    assert client.patch(f"{API}/templates/{template}", json={"body": "Answer {{customer}}."},
                        headers=auth["cid"]).json["version"] == 2
    assert client.patch(f"{API}/custom-styles/{style['id']}", json={"title": "Tone"},
                        headers=auth["bob"]).status_code == 200
    # a member copies the team's template into their own library, and an own one into the team's
    mine = _post(client, f"/templates/{template}/copy", {}, auth["fay"]).json
    fay = client.get(f"{API}/profile", headers=auth["fay"]).json["id"]
    assert (mine["team_id"], mine["author_id"], mine["title"]) == (None, fay, "Refund reply")
    again = _post(client, f"/templates/{mine['id']}/copy", {"team_id": team}, auth["fay"]).json
    assert again["team_id"] == team and again["title"] == "Refund reply (2)"


def test_sharing_a_record_and_the_feed(world):
    client, container, auth, team, other = world
    record = share_a_record(client, auth["cid"], team)
    assert client.get(f"{API}/prompts/{record}/share", headers=auth["cid"]).json["visibility"] == "team"
    feed = client.get(f"{API}/teams/{team}/records", headers=auth["fay"]).json
    assert [i["record_id"] for i in feed["items"]] == [record] and feed["items"][0]["author"]
    assert client.get(f"{API}/teams/{team}/records/{record}", headers=auth["bob"]).json["record_id"] == record
    # another member cannot take it out; the record is cid's, not theirs
    r = client.delete(f"{API}/teams/{team}/records/{record}", headers=auth["fay"])
    assert r.status_code == 403
    assert client.get(f"{API}/prompts/{record}", headers=auth["fay"]).status_code == 404
    # sharing with a team one is not in, or someone else's record
    assert client.put(f"{API}/prompts/{record}/share", json={"team_id": other},
                      headers=auth["cid"]).status_code == 404
    assert client.put(f"{API}/prompts/{record}/share", json={"team_id": team},
                      headers=auth["fay"]).status_code == 404
    bad = client.put(f"{API}/prompts/{record}/share", json={"team_id": "x"}, headers=auth["cid"])
    assert bad.status_code == 422 and "team_id" in bad.json["errors"]
    # the author takes it back
    assert client.delete(f"{API}/prompts/{record}/share", headers=auth["cid"]).status_code == 204
    assert client.get(f"{API}/teams/{team}/records", headers=auth["fay"]).json["items"] == []
    assert client.delete(f"{API}/prompts/{record}/share", headers=auth["cid"]).status_code == 404


def test_every_id_route_is_404_for_outsiders_other_teams_and_former_members(world):
    client, container, auth, team, other = world
    template = _post(client, "/templates", {"title": "T", "body": "Hi {{customer}}", "team_id": team},
                     auth["cid"]).json["id"]
    style = _post(client, "/custom-styles", {"title": "S", "instructions": "Be brief.", "team_id": team},
                  auth["cid"]).json["id"]
    record = share_a_record(client, auth["cid"], team)
    # fay leaves: from now on she is a stranger
    me = client.get(f"{API}/profile", headers=auth["fay"]).json["id"]
    assert client.delete(f"{API}/teams/{team}/members/{me}", headers=auth["fay"]).status_code == 204
    routes = id_routes(client.application)
    assert {("/templates/{template_id}", "PATCH"), ("/custom-styles/{style_id}", "DELETE"),
            ("/prompts/{record_id}/share", "PUT")} <= routes, "the enumeration is broken"
    ids = {"template_id": template, "style_id": style, "record_id": record, "number": 1}
    before = team_state(container, team)
    sent = 0
    for who in ("dan", "fay"):
        for path, method in sorted(routes):
            url = f"{API}{path.format(**ids)}{QUERIES.get((path, method), '')}"
            body = BODIES.get((path, method), {} if method in ("POST", "PUT", "PATCH") else None)
            r = client.open(url, method=method, json=body, headers=auth[who])
            assert r.status_code == 404 and r.json["error"] == "not_found", (who, method, url, r.json)
            sent += 1
        for query in (f"/templates?team_id={team}", f"/templates/tags?team_id={team}",
                      f"/custom-styles?team_id={team}", f"/teams/{team}/records"):
            assert client.get(f"{API}{query}", headers=auth[who]).status_code == 404, (who, query)
        for path, body in (("/templates", {"title": "x", "body": "y", "team_id": team}),
                           ("/custom-styles", {"title": "x", "instructions": "y", "team_id": team}),
                           (f"/templates/{template}/copy", {"team_id": team}),
                           ("/templates/from-record", {"record_id": record, "team_id": team})):
            assert _post(client, path, body, auth[who]).status_code == 404, (who, path)
        # generating with the team's style
        r = _post(client, "/prompts", {"prompt": "hello there", "style": f"custom:{style}"}, auth[who])
        assert r.status_code == 404, r.json
    assert sent >= 2 * 15
    assert team_state(container, team) == before


def test_fifty_concurrent_shares_of_one_record_leave_one_share(world):
    """The same PUT 50 times at once (two teams, alternating): every answer is 200, and the record
    ends up shared with exactly one of them."""
    from concurrent.futures import ThreadPoolExecutor

    client, container, auth, team, _ = world
    second = create_team(client, auth["cid"], "Team C")["id"]
    record = share_a_record(client, auth["cid"], team)
    app = client.application

    def share(i):
        with app.test_client() as own:
            r = own.put(f"{API}/prompts/{record}/share", json={"team_id": (team, second)[i % 2]}, headers=auth["cid"])
            return r.status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(share, range(50)))
    assert set(codes) == {200}, codes
    with container.uow() as uow:
        assert uow.shared_records.team_of(record).team_id in (team, second)
        in_feeds = len(uow.shared_records.feed(team, 10)) + len(uow.shared_records.feed(second, 10))
    assert in_feeds == 1
