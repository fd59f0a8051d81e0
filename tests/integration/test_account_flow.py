"""The account lifecycle over HTTP, on SQLite and on a fresh PostgreSQL database, with mail
delivered to a real SMTP server on loopback."""

from __future__ import annotations

import re

import pytest

from entrypoints.worker import mail_round
from tests.conftest import age_outbox, build_test_app, make_settings
from tests.integration.smtp_server import text_body

PW = "correct horse battery"


@pytest.fixture
def stack(tmp_path, database_url, smtp_server):
    settings = make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url, PROMPTCORE_SMTP_URL=smtp_server.url)
    app, container = build_test_app(settings)
    yield app.test_client(), container, smtp_server
    container.engine().dispose()


def deliver(container):
    return mail_round(container)


def link_in(message, path):
    match = re.search(r"(http://promptcore\.test" + re.escape(path) + r"\?token=\S+)", text_body(message))
    assert match, text_body(message)
    return match.group(1)


def test_register_confirm_token_profile_refresh_reuse_logout(stack):
    client, container, smtp = stack
    r = client.post("/api/v1/auth/register", json={"email": "Ada@Example.com", "password": PW, "name": "Ada"})
    assert r.status_code == 202
    assert deliver(container).sent == 1
    [mail] = smtp.wait_for("ada@example.com")
    assert "Confirm" in mail["Subject"]
    assert mail.get_content_type() == "multipart/alternative"

    link = link_in(mail, "/confirm-email")
    page = client.get(link.replace("http://promptcore.test", ""))
    assert page.status_code == 200 and b"confirmed" in page.data

    # A standard OAuth2 client: form-encoded password grant.
    r = client.post("/api/v1/auth/token", data={"grant_type": "password", "username": "ada@example.com",
                                                "password": PW})
    assert r.status_code == 200, r.json
    assert r.headers["Cache-Control"] == "no-store"
    pair = r.json
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 900

    r = client.get("/api/v1/profile", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert r.status_code == 200
    assert r.json["email"] == "ada@example.com" and r.json["is_email_confirmed"] is True
    assert set(r.json) == {"id", "email", "name", "is_email_confirmed", "role", "daily_limit", "created_at",
                           "settings"}

    r = client.post("/api/v1/auth/token", data={"grant_type": "refresh_token",
                                                "refresh_token": pair["refresh_token"]})
    assert r.status_code == 200
    rotated = r.json
    assert rotated["refresh_token"] != pair["refresh_token"]

    r = client.post("/api/v1/auth/refresh-token", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401 and r.json["error"] == "invalid_refresh_token"
    r = client.post("/api/v1/auth/refresh-token", json={"refresh_token": rotated["refresh_token"]})
    assert r.status_code == 401, "reuse must revoke the newer token of the family too"

    r = client.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": PW})
    assert r.status_code == 200
    fresh = r.json
    assert client.post("/api/v1/auth/logout", json={"refresh_token": fresh["refresh_token"]}).status_code == 204
    r = client.post("/api/v1/auth/refresh-token", json={"refresh_token": fresh["refresh_token"]})
    assert r.status_code == 401


def test_taken_and_new_addresses_answer_identically(stack):
    client, container, smtp = stack
    first = client.post("/api/v1/auth/register", json={"email": "ada@example.com", "password": PW})
    again = client.post("/api/v1/auth/register", json={"email": "ADA@example.com", "password": "other pass 42"})
    other = client.post("/api/v1/auth/register", json={"email": "bob@example.com", "password": PW})
    assert first.status_code == again.status_code == other.status_code == 202
    assert first.json == again.json == other.json
    deliver(container)
    subjects = [m["Subject"] for m in smtp.wait_for("ada@example.com", 2)]
    assert any("Someone tried" in s for s in subjects)


def test_wrong_password_and_unknown_email_answer_identically(stack):
    client, container, _ = stack
    client.post("/api/v1/auth/register", json={"email": "ada@example.com", "password": PW})
    wrong = client.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": "wrong password"})
    unknown = client.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": PW})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")


def test_password_reset_by_mail_works_once(stack):
    client, container, smtp = stack
    client.post("/api/v1/auth/register", json={"email": "ada@example.com", "password": PW})
    assert client.post("/api/v1/auth/forgot-password", json={"email": "ada@example.com"}).status_code == 202
    assert client.post("/api/v1/auth/forgot-password", json={"email": "ghost@example.com"}).status_code == 202
    deliver(container)
    reset_mail = [m for m in smtp.wait_for("ada@example.com", 2) if "Reset" in m["Subject"]][0]
    token = link_in(reset_mail, "/reset-password").split("token=", 1)[1]
    from urllib.parse import unquote

    token = unquote(token)
    r = client.post("/api/v1/auth/reset-password", json={"token": token, "password": "a new secret 9"})
    assert r.status_code == 204
    r = client.post("/api/v1/auth/reset-password", json={"token": token, "password": "another one 99"})
    assert r.status_code == 400 and r.json["error"] == "invalid_token"
    assert client.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": "a new secret 9"}
                       ).status_code == 200
    assert not smtp.to("ghost@example.com")


