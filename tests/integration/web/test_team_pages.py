"""The team pages through Flask's test client (SPEC §14): /teams (my teams, create one), /teams/<id>
(rename, members and roles, daily caps, leave, invitations with Resend and Revoke, invite, delete
with a confirm step), /invitations/<token> (see and accept, signing in first) and the admin list, in
English and Russian. A non-member gets the 404 page on every team route, a member sees only what
their role allows and a forged form is refused by the use case; every refusal is a page with the
reason and the refusal's status, and nothing changes."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

import pytest

from promptcore.domain.access import Actor
from tests.conftest import age_outbox, build_test_app, make_settings

from .conftest import PASSWORD
from .test_security import confirmed_user, signed_in_client, token

OWNER, BOB, CAROL, DAVE = "owner@example.com", "bob@example.com", "carol@example.com", "dave@example.com"
LINK = re.compile(r"http://promptcore\.test(/invitations/([A-Za-z0-9_\-%.~]+))")
HOSTILE = "<script>window.pwned=1</script>"


def text(response) -> str:
    return response.get_data(as_text=True)


def plain(page: str) -> str:
    """The page's text without tags, whitespace runs made one space (messages span elements)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def assert_no_inline_code(page: str) -> None:
    assert re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", page) == []
    assert " style=" not in page and " onclick=" not in page and "javascript:" not in page


def assert_every_form_has_csrf(page: str) -> None:
    forms = re.findall(r"<form\b[^>]*>.*?</form>", page, re.S)
    for form in forms:
        if re.search(r'method="post"', form):
            assert 'name="csrf_token"' in form, form[:200]


@pytest.fixture
def site(tmp_path):
    app, container = build_test_app(make_settings(tmp_path))
    ids = {email: confirmed_user(container, email) for email in (OWNER, BOB, CAROL, DAVE)}
    yield app, container, ids
    container.engine().dispose()


def actor(container, ids, email: str) -> Actor:
    """An Actor with the user's current team roles (as entrypoints/actor.py builds it)."""
    uid = ids[email]
    return Actor(uid, teams=container.teams().roles_of(uid))


def set_language(container, ids, email: str, language: str) -> None:
    container.accounts().update_profile(Actor(ids[email]), settings={"language": language})


def post(client, path: str, back: str, **fields):
    return client.post(path, data={"csrf_token": token(client, back), **fields})


def create_team(client, name: str = "Support desk") -> int:
    r = post(client, "/teams", "/teams", name=name)
    assert r.status_code == 303, text(r)
    match = re.fullmatch(r"/teams/(\d+)", r.headers["Location"])
    assert match, r.headers["Location"]
    return int(match.group(1))


def invite(client, team_id: int, email: str, role: str = "member"):
    return post(client, f"/teams/{team_id}/invitations", f"/teams/{team_id}", email=email, role=role)


def invitation_paths(container, email: str) -> list[str]:
    """The /invitations/<token> paths of the invitation mails queued for ``email``, newest first."""
    with container.uow() as uow:
        recent = uow.outbox.recent(200)
    paths = []
    for message, _created, _sent in recent:
        if message.kind == "team_invitation" and message.to == email:
            match = LINK.search(message.text)
            assert match, message.text
            paths.append("/invitations/" + unquote(match.group(2)))
    return paths


def last_link(container, email: str) -> str:
    paths = invitation_paths(container, email)
    assert paths, f"no invitation for {email}"
    return paths[0]


def join(owner, member, container, team_id: int, email: str, role: str = "member") -> None:
    assert invite(owner, team_id, email, role).status_code == 303
    path = last_link(container, email)
    r = member.post(path, data={"csrf_token": token(member, path)})
    assert r.status_code == 303 and r.headers["Location"] == f"/teams/{team_id}", text(r)


def roles(container, team_id: int) -> dict[str, str]:
    with container.uow() as uow:
        return {m.email: m.role.value for m in uow.teams.members(team_id)}


def team_state(container, team_id: int) -> tuple:
    now = container.clock().now()
    with container.uow() as uow:
        team = uow.teams.get(team_id)
        people = uow.teams.members(team_id)
        pending = uow.invitations.pending(team_id, now)
    return (team and team.name, sorted((m.user_id, m.role.value, m.daily_cap) for m in people),
            sorted((i.id, i.email, i.role.value, i.token_hash, i.revoked_at) for i in pending))


