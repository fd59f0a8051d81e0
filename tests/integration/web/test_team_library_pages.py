"""A team's shared library and shared prompts on the pages, through Flask's test client (SPEC §14):
the team page's "Shared library" (templates and styles, Use, Edit for those who may change them,
New team template, New team style) and "Shared prompts" (newest first, paged, Copy, Remove from
team); the library pages scoped to a team (/templates?team=, /templates/new?team=, /styles?team=,
/styles/new?team=); a team item's page, read-only for a member who may not change it; Copy to my
library and Copy to a team; the generator's team styles; Share with team and Make private on a
history item. A non-member gets the 404 page on every one of them, a plain member gets 403 with the
reason when changing someone else's item, forms need their CSRF token, and nothing changes when
refused. In English and Russian."""

from __future__ import annotations

import re

import pytest

from promptcore.domain.access import Actor
from tests.conftest import build_test_app, make_settings

from .test_security import confirmed_user, generate, signed_in_client, token
from .test_team_pages import assert_every_form_has_csrf, assert_no_inline_code, create_team, join, plain, post, text

OWNER, BOB, CAROL, DAVE = "owner@example.com", "bob@example.com", "carol@example.com", "dave@example.com"
HOSTILE = "<script>window.pwned=1</script>"
ONLY_EDITORS = "Only the team's owners and admins and the author can change this."


@pytest.fixture
def site(tmp_path):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DAILY_LIMIT="30"))
    ids = {email: confirmed_user(container, email) for email in (OWNER, BOB, CAROL, DAVE)}
    yield app, container, ids
    container.engine().dispose()


def actor(container, ids, email: str) -> Actor:
    uid = ids[email]
    return Actor(uid, teams=container.teams().roles_of(uid))


def set_language(container, ids, email: str, language: str) -> None:
    container.accounts().update_profile(Actor(ids[email]), settings={"language": language})


def team_with_members(app, container, ids, name: str = "Support desk"):
    """The owner's team with Bob as a member and Carol as an admin; Dave is in no team."""
    owner, bob, carol = (signed_in_client(app, e) for e in (OWNER, BOB, CAROL))
    team_id = create_team(owner, name)
    join(owner, bob, container, team_id, BOB)
    join(owner, carol, container, team_id, CAROL, "admin")
    return owner, bob, carol, team_id


def new_template(client, team_id: int | None, title: str, body: str = "Write about {{topic}}."):
    back = f"/templates/new?team={team_id}" if team_id else "/templates/new"
    fields = {"title": title, "body": body, "description": "", "tags": ""}
    if team_id:
        fields["team_id"] = str(team_id)
    return post(client, "/templates/new", back, **fields)


def new_style(client, team_id: int | None, title: str, instructions: str = "Be brief and friendly."):
    back = f"/styles/new?team={team_id}" if team_id else "/styles/new"
    fields = {"title": title, "instructions": instructions, "description": "Short and warm"}
    if team_id:
        fields["team_id"] = str(team_id)
    return post(client, "/styles/new", back, **fields)


