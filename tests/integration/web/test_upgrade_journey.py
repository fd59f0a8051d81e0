"""An upgrade clicked through in Chromium against `promptcore serve` in development, with the
built-in checkout (SPEC §12.5): a free user at the limit follows the generator's Upgrade link to
/pricing, upgrades, pays on the development checkout page (screenshotted in both languages and
themes, at phone and desktop width), lands on /account/billing on the pro plan, and the generator
shows the higher limit. The real YooKassa adapter and the real webhook run over HTTP."""

from __future__ import annotations

import re

import pytest
import requests

from tests.conftest import build_test_app, make_settings
from tests.integration.live import live_server
from tests.integration.smtp_server import free_port

from .conftest import PASSWORD, SCREENSHOTS, server_env
from .test_security import confirmed_user

pytestmark = pytest.mark.browser

WIDTHS = {390: {"width": 390, "height": 844}, 1280: {"width": 1280, "height": 900}}
PAY = {"en": "Pay RUB\u00a0490.00", "ru": "Оплатить 490,00\u00a0₽"}


def test_a_free_user_at_the_limit_upgrades_through_the_dev_checkout(browser, tmp_path):
    email = "upgrade@example.com"
    database_url = f"sqlite:///{tmp_path}/journey.db"
    port = free_port()
    env = server_env(tmp_path, database_url, PROMPTCORE_BASE_URL=f"http://127.0.0.1:{port}")
    with live_server(env, workers=2, threads=8, cwd=str(tmp_path), port=port) as base:
        _, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url))
        confirmed_user(container, email)
        container.engine().dispose()
        token = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD},
                              timeout=30).json()["access_token"]
        for _ in range(3):  # the whole free allowance
            assert requests.post(f"{base}/api/v1/prompts", json={"prompt": "write a poem", "style": "general"},
                                 headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 201

        context = browser.new_context(base_url=base, viewport=WIDTHS[1280], locale="en-US")
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto("/login")
        page.locator("#email").fill(email)
        page.locator("#password").fill(PASSWORD)
        page.locator("form:not(.prefs) button[type=submit]").last.click()
        page.wait_for_url(re.compile(r"/app"))

        # At the limit: the generator says so and links to the plans.
        quota = page.locator("#quota-box")
        assert "3 of 3 used today" in quota.inner_text()
        quota.get_by_role("link", name="Upgrade").click()
        page.wait_for_url(re.compile(r"/pricing$"))
        page.locator("#upgrade-pro").click()

        # The development checkout: the amount, the plan, Pay and Decline.
        page.wait_for_url(re.compile(r"/dev/checkout/pay/[A-Za-z0-9-]+$"))
        checkout_url = page.url
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        saved: list[str] = []
        for language in ("en", "ru"):
            page.goto(checkout_url)  # the header's switch: the user's setting and the cookie
            page.get_by_role("button", name=language.upper(), exact=True).click()
            page.wait_for_load_state()
            for theme in ("light", "dark"):
                page.emulate_media(color_scheme=theme)
                for width, viewport in WIDTHS.items():
                    page.set_viewport_size(viewport)
                    page.goto(checkout_url)
                    assert page.locator("html").get_attribute("lang") == language
                    assert page.locator("#pay").inner_text().strip() == PAY[language]
                    assert page.locator("#decline").is_visible() and page.locator("#reason").is_visible()
                    assert ("Pro" if language == "en" else "Про") in page.locator("#checkout-plan").inner_text()
                    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                    assert overflow <= 0, (language, theme, width, overflow)
                    path = SCREENSHOTS / f"dev-checkout-{language}-{theme}-{width}.png"
                    page.screenshot(path=str(path), full_page=True)
                    saved.append(str(path))

        # Pay: back on the billing page, on the pro plan.
        page.emulate_media(color_scheme="light")
        page.set_viewport_size(WIDTHS[1280])
        page.goto(checkout_url)
        page.get_by_role("button", name="EN", exact=True).click()
        page.wait_for_load_state()
        page.locator("#pay").click()
        page.wait_for_url(re.compile(r"/account/billing\?payment=\d+$"))
        assert "Pro" in page.locator("#current-plan").inner_text()
        assert page.locator("#payment-outcome").get_attribute("data-status") == "succeeded"
        for theme in ("light", "dark"):
            page.emulate_media(color_scheme=theme)
            for width, viewport in WIDTHS.items():
                page.set_viewport_size(viewport)
                page.reload()
                assert "Pro" in page.locator("#current-plan").inner_text()
                path = SCREENSHOTS / f"billing-after-upgrade-en-{theme}-{width}.png"
                page.screenshot(path=str(path), full_page=True)
                saved.append(str(path))

        # The generator counts against the new limit.
        page.goto("/app")
        assert "3 of 100 used today" in page.locator("#quota-box").inner_text()
        assert page.get_by_role("button", name="Generate").is_enabled()
        assert problems == []
        context.close()
    print("\nscreenshots:\n" + "\n".join(saved))
