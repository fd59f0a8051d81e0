"""The generator's limit notices (SPEC §12.7) in English and Russian: a notice from 80 % of the
limit, and at the limit the reset time with an Upgrade link to /pricing; the account page's
notify_limit setting. Through the test client, then in Chromium in both themes at phone width."""

from __future__ import annotations

import re

import pytest
import requests

from promptcore.domain.access import Actor
from tests.conftest import build_test_app, make_settings

from .conftest import PASSWORD, SCREENSHOTS, cli, create_admin, serve
from .test_security import confirmed_user, generate, signed_in_client, token

NEAR = {"en": "only 1 left", "ru": "осталось всего 1"}
UPGRADE = {"en": "Upgrade", "ru": "Повысить тариф"}
REACHED = {"en": "Daily limit reached. The next improvement is available on",
           "ru": "Дневной лимит исчерпан"}


@pytest.fixture
def site(tmp_path):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DAILY_LIMIT="5"))
    confirmed_user(container, "ada@example.com")
    yield app, container
    container.engine().dispose()


def speak(container, language: str) -> None:
    """The user's language setting (it wins over Accept-Language and the cookie)."""
    with container.uow() as uow:
        user_id = uow.users.get_by_email("ada@example.com").id
    container.accounts().update_profile(Actor(user_id), settings={"language": language})


def page(client, container, language: str) -> str:
    speak(container, language)
    return client.get("/app").get_data(as_text=True)


def test_a_notice_from_80_percent_and_an_upgrade_link_at_the_limit_in_both_languages(site):
    app, container = site
    client = signed_in_client(app, "ada@example.com")
    for _ in range(3):
        generate(client, "write a poem")
    for language in ("en", "ru"):  # 3 of 5: no notice yet
        html = page(client, container, language)
        assert "quota-near" not in html and "quota-upgrade" not in html  # (the header links to /pricing)
    generate(client, "write a poem")  # 4 of 5 = 80 %
    for language in ("en", "ru"):
        html = page(client, container, language)
        assert 'class="quota-near"' in html and NEAR[language] in html and "is-near" in html
        assert "quota-upgrade" not in html
    generate(client, "write a poem")  # 5 of 5: the limit
    for language in ("en", "ru"):
        html = page(client, container, language)
        assert "quota-near" not in html and REACHED[language] in html and " UTC" in html
        link = re.search(r'<a class="[^"]*" href="/pricing">([^<]+)</a>', html)
        assert link and link.group(1) == UPGRADE[language]
    # the form without JavaScript, refused at the limit: the same box with the link
    speak(container, "ru")
    r = client.post("/app", data={"csrf_token": token(client, "/app"), "prompt": "one more", "style": "general"})
    assert r.status_code == 429 and 'href="/pricing">Повысить тариф</a>' in r.get_data(as_text=True)
    with container.uow() as uow:
        assert [m.kind for m, _c, _s in uow.outbox.recent(20)].count("limit_reached") == 1


def test_the_account_page_turns_the_limit_mail_off_and_on(site):
    app, container = site
    client = signed_in_client(app, "ada@example.com")
    speak(container, "ru")
    html = client.get("/account").get_data(as_text=True)
    assert "Присылать письмо, когда дневной лимит исчерпан" in html
    assert re.search(r'<input[^>]*checked[^>]*id="notify_limit"|<input[^>]*id="notify_limit"[^>]*checked', html)
    form = {"csrf_token": token(client, "/account"), "language": "", "theme": "system", "default_style": "",
            "preferred_model": ""}
    assert client.post("/account/settings", data=form).status_code == 303  # unchecked: off
    with container.uow() as uow:
        assert uow.users.get_by_email("ada@example.com").settings.notify_limit is False
    speak(container, "en")
    html = client.get("/account").get_data(as_text=True)
    assert "E-mail me when I reach my daily limit" in html
    assert not re.search(r'<input[^>]*id="notify_limit"[^>]*checked|<input[^>]*checked[^>]*id="notify_limit"', html)
    assert client.post("/account/settings", data={**form, "notify_limit": "y"}).status_code == 303
    with container.uow() as uow:
        assert uow.users.get_by_email("ada@example.com").settings.notify_limit is True


@pytest.mark.browser
def test_the_notices_in_chromium_in_both_themes_at_phone_width(browser, tmp_path):
    url = f"sqlite:///{tmp_path}/db.sqlite"
    email = "notice@example.com"
    with serve(tmp_path, url) as base:
        create_admin(tmp_path, url, email)
        cli(tmp_path, url, "users", "set-limit", email, "5")
        pair = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD},
                             timeout=10).json()
        auth = {"Authorization": f"Bearer {pair['access_token']}"}

        def spend(n: int) -> None:
            for _ in range(n):
                assert requests.post(f"{base}/api/v1/prompts", json={"prompt": "write a poem", "style": "general"},
                                     headers=auth, timeout=30).status_code == 201

        context = browser.new_context(base_url=base, viewport={"width": 390, "height": 844})
        tab = context.new_page()
        problems: list[str] = []
        tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        tab.on("pageerror", lambda exc: problems.append(str(exc)))
        tab.goto("/login")
        tab.locator("#email").fill(email)
        tab.locator("#password").fill(PASSWORD)
        tab.locator("form:not(.prefs) button[type=submit]").last.click()
        tab.wait_for_url(re.compile(r"/app"))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        spend(4)
        for stage in ("near", "limit"):
            for language in ("en", "ru"):
                context.add_cookies([{"name": "promptcore_lang", "value": language, "url": base}])
                for theme in ("light", "dark"):
                    tab.emulate_media(color_scheme=theme)
                    tab.goto("/app")
                    box = tab.locator("#quota-box")
                    if stage == "near":
                        assert box.locator(".quota-near").is_visible()
                        assert NEAR[language] in box.inner_text()
                    else:
                        link = box.get_by_role("link", name=UPGRADE[language])
                        assert link.is_visible() and link.get_attribute("href") == "/pricing"
                        assert box.locator(".quota-reset").is_visible()
                    overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                    assert overflow <= 0, (stage, language, theme, overflow)
                    box.screenshot(path=str(SCREENSHOTS / f"quota-{stage}-{language}-{theme}-390.png"))
            if stage == "near":  # the last unit, spent from the page (streamed): the box turns at once
                context.add_cookies([{"name": "promptcore_lang", "value": "en", "url": base}])
                tab.goto("/app")
                tab.get_by_label("Your prompt").fill("write a post about our new coffee machine")
                tab.get_by_role("button", name="Generate").click()
                tab.locator("#quota-box").get_by_role("link", name="Upgrade").wait_for()
        assert problems == []
        context.close()
