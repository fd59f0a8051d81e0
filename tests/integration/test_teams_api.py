"""Teams over HTTP (SPEC §14): teams, members and roles, invitations, the administrators' list, and
the bad input and abuse of issue 13, each with a test: the documented 4xx and nothing changes
(SQLite and PostgreSQL, the container's clock faked so invitations can expire without waiting)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from dependency_injector import providers

from promptcore.domain.teams import invitation_token_hash
from tests.conftest import build_test_app, make_settings
from tests.fakes import FakeClock
from tests.integration.team_support import (
    API,
    PW,
    T0,
    create_team,
    invitation_tokens,
    invite,
    join,
    last_token,
    login,
    members,
    signup,
    team_state,
    user_id,
)


def _app(tmp_path, database_url):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url))
    clock = FakeClock(T0)
    container.clock.override(providers.Object(clock))
    container.reset_singletons()  # nothing built before the override keeps the system clock
    return app, container, clock


@pytest.fixture
def api(tmp_path, database_url):
    app, container, clock = _app(tmp_path, database_url)
    yield app.test_client(), container, clock
    container.engine().dispose()


@pytest.fixture
def team(api):
    """Ann owns "Support desk"; Bob is its admin and Cid a member; Dan is a confirmed outsider."""
    client, container, clock = api
    people = {name: signup(client, container, f"{name}@example.com") for name in ("ann", "bob", "cid", "dan")}
    tid = create_team(client, people["ann"])["id"]
    join(client, container, people["ann"], tid, "bob@example.com", people["bob"], "admin")
    join(client, container, people["ann"], tid, "cid@example.com", people["cid"], "member")
    return tid, people


def accept(client, auth, token):
    return client.post(f"{API}/invitations/accept", json={"token": token}, headers=auth)


# -- happy paths ----------------------------------------------------------------------------------

def test_teams_are_created_listed_read_renamed_and_deleted(api):
    client, container, _clock = api
    ann = signup(client, container, "ann@example.com")
    support = create_team(client, ann, "  Support\n desk ")
    assert support["name"] == "Support desk" and support["role"] == "owner"
    assert set(support) == {"id", "name", "role", "created_at"} and support["created_at"].startswith("2031-03-04")
    alpha = create_team(client, ann, "alpha")
    assert [t["name"] for t in client.get(f"{API}/teams", headers=ann).json] == ["alpha", "Support desk"]

    r = client.get(f"{API}/teams/{support['id']}", headers=ann)
    assert r.status_code == 200 and r.json == {**support, "members_count": 1}
    r = client.patch(f"{API}/teams/{support['id']}", json={"name": "Help desk"}, headers=ann)
    assert r.status_code == 200 and r.json == {**support, "name": "Help desk"}
    assert client.get(f"{API}/teams/{support['id']}", headers=ann).json["name"] == "Help desk"

    invite(client, ann, alpha["id"], "bob@example.com")
    assert client.delete(f"{API}/teams/{alpha['id']}", headers=ann).status_code == 204
    assert client.get(f"{API}/teams/{alpha['id']}", headers=ann).status_code == 404
    assert client.delete(f"{API}/teams/{alpha['id']}", headers=ann).status_code == 404
    assert [t["id"] for t in client.get(f"{API}/teams", headers=ann).json] == [support["id"]]
    # the deleted team's invitation went with it
    bob = signup(client, container, "bob@example.com")
    r = accept(client, bob, last_token(container, "bob@example.com"))
    assert r.status_code == 400 and r.json["error"] == "invalid_token"


def test_invitations_are_listed_resent_revoked_and_accepted(api):
    client, container, clock = api
    ann = signup(client, container, "ann@example.com")
    bob = signup(client, container, "bob@example.com")
    tid = create_team(client, ann)["id"]
    first = invite(client, ann, tid, "Bob@Example.com", "admin")
    assert first["email"] == "bob@example.com" and first["role"] == "admin"
    assert set(first) == {"id", "email", "role", "created_at", "expires_at"}
    assert first["expires_at"].startswith("2031-03-11T09:30")  # seven days
    clock.advance(seconds=5)
    second = invite(client, ann, tid, "eve@example.com")  # the role defaults to member
    assert second["role"] == "member"
    r = client.get(f"{API}/teams/{tid}/invitations", headers=ann)
    assert r.status_code == 200 and [i["id"] for i in r.json] == [second["id"], first["id"]]  # newest first

    old = last_token(container, "bob@example.com")
    r = client.post(f"{API}/teams/{tid}/invitations/{first['id']}/resend", headers=ann)
    assert r.status_code == 409 and r.json["error"] == "conflict"  # sent moments ago
    clock.advance(minutes=1)
    ann = login(client, "ann@example.com")
    bob = login(client, "bob@example.com")
    r = client.post(f"{API}/teams/{tid}/invitations/{first['id']}/resend", headers=ann)
    assert r.status_code == 200 and r.json["id"] == first["id"]
    assert r.json["expires_at"] > first["expires_at"]  # seven days from the resend
    new = last_token(container, "bob@example.com")
    assert new != old and len(invitation_tokens(container, "bob@example.com")) == 2
    r = accept(client, bob, old)
    assert r.status_code == 400 and r.json["error"] == "invalid_token", "a resend retires the old link"

    assert client.delete(f"{API}/teams/{tid}/invitations/{second['id']}", headers=ann).status_code == 204
    assert client.delete(f"{API}/teams/{tid}/invitations/{second['id']}", headers=ann).status_code == 404
    assert [i["id"] for i in client.get(f"{API}/teams/{tid}/invitations", headers=ann).json] == [first["id"]]
    eve = signup(client, container, "eve@example.com")
    r = accept(client, eve, last_token(container, "eve@example.com"))
    assert r.status_code == 400 and r.json["error"] == "invalid_token", "a revoked link does not work"

    r = accept(client, bob, new)
    assert r.status_code == 200
    assert r.json["role"] == "admin" and r.json["team"]["id"] == tid and r.json["team"]["role"] == "admin"
    assert client.get(f"{API}/teams/{tid}/invitations", headers=ann).json == []
    assert [t["id"] for t in client.get(f"{API}/teams", headers=bob).json] == [tid]
    assert members(client, bob, tid)["bob@example.com"]["role"] == "admin"


def test_members_roles_caps_removal_and_leaving(api, team):
    client, container, _clock = api
    tid, people = team
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    listed = client.get(f"{API}/teams/{tid}/members", headers=cid).json
    assert [(m["email"], m["role"]) for m in listed] == [
        ("ann@example.com", "owner"), ("bob@example.com", "admin"), ("cid@example.com", "member")]
    assert set(listed[0]) == {"user_id", "email", "name", "role", "daily_cap", "joined_at"}
    assert client.get(f"{API}/teams/{tid}", headers=cid).json["members_count"] == 3
    cid_id = user_id(client, cid)

    r = client.patch(f"{API}/teams/{tid}/members/{cid_id}", json={"daily_cap": 25}, headers=bob)
    assert r.status_code == 200 and r.json["daily_cap"] == 25 and r.json["email"] == "cid@example.com"
    r = client.patch(f"{API}/teams/{tid}/members/{cid_id}", json={"role": "admin", "daily_cap": None}, headers=bob)
    assert r.status_code == 200 and (r.json["role"], r.json["daily_cap"]) == ("admin", None)
    r = client.patch(f"{API}/teams/{tid}/members/{cid_id}", json={}, headers=bob)
    assert r.status_code == 200 and r.json["role"] == "admin", "an empty change changes nothing"
    r = client.patch(f"{API}/teams/{tid}/members/{cid_id}", json={"role": "owner"}, headers=ann)
    assert r.status_code == 200 and r.json["role"] == "owner"

    # two owners now: one of them may leave or be demoted
    assert client.delete(f"{API}/teams/{tid}/members/{user_id(client, ann)}", headers=ann).status_code == 204
    assert client.get(f"{API}/teams/{tid}", headers=ann).status_code == 404
    assert [t["id"] for t in client.get(f"{API}/teams", headers=ann).json] == []
    assert client.delete(f"{API}/teams/{tid}/members/{user_id(client, bob)}", headers=cid).status_code == 204
    assert list(members(client, cid, tid)) == ["cid@example.com"]


def test_the_admin_list_shows_every_team_with_members_a_page_at_a_time(api, team, monkeypatch):
    from entrypoints.api import teams as teams_api

    client, container, _clock = api
    tid, people = team
    other = create_team(client, people["dan"], "Other")
    container.accounts().create_admin("root@example.com", PW)
    root = login(client, "root@example.com")
    r = client.get(f"{API}/admin/teams", headers=root)
    assert r.status_code == 200 and r.json["next_cursor"] is None
    assert [(t["id"], t["name"]) for t in r.json["items"]] == [(tid, "Support desk"), (other["id"], "Other")]
    assert r.json["items"][0]["members"] == [
        {"user_id": user_id(client, people[n]), "email": f"{n}@example.com", "role": role}
        for n, role in (("ann", "owner"), ("bob", "admin"), ("cid", "member"))]
    assert set(r.json["items"][0]) == {"id", "name", "created_at", "members"}

    monkeypatch.setattr(teams_api, "ADMIN_PAGE", 1)
    first = client.get(f"{API}/admin/teams", headers=root).json
    assert [t["id"] for t in first["items"]] == [tid] and first["next_cursor"] == str(tid)
    rest = client.get(f"{API}/admin/teams?cursor={first['next_cursor']}", headers=root).json
    assert [t["id"] for t in rest["items"]] == [other["id"]] and rest["next_cursor"] is None

    for cursor in ("abc", "-1", "9" * 19):
        r = client.get(f"{API}/admin/teams?cursor={cursor}", headers=root)
        assert r.status_code == 422 and "cursor" in r.json["errors"], cursor
    for name in ("ann", "dan"):  # an owner is not an administrator
        r = client.get(f"{API}/admin/teams", headers=people[name])
        assert r.status_code == 403 and r.json["error"] == "forbidden"
    assert client.get(f"{API}/admin/teams?cursor=abc", headers=people["ann"]).status_code == 403
    assert client.get(f"{API}/admin/teams").status_code == 401


def test_no_answer_carries_an_invitation_token_or_its_hash(api, team):
    client, container, _clock = api
    tid, people = team
    invited = invite(client, people["ann"], tid, "eve@example.com")
    token = last_token(container, "eve@example.com")
    secrets = (token, invitation_token_hash(token))
    answers = [
        client.get(f"{API}/teams/{tid}/invitations", headers=people["ann"]),
        client.post(f"{API}/teams/{tid}/invitations", json={"email": "fay@example.com"}, headers=people["ann"]),
        client.get(f"{API}/admin/teams", headers=people["ann"]),
        client.get(f"{API}/teams/{tid}", headers=people["ann"]),
    ]
    for r in answers:
        assert not any(s in r.get_data(as_text=True) for s in secrets)
        assert "token" not in r.get_data(as_text=True)
    assert invited["id"] and "token_hash" not in invited


# -- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("body, field", [
    ({}, "name"), ({"name": ""}, "name"), ({"name": " \t\n "}, "name"), ({"name": "x" * 101}, "name"),
    ({"name": "a\x00b"}, "name"), ({"name": "bell\x07"}, "name"), ({"name": 7}, "name"),
    ({"name": "ok", "owner": 1}, "owner"),
])
def test_a_bad_team_name_is_refused(api, body, field):
    client, container, _clock = api
    ann = signup(client, container, "ann@example.com")
    r = client.post(f"{API}/teams", json=body, headers=ann)
    assert r.status_code == 422 and field in r.json["errors"], r.json
    tid = create_team(client, ann, "Kept")["id"]
    r = client.patch(f"{API}/teams/{tid}", json=body, headers=ann)
    assert r.status_code == 422 and field in r.json["errors"]
    assert [t["name"] for t in client.get(f"{API}/teams", headers=ann).json] == ["Kept"]


def test_bad_member_changes_and_invitations_are_refused(api, team):
    client, container, _clock = api
    tid, people = team
    ann = people["ann"]
    cid_id = user_id(client, people["cid"])
    before = team_state(container, tid)
    for body, field in (({"role": "boss"}, "role"), ({"role": None}, "role"), ({"daily_cap": -1}, "daily_cap"),
                        ({"daily_cap": "5"}, "daily_cap"), ({"daily_cap": 100_001}, "daily_cap"),
                        ({"daily_cap": 1.5}, "daily_cap"), ({"daily_cap": True}, "daily_cap"),
                        ({"user_id": 1}, "user_id")):
        r = client.patch(f"{API}/teams/{tid}/members/{cid_id}", json=body, headers=ann)
        assert r.status_code == 422 and field in r.json["errors"], (body, r.json)
    for body, field in (({"email": "not an address"}, "email"), ({}, "email"), ({"email": ""}, "email"),
                        ({"email": "eve@example.com", "role": "king"}, "role"),
                        ({"email": "eve@example.com", "token": "x"}, "token")):
        r = client.post(f"{API}/teams/{tid}/invitations", json=body, headers=ann)
        assert r.status_code == 422 and field in r.json["errors"], (body, r.json)
    r = client.post(f"{API}/teams/{tid}/invitations", data="email=eve@example.com", headers=ann)
    assert r.status_code == 415
    for token in ("", "short", "x" * 2049):
        r = accept(client, people["dan"], token)
        assert r.status_code in (400, 422), token
    assert accept(client, people["dan"], "y" * 43).json["error"] == "invalid_token"
    assert team_state(container, tid) == before


def test_an_unconfirmed_account_can_neither_create_nor_join_a_team(api, team):
    client, container, _clock = api
    tid, people = team
    eve = signup(client, container, "eve@example.com", confirm=False)
    r = client.post(f"{API}/teams", json={"name": "Mine"}, headers=eve)
    assert r.status_code == 403 and r.json["error"] == "email_not_confirmed"
    invite(client, people["ann"], tid, "eve@example.com")
    before = team_state(container, tid)
    r = accept(client, eve, last_token(container, "eve@example.com"))
    assert r.status_code == 403 and r.json["error"] == "email_not_confirmed"
    assert team_state(container, tid) == before


# -- abuse ----------------------------------------------------------------------------------------

def test_accepting_someone_elses_invitation_is_an_invalid_token_and_changes_nothing(api, team):
    client, container, _clock = api
    tid, people = team
    invite(client, people["ann"], tid, "eve@example.com", "admin")
    token = last_token(container, "eve@example.com")
    before = team_state(container, tid)
    for name in ("dan", "cid", "ann"):  # an outsider, a member, the inviter herself
        r = accept(client, people[name], token)
        assert r.status_code == 400 and r.json["error"] == "invalid_token", name
    assert team_state(container, tid) == before
    assert client.get(f"{API}/teams/{tid}", headers=people["dan"]).status_code == 404
    # the addressee still can
    eve = signup(client, container, "eve@example.com")
    assert accept(client, eve, token).status_code == 200


def test_an_expired_invitation_cannot_be_accepted(api, team):
    client, container, clock = api
    tid, people = team
    invite(client, people["ann"], tid, "eve@example.com")
    invite(client, people["ann"], tid, "fay@example.com")
    eve = signup(client, container, "eve@example.com")
    fay = signup(client, container, "fay@example.com")
    clock.advance(days=7, seconds=-1)
    eve = login(client, "eve@example.com")
    assert accept(client, eve, last_token(container, "eve@example.com")).status_code == 200
    clock.advance(seconds=1)
    fay = login(client, "fay@example.com")
    before = team_state(container, tid)
    r = accept(client, fay, last_token(container, "fay@example.com"))
    assert r.status_code == 400 and r.json["error"] == "invalid_token"
    assert team_state(container, tid) == before
    ann = login(client, "ann@example.com")
    assert client.get(f"{API}/teams/{tid}/invitations", headers=ann).json == []
    # an expired invitation is no longer pending: the address can be invited again
    invite(client, ann, tid, "fay@example.com")
    assert accept(client, fay, last_token(container, "fay@example.com")).status_code == 200


def test_a_used_token_does_not_work_again(api, team):
    client, container, _clock = api
    tid, people = team
    invite(client, people["ann"], tid, "eve@example.com")
    token = last_token(container, "eve@example.com")
    eve = signup(client, container, "eve@example.com")
    assert accept(client, eve, token).status_code == 200
    before = team_state(container, tid)
    r = accept(client, eve, token)
    assert r.status_code == 400 and r.json["error"] == "invalid_token"
    assert accept(client, people["dan"], token).status_code == 400
    # a removed member cannot come back with the old link either
    ann = people["ann"]
    assert client.delete(f"{API}/teams/{tid}/members/{user_id(client, eve)}", headers=ann).status_code == 204
    after_removal = team_state(container, tid)
    r = accept(client, eve, token)
    assert r.status_code == 400 and r.json["error"] == "invalid_token"
    assert team_state(container, tid) == after_removal != before


def test_inviting_a_member_or_an_address_already_invited_is_a_conflict(api, team):
    client, container, _clock = api
    tid, people = team
    ann = people["ann"]
    invite(client, ann, tid, "eve@example.com")
    before = team_state(container, tid)
    for email in ("cid@example.com", "CID@Example.com", "ann@example.com"):
        r = client.post(f"{API}/teams/{tid}/invitations", json={"email": email}, headers=ann)
        assert r.status_code == 409 and r.json["error"] == "conflict", email
    for email, role in (("eve@example.com", "member"), ("Eve@EXAMPLE.com", "admin")):
        r = client.post(f"{API}/teams/{tid}/invitations", json={"email": email, "role": role}, headers=people["bob"])
        assert r.status_code == 409 and r.json["error"] == "conflict", email
    assert team_state(container, tid) == before
    assert len(invitation_tokens(container, "eve@example.com")) == 1, "no second mail"


def test_who_may_invite(api, team):
    client, container, _clock = api
    tid, people = team
    before = team_state(container, tid)
    for role in ("member", "admin"):  # a member invites no one
        r = client.post(f"{API}/teams/{tid}/invitations", json={"email": "eve@example.com", "role": role},
                        headers=people["cid"])
        assert r.status_code == 403 and r.json["error"] == "forbidden"
    r = client.post(f"{API}/teams/{tid}/invitations", json={"email": "eve@example.com", "role": "owner"},
                    headers=people["bob"])
    assert r.status_code == 403 and r.json["error"] == "forbidden", "only owners invite owners"
    assert team_state(container, tid) == before and invitation_tokens(container, "eve@example.com") == []
    # what they may do
    assert invite(client, people["bob"], tid, "eve@example.com", "admin")["role"] == "admin"
    assert invite(client, people["ann"], tid, "fay@example.com", "owner")["role"] == "owner"
    # a member neither revokes nor resends; an admin does not touch an owner's invitation
    pending = {i["email"]: i["id"] for i in client.get(f"{API}/teams/{tid}/invitations", headers=people["bob"]).json}
    middle = team_state(container, tid)
    for method, suffix in (("delete", ""), ("post", "/resend")):
        r = getattr(client, method)(f"{API}/teams/{tid}/invitations/{pending['eve@example.com']}{suffix}",
                                    headers=people["cid"])
        assert r.status_code == 403, (method, r.json)
        r = getattr(client, method)(f"{API}/teams/{tid}/invitations/{pending['fay@example.com']}{suffix}",
                                    headers=people["bob"])
        assert r.status_code == 403, (method, r.json)
    assert team_state(container, tid) == middle


def test_only_owners_and_admins_list_the_pending_invitations(api, team):
    client, _container, _clock = api
    tid, people = team
    invite(client, people["ann"], tid, "eve@example.com")
    for who in ("ann", "bob"):
        r = client.get(f"{API}/teams/{tid}/invitations", headers=people[who])
        assert r.status_code == 200 and [i["email"] for i in r.json] == ["eve@example.com"], who
    r = client.get(f"{API}/teams/{tid}/invitations", headers=people["cid"])
    assert r.status_code == 403 and r.json["error"] == "forbidden" and "eve@" not in r.get_data(as_text=True)
    r = client.get(f"{API}/teams/{tid}/invitations", headers=people["dan"])
    assert r.status_code == 404 and r.json["error"] == "not_found"


def test_admins_cap_members_and_admins_only_owners_cap_owners(api, team):
    client, container, _clock = api
    tid, people = team
    ann, bob = people["ann"], people["bob"]
    ids = {name: user_id(client, people[name]) for name in ("ann", "bob", "cid")}
    before = team_state(container, tid)
    for body in ({"daily_cap": 5}, {"daily_cap": None}, {"role": "owner", "daily_cap": 5}):
        r = client.patch(f"{API}/teams/{tid}/members/{ids['ann']}", json=body, headers=bob)
        assert r.status_code == 403 and r.json["error"] == "forbidden", (body, r.json)
    assert team_state(container, tid) == before
    r = client.patch(f"{API}/teams/{tid}/members/{ids['bob']}", json={"daily_cap": 5}, headers=bob)
    assert r.status_code == 200 and r.json["daily_cap"] == 5
    r = client.patch(f"{API}/teams/{tid}/members/{ids['cid']}", json={"role": "admin", "daily_cap": 7}, headers=bob)
    assert r.status_code == 200 and (r.json["role"], r.json["daily_cap"]) == ("admin", 7)
    r = client.patch(f"{API}/teams/{tid}/members/{ids['ann']}", json={"daily_cap": 9}, headers=ann)
    assert r.status_code == 200 and r.json["daily_cap"] == 9
    # a role and a cap go together or not at all: the last owner's demotion fails, so does her cap
    r = client.patch(f"{API}/teams/{tid}/members/{ids['ann']}", json={"role": "member", "daily_cap": 1}, headers=ann)
    assert r.status_code == 409 and r.json["error"] == "last_owner"
    assert members(client, ann, tid)["ann@example.com"]["daily_cap"] == 9


def test_role_rules_and_the_last_owner(api, team):
    client, container, _clock = api
    tid, people = team
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    ids = {name: user_id(client, people[name]) for name in ("ann", "bob", "cid")}
    before = team_state(container, tid)

    r = client.patch(f"{API}/teams/{tid}/members/{ids['ann']}", json={"role": "admin"}, headers=ann)
    assert r.status_code == 409 and r.json["error"] == "last_owner"
    r = client.delete(f"{API}/teams/{tid}/members/{ids['ann']}", headers=ann)
    assert r.status_code == 409 and r.json["error"] == "last_owner", "the last owner cannot leave"
    forbidden = [
        (bob, "patch", ids["ann"], {"role": "member"}),  # an admin does not demote an owner
        (bob, "patch", ids["cid"], {"role": "owner"}),  # nor make owners
        (bob, "patch", ids["bob"], {"role": "owner"}),
        (bob, "delete", ids["ann"], None),  # nor remove an owner
        (cid, "patch", ids["bob"], {"role": "member"}),  # a member changes no one
        (cid, "patch", ids["cid"], {"role": "admin"}),
        (cid, "patch", ids["cid"], {"daily_cap": 1000}),  # nor sets caps
        (cid, "delete", ids["bob"], None),
    ]
    for auth, method, target, body in forbidden:
        kwargs = {"json": body} if body is not None else {}
        r = getattr(client, method)(f"{API}/teams/{tid}/members/{target}", headers=auth, **kwargs)
        assert r.status_code == 403 and r.json["error"] == "forbidden", (method, target, body, r.json)
    for auth in (bob, cid):  # only owners rename and delete the team
        assert client.patch(f"{API}/teams/{tid}", json={"name": "Mine"}, headers=auth).status_code == 403
        assert client.delete(f"{API}/teams/{tid}", headers=auth).status_code == 403
    assert team_state(container, tid) == before

    # a user who is not a member, and a member id of another team, are 404
    dan_id = user_id(client, people["dan"])
    assert client.patch(f"{API}/teams/{tid}/members/{dan_id}", json={"role": "member"}, headers=ann).status_code == 404
    assert client.delete(f"{API}/teams/{tid}/members/{dan_id}", headers=ann).status_code == 404
    # handing ownership over: then the former owner can step down and leave
    assert client.patch(f"{API}/teams/{tid}/members/{ids['bob']}", json={"role": "owner"},
                        headers=ann).status_code == 200
    assert client.patch(f"{API}/teams/{tid}/members/{ids['ann']}", json={"role": "member"},
                        headers=ann).status_code == 200
    r = client.delete(f"{API}/teams/{tid}/members/{ids['bob']}", headers=bob)
    assert r.status_code == 409 and r.json["error"] == "last_owner"
    assert client.delete(f"{API}/teams/{tid}/members/{ids['ann']}", headers=ann).status_code == 204
    assert set(members(client, bob, tid)) == {"bob@example.com", "cid@example.com"}


def test_a_removed_member_loses_access_at_once_with_the_token_they_hold(api, team):
    client, container, _clock = api
    tid, people = team
    bob, cid = people["bob"], people["cid"]  # access tokens issued before the removal
    invitation = invite(client, people["ann"], tid, "eve@example.com")
    assert client.get(f"{API}/teams/{tid}", headers=bob).status_code == 200
    ann = people["ann"]
    assert client.delete(f"{API}/teams/{tid}/members/{user_id(client, bob)}", headers=ann).status_code == 204
    assert client.delete(f"{API}/teams/{tid}/members/{user_id(client, cid)}", headers=cid).status_code == 204
    before = team_state(container, tid)
    for auth in (bob, cid):
        for method, path, body in (
                ("get", f"/teams/{tid}", None), ("get", f"/teams/{tid}/members", None),
                ("get", f"/teams/{tid}/invitations", None),
                ("patch", f"/teams/{tid}", {"name": "Taken over"}),
                ("post", f"/teams/{tid}/invitations", {"email": "mallory@example.com", "role": "admin"}),
                ("delete", f"/teams/{tid}/invitations/{invitation['id']}", None),
                ("post", f"/teams/{tid}/invitations/{invitation['id']}/resend", None),
                ("patch", f"/teams/{tid}/members/{user_id(client, auth)}", {"role": "admin"}),
                ("delete", f"/teams/{tid}/members/{user_id(client, ann)}", None),
                ("delete", f"/teams/{tid}", None)):
            kwargs = {"json": body} if body is not None else {}
            r = getattr(client, method)(f"{API}{path}", headers=auth, **kwargs)
            assert r.status_code == 404 and r.json["error"] == "not_found", (method, path, r.json)
        assert client.get(f"{API}/teams", headers=auth).json == []
    assert team_state(container, tid) == before


def test_guessed_team_and_invitation_ids_are_not_found(api, team):
    client, container, _clock = api
    tid, people = team
    ann, dan = people["ann"], people["dan"]
    other = create_team(client, dan, "Other")["id"]
    theirs = invite(client, dan, other, "eve@example.com")
    mine = invite(client, ann, tid, "fay@example.com")
    before = (team_state(container, tid), team_state(container, other))
    for team_id in (other, other + 1, 10**9):
        assert client.get(f"{API}/teams/{team_id}", headers=ann).json["error"] == "not_found"
        assert client.post(f"{API}/teams/{team_id}/invitations", json={"email": "x@example.com"},
                           headers=ann).status_code == 404
    # another team's invitation id under one's own team, and one's own under another team
    assert client.delete(f"{API}/teams/{tid}/invitations/{theirs['id']}", headers=ann).status_code == 404
    assert client.post(f"{API}/teams/{tid}/invitations/{theirs['id']}/resend", headers=ann).status_code == 404
    assert client.delete(f"{API}/teams/{other}/invitations/{mine['id']}", headers=ann).status_code == 404
    assert client.delete(f"{API}/teams/{tid}/invitations/{mine['id'] + 100}", headers=ann).status_code == 404
    # ids outside the row range are 404 from the router
    for path in ("/teams/0", f"/teams/{2**63}", f"/teams/{tid}/invitations/0", f"/teams/{tid}/members/-1",
                 "/teams/abc"):
        assert client.get(f"{API}{path}", headers=ann).status_code in (404, 405), path
    assert (team_state(container, tid), team_state(container, other)) == before


# -- concurrency ----------------------------------------------------------------------------------


def test_an_acceptance_racing_a_resend_neither_uses_the_old_token_nor_the_new_one(tmp_path, postgres_url,
                                                                                 monkeypatch):
    """The acceptance has found the invitation by its token when a resend commits a new one (on
    PostgreSQL nothing stops the resend: the acceptance has written nothing yet). The old token must
    then fail and the new one must still work."""
    from adapters.sql.repositories.teams import SqlTeamRepository
    from promptcore.domain.access import Actor

    app, container, clock = _app(tmp_path, postgres_url)
    try:
        client = app.test_client()
        ann = signup(client, container, "ann@example.com")
        eve = signup(client, container, "eve@example.com")
        tid = create_team(client, ann)["id"]
        invitation = invite(client, ann, tid, "eve@example.com", "admin")
        old = last_token(container, "eve@example.com")
        clock.advance(minutes=2)  # a resend is allowed a minute after the last mail
        ann_id = user_id(client, ann)
        original, fired = SqlTeamRepository.lock_team, []

        def a_resend_commits_first(self, team_id):
            if not fired:  # between the acceptance's read of the invitation and its update
                fired.append(container.teams().resend(Actor(ann_id, teams={tid: "owner"}), tid, invitation["id"]))
            return original(self, team_id)

        monkeypatch.setattr(SqlTeamRepository, "lock_team", a_resend_commits_first)
        r = accept(client, eve, old)
        assert fired and r.status_code == 400 and r.json["error"] == "invalid_token", r.json
        monkeypatch.setattr(SqlTeamRepository, "lock_team", original)
        new = last_token(container, "eve@example.com")
        assert new != old
        r = accept(client, eve, new)
        assert r.status_code == 200 and r.json["role"] == "admin", r.json
    finally:
        container.engine().dispose()

ACCEPTS = 20


def test_parallel_accepts_of_one_token_make_exactly_one_membership(tmp_path, postgres_url):
    app, container, _clock = _app(tmp_path, postgres_url)
    try:
        client = app.test_client()
        ann = signup(client, container, "ann@example.com")
        eve = signup(client, container, "eve@example.com")
        tid = create_team(client, ann)["id"]
        invite(client, ann, tid, "eve@example.com", "admin")
        token = last_token(container, "eve@example.com")
        start = threading.Barrier(ACCEPTS)

        def one(_n: int) -> tuple[int, str | None]:
            own = app.test_client()
            start.wait()
            r = accept(own, eve, token)
            return r.status_code, (r.json or {}).get("error")

        with ThreadPoolExecutor(ACCEPTS) as pool:
            results = list(pool.map(one, range(ACCEPTS)))
        assert sorted(results, key=str) == sorted([(200, None)] + [(400, "invalid_token")] * (ACCEPTS - 1), key=str)
        with container.uow() as uow:
            assert [(m.user_id, m.role.value) for m in uow.teams.members(tid)] == [
                (user_id(client, ann), "owner"), (user_id(client, eve), "admin")]
            assert uow.invitations.pending(tid, container.clock().now()) == []
    finally:
        container.engine().dispose()