def pending_ids(container, team_id: int) -> dict[str, int]:
    with container.uow() as uow:
        return {i.email: i.id for i in uow.invitations.pending(team_id, container.clock().now())}


def outbox_size(container) -> int:
    with container.uow() as uow:
        return len(uow.outbox.recent(500))


def test_the_whole_round_on_sqlite_and_postgresql(database_url, tmp_path):
    """Create, invite, accept, promote, cap, the last-owner refusal and delete, on both databases."""
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url))
    try:
        ids = {email: confirmed_user(container, email) for email in (OWNER, BOB)}
        owner, bob = signed_in_client(app, OWNER), signed_in_client(app, BOB)
        team_id = create_team(owner, "Round trip")
        join(owner, bob, container, team_id, BOB)
        back = f"/teams/{team_id}"
        assert post(owner, f"{back}/members/{ids[BOB]}/role", back, role="admin").status_code == 303
        assert post(owner, f"{back}/members/{ids[BOB]}/cap", back, daily_cap="9").status_code == 303
        assert team_state(container, team_id)[1] == [(ids[OWNER], "owner", None), (ids[BOB], "admin", 9)]
        assert post(owner, f"{back}/leave", back).status_code == 409
        page = text(bob.get(back))
        assert 'id="my-role">admin<' in page and 'id="invite-form"' in page
        assert post(owner, f"{back}/delete", f"{back}/delete").status_code == 303
        assert bob.get(back).status_code == 404 and team_state(container, team_id)[0] is None
    finally:
        container.engine().dispose()


# -- /teams -------------------------------------------------------------------------------------------


def test_the_teams_page_lists_my_teams_and_creates_one(site):
    app, container, ids = site
    client = signed_in_client(app, OWNER)
    page = text(client.get("/teams"))
    assert 'id="no-teams"' in page and 'href="/teams" aria-current="page">Teams</a>' in page
    assert 'action="/teams"' in page and 'maxlength="100"' in page
    assert_no_inline_code(page)
    assert_every_form_has_csrf(page)

    team_id = create_team(client, "  Support   desk ")
    page = text(client.get(f"/teams/{team_id}"))
    assert "The team “Support desk” was created." in page
    page = text(client.get("/teams"))
    assert f'id="team-{team_id}"' in page and f'href="/teams/{team_id}"' in page
    assert re.search(rf'id="team-{team_id}".*?Support desk.*?team-role-owner">owner<', page, re.S)
    # Another user sees none of it.
    other = text(signed_in_client(app, BOB).get("/teams"))
    assert "Support desk" not in other and 'id="no-teams"' in other


def test_a_bad_team_name_is_refused_next_to_the_field(site):
    app, container, ids = site
    client = signed_in_client(app, OWNER)
    r = post(client, "/teams", "/teams", name="   ")
    assert r.status_code == 422
    assert re.search(r'id="name-error">.*Enter a name for the team\.', text(r), re.S)
    r = post(client, "/teams", "/teams", name="x" * 101)
    assert r.status_code == 422 and "Use at most 100 characters (got 101)." in text(r)
    assert 'value="' + "x" * 101 + '"' in text(r)  # what was typed is kept
    r = post(client, "/teams", "/teams", name="tab\x07bell")
    assert r.status_code == 422 and "The name contains control characters." in text(r)
    assert container.teams().list(actor(container, ids, OWNER)) == []


def test_an_unconfirmed_account_cannot_create_a_team(site):
    app, container, ids = site
    container.accounts().register_user("new@example.com", PASSWORD)
    client = signed_in_client(app, "new@example.com")
    r = post(client, "/teams", "/teams", name="Mine")
    assert r.status_code == 403
    assert "Confirm your e-mail address before creating a team." in text(r)


def test_a_hostile_team_name_is_text(site):
    app, container, ids = site
    owner = signed_in_client(app, OWNER)
    team_id = create_team(owner, HOSTILE)
    for path in ("/teams", f"/teams/{team_id}", f"/teams/{team_id}/delete"):
        page = text(owner.get(path))
        assert HOSTILE not in page and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page, path
    invite(owner, team_id, BOB)
    bob = signed_in_client(app, BOB)
    page = text(bob.get(last_link(container, BOB)))
    assert HOSTILE not in page and "&lt;script&gt;" in page


# -- one team, as its owner ------------------------------------------------------------------------------


