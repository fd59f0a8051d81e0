"""Limit notifications (SPEC §12.7) end to end, on SQLite and PostgreSQL: the 429 body's quota and
upgrade_url (and its OpenAPI schema), the limit e-mail in the outbox — exactly one when 20
requests race for a user's last 3 units on a real multi-process server — and the notify_limit
setting over the API."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, func, select

from adapters.sql import tables as t
from tests.conftest import build_test_app, make_settings
from tests.integration.live import live_server
from tests.integration.openrouter_standin import OpenRouterStandin
from tests.integration.test_quota_concurrency import PW, confirmed_token


def _limit_mails(container) -> list:
    with container.uow() as uow:
        return [m for m, _created, _sent in uow.outbox.recent(100) if m.kind == "limit_reached"]


@pytest.fixture
def api(tmp_path, database_url):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url,
                                                  PROMPTCORE_DAILY_LIMIT="3"))
    yield app.test_client(), container
    container.engine().dispose()


def _signup(client, container, email="ada@example.com"):
    from promptcore.services.accounts import CONFIRM

    client.post("/api/v1/auth/register", json={"email": email, "password": PW})
    user = container.accounts().authenticate(email, PW)
    token = container.signed_tokens().dumps(CONFIRM, {"uid": user.id, "email": email})
    assert client.post("/api/v1/auth/confirm-email", json={"token": token}).status_code == 200
    pair = client.post("/api/v1/auth/login", json={"email": email, "password": PW}).json
    return {"Authorization": f"Bearer {pair['access_token']}"}


def _generate(client, auth):
    return client.post("/api/v1/prompts", json={"prompt": "write a poem", "style": "general"}, headers=auth)


def test_the_429_body_carries_the_quota_and_the_upgrade_url(api):
    client, container = api
    auth = _signup(client, container)
    for n in range(3):
        assert _generate(client, auth).status_code == 201
        assert len(_limit_mails(container)) == (1 if n == 2 else 0)  # with the last unit, not before
    r = _generate(client, auth)
    assert r.status_code == 429 and r.json["error"] == "quota_exceeded"
    assert r.json["upgrade_url"] == "http://promptcore.test/pricing"
    assert r.json["quota"] == {**r.json["quota"], "used": 3, "limit": 3, "remaining": 0}
    assert r.json["quota"]["resets_at"] and int(r.headers["Retry-After"]) > 86000
    # streamed requests are refused before the stream starts, with the same body
    r = client.post("/api/v1/prompts", json={"prompt": "hi", "style": "general"},
                    headers={**auth, "Accept": "text/event-stream"})
    assert r.status_code == 429 and r.json["upgrade_url"] == "http://promptcore.test/pricing"
    # refusals send no more mail
    (mail,) = _limit_mails(container)
    assert mail.to == "ada@example.com" and "http://promptcore.test/pricing" in mail.text


def test_the_openapi_document_describes_the_429_body(api):
    client, _container = api
    spec = client.get("/api/v1/openapi.json").json
    response = spec["paths"]["/api/v1/prompts"]["post"]["responses"]["429"]
    ref = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    schema = spec["components"]["schemas"][ref]
    assert {"code", "error", "message", "quota", "upgrade_url"} <= set(schema["required"])
    assert schema["properties"]["upgrade_url"]["type"] == "string"
    assert {"used", "limit", "resets_at"} <= set(str(schema["properties"]["quota"]).replace("'", " ").split()) or \
        "$ref" in str(schema["properties"]["quota"])
    assert "upgrade_url" in response["description"]
    settings = spec["components"]["schemas"]["Settings"]["properties"]
    assert settings["notify_limit"]["type"] == "boolean"


def test_notify_limit_is_a_setting_that_stops_the_mail(api):
    client, container = api
    auth = _signup(client, container)
    assert client.get("/api/v1/profile", headers=auth).json["settings"]["notify_limit"] is True
    r = client.patch("/api/v1/profile", json={"settings": {"notify_limit": "off"}}, headers=auth)
    assert r.status_code == 422 and "settings.notify_limit" in r.json["errors"]
    r = client.patch("/api/v1/profile", json={"settings": {"notify_limit": False}}, headers=auth)
    assert r.status_code == 200 and r.json["settings"]["notify_limit"] is False
    assert r.json["settings"]["language"] == "en"  # the other settings stay
    for _ in range(3):
        assert _generate(client, auth).status_code == 201
    assert _limit_mails(container) == []


def test_the_mail_is_in_the_users_language(api):
    client, container = api
    auth = _signup(client, container)
    assert client.patch("/api/v1/profile", json={"settings": {"language": "ru"}}, headers=auth).status_code == 200
    for _ in range(3):
        _generate(client, auth)
    (mail,) = _limit_mails(container)
    assert mail.subject == "Дневной лимит promptcore исчерпан" and " UTC" in mail.text


def test_twenty_racing_requests_for_three_units_send_one_mail(database_url, tmp_path):
    """A real server (3 processes × 8 threads) and 20 requests at once for a user with 3 of 5 units
    left: 3 succeed, 17 get 429 with the upgrade URL, and the outbox holds exactly one limit
    e-mail (and notifications_sent one row)."""
    with OpenRouterStandin(latency=0.3) as upstream:
        env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": database_url,
               "PROMPTCORE_VAR_DIR": str(tmp_path), "PROMPTCORE_LLM": "openrouter",
               "OPENROUTER_API_KEY": "test-key", "OPENROUTER_BASE_URL": upstream.base_url,
               "PROMPTCORE_DAILY_LIMIT": "5", "PROMPTCORE_BASE_URL": "https://promptcore.example"}
        with live_server(env, workers=3, threads=8, cwd=str(tmp_path)) as base:
            headers = {"Authorization": f"Bearer {confirmed_token(base, database_url, tmp_path)}"}

            def generate(i: int) -> requests.Response:
                return requests.post(f"{base}/api/v1/prompts", json={"prompt": f"request {i}", "style": "general"},
                                     headers=headers, timeout=30)

            assert [generate(i).status_code for i in range(2)] == [201, 201]  # 3 of 5 left
            with ThreadPoolExecutor(max_workers=20) as pool:
                answers = list(pool.map(generate, range(20)))
            assert Counter(r.status_code for r in answers) == Counter({201: 3, 429: 17})
            assert {r.json()["upgrade_url"] for r in answers if r.status_code == 429} == {
                "https://promptcore.example/pricing"}

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            mails = conn.execute(select(t.outbox.c.to_addr, t.outbox.c.text_body)
                                 .where(t.outbox.c.kind == "limit_reached")).all()
            sent = conn.execute(select(func.count()).select_from(t.notifications_sent)).scalar_one()
    finally:
        engine.dispose()
    assert len(mails) == 1 and sent == 1
    assert mails[0].to_addr == "ada@example.com" and "https://promptcore.example/pricing" in mails[0].text_body
