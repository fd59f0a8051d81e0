"""The isolation matrix of SPEC §14 and issue 13: two teams, an outsider and a former member against
every team-scoped API endpoint. A non-member always gets 404 (whatever their role in another
team), and nothing changes in either team.

The routes come from the app itself (its url_map, checked against the OpenAPI document): every
route with a ``{team_id}`` must have a case in CASES, so a new team route cannot be forgotten. Each
case is also sent by the team's owner at the end, to show that it reaches a real resource (the
404s are not the answer of a wrongly built path)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.conftest import build_test_app, make_settings
from tests.integration.team_support import (
    API,
    create_team,
    invite,
    join,
    share_a_record,
    signup,
    team_state,
    user_id,
)

IGNORED_METHODS = {"HEAD", "OPTIONS"}
_PARAM = re.compile(r"<(?:[^:<>]+:)?(\w+)>")
_PARAM_NAMES = re.compile(r"\{\w+\}")


@dataclass(frozen=True)
class Case:
    body: dict | None = None
    ok: tuple[int, ...] = (200,)  # what the owner gets (the positive control)
    order: int = 0  # the controls run in this order: destructive ones last


TEAM = f"{API}/teams/{{team_id}}"
CASES: dict[tuple[str, str], Case] = {
    (TEAM, "GET"): Case(),
    (TEAM, "PATCH"): Case({"name": "Hijacked"}),
    (TEAM, "DELETE"): Case(ok=(204,), order=9),
    (f"{TEAM}/members", "GET"): Case(),
    (f"{TEAM}/usage", "GET"): Case(),
    (f"{TEAM}/billing", "GET"): Case(),
    (f"{TEAM}/billing/payments", "GET"): Case(),
    (f"{TEAM}/billing/cancel", "POST"): Case(order=1),  # the teams hold a granted plan (the fixture)
    (f"{TEAM}/billing/resume", "POST"): Case(order=2),
    (f"{TEAM}/billing/renewal", "PUT"): Case({"enabled": False}, order=3),
    (f"{TEAM}/members/{{user_id}}", "PATCH"): Case({"role": "admin", "daily_cap": 5}),
    (f"{TEAM}/members/{{user_id}}", "DELETE"): Case(ok=(204,), order=5),
    (f"{TEAM}/invitations", "GET"): Case(),
    (f"{TEAM}/invitations", "POST"): Case({"email": "mallory@example.com", "role": "owner"}, ok=(201,)),
    (f"{TEAM}/invitations/{{invitation_id}}/resend", "POST"): Case(ok=(200, 409)),  # 409: sent moments ago
    (f"{TEAM}/invitations/{{invitation_id}}", "DELETE"): Case(ok=(204,), order=5),
    (f"{TEAM}/records", "GET"): Case(),
    (f"{TEAM}/records/{{record_id}}", "GET"): Case(),
    (f"{TEAM}/records/{{record_id}}", "DELETE"): Case(ok=(204,), order=5),
}


def team_routes(app) -> set[tuple[str, str]]:
    """(path template, method) of every API route that takes a team id, from the url_map."""
    found = set()
    for rule in app.url_map.iter_rules():
        if "team_id" in rule.arguments and rule.rule.startswith(API + "/"):
            path = _PARAM.sub(r"{\1}", rule.rule)
            found |= {(path, method) for method in rule.methods - IGNORED_METHODS}
    return found


def documented_team_routes(client) -> set[tuple[str, str]]:
    paths = client.get(f"{API}/openapi.json").json["paths"]
    return {(path, method.upper()) for path, item in paths.items() if "{team_id}" in path
            for method in item if method != "parameters"}


@dataclass
class World:
    client: object
    container: object
    auth: dict[str, dict]
    ids: dict[str, int]
    teams: dict[str, int]
    invitations: dict[str, int]
    records: dict[str, int]  # per team: a record shared with it
    # per team: a member whose id the cases aim at
    target_member: dict[str, str]


@pytest.fixture
def world(tmp_path, database_url):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url))
    client = app.test_client()
    names = ("ann", "bob", "cid", "dan", "erin", "frank", "oscar")
    auth = {name: signup(client, container, f"{name}@example.com") for name in names}
    ids = {name: user_id(client, auth[name]) for name in names}
    a = create_team(client, auth["ann"], "Team A")["id"]
    b = create_team(client, auth["dan"], "Team B")["id"]
    for team_id in (a, b):  # a subscription for the team billing cases to act on (granted: still deletable)
        container.billing().grant(None, "team", team_id=team_id)
    join(client, container, auth["ann"], a, "bob@example.com", auth["bob"], "admin")
    join(client, container, auth["ann"], a, "cid@example.com", auth["cid"], "member")
    join(client, container, auth["ann"], a, "frank@example.com", auth["frank"], "admin")
    join(client, container, auth["dan"], b, "erin@example.com", auth["erin"], "admin")
    # frank was an admin of A and was removed: the token he holds is from before
    assert client.delete(f"{API}/teams/{a}/members/{ids['frank']}", headers=auth["ann"]).status_code == 204
    inv_a = invite(client, auth["ann"], a, "ivy@example.com")["id"]
    inv_b = invite(client, auth["dan"], b, "jay@example.com")["id"]
    records = {"A": share_a_record(client, auth["cid"], a), "B": share_a_record(client, auth["erin"], b)}
    yield World(client, container, auth, ids, {"A": a, "B": b}, {"A": inv_a, "B": inv_b}, records,
                {"A": "cid", "B": "erin"})
    container.engine().dispose()


# Who attacks which team: an outsider, the owner and an admin of the other team, a former member.
ATTACKERS = {"A": ("oscar", "dan", "erin", "frank"), "B": ("oscar", "ann", "bob", "cid", "frank")}


def _send(world: World, who: str, path: str, method: str, case: Case):
    kwargs = {"json": case.body} if case.body is not None else {}
    return world.client.open(path, method=method, headers=world.auth[who], **kwargs)


def _snapshot(world: World):
    return {name: team_state(world.container, tid) for name, tid in world.teams.items()}


def test_every_team_route_has_a_case(world):
    """The guard: a route with a team id and no case here fails the suite."""
    routes = team_routes(world.client.application)
    assert routes, "no team routes found: the enumeration is broken"
    assert routes == documented_team_routes(world.client), "the url_map and the OpenAPI document disagree"
    missing = routes - set(CASES)
    assert not missing, f"team-scoped routes without an isolation case: {sorted(missing)}"
    assert not set(CASES) - routes, f"cases for routes that no longer exist: {sorted(set(CASES) - routes)}"


def test_non_members_get_404_on_every_team_route_and_nothing_changes(world):
    routes = team_routes(world.client.application)
    assert set(CASES) >= routes  # test_every_team_route_has_a_case says which are missing
    before = _snapshot(world)
    sent = 0
    for target, attackers in ATTACKERS.items():
        for who in attackers:
            for (template, method), case in sorted(CASES.items()):
                # aim at a real member of the target team, and at the attacker's own id (joining or
                # promoting oneself)
                for member in {world.target_member[target], who}:
                    path = template.format(team_id=world.teams[target], user_id=world.ids[member],
                                           invitation_id=world.invitations[target], record_id=world.records[target])
                    r = _send(world, who, path, method, case)
                    assert r.status_code == 404 and r.json["error"] == "not_found", (who, method, path, r.json)
                    assert r.json["message"] == "Team not found.", (who, method, path, r.json)
                    sent += 1
            listed = world.client.get(f"{API}/teams", headers=world.auth[who]).json
            assert world.teams[target] not in [t["id"] for t in listed], who
    assert _snapshot(world) == before
    assert sent >= len(CASES) * 9


def test_a_member_cannot_reach_another_teams_members_or_invitations_through_their_own_team(world):
    """Ids of the other team under one's own team id: 404, even for the owner."""
    before = _snapshot(world)
    for own, other, who in (("A", "B", "ann"), ("B", "A", "dan")):
        for (template, method), case in sorted(CASES.items()):
            if not {"{user_id}", "{invitation_id}", "{record_id}"} & set(_PARAM_NAMES.findall(template)):
                continue
            path = template.format(team_id=world.teams[own], user_id=world.ids[world.target_member[other]],
                                   invitation_id=world.invitations[other], record_id=world.records[other])
            r = _send(world, who, path, method, case)
            assert r.status_code == 404 and r.json["error"] == "not_found", (who, method, path, r.json)
    assert _snapshot(world) == before


def test_unknown_team_ids_are_404_for_everyone(world):
    before = _snapshot(world)
    unknown = max(world.teams.values()) + 1000
    for (template, method), case in sorted(CASES.items()):
        path = template.format(team_id=unknown, user_id=world.ids["ann"], invitation_id=world.invitations["A"],
                               record_id=world.records["A"])
        r = _send(world, "ann", path, method, case)
        assert r.status_code == 404 and r.json["error"] == "not_found", (method, path, r.json)
    assert _snapshot(world) == before


def test_the_cases_reach_real_resources_for_the_owner(world):
    """The positive control: the team's owner gets the case's success (or a documented 409), so the
    404s above are answers about membership, not paths that name nothing."""
    for target, owner in (("A", "ann"), ("B", "dan")):
        for (template, method), case in sorted(CASES.items(), key=lambda item: (item[1].order, item[0])):
            path = template.format(team_id=world.teams[target], user_id=world.ids[world.target_member[target]],
                                   invitation_id=world.invitations[target], record_id=world.records[target])
            r = _send(world, owner, path, method, case)
            assert r.status_code in case.ok, (owner, method, path, r.status_code, r.json)