def test_the_owner_sees_every_control(site):
    app, container, ids = site
    owner = signed_in_client(app, OWNER)
    bob = signed_in_client(app, BOB)
    team_id = create_team(owner)
    join(owner, bob, container, team_id, BOB)
    invite(owner, team_id, CAROL, "admin")
    page = text(owner.get(f"/teams/{team_id}"))
    assert 'id="rename-form"' in page and 'value="Support desk"' in page
    assert 'id="invite-form"' in page and 'id="delete-team"' in page and 'id="leave-team"' in page
    # owners invite as anything
    assert re.findall(r'<select[^>]*id="role"[^>]*>(.*?)</select>', page, re.S)[0].count("<option") == 3
    bob_row = re.search(rf'id="member-{ids[BOB]}".*?</li>', page, re.S).group(0)
    assert f'action="/teams/{team_id}/members/{ids[BOB]}/role"' in bob_row
    assert f'action="/teams/{team_id}/members/{ids[BOB]}/cap"' in bob_row
    assert f'action="/teams/{team_id}/members/{ids[BOB]}/remove"' in bob_row
    owner_row = re.search(rf'id="member-{ids[OWNER]}".*?</li>', page, re.S).group(0)
    assert "/remove" not in owner_row and ">you<" in owner_row  # leaving is the Leave button
    invitations = re.search(r'id="invitation-list".*?</ul>', page, re.S).group(0)
    assert CAROL in invitations and "as admin" in invitations
    assert "/resend" in invitations and "/revoke" in invitations
    assert_no_inline_code(page)
    assert_every_form_has_csrf(page)


def test_rename_change_role_cap_and_remove(site):
    app, container, ids = site
    owner = signed_in_client(app, OWNER)
    bob = signed_in_client(app, BOB)
    team_id = create_team(owner)
    join(owner, bob, container, team_id, BOB)
    back = f"/teams/{team_id}"

    r = post(owner, f"{back}/rename", back, name="Helpdesk")
    assert r.status_code == 303 and "The team is now called “Helpdesk”." in text(owner.get(back))
    r = post(owner, f"{back}/rename", back, name="")
    assert r.status_code == 422
    assert re.search(r'id="name-error">.*Enter a name for the team\.', text(r), re.S)
    assert team_state(container, team_id)[0] == "Helpdesk"

    r = post(owner, f"{back}/members/{ids[BOB]}/role", back, role="admin")
    assert r.status_code == 303 and r.headers["Location"].endswith(f"{back}#member-{ids[BOB]}")
    assert f"{BOB} is now admin." in text(owner.get(back))
    assert roles(container, team_id)[BOB] == "admin"
    r = post(owner, f"{back}/members/{ids[BOB]}/role", back, role="boss")
    assert r.status_code == 422 and "Choose owner, admin or member." in text(r)

    r = post(owner, f"{back}/members/{ids[BOB]}/cap", back, daily_cap="5")
    assert r.status_code == 303
    assert f"{BOB} may use at most 5 of the team's improvements a day." in plain(text(owner.get(back)))
    for bad in ("abc", "-1", "100001", "1.5", "²"):
        r = post(owner, f"{back}/members/{ids[BOB]}/cap", back, daily_cap=bad)
        assert r.status_code == 422, bad
        assert re.search(rf'id="cap-{ids[BOB]}-error">.*Use a whole number from 0 to 100000, or leave the box '
                         r'empty for no cap\.', text(r), re.S), bad
    assert [m[2] for m in team_state(container, team_id)[1] if m[0] == ids[BOB]] == [5]
    r = post(owner, f"{back}/members/{ids[BOB]}/cap", back, daily_cap="")
    assert r.status_code == 303 and f"{BOB} has no daily cap of their own now." in text(owner.get(back))
    assert [m[2] for m in team_state(container, team_id)[1] if m[0] == ids[BOB]] == [None]

    r = post(owner, f"{back}/members/{ids[BOB]}/remove", back)
    assert r.status_code == 303 and f"{BOB} was removed from the team." in text(owner.get(back))
    assert BOB not in roles(container, team_id)
    assert bob.get(back).status_code == 404  # access ends on the very next request
    r = post(owner, f"{back}/members/{ids[BOB]}/remove", back)
    assert r.status_code == 404 and "No such member in this team." in text(r)
    assert 'id="member-list"' in text(r)  # the team page with the reason, not a bare error page


