"""Every page in both languages, both themes, at phone and desktop widths: rendered by a real
server in Chromium, screenshotted into artifacts/screenshots/, with no console or CSP errors
and no sideways scrolling. Plus the generator without JavaScript."""

from __future__ import annotations

import re

import pytest

from .conftest import PASSWORD, SCREENSHOTS, cli, create_admin, serve

pytestmark = pytest.mark.browser

ADMIN = "admin@example.com"
WIDTHS = {"390": {"width": 390, "height": 844}, "1280": {"width": 1280, "height": 860}}
THEMES = ("light", "dark")
LANGS = ("en", "ru")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    var = tmp_path_factory.mktemp("pages")
    url = f"sqlite:///{var}/db.sqlite"
    with serve(var, url) as base:
        create_admin(var, url, ADMIN)
        cli(var, url, "users", "set-limit", ADMIN, "20")
        yield base


def sign_in(page, email: str = ADMIN, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("form:not(.prefs) button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/app"))


def test_screenshots_of_every_page(browser, site):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []

    anon = browser.new_context(base_url=site)
    user = browser.new_context(base_url=site)
    page = user.new_page()
    sign_in(page)
    page.get_by_label("Your prompt").fill("write a post about our new coffee machine for Instagram")
    page.locator(".style-card", has_text="Marketing").click()
    page.get_by_role("button", name="Generate").click()
    page.locator(".result-view:not(.is-streaming) pre.output").wait_for()
    page.locator(".iterate").get_by_label("Refine this version: what should change?").fill("add an example")
    page.locator(".iterate").get_by_role("button", name="Refine").click()
    page.locator(".result-view:not(.is-streaming) .feedback-note").wait_for()
    record = re.search(r"result=(\d+)", page.url).group(1)

    pages = {
        anon: [("landing", "/"), ("register", "/register"), ("login", "/login"),
               ("forgot-password", "/forgot-password"), ("reset-password", "/reset-password?token=x"),
               ("not-found", "/no-such-page"), ("dev-mailbox", "/dev/mailbox")],
        user: [("app", f"/app?result={record}"), ("app-empty", "/app"), ("history", "/history"),
               ("history-item", f"/history/{record}"), ("account", "/account"), ("admin", "/admin")],
    }
    for context, paths in pages.items():
        tab = context.pages[0] if context.pages else context.new_page()
        tab.on("console", lambda msg, tab=tab: problems.append(f"{tab.url}: {msg.text}")
               if msg.type == "error" and "no-such-page" not in tab.url else None)
        tab.on("pageerror", lambda exc, tab=tab: problems.append(f"{tab.url}: {exc}"))
        for lang in LANGS:
            context.add_cookies([{"name": "promptcore_lang", "value": lang, "url": site}])
            for theme in THEMES:
                tab.emulate_media(color_scheme=theme)
                for width, viewport in WIDTHS.items():
                    tab.set_viewport_size(viewport)
                    for name, path in paths:
                        response = tab.goto(path)
                        assert response is not None
                        assert response.status == (404 if name == "not-found" else 200), (path, response.status)
                        assert tab.locator("html").get_attribute("lang") == lang
                        overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                        if overflow > 0:
                            problems.append(f"{name} {lang} {theme} {width}: {overflow}px sideways scroll")
                        tab.screenshot(path=str(SCREENSHOTS / f"{name}-{lang}-{theme}-{width}.png"), full_page=True)
    anon.close()
    user.close()
    assert problems == []
    assert len(list(SCREENSHOTS.glob("*.png"))) >= 13 * 8


def test_the_generator_works_without_javascript(browser, site):
    context = browser.new_context(base_url=site, java_script_enabled=False)
    page = context.new_page()
    sign_in(page)
    page.get_by_label("Your prompt").fill("summarise this meeting transcript for the team")
    page.locator(".style-card", has_text="Concise").click()
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url(re.compile(r"/app\?result=\d+$"))
    assert "summarise this meeting transcript" in page.locator(".result-view pre.output").inner_text()
    # Refining with feedback works as a plain form too.
    page.locator(".iterate input[name=feedback]").fill("make it shorter")
    page.locator(".iterate").get_by_role("button", name="Refine").click()
    page.wait_for_url(re.compile(r"/app\?result=\d+$"))
    assert "make it shorter" in page.locator(".feedback-note").inner_text()
    # Switching theme and language are plain forms as well.
    page.get_by_role("button", name="Dark").click()
    assert page.locator("html").get_attribute("data-theme") == "dark"
    page.get_by_role("button", name="RU", exact=True).click()
    assert page.locator("html").get_attribute("lang") == "ru"
    context.close()


LIGHT_BG, DARK_BG = "rgb(246, 247, 251)", "rgb(14, 17, 32)"


@pytest.mark.parametrize(("theme", "scheme", "background"), [
    ("system", "light", LIGHT_BG), ("system", "dark", DARK_BG),
    ("light", "dark", LIGHT_BG), ("dark", "light", DARK_BG),
])
def test_the_theme_choice_decides_the_palette(browser, site, theme, scheme, background):
    """"system" follows the device's colour scheme; "light" and "dark" override it."""
    context = browser.new_context(base_url=site, color_scheme=scheme)
    context.add_cookies([{"name": "promptcore_theme", "value": theme, "url": site}])
    page = context.new_page()
    page.goto("/")
    assert page.locator("html").get_attribute("data-theme") == theme
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == background
    context.close()
