"""The team pool in Chromium against `promptcore serve` (SPEC §14): Alice's team gets a team plan
(`promptcore plans grant --team`), Bob joins it, picks the team in the generator's workspace
switcher (the quota box turns into the pool's at once), generates with the offline improver over
the streaming endpoint, and the improvement is counted on the pool, not on his own quota; Alice's
team page shows Bob's bar. Then /app with the switcher at 360 px in the dark theme, screenshotted
into artifacts/screenshots/, with nothing wider than the screen and no console or CSP errors."""

from __future__ import annotations

import re

import pytest

from .conftest import SCREENSHOTS, cli, create_admin, serve
from .test_pages import sign_in
from .test_team_browser import DESKTOP, PHONE, check, invitation_link, watch

pytestmark = pytest.mark.browser

ALICE, BOB = "alice@example.com", "bob.with.a.rather.long.address@example.com"
TEAM = "Night shift — customer support and escalations"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    var = tmp_path_factory.mktemp("team-pool")
    url = f"sqlite:///{var}/db.sqlite"
    with serve(var, url) as base:
        for email in (ALICE, BOB):
            create_admin(var, url, email)
        yield base, var, url


def quota_text(page) -> str:
    return " ".join(page.locator("#quota-box").inner_text().split())


def test_generate_from_the_team_pool_and_see_it_on_the_team_page(browser, site):
    base, var, url = site
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    alice_context = browser.new_context(base_url=base, viewport=DESKTOP, locale="en-US")
    alice = alice_context.new_page()
    problems = watch(alice)
    sign_in(alice, ALICE)
    assert alice.locator("#team_id").count() == 0  # in no team yet: no switcher

    # Alice's team, with a team plan granted from the command line, and Bob invited to it.
    alice.goto("/teams")
    alice.get_by_label("Team name").fill(TEAM)
    alice.locator("#create-team").click()
    alice.wait_for_url(re.compile(r"/teams/\d+$"))
    team_path = re.search(r"/teams/\d+$", alice.url).group(0)
    team_id = team_path.rsplit("/", 1)[1]
    assert alice.locator("#no-team-plan").is_visible() and alice.locator("#team-upgrade").is_visible()
    cli(var, url, "plans", "grant", "--team", team_id, "team")
    alice.locator("#invite-form").get_by_label("E-mail").fill(BOB)
    alice.locator("#send-invite").click()
    alice.wait_for_url(re.compile(r"#invitations$"))
    link = invitation_link(alice, BOB)

    # Bob, on a phone in the dark theme, joins.
    bob_context = browser.new_context(base_url=base, viewport=PHONE, locale="en-US")
    bob = bob_context.new_page()
    problems += watch(bob)
    sign_in(bob, BOB)
    bob.locator(".prefs button[name=theme][value=dark]").click()
    bob.wait_for_load_state()
    bob.goto(link)
    bob.locator("#accept-invitation").click()
    bob.wait_for_url(re.compile(re.escape(team_path) + "$"))

    # The switcher: Personal first; picking the team shows the pool's quota at once.
    bob.goto("/app")
    switcher = bob.get_by_label("Workspace")
    assert switcher.input_value() == ""
    assert "0 of 3 used today" in quota_text(bob)
    assert not bob.locator("#switch-workspace").is_visible()  # the no-script button
    switcher.select_option(label=TEAM)
    bob.locator("#quota-box [data-team]").wait_for()
    assert "0 of 500 used today by the team" in quota_text(bob) and "Yours: 0 today." in quota_text(bob)

    # Generate over the stream with the offline improver.
    bob.locator("#prompt").fill("write a short post about our new coffee machine")
    with bob.expect_response(lambda r: r.url.endswith("/app/stream")) as answer:
        bob.locator("#generate").click()
    assert answer.value.headers["content-type"].startswith("text/event-stream")
    bob.locator("#result-title").wait_for()
    bob.wait_for_url(re.compile(r"/app\?result=\d+$"))
    assert bob.locator("#result pre.output").inner_text().strip()
    assert "1 of 500 used today by the team" in quota_text(bob) and "Yours: 1 today." in quota_text(bob)

    # The choice is remembered, and Bob's own quota was not touched.
    bob.goto("/app")
    assert bob.get_by_label("Workspace").input_value() == team_id
    assert "1 of 500 used today by the team" in quota_text(bob)
    bob.get_by_label("Workspace").select_option("")
    bob.locator("#quota-box [data-team]").wait_for(state="detached")
    assert "0 of 3 used today" in quota_text(bob)
    bob.get_by_label("Workspace").select_option(team_id)
    bob.locator("#quota-box [data-team]").wait_for()

    # The screenshot: /app with the switcher, 360 px, dark, nothing wider than the screen.
    bob.goto("/app")
    assert bob.locator("html").get_attribute("data-theme") == "dark"
    assert bob.get_by_label("Workspace").is_visible()
    check(bob, "en", "dark", "pool-app", problems)
    assert (SCREENSHOTS / "team-pool-app-en-dark-360.png").is_file()

    # Alice's team page: the pool and Bob's bar.
    alice.goto(team_path)
    pool = " ".join(alice.locator("#team-pool").inner_text().split())
    assert "1 of 500 used today by the team" in pool
    bar = alice.locator("#member-usage li", has_text=BOB)
    assert bar.locator("progress").get_attribute("value") == "1"
    assert bar.locator("progress").get_attribute("max") == "500"
    assert bar.locator(".team-usage-value").inner_text() == "1"
    mine = alice.locator("#member-usage li", has_text=ALICE)
    assert mine.locator("progress").get_attribute("value") == "0"
    # ... and Bob's team page at phone width, the bars within the screen.
    bob.goto(team_path)
    assert bob.locator("#member-usage li", has_text=BOB).locator("progress").get_attribute("value") == "1"
    check(bob, "en", "dark", "pool-usage", problems)

    alice_context.close()
    bob_context.close()
    assert problems == []