def test_the_last_owner_can_neither_leave_nor_step_down(site):
    app, container, ids = site
    owner = signed_in_client(app, OWNER)
    team_id = create_team(owner)
    back = f"/teams/{team_id}"
    before = team_state(container, team_id)
    r = post(owner, f"{back}/leave", back)
    assert r.status_code == 409
    assert ("The last owner cannot leave or be removed: make someone else an owner first, or delete the team."
            in plain(text(r)))
    assert 'id="team-errors"' in text(r)
    r = post(owner, f"{back}/members/{ids[OWNER]}/role", back, role="admin")
    assert r.status_code == 409 and "A team needs an owner: make someone else an owner first." in text(r)
    r = post(owner, f"{back}/members/{ids[OWNER]}/remove", back)
    assert r.status_code == 409 and "The last owner cannot leave" in text(r)
    assert team_state(container, team_id) == before

    # With a second owner, the first may leave.
    bob = signed_in_client(app, BOB)
    join(owner, bob, container, team_id, BOB, "owner")
    r = post(owner, f"{back}/leave", back)
    assert r.status_code == 303 and r.headers["Location"] == "/teams"
    assert "You left the team “Support desk”." in text(owner.get("/teams"))
    assert owner.get(back).status_code == 404
    assert roles(container, team_id) == {BOB: "owner"}


def test_a_member_leaves(site):
    app, container, ids = site
    owner, bob = signed_in_client(app, OWNER), signed_in_client(app, BOB)
    team_id = create_team(owner)
    join(owner, bob, container, team_id, BOB)
    r = post(bob, f"/teams/{team_id}/leave", f"/teams/{team_id}")
    assert r.status_code == 303 and r.headers["Location"] == "/teams"
    assert 'id="no-teams"' in text(bob.get("/teams"))
    assert roles(container, team_id) == {OWNER: "owner"}


def test_delete_after_a_confirm_step(site):
    app, container, ids = site
    owner, bob = signed_in_client(app, OWNER), signed_in_client(app, BOB)
    team_id = create_team(owner)
    join(owner, bob, container, team_id, BOB)
    page = text(owner.get(f"/teams/{team_id}/delete"))
    assert "Delete the team “Support desk”?" in page and "All 2 members lose access" in page
    assert f'action="/teams/{team_id}/delete"' in page
    assert_no_inline_code(page)
    assert team_state(container, team_id)[0] == "Support desk"  # asking is not deleting
    assert bob.get(f"/teams/{team_id}/delete").status_code == 403  # members cannot
    r = post(bob, f"/teams/{team_id}/delete", f"/teams/{team_id}")
    assert r.status_code == 403 and team_state(container, team_id)[0] == "Support desk"
    r = post(owner, f"/teams/{team_id}/delete", f"/teams/{team_id}/delete")
    assert r.status_code == 303 and r.headers["Location"] == "/teams"
    assert "The team “Support desk” was deleted." in text(owner.get("/teams"))
    assert team_state(container, team_id)[0] is None
    assert owner.get(f"/teams/{team_id}").status_code == 404


# -- invitations -------------------------------------------------------------------------------------------


def test_invite_resend_and_revoke(site):
    app, container, ids = site
    owner = signed_in_client(app, OWNER)
    team_id = create_team(owner)
    back = f"/teams/{team_id}"
    r = invite(owner, team_id, "  Carol@Example.com ", "admin")
    assert r.status_code == 303 and r.headers["Location"].endswith("#invitations")
    page = text(owner.get(back))
    assert f"An invitation to join as admin was sent to {CAROL}. The link works for 7 days." in page
    carol_id = pending_ids(container, team_id)[CAROL]
    assert f'id="invitation-{carol_id}"' in page
    first = last_link(container, CAROL)

    r = invite(owner, team_id, CAROL)
    assert r.status_code == 409
    assert "This address already has a pending invitation; resend or revoke it." in text(r)
    assert f'value="{CAROL}"' in text(r)  # what was typed is kept
    r = invite(owner, team_id, "not an address")
    assert r.status_code == 422 and re.search(r'id="email-error">.*Enter a valid e-mail address\.', text(r), re.S)
    r = invite(owner, team_id, OWNER)
    assert r.status_code == 409 and "This address already belongs to a member of the team." in text(r)

    # Resend: at most once a minute, and then a new link replaces the old one.
    r = post(owner, f"{back}/invitations/{carol_id}/resend", back)
    assert r.status_code == 409
    assert "The invitation was sent moments ago; wait a minute before sending it again." in text(r)
    age_outbox(container, minutes=2)
    r = post(owner, f"{back}/invitations/{carol_id}/resend", back)
    assert r.status_code == 303
    assert f"The invitation was sent to {CAROL} again; the earlier link no longer works." in text(owner.get(back))
    second = last_link(container, CAROL)
    assert second != first
    carol = signed_in_client(app, CAROL)
    r = carol.get(first)
    assert r.status_code == 400 and "The invitation link is invalid, expired or already used." in text(r)
    assert carol.get(second).status_code == 200

    r = post(owner, f"{back}/invitations/{carol_id}/revoke", back)
    assert r.status_code == 303 and f"The invitation for {CAROL} was revoked." in text(owner.get(back))
    assert pending_ids(container, team_id) == {}
    assert 'id="no-invitations"' in text(owner.get(back))
    assert carol.get(second).status_code == 400
    r = post(owner, f"{back}/invitations/{carol_id}/revoke", back)
    assert r.status_code == 404 and "The invitation was not found." in text(r)


