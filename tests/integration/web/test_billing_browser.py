"""The billing pages in Chromium (SPEC §12.6): an upgrade through the YooKassa stand-in's payment
page and back (paid, then declined), then /pricing, /account/billing and /admin/payments at
phone width (and desktop) in both languages and both themes, screenshotted into artifacts/screenshots/
(billing-*.png), with no console or CSP errors and no sideways scrolling."""

from __future__ import annotations

import re

import pytest

from tests.integration.live import live_server
from tests.integration.smtp_server import free_port
from tests.integration.yookassa_standin import YooKassaStandin

from .conftest import SCREENSHOTS, create_admin, server_env
from .test_pages import sign_in

pytestmark = pytest.mark.browser

ADMIN = "payer@example.com"
PHONE = {"width": 390, "height": 844}
WIDTHS = {"390": PHONE, "1280": {"width": 1280, "height": 860}}
THEMES = ("light", "dark")
LANGS = ("en", "ru")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The app served as in development but with a shop: its YooKassa adapter talks to the
    stand-in, whose payment page sends the browser back to the app's return page."""
    var = tmp_path_factory.mktemp("billing-pages")
    url = f"sqlite:///{var}/db.sqlite"
    kassa = YooKassaStandin(require_receipt=True).start()  # no webhooks: the return page asks
    port = free_port()
    env = server_env(var, url, PROMPTCORE_BASE_URL=f"http://127.0.0.1:{port}",
                     PROMPTCORE_YOOKASSA_SHOP_ID=kassa.shop_id, PROMPTCORE_YOOKASSA_SECRET_KEY=kassa.secret_key,
                     PROMPTCORE_YOOKASSA_API_URL=kassa.api_url)
    try:
        with live_server(env, workers=2, threads=8, cwd=str(var), port=port) as base:
            create_admin(var, url, ADMIN)
            yield base, kassa
    finally:
        kassa.stop()


def upgrade_to_the_payment_page(page, renew: bool) -> None:
    page.goto("/pricing")
    if renew:
        page.locator("#renew-pro").check()
    page.locator("#upgrade-pro").click()
    page.wait_for_url(re.compile(r"/checkout/[^/]+$"))  # the stand-in's page, another origin


def test_upgrade_through_the_payment_page_and_the_pages_at_phone_width(browser, shop):
    base, kassa = shop
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    context = browser.new_context(base_url=base, viewport=PHONE)
    page = context.new_page()
    page.on("console", lambda msg: problems.append(f"{page.url}: {msg.text}")
            if msg.type == "error" and page.url.startswith(base) else None)
    page.on("pageerror", lambda exc: problems.append(f"{page.url}: {exc}"))
    sign_in(page, ADMIN)

    # Upgrade, pay on the provider's page, come back: the plan is Pro and the card is saved.
    upgrade_to_the_payment_page(page, renew=True)
    page.locator("#pay").click()
    page.wait_for_url(re.compile(r"/account/billing\?payment=\d+$"))
    assert page.locator("#payment-outcome").get_attribute("data-status") == "succeeded"
    assert "Pro" in page.locator("#current-plan").inner_text()
    assert "card\u00a0••••\u00a04242" in page.locator(".plan-card").inner_text()

    # Another period, declined by the bank: the reason in words, the plan unchanged.
    upgrade_to_the_payment_page(page, renew=False)
    page.locator("#reason").select_option("insufficient_funds")
    page.locator("#decline").click()
    page.wait_for_url(re.compile(r"/account/billing\?payment=\d+$"))
    assert page.locator("#payment-outcome").get_attribute("data-status") == "canceled"
    assert "not enough money on the card" in page.locator("#payment-outcome").inner_text()
    assert "Pro" in page.locator("#current-plan").inner_text()
    returned = page.url.split(base, 1)[1]

    anon = browser.new_context(base_url=base, viewport=PHONE)
    anon_page = anon.new_page()
    anon_page.on("console", lambda msg: problems.append(f"anonymous {anon_page.url}: {msg.text}")
                 if msg.type == "error" else None)
    shots = [(page, context, "pricing", "/pricing"), (page, context, "account-billing", returned),
             (page, context, "admin-payments", "/admin/payments"), (anon_page, anon, "pricing-anonymous", "/pricing")]
    saved = []
    for tab, ctx, name, path in shots:
        for lang in LANGS:
            ctx.add_cookies([{"name": "promptcore_lang", "value": lang, "url": base}])
            if tab is page:  # the account's own setting wins over the cookie
                tab.goto("/account")
                tab.locator("#language").select_option(lang)
                tab.locator("#settings button[type=submit]").click()
                tab.wait_for_load_state()
            for theme in THEMES:
                tab.emulate_media(color_scheme=theme)
                for width, viewport in WIDTHS.items():
                    tab.set_viewport_size(viewport)
                    response = tab.goto(path)
                    assert response is not None and response.status == 200, (path, response and response.status)
                    assert tab.locator("html").get_attribute("lang") == lang
                    overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                    if overflow > 0:
                        problems.append(f"{name} {lang} {theme} {width}: {overflow}px sideways scroll")
                    shot = SCREENSHOTS / f"billing-{name}-{lang}-{theme}-{width}.png"
                    tab.screenshot(path=str(shot), full_page=True)
                    saved.append(shot)
                tab.set_viewport_size(PHONE)
    # what the pages said, in Russian (the last language shot)
    page.goto(returned)
    assert "Оплата не прошла: на карте недостаточно денег." in page.locator("#payment-outcome").inner_text()
    assert "Про" in page.locator("#current-plan").inner_text()
    page.goto("/pricing")
    assert page.locator("#current-pro").inner_text() == "Ваш тариф"
    context.close()
    anon.close()
    print("billing screenshots:", *saved, sep="\n  ")
    assert problems == []
    assert all(shot.stat().st_size > 0 for shot in saved) and len(saved) == 4 * 4 * 2
