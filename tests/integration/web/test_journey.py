"""The journey of SPEC §8 / issue 4 in a real browser against `promptcore serve`, with the
confirmation mail read from a real SMTP server: on SQLite and on PostgreSQL."""

from __future__ import annotations

import re

import pytest

from tests.integration.smtp_server import text_body

from .conftest import PASSWORD, link_path, serve

pytestmark = pytest.mark.browser


def test_journey_from_landing_to_sign_out(browser, smtp_server, database_url, tmp_path):
    email = "journey@example.com"
    with serve(tmp_path, database_url, PROMPTCORE_SMTP_URL=smtp_server.url) as base:
        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900}, locale="en-US")
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # The one refused request over the limit is expected; any other console error is not.
        page.on("console", lambda msg: errors.append(msg.text)
                if msg.type == "error" and "status of 429" not in msg.text else None)

        # Landing: what it does, a real before/after example, the way in.
        page.goto("/")
        assert "Turn a rough idea into a prompt that works" in page.locator("h1").inner_text()
        assert "coffee machine" in page.locator(".example-before").inner_text()
        assert "## Output format" in page.locator(".example-after pre").inner_text()
        page.get_by_role("link", name="Start free").click()

        # Register; the confirmation mail arrives over SMTP.
        page.get_by_label("Name (optional)").fill("Jo")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        assert page.locator("h1").inner_text() == "Check your inbox"
        mail = smtp_server.wait_for(email, timeout=15)[0]
        assert "Confirm" in mail["Subject"]
        page.goto(link_path(text_body(mail), "/confirm-email"))
        assert page.locator("h1").inner_text() == "Address confirmed"

        # Sign in.
        page.get_by_role("link", name="Sign in").first.click()
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.locator("form button[type=submit]", has_text="Sign in").click()
        page.wait_for_url(re.compile(r"/app$"))
        assert "0 of 3 used today" in page.locator("#quota-box").inner_text()

        # Generate with a chosen style; the result streams in and is shown.
        prompt = "explain how to back up a PostgreSQL database"
        page.get_by_label("Your prompt").fill(prompt)
        assert page.locator("#prompt-counter").inner_text() == f"{len(prompt)} / 8000"
        page.locator(".style-card", has_text="Technical").click()
        page.get_by_role("button", name="Generate").click()
        result = page.locator(".result-view:not(.is-streaming) pre.output")
        result.wait_for()
        text = result.inner_text()
        assert prompt in text
        assert "Technical" in page.locator(".result-view .badge").inner_text()
        assert "1 of 3 used today" in page.locator("#quota-box").inner_text()
        assert re.search(r"/app\?result=\d+$", page.url)
        assert page.locator("details.diff ins").count() > 0

        # Copy to the clipboard.
        page.locator(".result-view").get_by_role("button", name="Copy").click()
        page.locator(".result-view").get_by_role("button", name="Copied").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == text

        # Refine with feedback: a new version linked to the first.
        page.locator(".iterate").get_by_role("button", name="Shorter").click()
        page.locator(".result-view:not(.is-streaming) .feedback-note").wait_for()
        assert "2 of 3 used today" in page.locator("#quota-box").inner_text()

        # History shows both.
        page.get_by_role("link", name="History").click()
        items = page.locator(".history-item")
        assert items.count() == 2
        assert prompt in items.first.inner_text() and "Technical" in items.first.inner_text()

        # Generate until the limit: then Generate is disabled and the reset time is shown.
        page.get_by_role("link", name="Generator").click()
        page.get_by_label("Your prompt").fill("write a haiku about autumn")
        page.locator(".style-card", has_text="Creative").click()
        page.get_by_role("button", name="Generate").click()
        page.locator(".result-view:not(.is-streaming) pre.output", has_text="haiku").wait_for()
        quota = page.locator("#quota-box")
        assert "3 of 3 used today" in quota.inner_text()
        assert "Daily limit reached" in quota.inner_text() and "UTC" in quota.inner_text()
        assert page.get_by_role("button", name="Generate").is_disabled()
        # A request over the limit (the button forced back on) is refused with the reset time.
        page.evaluate("document.getElementById('generate').disabled = false")
        page.get_by_role("button", name="Generate").click()
        refusal = page.locator("[data-error-for=_form]")
        refusal.wait_for()
        assert "You have used all 3 improvements for today" in refusal.inner_text()
        assert "UTC" in refusal.inner_text()
        page.reload()
        assert page.get_by_role("button", name="Generate").is_disabled()

        # Switch to Russian: the page text changes.
        page.get_by_role("button", name="RU", exact=True).click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Улучшить промпт"
        assert "Сегодня использовано 3 из 3" in page.locator("#quota-box").inner_text()
        assert page.locator("html").get_attribute("lang") == "ru"

        # Sign out.
        page.get_by_role("button", name="Выйти").click()
        page.wait_for_url(re.compile(r"/$"))
        assert page.get_by_role("link", name="Войти").count() >= 1
        page.goto("/app")
        assert "/login" in page.url

        assert errors == []
        context.close()