def test_the_invitation_page_signs_in_first_then_accepts(site):
    app, container, ids = site
    owner = signed_in_client(app, OWNER)
    team_id = create_team(owner)
    invite(owner, team_id, BOB, "admin")
    path = last_link(container, BOB)

    anonymous = app.test_client()
    page = text(anonymous.get(path))
    assert "You have been invited to a team" in page
    assert "Support desk" not in page  # nothing about the team before signing in
    login = re.search(r'id="signin-to-accept" href="([^"]+)"', page).group(1)
    assert unquote(html.unescape(login)) == "/login?next=" + path
    assert_no_inline_code(page)
    # Accepting without being signed in goes through the sign-in page, and back.
    r = anonymous.post(path, data={"csrf_token": token(anonymous, path)})
    assert r.status_code == 302 and unquote(r.headers["Location"]) == "/login?next=" + path
    form = text(anonymous.get(r.headers["Location"]))
    assert re.search(rf'<input[^>]*name="next"[^>]*value="{re.escape(path)}"', form)
    r = anonymous.post("/login", data={"csrf_token": token(anonymous), "email": BOB, "password": PASSWORD,
                                       "next": path})
    assert r.status_code == 303 and r.headers["Location"] == path

    page = text(anonymous.get(path))
    facts = plain(re.search(r'id="invitation-facts".*?</dl>', page, re.S).group(0))
    assert "Team Support desk" in facts and "Your role admin" in facts and f"Invited by {OWNER}" in facts
    assert f"For {BOB}" in facts
    assert f'action="{path}"' in page
    assert_every_form_has_csrf(page)
    assert container.teams().list(actor(container, ids, BOB)) == []  # looking is not accepting
    r = anonymous.post(path, data={"csrf_token": token(anonymous, path)})
    assert r.status_code == 303 and r.headers["Location"] == f"/teams/{team_id}"
    page = text(anonymous.get(f"/teams/{team_id}"))
    assert "Welcome to the team “Support desk”. You joined as admin." in page
    assert roles(container, team_id) == {OWNER: "owner", BOB: "admin"}
    # The link works once.
    r = anonymous.post(path, data={"csrf_token": token(anonymous, "/teams")})
    assert r.status_code == 400 and "The invitation link is invalid, expired or already used." in text(r)
    assert anonymous.get(path).status_code == 400


def test_an_invitation_for_another_address_reveals_nothing(site):
    app, container, ids = site
    owner = signed_in_client(app, OWNER)
    team_id = create_team(owner, "Secret project")
    invite(owner, team_id, BOB)
    path = last_link(container, BOB)
    carol = signed_in_client(app, CAROL)
    wrong = carol.get(path)
    bogus = carol.get("/invitations/" + "x" * 43)
    for r in (wrong, bogus):
        page = text(r)
        assert r.status_code == 400
        assert "The invitation link is invalid, expired or already used." in page
        assert f"You are signed in as {CAROL}." in page and "sign out, sign in with that one" in page
        assert "Secret project" not in page and BOB not in page and OWNER not in page
    # The two answers are the same page, but for the token in it.
    assert re.sub(r"/invitations/[^\"']+", "", plain(text(wrong))) == \
        re.sub(r"/invitations/[^\"']+", "", plain(text(bogus)))
    r = carol.post(path, data={"csrf_token": token(carol, "/teams")})
    assert r.status_code == 400 and "Secret project" not in text(r)
    assert pending_ids(container, team_id) == {BOB: pending_ids(container, team_id)[BOB]}  # still usable by Bob


