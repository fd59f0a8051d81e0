"""Time comes from the container's Clock everywhere (issue 10, item 3d): with a fake clock, e-mailed
tokens and access tokens expire when the fake clock passes their lifetime, without any sleeping,
and the pages and the export read the same clock."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from dependency_injector import providers

from promptcore.services.accounts import CONFIRM
from tests.conftest import build_test_app, make_settings
from tests.fakes import FakeClock

PASSWORD = "correct horse battery"
# Far from the wall clock, so that anything still reading it gets every expiry wrong.
T0 = datetime(2031, 3, 4, 9, 30, tzinfo=timezone.utc)
LINK = re.compile(r"/reset-password\?token=([A-Za-z0-9_.\-]+)")


@pytest.fixture
def api(tmp_path):
    app, container = build_test_app(make_settings(tmp_path))
    clock = FakeClock(T0)
    container.clock.override(providers.Object(clock))
    container.reset_singletons()  # nothing built before the override keeps the system clock
    yield app.test_client(), container, clock
    container.engine().dispose()


def register(client, email: str) -> None:
    assert client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD}).status_code == 202


def confirm_token(container, email: str) -> str:
    with container.uow() as uow:
        user = uow.users.get_by_email(email)
    return container.signed_tokens().dumps(CONFIRM, {"uid": user.id, "email": email})


def reset_link_token(client, container, email: str) -> str:
    assert client.post("/api/v1/auth/forgot-password", json={"email": email}).status_code == 202
    container.accounts().process_mail_requests()
    with container.uow() as uow:
        message = next(m for m, _created, _sent in uow.outbox.recent(20) if m.kind == "reset_password")
    return LINK.search(message.text).group(1)


def test_a_confirmation_link_expires_when_the_clock_passes_48_hours(api):
    client, container, clock = api
    register(client, "late@example.com")
    register(client, "early@example.com")
    late, early = confirm_token(container, "late@example.com"), confirm_token(container, "early@example.com")
    clock.advance(hours=47, minutes=59)
    assert client.post("/api/v1/auth/confirm-email", json={"token": early}).status_code == 200
    clock.advance(minutes=1, seconds=1)
    r = client.post("/api/v1/auth/confirm-email", json={"token": late})
    assert r.status_code == 400 and r.json["error"] == "invalid_token"


def test_a_reset_link_expires_when_the_clock_passes_an_hour(api):
    client, container, clock = api
    register(client, "reset@example.com")
    assert client.post("/api/v1/auth/confirm-email",
                       json={"token": confirm_token(container, "reset@example.com")}).status_code == 200
    stale = reset_link_token(client, container, "reset@example.com")
    clock.advance(hours=1, seconds=1)
    r = client.post("/api/v1/auth/reset-password", json={"token": stale, "password": "a brand new pass"})
    assert r.status_code == 400 and r.json["error"] == "invalid_token"
    fresh = reset_link_token(client, container, "reset@example.com")
    clock.advance(minutes=59)
    r = client.post("/api/v1/auth/reset-password", json={"token": fresh, "password": "a brand new pass"})
    assert r.status_code == 204


def test_an_access_token_expires_when_the_clock_passes_15_minutes(api):
    client, container, clock = api
    register(client, "bearer@example.com")
    client.post("/api/v1/auth/confirm-email", json={"token": confirm_token(container, "bearer@example.com")})
    pair = client.post("/api/v1/auth/login", json={"email": "bearer@example.com", "password": PASSWORD}).json
    auth = {"Authorization": "Bearer " + pair["access_token"]}
    assert client.get("/api/v1/profile", headers=auth).status_code == 200
    clock.advance(minutes=15)
    assert client.get("/api/v1/profile", headers=auth).status_code == 200  # within the 5 s leeway
    clock.advance(seconds=6)
    r = client.get("/api/v1/profile", headers=auth)
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers


def test_the_pages_and_the_export_read_the_container_clock(api):
    client, container, clock = api
    from entrypoints.web.views import reset_text

    with client.application.test_request_context("/", headers={"Accept-Language": "en"}):
        assert "in 3 hours" in reset_text(clock.now() + timedelta(hours=3))
        assert reset_text(clock.now() - timedelta(minutes=1)).endswith("UTC")  # past: no relative part
    register(client, "export@example.com")
    client.post("/api/v1/auth/confirm-email", json={"token": confirm_token(container, "export@example.com")})
    pair = client.post("/api/v1/auth/login", json={"email": "export@example.com", "password": PASSWORD}).json
    r = client.get("/api/v1/prompts/export?format=csv", headers={"Authorization": "Bearer " + pair["access_token"]})
    assert 'filename="promptcore-history-20310304.csv"' in r.headers["Content-Disposition"]
