"""The team pool on the pages through Flask's test client (SPEC §14): the generator's workspace
switcher (only for team members; the choice remembered in the session and checked against the
user's teams on every request), generation from a team's pool with and without JavaScript (the
pool is drawn on, the personal quota is not), the refusals (402 without a team plan, 429 at the
pool or at the member's cap, a team_id that is not one of the user's teams: nothing generated),
and the team page's "Usage today", in English and Russian."""

from __future__ import annotations

import json
import re

import pytest

from promptcore.domain.access import Actor
from tests.conftest import build_test_app, make_settings

from .test_security import confirmed_user, signed_in_client, token
from .test_team_pages import assert_every_form_has_csrf, assert_no_inline_code, create_team, join, plain, post, text

OWNER, BOB, CAROL, DAVE = "owner@example.com", "bob@example.com", "carol@example.com", "dave@example.com"
HOSTILE = "<script>window.pwned=1</script>"


@pytest.fixture
def site(tmp_path):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DAILY_LIMIT="5"))
    ids = {email: confirmed_user(container, email) for email in (OWNER, BOB, CAROL, DAVE)}
    yield app, container, ids
    container.engine().dispose()


def actor(container, ids, email: str) -> Actor:
    uid = ids[email]
    return Actor(uid, teams=container.teams().roles_of(uid))


def personal_used(container, ids, email: str) -> int:
    return container.prompts().quota(Actor(ids[email])).used


def pool(container, ids, email: str, team_id: int) -> tuple[int, int, dict[str, int]]:
    """The pool's used and limit, and each member's draw, as the core counts them."""
    usage = container.quota().team_usage(actor(container, ids, email), team_id)
    return usage.quota.used, usage.quota.limit, {m.member.email: m.used for m in usage.members}


def records(container, ids, email: str) -> int:
    return len(container.prompts().history(Actor(ids[email]), 100)[0])


def with_team(app, container, ids, *, plan: bool = True, name: str = "Support desk"):
    """The owner's team with Bob as a member (and a granted team plan unless told otherwise)."""
    owner, bob = signed_in_client(app, OWNER), signed_in_client(app, BOB)
    team_id = create_team(owner, name)
    join(owner, bob, container, team_id, BOB)
    if plan:
        container.billing().grant(None, "team", team_id=team_id)
    return owner, bob, team_id


def generate(client, **fields):
    return client.post("/app", data={"csrf_token": token(client, "/app"), "prompt": "write a post about coffee",
                                     "style": "general", **fields})


def stream(client, **fields):
    return client.post("/app/stream", data={"csrf_token": token(client, "/app"), "prompt": "write a post about tea",
                                            "style": "general", **fields})


def events(response) -> list[tuple[str, dict]]:
    found = []
    for chunk in text(response).split("\n\n"):
        name = re.search(r"^event: (\w+)$", chunk, re.M)
        data = re.search(r"^data: (.*)$", chunk, re.M)
        if name and data:
            found.append((name.group(1), json.loads(data.group(1))))
    return found


def switcher(page: str) -> str | None:
    match = re.search(r'<select class="input" id="team_id" name="team_id".*?</select>', page, re.S)
    return match.group(0) if match else None


def selected(page: str) -> str:
    """The value of the switcher's selected option ("" is Personal)."""
    found = re.findall(r'<option value="(\d*)" selected>', switcher(page) or "")
    assert len(found) == 1, switcher(page)
    return found[0]


# -- the switcher -----------------------------------------------------------------------------------


def test_the_switcher_is_there_only_for_members_of_a_team(site):
    app, container, ids = site
    owner = signed_in_client(app, OWNER)
    page = text(owner.get("/app"))
    assert switcher(page) is None and 'name="team_id"' not in page
    team_id = create_team(owner, HOSTILE)
    page = text(owner.get("/app"))
    select = switcher(page)
    assert select is not None and selected(page) == ""
    assert '<label for="team_id">Workspace</label>' in page
    assert '<option value="" selected>Personal</option>' in select
    assert f'<option value="{team_id}">&lt;script&gt;window.pwned=1&lt;/script&gt;</option>' in select
    assert HOSTILE not in page
    assert 'id="switch-workspace"' in page and 'formaction="/app/workspace"' in page  # without JavaScript
    assert "5 of 5" not in page and "0 of 5 used today" in plain(page)  # the personal quota
    assert_no_inline_code(page)
    assert_every_form_has_csrf(page)
    # The team's name in its quota box (no plan yet) is text too.
    r = owner.post("/app/workspace", data={"csrf_token": token(owner, "/app"), "team_id": str(team_id)},
                   headers={"Accept": "application/json"})
    box = r.get_json()["quota_html"]
    assert "“&lt;script&gt;window.pwned=1&lt;/script&gt;” has no shared daily limit yet." in box
    assert HOSTILE not in box and r.get_json()["blocked"] is True
    page = text(owner.get("/app"))
    assert HOSTILE not in page and selected(page) == str(team_id)
    assert re.search(r'id="generate" type="submit" disabled', page)
    # Someone in no team still has none.
    assert switcher(text(signed_in_client(app, DAVE).get("/app"))) is None