def test_an_unconfirmed_address_confirms_before_joining(site):
    app, container, ids = site
    owner = signed_in_client(app, OWNER)
    team_id = create_team(owner)
    container.accounts().register_user("late@example.com", PASSWORD)
    invite(owner, team_id, "late@example.com")
    path = last_link(container, "late@example.com")
    late = signed_in_client(app, "late@example.com")
    r = late.get(path)
    assert r.status_code == 403 and "Confirm your e-mail address before joining a team." in text(r)
    r = late.post(path, data={"csrf_token": token(late, "/teams")})
    assert r.status_code == 403 and "late@example.com" not in roles(container, team_id)


# -- what each role may do ---------------------------------------------------------------------------------


def test_a_member_sees_no_management_and_forged_forms_are_refused(site):
    app, container, ids = site
    owner, bob = signed_in_client(app, OWNER), signed_in_client(app, BOB)
    team_id = create_team(owner)
    join(owner, bob, container, team_id, BOB)
    invite(owner, team_id, CAROL)
    back = f"/teams/{team_id}"
    page = text(bob.get(back))
    assert "Support desk" in page and 'id="my-role">member<' in page
    for absent in ('id="invite-form"', 'id="rename-form"', 'id="delete-team"', "/role\"", "/cap\"", "/remove\"",
                   'id="invitation-list"', CAROL):
        assert absent not in page, absent
    assert 'id="leave-team"' in page
    assert_no_inline_code(page)

    before, mails = team_state(container, team_id), outbox_size(container)
    carol_invitation = pending_ids(container, team_id)[CAROL]
    attempts = [
        invite(bob, team_id, DAVE),
        invite(bob, team_id, DAVE, "owner"),
        post(bob, f"{back}/rename", back, name="Mine now"),
        post(bob, f"{back}/members/{ids[OWNER]}/role", back, role="member"),
        post(bob, f"{back}/members/{ids[BOB]}/role", back, role="owner"),
        post(bob, f"{back}/members/{ids[OWNER]}/cap", back, daily_cap="0"),
        post(bob, f"{back}/members/{ids[OWNER]}/remove", back),
        post(bob, f"{back}/invitations/{carol_invitation}/resend", back),
        post(bob, f"{back}/invitations/{carol_invitation}/revoke", back),
        post(bob, f"{back}/delete", back),
    ]
    assert [r.status_code for r in attempts] == [403] * len(attempts)
    for r in attempts:
        assert "Your role in this team does not allow that." in text(r)
    assert 'id="invite-form"' not in text(attempts[0])  # the page again, as a member sees it
    assert team_state(container, team_id) == before and outbox_size(container) == mails


def test_an_admin_manages_members_but_not_owners(site):
    app, container, ids = site
    owner, bob, carol = (signed_in_client(app, e) for e in (OWNER, BOB, CAROL))
    team_id = create_team(owner)
    join(owner, bob, container, team_id, BOB, "admin")
    join(owner, carol, container, team_id, CAROL)
    back = f"/teams/{team_id}"
    page = text(bob.get(back))
    assert 'id="invite-form"' in page and 'id="rename-form"' not in page and 'id="delete-team"' not in page
    invite_roles = re.findall(r'<select[^>]*id="role"[^>]*>(.*?)</select>', page, re.S)[0]
    assert re.findall(r'value="(\w+)"', invite_roles) == ["admin", "member"]
    owner_row = re.search(rf'id="member-{ids[OWNER]}".*?</li>', page, re.S).group(0)
    assert "/role" not in owner_row and "/remove" not in owner_row  # owners are beyond an admin
    carol_row = re.search(rf'id="member-{ids[CAROL]}".*?</li>', page, re.S).group(0)
    assert re.findall(r'<option value="(\w+)"', carol_row) == ["admin", "member"]
    assert "/remove" in carol_row and "/cap" in carol_row

    before = team_state(container, team_id)
    for r in (post(bob, f"{back}/members/{ids[CAROL]}/role", back, role="owner"),
              post(bob, f"{back}/members/{ids[OWNER]}/role", back, role="member"),
              post(bob, f"{back}/members/{ids[OWNER]}/remove", back),
              invite(bob, team_id, DAVE, "owner")):
        assert r.status_code == 403 and "Your role in this team does not allow that." in text(r)
    assert team_state(container, team_id) == before
    assert post(bob, f"{back}/members/{ids[CAROL]}/role", back, role="admin").status_code == 303
    assert post(bob, f"{back}/members/{ids[CAROL]}/cap", back, daily_cap="3").status_code == 303
    assert invite(bob, team_id, DAVE, "member").status_code == 303
    assert roles(container, team_id)[CAROL] == "admin"


