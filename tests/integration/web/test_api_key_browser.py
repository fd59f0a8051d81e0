"""Personal API keys in Chromium against `promptcore serve` (SPEC §15.1): from the account page to
/account/api-keys, make a key (name, scopes, expiry), see it once with a working Copy button and the
warning, use it against the API from another program, see it listed (never again in full) with its
last use, revoke it through the confirm step, and the API refuses it. Then the pages at phone width
(360 px) in both languages and both themes, screenshotted into artifacts/screenshots/
(api-keys-*.png), with no console or CSP errors and nothing wider than the screen."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import requests

from .conftest import SCREENSHOTS, create_admin, serve
from .test_pages import sign_in

pytestmark = pytest.mark.browser

ANN, BOB = "ann@example.com", "bob.with.a.rather.long.address@example.com"
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 900}
KEY = re.compile(r"^pc_[A-Za-z0-9_\-]{43}$")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    var = tmp_path_factory.mktemp("api-key-pages")
    url = f"sqlite:///{var}/db.sqlite"
    with serve(var, url) as base:
        for email in (ANN, BOB):
            create_admin(var, url, email)
        yield base


def watch(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"{page.url}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"{page.url}: {exc}"))
    return problems


def test_create_see_once_use_and_revoke_a_key(browser, site):
    context = browser.new_context(base_url=site, viewport=DESKTOP, locale="en-US",
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    problems = watch(page)
    sign_in(page, ANN)

    page.locator("nav.mainnav").get_by_role("link", name="Account").click()
    page.wait_for_url(re.compile(r"/account$"))
    page.locator("#api-keys-link").click()
    page.wait_for_url(re.compile(r"/account/api-keys$"))
    assert page.locator("#no-keys").is_visible()

    # Make a key that can improve prompts and read history, expiring in a month.
    page.get_by_label("Name").fill("Build server")
    page.get_by_label("Read prompts").check()
    page.get_by_label("Improve prompts").check()
    page.get_by_label("Expires on (optional)").fill((date.today() + timedelta(days=30)).isoformat())
    page.locator("#create-key").click()
    page.locator("#new-key").wait_for()
    secret = page.locator("#new-key-value").inner_text().strip()
    assert KEY.match(secret), secret
    assert "only time it is shown" in page.locator("#new-key").inner_text()
    assert secret in page.locator("#key-example").inner_text()

    # Copy puts exactly the key on the clipboard.
    page.locator("#copy-key").click()
    page.wait_for_function("document.querySelector('#copy-key').textContent.includes('Copied')"
                           " || document.body.innerText.includes('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    # Another program uses it against the API.
    headers = {"Authorization": f"Bearer {secret}"}
    r = requests.post(f"{site}/api/v1/prompts", json={"prompt": "write a post about our new coffee machine",
                                                      "style": "marketing"}, headers=headers, timeout=30)
    assert r.status_code == 201, r.text
    listed = requests.get(f"{site}/api/v1/prompts", headers=headers, timeout=10).json()
    assert listed["items"][0]["id"] == r.json()["id"]
    refused = requests.get(f"{site}/api/v1/templates", headers=headers, timeout=10)
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"
    assert requests.get(f"{site}/api/v1/profile", headers=headers, timeout=10).status_code == 403

    # Listed, never in full again, with its last use.
    page.goto("/account/api-keys")
    assert page.locator("#new-key").count() == 0 and secret not in page.content()
    row = page.locator(".key-item", has_text="Build server")
    assert secret[:11] in row.inner_text() and "Last used" in row.inner_text()
    assert "prompts:write" in row.inner_text() and row.get_attribute("data-status") == "active"

    # The generator shows the generation the key made.
    page.goto("/history")
    assert "coffee machine" in page.locator("main").inner_text()

    # Revoke it, through the confirm step.
    page.goto("/account/api-keys")
    page.locator(".key-item", has_text="Build server").locator(".key-revoke").click()
    page.wait_for_url(re.compile(r"/account/api-keys/\d+/revoke$"))
    assert "Revoke the key “Build server”?" in page.locator("main").inner_text()
    page.locator("#confirm-revoke").click()
    page.wait_for_url(re.compile(r"/account/api-keys$"))
    assert "was revoked" in page.locator(".flashes").inner_text()
    assert page.locator("#no-keys").is_visible()
    r = requests.get(f"{site}/api/v1/prompts", headers=headers, timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"

    context.close()
    assert problems == []


def test_the_key_pages_at_phone_width_in_both_languages_and_themes(browser, site):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=site, viewport=PHONE)
    page = context.new_page()
    problems = watch(page)
    sign_in(page, BOB)
    page.goto("/account/api-keys")
    for name, scopes in (("Nightly import of the customer-support history — " + "verylongwordwithoutbreaks" * 2,
                          ("Read prompts", "Improve prompts", "Read templates", "Change templates")),
                         ("Docs bot", ("Read templates",))):
        page.get_by_label("Name").fill(name)
        for label in scopes:
            page.get_by_label(label).check()
        page.locator("#create-key").click()
        page.locator("#new-key").wait_for()
    key_id = re.search(r"key-(\d+)", page.locator(".key-item").first.get_attribute("id")).group(1)

    shots = 0
    for lang, button in (("en", "EN"), ("ru", "RU")):
        page.goto("/account/api-keys")
        page.get_by_role("button", name=button, exact=True).click()
        page.wait_for_load_state()
        for theme in ("dark", "light"):
            page.goto("/account/api-keys")
            page.locator(f".prefs button[name=theme][value={theme}]").click()
            page.wait_for_load_state()
            for name, path in (("list", "/account/api-keys"), ("revoke", f"/account/api-keys/{key_id}/revoke"),
                               ("account", "/account")):
                response = page.goto(path)
                assert response is not None and response.status == 200, (path, response and response.status)
                check(page, lang, theme, name, problems)
                shots += 1
            # the key shown once, and a refusal with every field wrong
            page.goto("/account/api-keys")
            page.locator("#create-key-form input[name=name]").fill(f"Phone {lang} {theme}")
            page.locator("#create-key-form input[value='prompts:read']").check()
            page.locator("#create-key").click()
            page.locator("#new-key").wait_for()
            check(page, lang, theme, "new-key", problems)
            page.locator("#create-key").click()  # nothing filled in
            page.locator("#scopes-error").wait_for()
            check(page, lang, theme, "errors", problems)
            shots += 2
    context.close()
    # The expected 422 of the empty form is logged by the browser as a failed resource; nothing else.
    left = [p for p in problems if "status of 422" not in p]
    assert left == [], "\n".join(left)
    assert len(list(SCREENSHOTS.glob("api-keys-*-360.png"))) >= shots == 20


def check(page, lang: str, theme: str, name: str, problems: list[str]) -> None:
    # a form's answer is in the DOM before its stylesheet has loaded on a busy machine: measure the laid-out page
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("html").get_attribute("data-theme") == theme
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        problems.append(f"{name} {lang} {theme}: {overflow}px sideways scroll")
    # Nothing sticks out of the screen, and no text runs out of its own box (a long name, a key).
    wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
        .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5 || (
            !['INPUT', 'TEXTAREA', 'SELECT', 'svg', 'path', 'circle', 'rect'].includes(el.tagName) &&
            getComputedStyle(el).overflowX === 'visible' && el.clientWidth > 0 &&
            el.scrollWidth > el.clientWidth + 1))
        .map(el => el.tagName + '.' + el.className).slice(0, 5)""")
    if wide:
        problems.append(f"{name} {lang} {theme}: wider than its place: {wide}")
    page.screenshot(path=str(SCREENSHOTS / f"api-keys-{name}-{lang}-{theme}-360.png"), full_page=True)