def test_the_switcher_in_russian(site):
    app, container, ids = site
    owner, bob, team_id = with_team(app, container, ids, plan=False)
    container.accounts().update_profile(Actor(ids[BOB]), settings={"language": "ru"})
    bob = signed_in_client(app, BOB)
    page = text(bob.get("/app"))
    assert '<label for="team_id">Пространство</label>' in page
    assert '<option value="" selected>Личное</option>' in page
    # The team without a plan, chosen: the box says so, the refusal too, all in Russian.
    r = generate(bob, team_id=str(team_id))
    assert r.status_code == 402
    words = plain(text(r))
    assert "У команды пока нет тарифа с общим дневным лимитом" in words
    assert "У «Support desk» пока нет общего дневного лимита." in words
    assert "Тариф для команды может выбрать её владелец." in words
    assert 'id="upgrade-team"' not in text(r)  # Bob is not an owner


def test_choosing_a_workspace_is_remembered_and_shows_its_quota(site):
    app, container, ids = site
    owner, bob, team_id = with_team(app, container, ids)
    # The page's script: JSON with the quota box of the chosen workspace.
    r = bob.post("/app/workspace", data={"csrf_token": token(bob, "/app"), "team_id": str(team_id)},
                 headers={"Accept": "application/json"})
    assert r.status_code == 200, text(r)
    answer = r.get_json()
    assert answer["workspace"] == team_id and answer["blocked"] is False
    assert "0 of 500 used today by the team" in plain(answer["quota_html"])
    assert f'data-team="{team_id}"' in answer["quota_html"]
    page = text(bob.get("/app"))
    assert selected(page) == str(team_id)
    assert "0 of 500 used today by the team" in plain(page) and "Yours: 0 today." in plain(page)
    # Without the script: "Switch" posts the whole form and gets the generator back, typed text kept.
    r = bob.post("/app/workspace", data={"csrf_token": token(bob, "/app"), "team_id": "",
                                         "prompt": "my half-written prompt", "style": "general"})
    assert r.status_code == 200
    page = text(r)
    assert selected(page) == "" and "my half-written prompt</textarea>" in page
    assert "0 of 5 used today" in plain(page)
    assert selected(text(bob.get("/app"))) == ""
    # A team that is not the user's: 404, nothing remembered.
    stranger = signed_in_client(app, DAVE)
    r = stranger.post("/app/workspace", data={"csrf_token": token(stranger, "/app"), "team_id": str(team_id)},
                      headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.get_json()["message"] == "Team not found."
    r = stranger.post("/app/workspace", data={"csrf_token": token(stranger, "/app"), "team_id": str(team_id),
                                              "prompt": "x", "style": "general"})
    assert r.status_code == 404  # Dave is in no team: the reason stands above the form
    assert re.search(r'id="generate-error">.*?<p>Team not found\.</p>', text(r), re.S)
    assert "x</textarea>" in text(r)


# -- generating from the pool -----------------------------------------------------------------------


def test_a_team_generation_draws_from_the_pool_not_the_personal_quota(database_url, tmp_path):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url,
                                                  PROMPTCORE_DAILY_LIMIT="5"))
    try:
        ids = {email: confirmed_user(container, email) for email in (OWNER, BOB)}
        owner, bob, team_id = with_team(app, container, ids)
        # Without JavaScript.
        r = generate(bob, team_id=str(team_id))
        assert r.status_code == 303, text(r)
        assert pool(container, ids, BOB, team_id) == (1, 500, {OWNER: 0, BOB: 1})
        assert personal_used(container, ids, BOB) == 0
        page = text(bob.get(r.headers["Location"]))
        assert selected(page) == str(team_id)  # remembered
        assert "1 of 500 used today by the team" in plain(page) and "Yours: 1 today." in plain(page)
        # The streaming endpoint the page's script uses.
        r = stream(bob, team_id=str(team_id))
        assert r.status_code == 200 and r.mimetype == "text/event-stream"
        done = [data for name, data in events(r) if name == "done"]
        assert len(done) == 1 and done[0]["exhausted"] is False
        assert "2 of 500 used today by the team" in plain(done[0]["quota_html"])
        assert pool(container, ids, BOB, team_id) == (2, 500, {OWNER: 0, BOB: 2})
        # A refinement (no team_id field) follows the remembered workspace.
        parent = done[0]["id"]
        r = bob.post("/app", data={"csrf_token": token(bob, "/app"), "parent_id": str(parent), "style": "general",
                                   "preset": "shorter"})
        assert r.status_code == 303, text(r)
        assert pool(container, ids, BOB, team_id)[0] == 3 and personal_used(container, ids, BOB) == 0
        # Personal again: the personal quota, not the pool.
        r = generate(bob, team_id="")
        assert r.status_code == 303
        assert personal_used(container, ids, BOB) == 1 and pool(container, ids, BOB, team_id)[0] == 3
        page = text(bob.get("/app"))
        assert selected(page) == "" and "1 of 5 used today" in plain(page)
        r = stream(bob, team_id="")
        assert [name for name, _data in events(r)][-1] == "done"
        assert personal_used(container, ids, BOB) == 2 and pool(container, ids, BOB, team_id)[0] == 3
    finally:
        container.engine().dispose()