def created_id(response) -> int:
    assert response.status_code == 303, text(response)
    match = re.fullmatch(r"/templates/(\d+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def team_templates(container, ids, team_id: int) -> dict[str, tuple]:
    found, _next = container.templates().list(actor(container, ids, OWNER), team_id=team_id)
    return {t.title: (t.id, t.body, t.version, t.author_id) for t in found}


def team_styles(container, ids, team_id: int) -> dict[str, tuple]:
    return {s.title: (s.id, s.instructions, s.author_id)
            for s in container.custom_styles().list(actor(container, ids, OWNER), team_id=team_id)}


def shared_state(container, ids, team_id: int) -> list[tuple]:
    feed, _next = container.shared_records().feed(actor(container, ids, OWNER), team_id, 100)
    return [(s.record_id, s.author_id) for s in feed]


def share(client, record_id: int, team_id) -> object:
    back = f"/history/{record_id}"
    return post(client, f"/history/{record_id}/share", back, team_id=str(team_id))


# -- the team page -----------------------------------------------------------------------------------------


def test_the_round_on_sqlite_and_postgresql(database_url, tmp_path):
    """A team template and style, a shared prompt on the team page, paged, then removed: both databases."""
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url,
                                                  PROMPTCORE_DAILY_LIMIT="30"))
    try:
        ids = {email: confirmed_user(container, email) for email in (OWNER, BOB, CAROL)}
        owner, bob, _carol, team_id = team_with_members(app, container, ids)
        template_id = created_id(new_template(owner, team_id, "Weekly update"))
        assert new_style(owner, team_id, "Team voice").status_code == 303
        records = [generate(bob, f"prompt {n}") for n in range(11)]
        for record_id in records:
            assert share(bob, record_id, team_id).status_code == 303
        page = text(bob.get(f"/teams/{team_id}"))
        assert f'id="team-template-{template_id}"' in page and "Team voice" in page
        assert len(re.findall(r'id="shared-(\d+)"', page)) == 10 and 'id="feed-next"' in page
        older = re.search(r'id="feed-next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
        assert [int(i) for i in re.findall(r'id="shared-(\d+)"', text(bob.get(older)))] == records[:1]
        assert post(owner, f"/teams/{team_id}/records/{records[0]}/remove", f"/teams/{team_id}").status_code == 303
        assert len(shared_state(container, ids, team_id)) == 10
    finally:
        container.engine().dispose()


def test_the_team_page_shows_the_library_and_the_shared_prompts(site):
    app, container, ids = site
    owner, bob, carol, team_id = team_with_members(app, container, ids)
    back = f"/teams/{team_id}"
    page = text(bob.get(back))
    for piece in ('id="library"', "Shared library", 'id="no-team-templates"', 'id="no-team-styles"',
                  f'href="/templates/new?team={team_id}"', f'href="/styles/new?team={team_id}"',
                  f'href="/templates?team={team_id}"', f'href="/styles?team={team_id}"',
                  'id="shared"', "Shared prompts", 'id="no-shared"'):
        assert piece in page, piece

    owners_template = created_id(new_template(owner, team_id, "Weekly update"))
    bobs_template = created_id(new_template(bob, team_id, "Bug report", "Steps: {{steps}}"))
    assert new_style(owner, team_id, "Team voice").status_code == 303
    styles = team_styles(container, ids, team_id)
    style_id = styles["Team voice"][0]

    page = text(bob.get(back))
    templates = re.search(r'id="team-templates".*?</ul>', page, re.S).group(0)
    owner_row = re.search(rf'id="team-template-{owners_template}".*?</li>', templates, re.S).group(0)
    bob_row = re.search(rf'id="team-template-{bobs_template}".*?</li>', templates, re.S).group(0)
    assert "Weekly update" in owner_row and f"by {OWNER}" in plain(owner_row)
    assert f'href="/templates/{owners_template}/use"' in owner_row
    assert ">Edit<" not in owner_row  # a plain member may not change the owner's template
    assert "Bug report" in bob_row and f"by {BOB}" in plain(bob_row) and ">Edit<" in bob_row  # the author may
    style_row = re.search(rf'id="team-style-{style_id}".*?</li>', page, re.S).group(0)
    assert "Team voice" in style_row and f'href="/app?style=custom:{style_id}"' in style_row
    assert ">Edit<" not in style_row
    assert_no_inline_code(page)
    assert_every_form_has_csrf(page)
    # The owner and an admin may change every item.
    for client in (owner, carol):
        page = text(client.get(back))
        assert page.count(">Edit<") == 3, page

    # Bob shares a prompt; everyone in the team sees it, newest first, with Copy; the owner may remove it.
    first = generate(bob, "write a post about our new coffee machine")
    second = generate(bob, "summarise the meeting notes")
    for record_id in (first, second):
        r = share(bob, record_id, team_id)
        assert r.status_code == 303 and r.headers["Location"] == f"/history/{record_id}#sharing"
    page = text(owner.get(back))
    feed = re.search(r'id="shared-list".*?</ul>', page, re.S).group(0)
    assert feed.index(f'id="shared-{second}"') < feed.index(f'id="shared-{first}"')
    item = re.search(rf'id="shared-{first}".*?</li>', feed, re.S).group(0)
    assert BOB in item and "write a post about our new coffee machine" in item and "<details" in item
    assert f'data-copy-target="shared-text-{first}"' in item and f'id="shared-text-{first}"' in item
    assert f'action="/teams/{team_id}/records/{first}/remove"' in item
    # Carol (admin) may remove it too; Bob (its author) may; another plain member may not.
    assert f"/records/{first}/remove" in text(carol.get(back)) and f"/records/{first}/remove" in text(bob.get(back))
    join(owner, signed_in_client(app, DAVE), container, team_id, DAVE)
    assert f"/records/{first}/remove" not in text(signed_in_client(app, DAVE).get(back))


def test_the_feed_is_paged_and_a_foreign_cursor_shows_the_first_page(site):
    app, container, ids = site
    owner, bob, _carol, team_id = team_with_members(app, container, ids)
    records = [generate(bob, f"prompt number {n}") for n in range(12)]
    for record_id in records:
        assert share(bob, record_id, team_id).status_code == 303
    back = f"/teams/{team_id}"
    page = text(owner.get(back))
    first_page = re.findall(r'id="shared-(\d+)"', page)
    assert [int(i) for i in first_page] == records[::-1][:10]
    cursor = re.search(r'id="feed-next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert "#shared" in cursor
    page = text(owner.get(cursor))
    assert [int(i) for i in re.findall(r'id="shared-(\d+)"', page)] == records[::-1][10:]
    assert 'id="feed-next"' not in page and f'href="/teams/{team_id}#shared">Newest<' in page
    r = owner.get(f"{back}?feed=not-a-cursor")
    assert r.status_code == 200 and re.findall(r'id="shared-(\d+)"', text(r)) == first_page


def test_remove_from_team_follows_the_roles(site):
    app, container, ids = site
    owner, bob, carol, team_id = team_with_members(app, container, ids)
    dave = signed_in_client(app, DAVE)
    join(owner, dave, container, team_id, DAVE)
    back = f"/teams/{team_id}"
    records = [generate(bob, f"shared prompt {n}") for n in range(3)]
    for record_id in records:
        share(bob, record_id, team_id)
    before = shared_state(container, ids, team_id)

    # A plain member removing someone else's share: the team page with the reason, 403, nothing changed.
    r = post(dave, f"{back}/records/{records[0]}/remove", back)
    assert r.status_code == 403
    assert "Only the team&#39;s owners and admins and the author can remove a shared prompt." in text(r)
    assert 'id="team-errors"' in text(r) and shared_state(container, ids, team_id) == before
    # A record that is not shared with the team: 404 on the team page, nothing changed.
    unshared = generate(bob, "not shared")
    r = post(owner, f"{back}/records/{unshared}/remove", back)
    assert r.status_code == 404 and "This prompt is not shared with the team." in text(r)
    assert shared_state(container, ids, team_id) == before

    # The author, an admin and the owner may.
    for client, record_id in ((bob, records[0]), (carol, records[1]), (owner, records[2])):
        r = post(client, f"{back}/records/{record_id}/remove", back)
        assert r.status_code == 303 and r.headers["Location"] == f"{back}#shared"
        assert "removed from the team" in text(client.get(r.headers["Location"]))
    assert shared_state(container, ids, team_id) == []
    # The records stay in Bob's history, private.
    for record_id in records:
        assert bob.get(f"/history/{record_id}").status_code == 200
        assert container.shared_records().of_record(actor(container, ids, BOB), record_id) is None


# -- the library pages with a team scope --------------------------------------------------------------------


def test_the_templates_of_a_team(site):
    app, container, ids = site
    owner, bob, _carol, team_id = team_with_members(app, container, ids)
    page = text(bob.get(f"/templates/new?team={team_id}"))
    assert "New team template" in page and f'name="team_id" value="{team_id}"' in page
    assert f'href="/teams/{team_id}">Support desk</a>' in page
    template_id = created_id(new_template(owner, team_id, "Weekly update", "News about {{project}}."))
    assert "saved in the team “Support desk”" in text(owner.get(f"/templates/{template_id}"))
    own_id = created_id(new_template(owner, None, "Private note"))

    page = text(bob.get(f"/templates?team={team_id}"))
    assert 'id="library-heading">Templates of Support desk<' in page
    assert "Weekly update" in page and "Private note" not in page
    assert f'href="/templates/new?team={team_id}"' in page and 'id="quick-templates"' not in page
    assert f'href="/templates/{template_id}/use"' in page and f'action="/templates/{template_id}/copy"' in page
    assert f'action="/templates/{template_id}/favourite"' not in page  # Bob may not change it
    assert f'name="team" value="{team_id}"' in page  # the search keeps the scope
    assert_no_inline_code(page)
    assert_every_form_has_csrf(page)
    # The owner's own list links the team's library and does not mix the two.
    page = text(owner.get("/templates"))
    assert f'href="/templates?team={team_id}">Support desk<' in page and "Weekly update" not in page
    assert "Private note" in page
    # Search and tags within the team.
    assert "Weekly update" in text(bob.get(f"/templates?team={team_id}&q=weekly"))
    assert "Weekly update" not in text(bob.get(f"/templates?team={team_id}&q=nothing-like-it"))

    # Bob uses it: the fill-in form, then the generator with the text.
    assert bob.get(f"/templates/{template_id}/use").status_code == 200
    r = bob.post(f"/templates/{template_id}/use", data={"csrf_token": token(bob, f"/templates/{template_id}/use"),
                                                        "values.project": "the coffee machine"})
    assert r.status_code == 200 and "News about the coffee machine." in text(r)

    # ... and copies it to his library; the team's copy is unchanged.
    r = post(bob, f"/templates/{template_id}/copy", f"/templates/{template_id}")
    copy_id = created_id(r)
    copy = container.templates().get(actor(container, ids, BOB), copy_id)
    assert copy.owner_id == ids[BOB] and copy.team_id is None and copy.body == "News about {{project}}."
    assert "Copied to your library as “Weekly update”." in text(bob.get(f"/templates/{copy_id}"))
    # ... and copies his own template to the team: a select of his teams on its page.
    page = text(bob.get(f"/templates/{copy_id}"))
    assert 'id="copy-to-team"' in page and f'<option value="{team_id}">Support desk</option>' in page
    r = post(bob, f"/templates/{copy_id}/copy", f"/templates/{copy_id}", team_id=str(team_id))
    team_copy = created_id(r)
    assert team_templates(container, ids, team_id)["Weekly update (2)"][3] == ids[BOB]
    assert "Copied to the team “Support desk” as “Weekly update (2)”." in text(bob.get(f"/templates/{team_copy}"))
    assert own_id


def test_a_plain_member_sees_a_team_template_read_only_and_is_refused(site):
    app, container, ids = site
    owner, bob, carol, team_id = team_with_members(app, container, ids)
    template_id = created_id(new_template(owner, team_id, "Weekly update", "News about {{project}}."))
    path = f"/templates/{template_id}"
    page = text(bob.get(path))
    assert 'id="template-team"' in page and f'href="/teams/{team_id}">Support desk</a>' in page
    assert 'id="read-only-note"' in page and 'id="save-template"' not in page
    assert 'id="delete-template"' not in page and 'id="improve-template"' not in page
    assert re.search(r'<textarea[^>]*id="body"[^>]*readonly', page)
    assert re.search(r'<input[^>]*id="title"[^>]*readonly', page)
    assert 'id="copy-template"' in page
    assert 'id="read-only-note"' not in text(owner.get(path)) and 'id="save-template"' in text(owner.get(path))
    assert 'id="save-template"' in text(carol.get(path))  # an admin may change it
    versions = text(bob.get(f"{path}/versions"))
    assert "/restore" not in versions

    before = team_templates(container, ids, team_id)
    r = post(bob, path, path, title="Mine now", body="Changed {{project}}", description="", tags="")
    assert r.status_code == 403
    page = text(r)
    assert ONLY_EDITORS.replace("'", "&#39;") in page
    assert 'value="Mine now"' in page and "Changed {{project}}" in page  # what Bob typed is kept
    for attempt in (bob.get(f"{path}/delete"), post(bob, f"{path}/delete", path),
                    post(bob, f"{path}/favourite", path, favourite="1"),
                    post(bob, f"{path}/improved", path, body="Other {{project}}")):
        assert attempt.status_code == 403, attempt.status_code
    assert team_templates(container, ids, team_id) == before

    # The author and an admin may change it.
    r = post(carol, path, path, title="Weekly update", body="Updates on {{project}}.", description="", tags="")
    assert r.status_code == 303
    assert team_templates(container, ids, team_id)["Weekly update"][2] == 2
    bobs = created_id(new_template(bob, team_id, "Bob's own"))
    r = post(bob, f"/templates/{bobs}", f"/templates/{bobs}", title="Bob's own", body="Edited {{x}}",
             description="", tags="")
    assert r.status_code == 303
    r = post(bob, f"/templates/{bobs}/delete", f"/templates/{bobs}/delete")
    assert r.status_code == 303 and r.headers["Location"] == f"/templates?team={team_id}"


def test_creating_in_a_team_checks_the_team(site):
    app, container, ids = site
    owner, _bob, _carol, team_id = team_with_members(app, container, ids)
    dave = signed_in_client(app, DAVE)
    # A team Dave is not in: 404 before the fields, nothing written.
    r = post(dave, "/templates/new", "/templates/new", title="Sneaky", body="x", team_id=str(team_id))
    assert r.status_code == 404 and "Support desk" not in text(r)
    r = post(dave, "/styles/new", "/styles/new", title="Sneaky", instructions="x", team_id=str(team_id))
    assert r.status_code == 404
    # Text that is no id: the use case's 422, next to the form, nothing written.
    r = post(owner, "/templates/new", "/templates/new", title="Odd", body="x", team_id="abc")
    assert r.status_code == 422 and "Give the id of one of your teams." in text(r)
    assert 'value="Odd"' in text(r)
    r = post(owner, "/styles/new", "/styles/new", title="Odd", instructions="x", team_id="abc")
    assert r.status_code == 422 and "Give the id of one of your teams." in text(r)
    # Bad fields in a team: the form again in the team.
    r = post(owner, "/templates/new", f"/templates/new?team={team_id}", title="", body="x", team_id=str(team_id))
    assert r.status_code == 422 and f'name="team_id" value="{team_id}"' in text(r) and "New team template" in text(r)
    assert team_templates(container, ids, team_id) == {} and team_styles(container, ids, team_id) == {}
    assert container.templates().list(Actor(ids[DAVE]))[0] == []
    assert container.templates().list(Actor(ids[OWNER]))[0] == []


def test_the_styles_of_a_team_and_the_generator(site):
    app, container, ids = site
    owner, bob, _carol, team_id = team_with_members(app, container, ids)
    page = text(owner.get(f"/styles/new?team={team_id}"))
    assert "New team style" in page and f'name="team_id" value="{team_id}"' in page
    r = new_style(owner, team_id, "Team voice")
    assert r.status_code == 303 and r.headers["Location"] == f"/styles?team={team_id}"
    assert new_style(bob, None, "Bob's voice").status_code == 303
    style_id = team_styles(container, ids, team_id)["Team voice"][0]

    page = text(bob.get(f"/styles?team={team_id}"))
    assert 'id="library-heading">Styles of Support desk<' in page and "Team voice" in page
    listed = re.search(r'id="style-list".*?</ul>', page, re.S).group(0)
    assert "Team voice" in listed and "Bob&#39;s voice" not in listed and 'id="library-export-link"' not in page
    assert f'href="/styles/{style_id}/delete"' not in page  # Bob may not change it
    assert f'href="/styles/new?team={team_id}"' in page
    assert_no_inline_code(page)
    owners = text(owner.get(f"/styles?team={team_id}"))
    assert f'href="/styles/{style_id}/delete"' in owners
    assert "created for the team “Support desk”" in owners

    # The style page, read-only for Bob; a forged save: 403 with the reason, what he typed kept.
    path = f"/styles/{style_id}"
    page = text(bob.get(path))
    assert 'id="style-team"' in page and 'id="read-only-note"' in page and 'id="save-style"' not in page
    assert re.search(r'<textarea[^>]*id="instructions"[^>]*readonly', page)
    before = team_styles(container, ids, team_id)
    r = post(bob, path, path, title="Hijacked", instructions="Shout.", description="")
    assert r.status_code == 403 and ONLY_EDITORS.replace("'", "&#39;") in text(r) and "Shout." in text(r)
    assert bob.get(f"{path}/delete").status_code == 403
    assert post(bob, f"{path}/delete", path).status_code == 403
    assert team_styles(container, ids, team_id) == before
    r = post(owner, path, path, title="Team voice", instructions="Be brief.", description="")
    assert r.status_code == 303 and r.headers["Location"] == f"/styles?team={team_id}"

    # The generator: Bob's own styles, then the team's under its name; usable by a member.
    page = text(bob.get("/app"))
    assert "Team styles: Support desk" in page and f'id="team-styles-{team_id}"' in page
    assert page.index('id="my-styles-label"') < page.index(f'value="custom:{style_id}"')
    assert page.index("Bob&#39;s voice") < page.index("Team voice")
    assert f'value="custom:{style_id}" checked' in text(bob.get(f"/app?style=custom:{style_id}"))
    r = bob.post("/app", data={"csrf_token": token(bob, "/app"), "prompt": "write a post about our coffee",
                               "style": f"custom:{style_id}"})
    assert r.status_code == 303
    record_id = int(r.headers["Location"].rsplit("=", 1)[1])
    assert container.prompts().get(Actor(ids[BOB]), record_id).style == f"custom:{style_id}"
    assert '<span class="badge">Team voice</span>' in text(bob.get(f"/history/{record_id}"))
    # Someone in no team does not see it, and cannot use it.
    dave = signed_in_client(app, DAVE)
    assert "Team voice" not in text(dave.get("/app"))
    r = dave.post("/app", data={"csrf_token": token(dave, "/app"), "prompt": "x", "style": f"custom:{style_id}"})
    assert r.status_code in (404, 422) and "Style not found." in text(r)


# -- a history item: share with a team, make it private ------------------------------------------------------


def test_share_and_make_private_from_the_history_item(site):
    app, container, ids = site
    owner, bob, _carol, team_id = team_with_members(app, container, ids)
    other_team = create_team(bob, "Night shift")
    record_id = generate(bob, "write a post about our new coffee machine")
    path = f"/history/{record_id}"
    page = text(bob.get(path))
    form = re.search(r'<form[^>]*id="share-form".*?</form>', page, re.S).group(0)
    assert f'action="{path}/share"' in form and 'name="csrf_token"' in form
    assert sorted(int(i) for i in re.findall(r'<option value="(\d+)"', form)) == sorted([team_id, other_team])
    assert 'id="make-private"' not in page

    r = share(bob, record_id, team_id)
    assert r.status_code == 303
    page = text(bob.get(r.headers["Location"]))
    assert "Shared with the team “Support desk”" in page
    assert 'id="shared-with"' in page and "Shared with Support desk" in plain(page)
    assert 'id="make-private"' in page and 'id="share-form"' not in page
    assert f'href="/teams/{team_id}#shared"' in page
    assert share(bob, record_id, team_id).status_code == 303  # again: nothing changes
    assert shared_state(container, ids, team_id) == [(record_id, ids[BOB])]

    r = post(bob, f"{path}/unshare", path)
    assert r.status_code == 303 and r.headers["Location"] == f"{path}#sharing"
    assert "The prompt is private again" in text(bob.get(r.headers["Location"]))
    assert shared_state(container, ids, team_id) == []
    r = post(bob, f"{path}/unshare", path)  # already private: said so
    assert r.status_code == 303 and "This prompt is private already." in text(bob.get(r.headers["Location"]))

    # A team Bob is not in: 404, nothing shared; text that is no id: 422 on the history item.
    dave_team = create_team(signed_in_client(app, DAVE), "Dave's")
    r = share(bob, record_id, dave_team)
    assert r.status_code == 404 and "Dave" not in text(r)
    r = share(bob, record_id, "abc")
    assert r.status_code == 422 and "Give an id (a whole number, 1 or more)." in text(r)
    assert 'id="share-form"' in text(r)
    # Someone else's record: 404 on every route, nothing shared.
    for client in (owner, signed_in_client(app, DAVE)):
        assert client.get(path).status_code == 404
        assert share(client, record_id, team_id).status_code == 404
        assert post(client, f"{path}/unshare", "/app").status_code == 404
    assert shared_state(container, ids, team_id) == []


def test_someone_in_no_team_sees_no_share_form(site):
    app, container, ids = site
    dave = signed_in_client(app, DAVE)
    record_id = generate(dave, "a prompt of my own")
    page = text(dave.get(f"/history/{record_id}"))
    assert 'id="share-form"' not in page and 'id="sharing"' not in page


# -- strangers, removed members, CSRF -----------------------------------------------------------------------


def test_a_non_member_gets_the_404_page_everywhere(site):
    app, container, ids = site
    owner, bob, _carol, team_id = team_with_members(app, container, ids)
    template_id = created_id(new_template(owner, team_id, "Weekly update"))
    new_style(owner, team_id, "Team voice")
    style_id = team_styles(container, ids, team_id)["Team voice"][0]
    record_id = generate(bob, "a shared prompt")
    share(bob, record_id, team_id)
    dave = signed_in_client(app, DAVE)
    csrf = token(dave, "/app")
    fields = {"csrf_token": csrf, "title": "Taken", "body": "x", "instructions": "x", "team_id": str(team_id),
              "favourite": "1"}
    before = (team_templates(container, ids, team_id), team_styles(container, ids, team_id),
              shared_state(container, ids, team_id))
    gets = [f"/teams/{team_id}", f"/templates?team={team_id}", f"/templates/new?team={team_id}",
            f"/styles?team={team_id}", f"/styles/new?team={team_id}", f"/templates/{template_id}",
            f"/templates/{template_id}/use", f"/templates/{template_id}/versions", f"/templates/{template_id}/delete",
            f"/styles/{style_id}", f"/styles/{style_id}/delete", f"/history/{record_id}",
            f"/app?style=custom:{style_id}&result={record_id}", "/templates?team=abc", "/styles?team=-1",
            "/templates?team=99999999999999999999"]
    for path in gets:
        r = dave.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert "Support desk" not in text(r) and "Weekly update" not in text(r), path
    posts = ["/templates/new", "/styles/new", f"/templates/{template_id}", f"/templates/{template_id}/copy",
             f"/templates/{template_id}/delete", f"/templates/{template_id}/favourite",
             f"/styles/{style_id}", f"/styles/{style_id}/delete", f"/teams/{team_id}/records/{record_id}/remove",
             f"/history/{record_id}/share", f"/history/{record_id}/unshare"]
    for path in posts:
        r = dave.post(path, data=fields)
        assert r.status_code == 404, (path, r.status_code)
        assert "Support desk" not in text(r) and "Weekly update" not in text(r), path
    # Dave copying his own template into Bob's team: 404 too.
    own = created_id(new_template(dave, None, "Dave's template"))
    r = post(dave, f"/templates/{own}/copy", f"/templates/{own}", team_id=str(team_id))
    assert r.status_code == 404
    assert before == (team_templates(container, ids, team_id), team_styles(container, ids, team_id),
                      shared_state(container, ids, team_id))


def test_a_removed_member_loses_the_library_at_once(site):
    app, container, ids = site
    owner, bob, _carol, team_id = team_with_members(app, container, ids)
    template_id = created_id(new_template(bob, team_id, "Bob's team template"))
    assert bob.get(f"/templates/{template_id}").status_code == 200
    assert post(owner, f"/teams/{team_id}/members/{ids[BOB]}/remove", f"/teams/{team_id}").status_code == 303
    for path in (f"/templates/{template_id}", f"/templates?team={team_id}", f"/styles?team={team_id}"):
        assert bob.get(path).status_code == 404, path
    # What he made stays with the team.
    assert "Bob&#39;s team template" in text(owner.get(f"/teams/{team_id}"))


def test_the_new_forms_need_a_csrf_token(site):
    app, container, ids = site
    owner, bob, _carol, team_id = team_with_members(app, container, ids)
    template_id = created_id(new_template(owner, team_id, "Weekly update"))
    record_id = generate(bob, "a prompt")
    share(bob, record_id, team_id)
    before = (team_templates(container, ids, team_id), shared_state(container, ids, team_id))
    for client, path, fields in (
            (owner, "/templates/new", {"title": "Forged", "body": "x", "team_id": str(team_id)}),
            (owner, "/styles/new", {"title": "Forged", "instructions": "x", "team_id": str(team_id)}),
            (bob, f"/templates/{template_id}/copy", {"team_id": str(team_id)}),
            (owner, f"/teams/{team_id}/records/{record_id}/remove", {}),
            (bob, f"/history/{record_id}/share", {"team_id": str(team_id)}),
            (bob, f"/history/{record_id}/unshare", {})):
        for data in (fields, {**fields, "csrf_token": "forged"}):
            r = client.post(path, data=data)
            assert r.status_code == 400, (path, r.status_code)
            assert "The form has expired or was not sent from this site." in text(r)
    assert before == (team_templates(container, ids, team_id), shared_state(container, ids, team_id))
    assert team_styles(container, ids, team_id) == {}


def test_hostile_names_are_text(site):
    app, container, ids = site
    owner, bob, _carol, team_id = team_with_members(app, container, ids, name=HOSTILE)
    created_id(new_template(owner, team_id, HOSTILE))
    new_style(owner, team_id, HOSTILE[:60])
    record_id = generate(bob, HOSTILE)
    share(bob, record_id, team_id)
    for path in (f"/teams/{team_id}", f"/templates?team={team_id}", f"/styles?team={team_id}", "/app",
                 f"/history/{record_id}", f"/templates/new?team={team_id}"):
        page = text(bob.get(path))
        assert HOSTILE not in page and "&lt;script&gt;" in page, path


# -- Russian ------------------------------------------------------------------------------------------------


def test_the_team_library_in_russian(site):
    app, container, ids = site
    for email in (OWNER, BOB):
        set_language(container, ids, email, "ru")
    owner, bob, _carol, team_id = team_with_members(app, container, ids, name="Поддержка")
    back = f"/teams/{team_id}"
    page = text(bob.get(back))
    for piece in ("Общая библиотека", "Новый шаблон команды", "Новый стиль команды", "Общие промпты",
                  "Пока ничего не опубликовано."):
        assert piece in page, piece
    template_id = created_id(new_template(owner, team_id, "Еженедельный отчёт"))
    r = post(bob, f"/templates/{template_id}", f"/templates/{template_id}", title="Моё", body="x",
             description="", tags="")
    assert r.status_code == 403 and "Менять это могут только владельцы и администраторы команды и автор." in text(r)
    assert "Шаблоны команды Поддержка" in text(bob.get(f"/templates?team={team_id}"))
    record_id = generate(bob, "напиши пост про кофемашину")
    page = text(bob.get(f"/history/{record_id}"))
    assert "Поделиться с командой" in page
    r = share(bob, record_id, team_id)
    page = text(bob.get(r.headers["Location"]))
    assert "Опубликовано в команде «Поддержка»" in page and "Сделать личным" in page
    page = text(owner.get(back))
    assert "Убрать из команды" in page and "Скопировать улучшенный промпт" in page
    dave_member = signed_in_client(app, DAVE)
    join(owner, dave_member, container, team_id, DAVE)
    dave_member.post("/preferences", data={"csrf_token": token(dave_member, "/"), "language": "ru"})
    r = post(dave_member, f"{back}/records/{record_id}/remove", back)
    assert r.status_code == 403
    assert "Убрать опубликованный промпт могут только владельцы и администраторы команды и его автор." in text(r)
