"""The template pages in Chromium against `promptcore serve` (SPEC §13.1, §13.2, §8): a template
made with the live list of variables updating while it is typed, a second version, the versions
compared and one restored, Use → fill in → the generator → generate with the offline improver, the
template improved keeping its variables and saved as a new version; a quick template picked in the
generator (with and without JavaScript); the script's variable rules checked against the server's;
and every template page at phone width (360 px), light and dark, in English and Russian,
screenshotted into artifacts/screenshots/ (templates-*.png) with no sideways scrolling and no
console or CSP errors."""

from __future__ import annotations

import re

import pytest

from promptcore.domain.templates import find_variables

from .conftest import SCREENSHOTS, cli, create_admin, serve
from .test_pages import sign_in

pytestmark = pytest.mark.browser

USER = "library@example.com"
PHONE = {"width": 360, "height": 780}
LANGS = ("en", "ru")
THEMES = ("light", "dark")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    var = tmp_path_factory.mktemp("template-pages")
    url = f"sqlite:///{var}/db.sqlite"
    with serve(var, url) as base:
        create_admin(var, url, USER)
        cli(var, url, "users", "set-limit", USER, "20")
        yield base


def watch(page, problems: list[str]) -> None:
    page.on("console", lambda msg: problems.append(f"{page.url}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"{page.url}: {exc}"))


def shown_variables(page) -> list[str]:
    return page.locator("#variables-list code").all_inner_texts()


def lines(page, selector: str) -> list[str]:
    """The text of the diff's lines of one kind, as a screen reader reads them."""
    return [" ".join(t.split()) for t in page.locator(f"{selector} .dl-text").all_text_contents()]


def test_template_journey_from_a_new_template_to_a_generated_prompt(browser, site):
    problems: list[str] = []
    context = browser.new_context(base_url=site, viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    watch(page, problems)
    sign_in(page, USER)

    # A new template: the list of variables follows the text as it is typed.
    page.get_by_role("link", name="Templates", exact=True).click()
    page.locator("#new-template").click()
    page.get_by_label("Title").fill("Launch post")
    page.get_by_label("Tags").fill("marketing, social")
    body = page.get_by_label("Template text")
    assert page.locator("#variables-list").inner_text() == "No variables yet"
    body.press_sequentially("Write a post about {{topic}} for {{aud")
    assert shown_variables(page) == ["topic"]
    assert page.locator("#variables-problem").is_visible()  # an unclosed "{{" so far
    body.press_sequentially("ience}}.")
    assert shown_variables(page) == ["topic", "audience"]
    assert page.locator("#variables-problem").is_hidden()
    assert page.locator("#body-counter").inner_text() == f"{len(body.input_value())} / 16000"
    page.locator("#save-template").click()
    page.wait_for_url(re.compile(r"/templates/\d+$"))
    template_url = page.url
    assert "The template is saved." in page.locator(".flashes").inner_text()
    assert shown_variables(page) == ["topic", "audience"]  # the server's list on a fresh page

    # Edit it: version 2.
    body = page.get_by_label("Template text")
    body.fill("Write a short post about {{topic}} for {{audience}}.")
    body.press("Control+End")
    body.press_sequentially("\nMention the price: {{price}}.")
    assert shown_variables(page) == ["topic", "audience", "price"]
    page.locator("#save-template").click()
    page.wait_for_url(template_url)
    assert "Saved as version 2." in page.locator(".flashes").inner_text()

    # Versions: compare 1 with 2, then restore 1.
    page.locator("#versions-link").click()
    page.locator("#compare").click()
    page.locator("#diff").wait_for()
    assert "Changes from version 1 to version 2" in page.locator("#diff h2").inner_text()
    assert lines(page, ".dl-ins") == ["added: Write a short post about {{topic}} for {{audience}}.",
                                      "added: Mention the price: {{price}}."]
    assert lines(page, ".dl-del") == ["removed: Write a post about {{topic}} for {{audience}}."]
    removed = page.locator(".dl-del").first.evaluate("e => getComputedStyle(e).backgroundColor")
    added = page.locator(".dl-ins").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert removed != added
    page.locator("#version-1 .restore-form button").click()
    assert "Version 1 is restored as version 3." in page.locator(".flashes").inner_text()
    assert page.locator(".version-item").count() == 3
    assert "restored from version 1" in page.locator("#version-3").inner_text()

    # Use: fill in the variables, the generator opens with the text, generate offline.
    page.goto(template_url)
    page.locator("#use-template").click()
    page.get_by_label("topic", exact=True).fill("our green tea")
    page.get_by_label("audience", exact=True).fill("busy students")
    page.locator("#open-in-generator").click()
    page.locator("#generate-form").wait_for()
    rendered = "Write a post about our green tea for busy students."
    assert page.locator("#prompt").input_value() == rendered
    assert "?" not in page.url and "green" not in page.url  # the text is never in a URL
    page.locator(".style-card", has_text="Marketing").click()
    page.get_by_role("button", name="Generate").click()
    result = page.locator(".result-view:not(.is-streaming) pre.output")
    result.wait_for()
    assert "our green tea" in result.inner_text() and "busy students" in result.inner_text()
    assert re.search(r"/app\?result=\d+$", page.url)

    # A quick template from the generator's picker: its form appears at once, the text lands in the box.
    page.goto("/app")
    page.locator("#quick-picker summary").click()
    assert page.locator("#quick-choose").is_hidden()  # with JavaScript the choice needs no button
    page.locator("#quick-select").select_option(label="Bug report")
    form = page.locator(".quick-fill:not([hidden])")
    assert form.count() == 1 and page.url.endswith("/app")
    labels = form.locator("label").all_inner_texts()
    assert len(labels) >= 2
    for n, label in enumerate(labels):
        form.get_by_label(label, exact=True).fill(f"value {n} for {label}")
    form.get_by_role("button", name="Put into the prompt box").click()
    page.locator("#generate-form").wait_for()
    prompt = page.locator("#prompt").input_value()
    assert all(f"value {n} for {label}" in prompt for n, label in enumerate(labels))
    assert find_variables(prompt) == []
    assert "is filled in" in page.locator(".flashes").inner_text()

    # Improve the template with the offline improver: the same variables, saved as version 4.
    page.goto(template_url)
    page.locator("#improve-style").select_option("technical")
    page.locator("#improve-template").click()
    page.locator("#improved-text").wait_for()
    assert page.locator("#kept-variables code").all_inner_texts() == ["topic", "audience"]
    improved = page.locator("#improved-text").inner_text()
    assert find_variables(improved) == ["topic", "audience"] and improved != rendered
    page.locator("#save-improved").click()
    page.wait_for_url(template_url)
    assert "The improved text is saved as version 4." in page.locator(".flashes").inner_text()
    assert page.get_by_label("Template text").input_value() == improved.strip()

    context.close()
    assert problems == []


SAMPLES = [
    "plain text", "{{topic}} and {{ topic }} and {{  spaced  }}", "{{имя}} и {{Фамилия_2}}", "{{ok.name-1}}",
    "{{a b}} {{}} {{ }}", "{{x}}}} {{y}}", "}} {{a}}", "{{a{{b}}", "{{open",
    "{{" + "n" * 64 + "}} {{" + "m" * 65 + "}}",
    "{{١٢}} {{Ⅻ}} {{²}} {{½}}",
    "{{é}} {{e\u0301}} {{\u0301e}} {{नाम}} {{ชื่อ}}",  # combining marks, after the first character only
    "{{x\ty}} {{_}} {{𝔘𝔫𝔦}}", "{{a}}\n{{b\n}} {{c}}", "{{€}} {{a+b}}",
    "{{日本語}} {{한국어}} {{a.b.c}} {{a}}{{a}}",
]


def test_the_scripts_variable_rules_are_the_servers(browser, site):
    """templates.js mirrors domain/templates.py: the same names, in the same order, for every sample."""
    context = browser.new_context(base_url=site)
    page = context.new_page()
    sign_in(page, USER)
    page.goto("/templates/new")
    for sample in SAMPLES:
        page.locator("#body").evaluate("(area, text) => { area.value = text; area.dispatchEvent(new Event('input')); }",
                                       sample)
        assert shown_variables(page) == find_variables(sample), sample
    context.close()


def test_quick_templates_in_the_generator_without_javascript(browser, site):
    context = browser.new_context(base_url=site, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, USER)
    page.locator("#quick-picker summary").click()
    page.locator("#quick-select").select_option(label="Meeting summary")
    page.locator("#quick-choose").click()
    page.wait_for_url(re.compile(r"/app\?quick=\d+$"))
    form = page.locator(".quick-fill:not([hidden])")
    assert form.count() == 1
    labels = form.locator("label").all_inner_texts()
    form.get_by_role("button", name="Put into the prompt box").click()  # nothing filled in: refused
    assert page.locator(".quick-fill:not([hidden]) .field-error").count() == len(labels)
    form = page.locator(".quick-fill:not([hidden])")
    for label in labels:
        form.get_by_label(label, exact=True).fill(f"the {label}")
    form.get_by_role("button", name="Put into the prompt box").click()
    prompt = page.locator("#prompt").input_value()
    assert all(f"the {label}" in prompt for label in labels)
    context.close()


def test_the_template_pages_at_phone_width(browser, site):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    context = browser.new_context(base_url=site, viewport=PHONE)
    page = context.new_page()
    watch(page, problems)
    sign_in(page, USER)
    # A template with a long title, tags, two versions and long lines, to show every part.
    page.goto("/templates/new")
    page.get_by_label("Title").fill("A rather long template title that has to wrap on a narrow phone screen")
    page.get_by_label("Tags").fill("marketing, social, a-very-long-tag-name-indeed")
    page.get_by_label("Template text").fill("Write about {{a_very_long_variable_name_that_does_not_fit_anywhere}}.\n"
                                            "Audience: {{audience}}. " + "Long line without breaks " * 8)
    page.locator("#save-template").click()
    page.wait_for_url(re.compile(r"/templates/\d+$"))
    template = page.url.rsplit("/", 1)[1]
    page.get_by_label("Template text").fill("Write about {{a_very_long_variable_name_that_does_not_fit_anywhere}}.\n"
                                            "Readers: {{audience}}, and a URL https://example.com/" + "x" * 80)
    page.locator("#save-template").click()
    page.wait_for_url(re.compile(r"/templates/\d+$"))
    page.locator('.star-form button[aria-pressed="false"]').first.click()
    page.goto("/templates")
    quick = page.locator("#quick-templates .tpl-title a").first.get_attribute("href").rsplit("/", 1)[1]

    shots = [("list", "/templates"), ("edit", f"/templates/{template}"), ("new", "/templates/new"),
             ("versions", f"/templates/{template}/versions?from=1&to=2"), ("use", f"/templates/{template}/use"),
             ("delete", f"/templates/{template}/delete"), ("quick", f"/templates/{quick}"),
             ("generator", f"/app?quick={quick}")]
    saved = []
    for lang in LANGS:
        page.goto("/account")
        page.locator("#language").select_option(lang)
        page.locator("#settings button[type=submit]").click()
        page.wait_for_load_state()
        for theme in THEMES:
            page.emulate_media(color_scheme=theme)
            for name, path in shots:
                response = page.goto(path)
                assert response is not None and response.status == 200, (path, response and response.status)
                assert page.locator("html").get_attribute("lang") == lang
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                if overflow > 0:
                    problems.append(f"{name} {lang} {theme}: {overflow}px sideways scroll")
                shot = SCREENSHOTS / f"templates-{name}-{lang}-{theme}-360.png"
                page.screenshot(path=str(shot), full_page=True)
                saved.append(shot)
    # the diff is readable in the dark: its lines have the dark theme's colours
    page.goto(f"/templates/{template}/versions?from=1&to=2")
    assert page.locator(".dl-del").first.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(67, 25, 42)"
    assert page.locator(".dl-ins").first.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(18, 57, 42)"
    assert "Изменения от версии 1 к версии 2" in page.locator("#diff").inner_text()
    context.close()
    print("template screenshots:", *saved, sep="\n  ")
    assert problems == []
    assert len(saved) == len(shots) * 4 and all(shot.stat().st_size > 0 for shot in saved)