def test_a_team_without_a_plan_is_refused_with_402(site):
    app, container, ids = site
    owner, bob, team_id = with_team(app, container, ids, plan=False)
    r = generate(owner, team_id=str(team_id))
    assert r.status_code == 402
    page = text(r)
    words = plain(page)
    assert "This team has no plan with a shared daily limit yet" in words
    assert "“Support desk” has no shared daily limit yet." in words
    assert re.search(r'<a href="/pricing" id="upgrade-team">See the team plans</a>', page)  # the owner
    assert re.search(r'id="generate" type="submit" disabled', page)
    assert "write a post about coffee</textarea>" in page  # what was typed is kept
    r = generate(bob, team_id=str(team_id))
    assert r.status_code == 402 and 'id="upgrade-team"' not in text(r) and 'href="/pricing"' not in plain(text(r))
    assert "An owner of the team can choose a team plan." in plain(text(r))
    r = stream(bob, team_id=str(team_id))
    assert r.status_code == 402
    body = r.get_json()
    assert body["error"] == "team_plan_required" and "no plan with a shared daily limit" in body["message"]
    assert "has no shared daily limit yet" in plain(body["quota_html"])
    assert 'data-exhausted="true"' in body["quota_html"]
    assert records(container, ids, OWNER) == records(container, ids, BOB) == 0
    assert personal_used(container, ids, OWNER) == personal_used(container, ids, BOB) == 0


def test_the_pool_and_the_members_cap_answer_429_with_the_reset_time(site):
    app, container, ids = site
    owner, bob, team_id = with_team(app, container, ids)
    back = f"/teams/{team_id}"
    assert post(owner, f"{back}/members/{ids[BOB]}/cap", back, daily_cap="1").status_code == 303
    assert generate(bob, team_id=str(team_id)).status_code == 303
    # Bob's cap: 429 with the reason and the time, from the page and from the stream.
    r = generate(bob, team_id=str(team_id))
    assert r.status_code == 429
    words = plain(text(r))
    assert "You have used your daily share of the team's limit. The next one is available on" in words
    assert re.search(r"available on \d{1,2} \w+, \d\d:\d\d UTC", words)
    assert "Yours: 1 of your cap of 1 a day." in words
    r = stream(bob, team_id=str(team_id))
    assert r.status_code == 429
    body = r.get_json()
    assert body["error"] == "quota_exceeded" and body["message"].startswith("You have used your daily share")
    assert 'data-exhausted="true"' in body["quota_html"]
    assert pool(container, ids, BOB, team_id)[0] == 1 and personal_used(container, ids, BOB) == 0
    # The pool itself: a plan of 2 a day, used up by the owner.
    container.billing().set_plan("team", daily_limit=2)
    assert generate(owner, team_id=str(team_id)).status_code == 303
    r = generate(owner, team_id=str(team_id))
    assert r.status_code == 429
    words = plain(text(r))
    assert "The team has used its shared limit for today. The next one is available on" in words
    assert "2 of 2 used today by the team" in words
    container.accounts().update_profile(Actor(ids[OWNER]), settings={"language": "ru"})
    owner = signed_in_client(app, OWNER)
    r = stream(owner, team_id=str(team_id))
    assert r.status_code == 429 and r.get_json()["message"].startswith("Команда уже израсходовала общий лимит")
    assert pool(container, ids, OWNER, team_id) == (2, 2, {OWNER: 1, BOB: 1})
    assert personal_used(container, ids, OWNER) == 0