def test_profile_changes_email_change_and_deletion(stack):
    client, container, smtp = stack
    client.post("/api/v1/auth/register", json={"email": "ada@example.com", "password": PW})
    pair = client.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": PW}).json
    auth = {"Authorization": f"Bearer {pair['access_token']}"}
    r = client.patch("/api/v1/profile", json={"name": "Ada", "settings": {"language": "ru", "theme": "dark"}},
                     headers=auth)
    assert r.status_code == 200 and r.json["settings"]["language"] == "ru"
    r = client.patch("/api/v1/profile", json={"settings": {"theme": "neon"}}, headers=auth)
    assert r.status_code == 422 and "settings.theme" in r.json["errors"]

    r = client.post("/api/v1/profile/email", json={"new_email": "lovelace@example.com", "password": PW},
                    headers=auth)
    assert r.status_code == 202
    deliver(container)
    [change] = smtp.wait_for("lovelace@example.com")
    assert "новый адрес" in change["Subject"]  # the user chose Russian
    token = link_in(change, "/confirm-email-change").split("token=", 1)[1]
    from urllib.parse import unquote

    r = client.post("/api/v1/auth/confirm-email-change", json={"token": unquote(token)})
    assert r.status_code == 200 and r.json["email"] == "lovelace@example.com"

    r = client.post("/api/v1/profile/password", json={"current_password": "nope nope", "new_password": "x" * 12},
                    headers=auth)
    assert r.status_code == 422 and "current_password" in r.json["errors"]
    r = client.delete("/api/v1/profile", json={"password": PW}, headers=auth)
    assert r.status_code == 204
    assert client.get("/api/v1/profile", headers=auth).status_code == 401


def test_validation_errors_have_the_documented_shape(stack):
    client, _, _ = stack
    r = client.post("/api/v1/auth/register", json={"email": "x", "password": 5, "extra": 1})
    assert r.status_code == 422
    body = r.json
    assert set(body) >= {"code", "status", "error", "message", "errors"}
    assert body["error"] == "validation_error" and body["code"] == 422
    assert "password" in body["errors"] and "extra" in body["errors"]
    r = client.post("/api/v1/auth/register", data="not json", content_type="application/json")
    assert r.status_code in (400, 422) and "error" in r.json
    r = client.post("/api/v1/auth/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 400 and r.json["error"] == "unsupported_grant_type"
    r = client.post("/api/v1/auth/token", data={"grant_type": "password", "username": "a@b.co", "password": "x"})
    assert r.status_code == 400 and r.json["error"] == "invalid_grant"
    big = "x" * (300 * 1024)
    r = client.post("/api/v1/auth/register", json={"email": "a@b.co", "password": big})
    assert r.status_code == 413 and r.json["error"] == "payload_too_large"


def test_unconfirmed_resend_and_health(stack):
    client, container, smtp = stack
    client.post("/api/v1/auth/register", json={"email": "ada@example.com", "password": PW})
    assert client.post("/api/v1/auth/resend-confirmation", json={"email": "ada@example.com"}).status_code == 202
    deliver(container)
    assert len(smtp.wait_for("ada@example.com", 1)) == 1  # the resend came within the recipient's cooldown
    age_outbox(container, minutes=3)
    assert client.post("/api/v1/auth/resend-confirmation", json={"email": "ada@example.com"}).status_code == 202
    deliver(container)
    assert len(smtp.wait_for("ada@example.com", 2)) == 2
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").json == {"status": "ok", "database": "ok"}
