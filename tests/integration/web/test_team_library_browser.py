"""A team's shared library and shared prompts in Chromium against `promptcore serve` (SPEC §14):
the owner makes a team template and a team style from the team page; a member, in a second browser,
sees both in the team's shared library, uses the template (fill in → the generator), picks the
team style under the team's name, generates over the stream with the offline improver and shares
the result with the team from its history item; the owner finds it in the team's shared prompts,
opens its texts and copies the improved prompt. Then the team page at phone width (360 px) in the
dark theme in Russian, screenshotted to artifacts/screenshots/team-library.png, with nothing wider
than the screen and no console or CSP errors."""

from __future__ import annotations

import re

import pytest

from .conftest import SCREENSHOTS, create_admin, serve
from .test_pages import sign_in
from .test_team_browser import DESKTOP, PHONE, invitation_link, watch

pytestmark = pytest.mark.browser

ALICE, BOB = "alice@example.com", "bob.from.the.support.desk@example.com"
TEAM = "Support desk — shared library and prompts"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    var = tmp_path_factory.mktemp("team-library")
    url = f"sqlite:///{var}/db.sqlite"
    with serve(var, url) as base:
        for email in (ALICE, BOB):
            create_admin(var, url, email)
        yield base


def too_wide(page) -> list[str]:
    """What sticks out of the screen, or out of its own box (as test_team_browser.check looks)."""
    found = []
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        found.append(f"{overflow}px sideways scroll")
    found += page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5 || (
            !['INPUT', 'TEXTAREA', 'SELECT', 'OPTION', 'svg', 'path', 'circle', 'rect'].includes(el.tagName) &&
            getComputedStyle(el).overflowX === 'visible' && el.clientWidth > 0 &&
            el.scrollWidth > el.clientWidth + 1))
        .filter(el => !el.closest('.sr-only, .skip-link'))
        .map(el => el.tagName + '.' + el.className + ' ' + el.getBoundingClientRect().right).slice(0, 5)""")
    return found


def test_a_team_template_and_style_used_by_a_member_and_the_result_shared(browser, site):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    alice_context = browser.new_context(base_url=site, viewport=DESKTOP, locale="en-US",
                                        permissions=["clipboard-read", "clipboard-write"])
    alice = alice_context.new_page()
    problems = watch(alice)
    sign_in(alice, ALICE)

    # Alice's team, and Bob invited to it.
    alice.goto("/teams")
    alice.get_by_label("Team name").fill(TEAM)
    alice.locator("#create-team").click()
    alice.wait_for_url(re.compile(r"/teams/\d+$"))
    team_path = re.search(r"/teams/\d+$", alice.url).group(0)
    team_id = team_path.rsplit("/", 1)[1]
    assert alice.locator("#no-team-templates").is_visible() and alice.locator("#no-shared").is_visible()
    alice.locator("#invite-form").get_by_label("E-mail").fill(BOB)
    alice.locator("#send-invite").click()
    alice.wait_for_url(re.compile(r"#invitations$"))
    link = invitation_link(alice, BOB)

    # A team template, from the team page.
    alice.goto(team_path)
    alice.locator("#new-team-template").click()
    alice.wait_for_url(re.compile(r"/templates/new\?team=\d+$"))
    assert alice.locator("h1").inner_text() == "New team template"
    alice.get_by_label("Title").fill("Product announcement")
    alice.locator("#body").fill("Write a short announcement of {{product}} for our customers.")
    alice.locator("#save-template").click()
    alice.wait_for_url(re.compile(r"/templates/\d+$"))
    assert TEAM in alice.locator("#template-team").inner_text()
    assert "saved in the team" in alice.locator(".flashes").inner_text()

    # ... and a team style.
    alice.goto(team_path)
    alice.locator("#new-team-style").click()
    alice.wait_for_url(re.compile(r"/styles/new\?team=\d+$"))
    alice.get_by_label("Title").fill("Support voice")
    alice.get_by_label("Description (optional)").fill("Warm, brief, with the next step")
    alice.locator("#instructions").fill("Friendly and brief. End with the next step for the customer.")
    alice.locator("#save-style").click()
    alice.wait_for_url(re.compile(r"/styles\?team=\d+$"))
    assert "Support voice" in alice.locator("#style-list").inner_text()

    # Bob, in another browser, joins and finds both in the team's shared library.
    bob_context = browser.new_context(base_url=site, viewport=DESKTOP, locale="en-US")
    bob = bob_context.new_page()
    problems += watch(bob)
    sign_in(bob, BOB)
    bob.goto(link)
    bob.locator("#accept-invitation").click()
    bob.wait_for_url(re.compile(re.escape(team_path) + "$"))
    templates = bob.locator("#team-templates")
    assert "Product announcement" in templates.inner_text() and f"by {ALICE}" in templates.inner_text()
    assert templates.get_by_role("link", name=re.compile(r"^Edit")).count() == 0  # Alice's: Bob may not change it
    styles = bob.locator("#team-styles")
    assert "Support voice" in styles.inner_text()

    # He uses the template: fill in, then the generator with the text.
    templates.get_by_role("link", name=re.compile(r"^Use")).click()
    bob.wait_for_url(re.compile(r"/templates/\d+/use$"))
    bob.get_by_label("product").fill("our new coffee machine")
    bob.locator("#open-in-generator").click()
    bob.locator("#prompt").wait_for()
    filled = "Write a short announcement of our new coffee machine for our customers."
    assert bob.locator("#prompt").input_value() == filled

    # The team's style, under the team's name.
    group = bob.locator(f"#team-styles-{team_id}")
    assert f"Team styles: {TEAM}" in group.inner_text()
    group.get_by_text("Support voice").click()
    assert group.locator("input[name=style]").is_checked()
    with bob.expect_response(lambda r: r.url.endswith("/app/stream")) as answer:
        bob.locator("#generate").click()
    assert answer.value.headers["content-type"].startswith("text/event-stream")
    bob.locator("#result-title").wait_for()
    bob.wait_for_url(re.compile(r"/app\?result=\d+$"))
    record_id = bob.url.rsplit("=", 1)[1]
    improved = bob.locator("#result pre.output").inner_text().strip()
    assert "coffee machine" in improved
    assert "Support voice" in bob.locator("#result .meta .badge").inner_text()

    # He shares it with the team from its history item.
    bob.goto(f"/history/{record_id}")
    bob.get_by_label("Share with team").select_option(label=TEAM)
    bob.locator("#share-record").click()
    bob.wait_for_url(re.compile(r"#sharing$"))
    assert TEAM in bob.locator("#shared-with").inner_text()
    assert bob.locator("#make-private").is_visible()

    # Alice sees it in the team's shared prompts, opens the texts and copies the improved prompt.
    alice.goto(team_path)
    item = alice.locator(f"#shared-{record_id}")
    assert BOB in item.inner_text() and "our new coffee machine" in item.inner_text()
    assert not item.locator(f"#shared-text-{record_id}").is_visible()  # collapsed
    item.locator("summary").click()
    assert item.locator(f"#shared-text-{record_id}").inner_text().strip() == improved
    item.get_by_role("button", name="Copy the improved prompt").click()
    alice.wait_for_function("() => document.querySelector('.team-feed-actions .is-done') !== null")
    assert alice.evaluate("navigator.clipboard.readText()").strip() == improved
    assert item.get_by_role("button", name="Remove from team").is_visible()

    # The team page on a phone, dark, in Russian: one screenshot.
    phone_context = browser.new_context(base_url=site, viewport=PHONE)
    phone = phone_context.new_page()
    problems += watch(phone)
    sign_in(phone, ALICE)
    phone.get_by_role("button", name="RU", exact=True).click()
    phone.wait_for_load_state()
    phone.locator(".prefs button[name=theme][value=dark]").click()
    phone.wait_for_load_state()
    phone.goto(team_path)
    assert phone.locator("html").get_attribute("lang") == "ru"
    assert phone.locator("html").get_attribute("data-theme") == "dark"
    assert phone.locator("#library-title").inner_text() == "Общая библиотека"
    assert phone.locator("#shared-title").inner_text() == "Общие промпты"
    phone.locator(f"#shared-{record_id} summary").click()
    problems += [f"team-library: {p}" for p in too_wide(phone)]
    phone.screenshot(path=str(SCREENSHOTS / "team-library.png"), full_page=True)
    assert (SCREENSHOTS / "team-library.png").is_file()

    for context in (alice_context, bob_context, phone_context):
        context.close()
    assert problems == [], "\n".join(problems)