def test_another_teams_id_generates_nothing(site):
    app, container, ids = site
    owner, bob, team_id = with_team(app, container, ids)
    dave = signed_in_client(app, DAVE)
    create_team(dave, "Dave's own")  # Dave has a switcher, without the owner's team in it
    assert str(team_id) not in (switcher(text(dave.get("/app"))) or "x")
    for forged in (str(team_id), "999999", "abc", "-1", str(team_id) + "0"):
        r = generate(dave, team_id=forged)
        assert r.status_code == 404, forged
        page = text(r)
        assert re.search(r'id="team_id-error" data-error-for="team_id">Team not found\.</p>', page)
        assert selected(page) == ""
        r = stream(dave, team_id=forged)
        assert r.status_code == 404
        assert r.get_json()["errors"] == {"team_id": ["Team not found."]}
    assert records(container, ids, DAVE) == 0 and personal_used(container, ids, DAVE) == 0
    assert pool(container, ids, OWNER, team_id)[0] == 0


def test_a_removed_member_falls_back_to_personal(site):
    app, container, ids = site
    owner, bob, team_id = with_team(app, container, ids)
    other = create_team(owner, "Second team")
    join(owner, bob, container, other, BOB)
    assert generate(bob, team_id=str(team_id)).status_code == 303
    assert selected(text(bob.get("/app"))) == str(team_id)
    back = f"/teams/{team_id}"
    assert post(owner, f"{back}/members/{ids[BOB]}/remove", back).status_code == 303
    page = text(bob.get("/app"))
    assert selected(page) == "" and f'value="{team_id}"' not in switcher(page)  # Personal, silently
    assert "Team not found" not in page and "0 of 5 used today" in plain(page)
    # A refinement posted without a team_id: personal, not the old team.
    assert generate(bob).status_code == 303
    assert personal_used(container, ids, BOB) == 1
    assert pool(container, ids, OWNER, team_id) == (1, 500, {OWNER: 0})
    # The old page's form, still naming the team: refused, nothing generated.
    r = generate(bob, team_id=str(team_id))
    assert r.status_code == 404 and personal_used(container, ids, BOB) == 1
    # Out of every team: no switcher at all.
    assert post(owner, f"/teams/{other}/members/{ids[BOB]}/remove", f"/teams/{other}").status_code == 303
    assert switcher(text(bob.get("/app"))) is None


# -- the team page ----------------------------------------------------------------------------------


def test_the_team_page_shows_todays_usage_by_member(site):
    app, container, ids = site
    owner, bob, team_id = with_team(app, container, ids)
    join(owner, signed_in_client(app, CAROL), container, team_id, CAROL)
    back = f"/teams/{team_id}"
    assert post(owner, f"{back}/members/{ids[BOB]}/cap", back, daily_cap="4").status_code == 303
    for _ in range(3):
        assert generate(bob, team_id=str(team_id)).status_code == 303
    assert generate(owner, team_id=str(team_id)).status_code == 303
    assert generate(owner, team_id="").status_code == 303  # personal: not in the team's usage
    page = text(owner.get(back))
    section = re.search(r'<section class="card team-section" id="usage".*?</section>', page, re.S).group(0)
    assert "Usage today" in section and "4 of 500 used today by the team" in plain(section)
    assert re.search(r'<progress class="meter" max="500" value="4"', section)
    rows = re.findall(r'<li data-user="(\d+)">(.*?)</li>', section, re.S)
    assert [int(uid) for uid, _row in rows] == [ids[BOB], ids[OWNER], ids[CAROL]]  # most first
    bars = {int(uid): row for uid, row in rows}
    assert re.search(r'<progress class="meter" max="4" value="3"', bars[ids[BOB]])
    assert "3 of 4" in plain(bars[ids[BOB]])
    assert re.search(r'<progress class="meter" max="500" value="1"', bars[ids[OWNER]])
    assert "(you)" in plain(bars[ids[OWNER]])
    assert re.search(r'<progress class="meter" max="500" value="0"', bars[ids[CAROL]])
    assert_no_inline_code(page)
    # A member sees the same, in Russian.
    container.accounts().update_profile(Actor(ids[BOB]), settings={"language": "ru"})
    page = text(signed_in_client(app, BOB).get(back))
    words = plain(page)
    assert "Использовано сегодня" in words and "Команда использовала сегодня 4 из 500" in words
    assert "3 из 4" in words