# -- strangers, forms without a token, signing in ----------------------------------------------------------


def team_routes(app) -> list[tuple[str, str]]:
    """(method, rule) of every route under /teams/<id>, from the app's url_map."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/teams/<"):
            for method in sorted(rule.methods & {"GET", "POST"}):
                found.append((method, rule.rule))
    return sorted(found)


def fill(rule: str, values: dict[str, int]) -> str:
    def one(match: re.Match) -> str:
        name = match.group(1).split(":")[-1]
        assert name in values, f"a new route parameter: {rule}"
        return str(values[name])

    return re.sub(r"<([^>]+)>", one, rule)


def test_a_non_member_gets_the_404_page_on_every_team_route(site):
    app, container, ids = site
    owner, bob = signed_in_client(app, OWNER), signed_in_client(app, BOB)
    team_id = create_team(owner)
    join(owner, bob, container, team_id, BOB)
    invite(owner, team_id, CAROL)
    values = {"team_id": team_id, "user_id": ids[BOB], "invitation_id": pending_ids(container, team_id)[CAROL],
              "record_id": 1}
    routes = team_routes(app)
    assert len(routes) >= 11, routes
    stranger = signed_in_client(app, DAVE)
    csrf = token(stranger, "/teams")
    before, mails = team_state(container, team_id), outbox_size(container)
    fields = {"csrf_token": csrf, "name": "Taken over", "email": "dave@example.com", "role": "owner",
              "daily_cap": "0"}
    for method, rule in routes:
        path = fill(rule, values)
        r = stranger.get(path) if method == "GET" else stranger.post(path, data=fields)
        assert r.status_code == 404, (method, path, r.status_code)
        page = text(r)
        assert "Page not found" in page and "Support desk" not in page and BOB not in page, path
    # The same for a team that does not exist, and (GET) an id that no column can hold. (Werkzeug
    # answers a POST to the latter with 405 where a GET route shares the path: nothing is read.)
    for missing in (team_id + 1000, 99999999999999999999):
        for method, rule in routes:
            path = fill(rule, {**values, "team_id": missing})
            if method == "GET":
                assert stranger.get(path).status_code == 404, path
            elif missing < 2**63:
                assert stranger.post(path, data=fields).status_code == 404, path
    assert team_state(container, team_id) == before and outbox_size(container) == mails


def test_team_forms_without_a_csrf_token_are_refused(site):
    app, container, ids = site
    owner, bob = signed_in_client(app, OWNER), signed_in_client(app, BOB)
    team_id = create_team(owner)
    join(owner, bob, container, team_id, BOB)
    invite(owner, team_id, CAROL)
    values = {"team_id": team_id, "user_id": ids[BOB], "invitation_id": pending_ids(container, team_id)[CAROL],
              "record_id": 1}
    posts = [fill(rule, values) for method, rule in team_routes(app) if method == "POST"]
    posts += ["/teams", last_link(container, CAROL)]
    before, mails = team_state(container, team_id), outbox_size(container)
    fields = {"name": "Forged", "email": DAVE, "role": "admin", "daily_cap": "1"}
    for path in posts:
        for data in (fields, {**fields, "csrf_token": "forged"}):
            r = owner.post(path, data=data)
            assert r.status_code == 400, (path, r.status_code)
            assert "The form has expired or was not sent from this site." in text(r)
    assert team_state(container, team_id) == before and outbox_size(container) == mails
    assert len(container.teams().list(actor(container, ids, OWNER))) == 1


def test_the_pages_need_a_signed_in_user(site):
    app, container, ids = site
    client = app.test_client()
    for method, rule in [("GET", "/teams"), *team_routes(app)]:
        path = fill(rule, {"team_id": 1, "user_id": 1, "invitation_id": 1, "record_id": 1})
        if method == "GET":
            r = client.get(path)
            assert r.status_code == 302 and "/login?next=" in r.headers["Location"], path


# -- the admin area -----------------------------------------------------------------------------------------


def test_the_admin_page_lists_every_team_with_its_members(site):
    app, container, ids = site
    owner, bob = signed_in_client(app, OWNER), signed_in_client(app, BOB)
    team_id = create_team(owner, "Support desk")
    join(owner, bob, container, team_id, BOB, "admin")
    post(owner, f"/teams/{team_id}/members/{ids[BOB]}/cap", f"/teams/{team_id}", daily_cap="7")
    other_id = create_team(signed_in_client(app, CAROL), "Night shift")
    container.accounts().create_admin("boss@example.com", PASSWORD)
    boss = signed_in_client(app, "boss@example.com")
    page = text(boss.get("/admin"))
    assert 'id="admin-team-list"' in page
    support = plain(re.search(rf'id="admin-team-{team_id}".*?</li>\s*</ul>', page, re.S).group(0))
    assert "Support desk" in support and f"{OWNER} owner" in support and f"{BOB} admin cap 7 a day" in support
    night = plain(re.search(rf'id="admin-team-{other_id}".*?</li>\s*</ul>', page, re.S).group(0))
    assert "Night shift" in night and f"{CAROL} owner" in night and OWNER not in night
    assert_no_inline_code(page)
    # Only administrators see it.
    assert owner.get("/admin").status_code == 403


# -- Russian ------------------------------------------------------------------------------------------------


def test_the_pages_in_russian(site):
    app, container, ids = site
    set_language(container, ids, OWNER, "ru")
    set_language(container, ids, BOB, "ru")
    owner, bob = signed_in_client(app, OWNER), signed_in_client(app, BOB)
    page = text(owner.get("/teams"))
    assert '<html lang="ru"' in page and ">Команды</a>" in page and "Вы пока не состоите ни в одной команде" in page
    r = post(owner, "/teams", "/teams", name="")
    assert r.status_code == 422 and "Введите название команды." in text(r)
    team_id = create_team(owner, "Поддержка")
    back = f"/teams/{team_id}"
    page = text(owner.get(back))
    assert "Команда «Поддержка» создана." in page and "Пригласить участника" in page
    assert 'id="my-role">владелец<' in page and "Ожидающие приглашения" in page

    r = post(owner, f"{back}/leave", back)
    assert r.status_code == 409
    assert "Последний владелец не может уйти или быть исключён" in text(r)
    r = post(owner, f"{back}/members/{ids[OWNER]}/role", back, role="member")
    assert r.status_code == 409 and "Команде нужен владелец" in text(r)
    r = invite(owner, team_id, "не адрес")
    assert r.status_code == 422 and "Введите корректный адрес эл. почты." in text(r)
    assert invite(owner, team_id, BOB, "admin").status_code == 303
    assert "Приглашение (роль: администратор) отправлено на bob@example.com." in text(owner.get(back))
    r = invite(owner, team_id, BOB)
    assert r.status_code == 409 and "На этот адрес уже есть ожидающее приглашение" in text(r)
    r = post(owner, f"{back}/members/{ids[OWNER]}/cap", back, daily_cap="x")
    assert r.status_code == 422 and "Введите целое число от 0 до 100000" in text(r)

    path = last_link(container, BOB)
    page = text(bob.get(path))
    assert "Вступить в «Поддержка»" in page and "Принять и вступить" in page and "администратор" in page
    anonymous = app.test_client()
    anonymous.post("/preferences", data={"csrf_token": token(anonymous, "/"), "language": "ru"})
    assert "Вас пригласили в команду" in text(anonymous.get(path))
    carol = signed_in_client(app, CAROL)
    carol.post("/preferences", data={"csrf_token": token(carol, "/"), "language": "ru"})
    assert "Ссылка-приглашение недействительна, устарела или уже использована." in text(carol.get(path))
    r = bob.post(path, data={"csrf_token": token(bob, path)})
    assert r.status_code == 303
    page = text(bob.get(back))
    assert "Добро пожаловать в команду «Поддержка». Ваша роль: администратор." in page
    r = post(bob, f"{back}/members/{ids[OWNER]}/remove", back)
    assert r.status_code == 403 and "Ваша роль в этой команде этого не позволяет." in text(r)
    assert "Удалить команду «Поддержка»?" in text(owner.get(f"{back}/delete"))
    r = carol.get(back)
    assert r.status_code == 404 and "Страница не найдена" in text(r) and "Поддержка" not in text(r)
