"""The pages' behaviour through Flask's test client: languages, errors next to fields, the
unconfirmed notice, throttled sign-in, account changes, admin, export, password reset."""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import unquote

import pytest

from promptcore.domain.access import Actor
from tests.conftest import age_outbox, build_test_app, make_settings

from .conftest import PASSWORD
from .test_security import TOKEN, confirmed_user, generate, signed_in_client, token


@pytest.fixture
def app_and_container(tmp_path):
    return build_test_app(make_settings(tmp_path, PROMPTCORE_DAILY_LIMIT="3"))


def text(response) -> str:
    return response.get_data(as_text=True)


def test_language_follows_setting_then_cookie_then_accept_language(app_and_container):
    app, container = app_and_container
    client = app.test_client()
    assert '<html lang="en"' in text(client.get("/"))
    page = text(client.get("/", headers={"Accept-Language": "ru-RU,ru;q=0.9"}))
    assert '<html lang="ru"' in page and "Превратите черновую идею" in page
    r = client.post("/preferences", data={"csrf_token": token(client, "/"), "language": "ru", "theme": "dark",
                                          "next": "/login"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/login")
    page = text(client.get("/login", headers={"Accept-Language": "en"}))
    assert '<html lang="ru" data-theme="dark"' in page and "С возвращением" in page
    # A signed-in user's own setting wins over the cookie.
    confirmed_user(container, "lang@example.com")
    client = signed_in_client(app, "lang@example.com")
    client.set_cookie("promptcore_lang", "ru")
    uid = container.accounts().get_profile(Actor(1)).id
    container.accounts().update_profile(Actor(uid), settings={"language": "en"})
    assert '<html lang="en"' in text(client.get("/app"))


def test_validation_errors_show_next_to_their_field(app_and_container):
    app, _container = app_and_container
    client = app.test_client()
    r = client.post("/register", data={"csrf_token": token(client, "/register"), "email": "not-an-address",
                                       "password": "short"})
    assert r.status_code == 422
    page = text(r)
    assert (re.search(r'id="email"[^>]*aria-invalid="true"', page)
            or re.search(r'aria-invalid="true"[^>]*id="email"', page))
    assert 'id="email-error"' in page and "Enter a valid e-mail address." in page
    r = client.post("/register", data={"csrf_token": token(client, "/register"), "email": "ok@example.com",
                                       "password": "short"}, headers={"Accept-Language": "ru"})
    assert 'id="password-error"' in text(r) and "Используйте не меньше 8 символов." in text(r)


def test_an_unconfirmed_user_sees_a_notice_and_cannot_generate(app_and_container):
    app, container = app_and_container
    container.accounts().register_user("new@example.com", PASSWORD)
    client = signed_in_client(app, "new@example.com")
    page = text(client.get("/app"))
    assert "Confirm your e-mail address to start generating." in page
    assert re.search(r'id="generate"[^>]*disabled', page)
    r = client.post("/app", data={"csrf_token": token(client, "/app"), "prompt": "hi", "style": "general"})
    assert r.status_code == 403 and "Confirm your e-mail address before generating prompts." in text(r)
    r = client.post("/resend-confirmation", data={"csrf_token": token(client, "/app")})
    assert r.status_code == 303
    container.accounts().process_mail_requests()
    with container.uow() as uow:
        subjects = [m.subject for m, _created, _sent in uow.outbox.recent(10)]
    assert subjects.count("Confirm your promptcore address") == 1  # within the recipient's cooldown
    age_outbox(container, minutes=3)
    r = client.post("/resend-confirmation", data={"csrf_token": token(client, "/app")})
    container.accounts().process_mail_requests()
    with container.uow() as uow:
        subjects = [m.subject for m, _created, _sent in uow.outbox.recent(10)]
    assert subjects.count("Confirm your promptcore address") == 2


def test_the_generator_without_javascript_refuses_over_the_limit_with_the_reset_time(app_and_container):
    app, container = app_and_container
    confirmed_user(container, "limit@example.com")
    client = signed_in_client(app, "limit@example.com")
    for n in range(3):
        generate(client, f"prompt {n}")
    page = text(client.get("/app"))
    assert "3 of 3 used today" in page and "Daily limit reached" in page and "UTC" in page
    assert re.search(r'id="generate"[^>]*disabled', page)
    r = client.post("/app", data={"csrf_token": token(client, "/app"), "prompt": "one more", "style": "general"})
    assert r.status_code == 429
    assert "You have used all 3 improvements for today. The next one is available on" in text(r)
    r = client.post("/app/stream", data={"csrf_token": token(client, "/app"), "prompt": "one more",
                                         "style": "general"})
    assert r.status_code == 429 and "UTC" in r.get_json()["message"]


def test_sign_in_is_throttled_per_account(app_and_container):
    app, container = app_and_container
    confirmed_user(container, "throttle@example.com")
    client = app.test_client()
    for _ in range(10):
        r = client.post("/login", data={"csrf_token": token(client), "email": "throttle@example.com",
                                        "password": "wrong password"})
        assert r.status_code == 401 and "Wrong e-mail or password." in text(r)
    r = client.post("/login", data={"csrf_token": token(client), "email": "throttle@example.com",
                                    "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "Too many failed attempts for this account" in text(r)


def test_next_after_sign_in_stays_on_this_site(app_and_container):
    app, container = app_and_container
    confirmed_user(container, "next@example.com")
    client = app.test_client()
    assert "/login?next=/history" in unquote(client.get("/history").headers["Location"])
    for target, expected in (("/history", "/history"), ("//evil.example/x", "/app"), ("https://evil.example", "/app")):
        client.post("/logout", data={"csrf_token": token(client, "/")})
        r = client.post("/login", data={"csrf_token": token(client), "email": "next@example.com",
                                        "password": PASSWORD, "next": target})
        assert r.headers["Location"] == expected


def test_account_settings_password_and_deletion(app_and_container):
    app, container = app_and_container
    uid = confirmed_user(container, "acct@example.com")
    client = signed_in_client(app, "acct@example.com")
    other_session = signed_in_client(app, "acct@example.com")
    page = text(client.get("/account"))
    assert "Usage" in page and "<svg" in page and "Delete my account" in page
    r = client.post("/account/settings", data={"csrf_token": token(client, "/account"), "language": "ru",
                                               "theme": "dark", "default_style": "technical",
                                               "preferred_model": ""})
    assert r.status_code == 303
    settings = container.accounts().get_profile(Actor(uid)).settings
    assert (settings.language, settings.theme, settings.default_style) == ("ru", "dark", "technical")
    page = text(client.get("/app"))
    assert '<html lang="ru" data-theme="dark"' in page
    assert re.search(r'value="technical"\s+checked', page)
    r = client.post("/account/password", data={"csrf_token": token(client, "/account"),
                                               "current_password": "wrong one!", "new_password": "a new secret"})
    assert r.status_code == 422 and 'id="current_password-error"' in text(r)
    r = client.post("/account/password", data={"csrf_token": token(client, "/account"),
                                               "current_password": PASSWORD, "new_password": "a new secret"})
    assert r.status_code == 303
    assert client.get("/account").status_code == 200  # this session stays
    assert other_session.get("/account").status_code == 302  # the other one ended
    r = client.post("/account/email", data={"csrf_token": token(client, "/account"),
                                            "new_email": "moved@example.com", "password": "a new secret"})
    assert r.status_code == 303
    with container.uow() as uow:
        mail = next(m for m, _c, _s in uow.outbox.recent(10) if m.to == "moved@example.com")
    link = re.search(r"(/confirm-email-change\?token=\S+)", mail.text).group(1)
    assert client.get(link).status_code == 200
    assert container.accounts().get_profile(Actor(uid)).email == "moved@example.com"
    r = client.post("/account/delete", data={"csrf_token": token(client, "/account"), "password": "nope nope"})
    assert r.status_code == 422
    r = client.post("/account/delete", data={"csrf_token": token(client, "/account"), "password": "a new secret"})
    assert r.status_code == 303
    assert client.get("/account").status_code == 302


def test_forgot_and_reset_password_pages(app_and_container):
    app, container = app_and_container
    confirmed_user(container, "reset@example.com")
    client = app.test_client()
    for address in ("reset@example.com", "nobody@example.com"):
        r = client.post("/forgot-password", data={"csrf_token": token(client, "/forgot-password"), "email": address})
        assert r.status_code == 200 and "Check your inbox" in text(r)
    container.accounts().process_mail_requests()
    with container.uow() as uow:
        mail = next(m for m, _c, _s in uow.outbox.recent(10) if m.to == "reset@example.com")
    link = re.search(r"(/reset-password\?token=\S+)", mail.text).group(1)
    page = text(client.get(link))
    reset_token = unquote(link.split("token=", 1)[1])
    assert f'value="{reset_token}"' in page  # carried by the form as a hidden field
    r = client.post("/reset-password", data={"csrf_token": TOKEN.search(page).group(1), "token": reset_token,
                                             "password": "brand new pass"})
    assert r.status_code == 200 and "Password changed" in text(r)
    r = client.post("/reset-password", data={"csrf_token": token(client, "/login"), "token": reset_token,
                                             "password": "another new pass"})
    assert r.status_code == 400  # single use
    r = client.post("/login", data={"csrf_token": token(client), "email": "reset@example.com",
                                    "password": "brand new pass"})
    assert r.status_code == 303


def test_export_defuses_spreadsheet_formulas(app_and_container):
    app, container = app_and_container
    confirmed_user(container, "export@example.com")
    client = signed_in_client(app, "export@example.com")
    generate(client, "=HYPERLINK(\"http://evil.example\")")
    generate(client, "Привет, мир")
    r = client.get("/history/export?format=csv")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(text(r).lstrip("\ufeff"))))
    assert len(rows) == 2
    original = {row["original_prompt"] for row in rows}
    assert "'=HYPERLINK(\"http://evil.example\")" in original and "Привет, мир" in original
    assert all(not v.startswith(("=", "+", "-", "@")) for row in rows for v in row.values() if v)
    data = json.loads(text(client.get("/history/export?format=json")))
    assert {d["original_prompt"] for d in data} == {"=HYPERLINK(\"http://evil.example\")", "Привет, мир"}
    assert client.get("/history/export?format=xml").status_code == 400


def test_history_search_filter_and_delete(app_and_container):
    app, container = app_and_container
    confirmed_user(container, "hist@example.com")
    client = signed_in_client(app, "hist@example.com")
    first = generate(client, "a poem about the sea")
    client.post("/app", data={"csrf_token": token(client, "/app"), "prompt": "unit tests in python",
                              "style": "technical"})
    page = text(client.get("/history?q=poem"))
    assert "a poem about the sea" in page and "unit tests in python" not in page
    page = text(client.get("/history?style=technical"))
    assert "unit tests in python" in page and "a poem about the sea" not in page
    r = client.post(f"/history/{first}/delete", data={"csrf_token": token(client, "/history")})
    assert r.status_code == 303
    assert client.get(f"/history/{first}").status_code == 404


def test_admin_page_is_for_admins_only(app_and_container):
    app, container = app_and_container
    container.accounts().create_admin("root@example.com", PASSWORD)
    uid = confirmed_user(container, "member@example.com")
    member = signed_in_client(app, "member@example.com")
    assert member.get("/admin").status_code == 403
    assert member.post(f"/admin/users/{uid}", data={"csrf_token": token(member, "/app"),
                                                    "daily_limit": "99"}).status_code == 403
    admin = signed_in_client(app, "root@example.com")
    page = text(admin.get("/admin?q=member"))
    assert "member@example.com" in page and "root@example.com" not in page
    r = admin.post(f"/admin/users/{uid}", data={"csrf_token": token(admin, "/admin"), "daily_limit": "10",
                                                "role": "user", "back": "/admin?q=member"})
    assert r.status_code == 303 and r.headers["Location"] == "/admin?q=member"
    with container.uow() as uow:
        user = uow.users.get(uid)
    assert user.daily_limit == 10 and user.is_active is False  # the box was left unticked
    assert member.get("/app").status_code == 302  # a deactivated account's session ends
    r = admin.post("/admin/users/1", data={"csrf_token": token(admin, "/admin"), "role": "user",
                                           "is_active": "y"})
    assert r.status_code == 303
    assert "You cannot remove your own administrator role." in text(admin.get("/admin"))


def test_dev_mailbox_only_in_development(app_and_container, tmp_path):
    app, _container = app_and_container
    assert app.test_client().get("/dev/mailbox").status_code == 404
    dev_app, _ = build_test_app(make_settings(tmp_path / "dev", PROMPTCORE_ENV="development",
                                              PROMPTCORE_SMTP_URL=""))
    assert dev_app.test_client().get("/dev/mailbox").status_code == 200


def test_security_headers_and_no_outside_resources(app_and_container):
    app, container = app_and_container
    confirmed_user(container, "csp@example.com")
    client = signed_in_client(app, "csp@example.com")
    for path in ("/", "/login", "/app", "/history", "/account"):
        r = client.get(path)
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        page = text(r)
        assert "<script>" not in page and " style=" not in page and "onclick" not in page
        assert not re.search(r'(src|href)="(https?:)?//', page), path