def test_the_team_page_without_a_plan_says_there_is_no_shared_limit(site):
    app, container, ids = site
    owner, bob, team_id = with_team(app, container, ids, plan=False)
    page = text(owner.get(f"/teams/{team_id}"))
    assert re.search(r'id="no-team-plan">This team has no shared daily limit yet', page)
    assert re.search(r'<a href="/pricing" id="team-upgrade">', page)
    assert 'id="member-usage"' not in page
    page = text(bob.get(f"/teams/{team_id}"))
    assert 'id="no-team-plan"' in page and 'id="team-upgrade"' not in page
    assert "An owner of the team can choose a team plan." in plain(page)
    container.accounts().update_profile(Actor(ids[OWNER]), settings={"language": "ru"})
    words = plain(text(signed_in_client(app, OWNER).get(f"/teams/{team_id}")))
    assert "У команды пока нет общего дневного лимита" in words


def _refine_fields(page: str) -> dict[str, str]:
    """The hidden fields of the result's refine form, as a browser without JavaScript posts them."""
    form = re.search(r'<form class="iterate".*?</form>', page, re.S).group(0)
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form))


def test_a_refine_without_javascript_draws_from_the_workspace_its_result_was_shown_in(site):
    app, container, ids = site
    owner, bob, team_id = with_team(app, container, ids)
    r = generate(bob, team_id=str(team_id))
    assert r.status_code == 303
    page = text(bob.get(r.headers["Location"]))
    fields = _refine_fields(page)
    assert fields["team_id"] == str(team_id)
    # another tab switches to the personal workspace; the first tab's Refine is then sent
    r = bob.post("/app/workspace", data={"csrf_token": token(bob, "/app"), "team_id": ""})
    assert r.status_code == 200 and selected(text(bob.get("/app"))) == ""
    fields.pop("csrf_token", None)
    r = bob.post("/app", data={**fields, "csrf_token": token(bob, "/app"), "preset": "shorter"})
    assert r.status_code == 303, text(r)
    assert pool(container, ids, BOB, team_id)[2][BOB] == 2 and personal_used(container, ids, BOB) == 0
    # a personal result's form names the personal workspace, whatever the session says meanwhile
    r = generate(bob, team_id="")
    fields = _refine_fields(text(bob.get(r.headers["Location"])))
    assert fields["team_id"] == ""
    generate(bob, team_id=str(team_id))  # the session now remembers the team
    fields.pop("csrf_token", None)
    assert bob.post("/app", data={**fields, "csrf_token": token(bob, "/app"), "preset": "formal"}).status_code == 303
    assert personal_used(container, ids, BOB) == 2 and pool(container, ids, BOB, team_id)[2][BOB] == 3
    # the history page's form names the workspace chosen when it was shown; the team it names is
    # checked when it is posted: removed from the team meanwhile, the refine generates nothing
    bob.post("/app/workspace", data={"csrf_token": token(bob, "/app"), "team_id": str(team_id)})
    fields = _refine_fields(text(bob.get(f"/history/{records_ids(container, ids, BOB)[0]}")))
    assert fields["team_id"] == str(team_id)
    back = f"/teams/{team_id}"
    assert post(owner, f"{back}/members/{ids[BOB]}/remove", back).status_code == 303
    fields.pop("csrf_token", None)
    r = bob.post("/app", data={**fields, "csrf_token": token(bob, "/app"), "preset": "steps"})
    assert r.status_code == 404 and personal_used(container, ids, BOB) == 2


def records_ids(container, ids, email: str) -> list[int]:
    return [r.id for r in container.prompts().history(Actor(ids[email]), 100)[0]]


def test_an_admin_sees_the_cap_form_on_members_only_and_an_owner_on_everyone(site):
    app, container, ids = site
    owner, bob, team_id = with_team(app, container, ids)
    container.teams().change_role(actor(container, ids, OWNER), team_id, ids[BOB], "admin")
    carol = signed_in_client(app, CAROL)
    join(owner, carol, container, team_id, CAROL)
    action = f"/teams/{team_id}/members/{{}}/cap"
    as_admin, as_owner = text(bob.get(f"/teams/{team_id}")), text(owner.get(f"/teams/{team_id}"))
    assert action.format(ids[CAROL]) in as_admin and action.format(ids[BOB]) in as_admin
    assert action.format(ids[OWNER]) not in as_admin  # only owners cap owners
    assert all(action.format(ids[who]) in as_owner for who in (OWNER, BOB, CAROL))
