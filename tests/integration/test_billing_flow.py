"""Billing end to end (SPEC §12): the real app and its real YooKassa adapter against the YooKassa
stand-in over HTTP, which posts its webhooks to the app served on loopback. The app trusts one
proxy hop, and the stand-in names an address inside YooKassa's networks in X-Forwarded-For (as a
reverse proxy in front of the app would)."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from dependency_injector import providers
from sqlalchemy.exc import OperationalError
from werkzeug.serving import make_server

from adapters.sql.repositories import billing as sql_billing
from tests.conftest import build_test_app, make_settings
from tests.fakes import FakeClock
from tests.integration.yookassa_standin import YOOKASSA_WEBHOOK_IP, YooKassaStandin

PASSWORD = "correct horse battery"
CONFIRM = "confirm-email"


@pytest.fixture
def billing_app(tmp_path, database_url):
    kassa = YooKassaStandin(require_receipt=True, webhook_forwarded_for=YOOKASSA_WEBHOOK_IP).start()
    settings = make_settings(
        tmp_path,
        PROMPTCORE_DATABASE_URL=database_url,
        PROMPTCORE_YOOKASSA_SHOP_ID=kassa.shop_id,
        PROMPTCORE_YOOKASSA_SECRET_KEY=kassa.secret_key,
        PROMPTCORE_YOOKASSA_API_URL=kassa.api_url,
        PROMPTCORE_TRUSTED_PROXIES="1",
    )
    app, container = build_test_app(settings)
    clock = FakeClock()
    container.clock.override(providers.Object(clock))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kassa.webhook_url = f"http://127.0.0.1:{server.server_port}/api/v1/billing/yookassa/webhook"
    try:
        yield app.test_client(), container, kassa, clock
    finally:
        server.shutdown()
        kassa.stop()
        container.engine().dispose()


def signed_up(client, container, email="ann@example.com") -> dict[str, str]:
    container.accounts().register_user(email, PASSWORD)
    with container.uow() as uow:
        user = uow.users.get_by_email(email)
    container.accounts().confirm_email(container.signed_tokens().dumps(CONFIRM, {"uid": user.id, "email": email}))
    return login(client, email)


def login(client, email: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.json
    return {"Authorization": "Bearer " + r.json["access_token"]}


def checkout(client, auth, renew=False) -> dict:
    r = client.post("/api/v1/billing/checkout", json={"plan": "pro", "renew": renew}, headers=auth)
    assert r.status_code == 201, r.json
    return r.json


def test_checkout_pay_webhook_and_the_limit_becomes_the_plans(billing_app):
    client, container, kassa, clock = billing_app
    auth = signed_up(client, container)
    assert client.get("/api/v1/profile", headers=auth).json["daily_limit"] == 3
    plans = client.get("/api/v1/plans").json
    assert {p["slug"]: p["price"] for p in plans}["pro"] == {"value": "490.00", "currency": "RUB"}

    started = checkout(client, auth)
    assert checkout(client, auth) == started  # one pending checkout per user
    provider_id = kassa.last_payment.id
    assert started["confirmation_url"] == kassa.payment(provider_id)["confirmation"]["confirmation_url"]
    assert len(kassa.api_requests("POST", "/v3/payments")) == 1

    kassa.pay(provider_id)  # → the webhook, delivered when this returns
    (note,) = kassa.events("payment.succeeded")
    assert note.status == 200 and note.answer and b"applied" in note.answer
    assert client.get("/api/v1/profile", headers=auth).json["daily_limit"] == 100
    assert client.get("/api/v1/stats", headers=auth).json["quota"]["limit"] == 100
    billing = client.get("/api/v1/billing", headers=auth).json
    assert billing["plan"]["slug"] == "pro" and billing["subscription"]["status"] == "active"
    end = billing["subscription"]["period_end"]
    (payment,) = client.get("/api/v1/billing/payments", headers=auth).json["items"]
    assert payment["status"] == "succeeded" and payment["amount"] == {"value": "490.00", "currency": "RUB"}

    # a duplicate changes nothing
    again = kassa.resend()
    assert again.status == 200 and b"duplicate" in again.answer
    assert client.get("/api/v1/billing", headers=auth).json["subscription"]["period_end"] == end
    with container.uow() as uow:
        assert len(uow.outbox.recent(50)) == 2  # the confirmation, one receipt


def test_a_webhook_from_outside_the_networks_is_403_and_changes_nothing(billing_app):
    client, container, kassa, clock = billing_app
    auth = signed_up(client, container)
    checkout(client, auth)
    provider_id = kassa.last_payment.id
    kassa.webhook_url, url = None, kassa.webhook_url  # pay without telling the app
    kassa.pay(provider_id)
    kassa.webhook_url = url
    forged = kassa.post_notification("payment.succeeded", payment_id=provider_id, forwarded_for="203.0.113.7")
    assert forged.status == 403
    direct = client.post("/api/v1/billing/yookassa/webhook", json=forged.body)  # from 127.0.0.1
    assert direct.status_code == 403 and direct.json["error"] == "forbidden"
    assert client.get("/api/v1/profile", headers=auth).json["daily_limit"] == 3
    # a lie from inside the networks is checked with YooKassa: an unknown id is acknowledged
    lie = kassa.post_notification("payment.succeeded", {"id": "2f5a0000-000f-5000-8000-000000000000"},
                                  payment_id=provider_id)
    assert lie.status == 200 and b"unknown" in lie.answer
    assert client.get("/api/v1/profile", headers=auth).json["daily_limit"] == 3


def test_a_strangers_payment_is_404(billing_app):
    client, container, kassa, clock = billing_app
    ann = signed_up(client, container)
    bob = signed_up(client, container, "bob@example.com")
    payment_id = checkout(client, ann)["payment_id"]
    assert client.get(f"/api/v1/billing/payments/{payment_id}", headers=ann).status_code == 200
    r = client.get(f"/api/v1/billing/payments/{payment_id}", headers=bob)
    assert r.status_code == 404 and r.json["error"] == "not_found"
    assert client.get("/api/v1/billing/payments/999999", headers=bob).status_code == 404


def test_the_return_page_api_sees_the_outcome_without_the_webhook(billing_app):
    client, container, kassa, clock = billing_app
    auth = signed_up(client, container)
    payment_id = checkout(client, auth)["payment_id"]
    kassa.webhook_url = None
    kassa.decline(kassa.last_payment.id, "insufficient_funds")
    r = client.get(f"/api/v1/billing/payments/{payment_id}", headers=auth)
    assert r.json["status"] == "canceled" and r.json["cancellation_reason"] == "insufficient_funds"
    assert client.get("/api/v1/profile", headers=auth).json["daily_limit"] == 3


def test_the_database_failing_while_applying_is_5xx_and_the_redelivery_applies_once(billing_app, monkeypatch):
    client, container, kassa, clock = billing_app
    auth = signed_up(client, container)
    checkout(client, auth)
    original = sql_billing.SqlSubscriptionRepository.add
    failures = []

    def failing_add(self, subscription, now):
        if not failures:
            failures.append(1)
            raise OperationalError("INSERT INTO subscriptions", {}, Exception("server closed the connection"))
        return original(self, subscription, now)

    monkeypatch.setattr(sql_billing.SqlSubscriptionRepository, "add", failing_add)
    kassa.pay(kassa.last_payment.id)
    (first,) = kassa.events("payment.succeeded")
    assert first.status == 503
    assert client.get("/api/v1/profile", headers=auth).json["daily_limit"] == 3
    assert kassa.resend().status == 200
    assert kassa.resend().status == 200
    assert client.get("/api/v1/profile", headers=auth).json["daily_limit"] == 100
    with container.uow() as uow:
        assert sum(m.kind == "payment_received" for m, _c, _s in uow.outbox.recent(50)) == 1


def test_renewal_by_the_clock_cancel_and_admin_refund(billing_app):
    client, container, kassa, clock = billing_app
    auth = signed_up(client, container)
    checkout(client, auth, renew=True)
    kassa.pay(kassa.last_payment.id)
    sub = client.get("/api/v1/billing", headers=auth).json["subscription"]
    assert sub["renews"] and sub["payment_method"] == "card •••• 4242"
    billing = container.billing()
    with container.uow() as uow:
        (subscription,) = uow.subscriptions.needing_attention(clock.now() + timedelta(days=60), 5)
    clock.current = subscription.period_end - timedelta(hours=12)
    billing.renewals()
    billing.renewals()  # the period has moved on: nothing more is charged
    keys = kassa.idempotence_keys("/v3/payments")
    assert len(keys) == 2 and keys[1].startswith("renewal-")
    auth = login(client, "ann@example.com")  # a month later: a fresh access token
    after = client.get("/api/v1/billing", headers=auth).json["subscription"]
    assert after["period_end"] > sub["period_end"] and after["status"] == "active"
    assert len(client.get("/api/v1/billing/payments", headers=auth).json["items"]) == 2

    r = client.post("/api/v1/billing/cancel", headers=auth)
    assert r.status_code == 200 and r.json["subscription"]["cancel_at_period_end"]
    r = client.post("/api/v1/billing/resume", headers=auth)
    assert r.status_code == 200 and r.json["subscription"]["renews"]
    r = client.put("/api/v1/billing/renewal", json={"enabled": False}, headers=auth)
    assert r.status_code == 200 and not r.json["subscription"]["renews"]

    # admin refund: a stranger is refused, an admin refunds all; the plan ends at once
    container.accounts().create_admin("root@example.com", PASSWORD)
    admin = login(client, "root@example.com")
    newest = client.get("/api/v1/admin/payments?q=ann@", headers=admin).json["items"][0]
    assert client.post(f"/api/v1/admin/payments/{newest['id']}/refund", json={}, headers=auth).status_code == 403
    r = client.post(f"/api/v1/admin/payments/{newest['id']}/refund", json={"amount": "90.00"}, headers=admin)
    assert r.status_code == 200 and r.json["refunded"] == {"value": "90.00", "currency": "RUB"}
    r = client.post(f"/api/v1/admin/payments/{newest['id']}/refund", json={}, headers=admin)
    assert r.status_code == 200 and r.json["refunded"]["value"] == "490.00"
    assert client.get("/api/v1/billing", headers=auth).json["subscription"]["status"] == "canceled"
    assert client.get("/api/v1/profile", headers=auth).json["daily_limit"] == 3
    assert len(set(kassa.idempotence_keys("/v3/refunds"))) == 2


def test_the_secret_key_never_reaches_the_logs(billing_app, caplog):
    client, container, kassa, clock = billing_app
    caplog.set_level(logging.DEBUG)
    auth = signed_up(client, container)
    kassa.fail_next(5, status=500)  # retries, then 503 and a logged failure
    r = client.post("/api/v1/billing/checkout", json={"plan": "pro"}, headers=auth)
    assert r.status_code == 503 and r.json["error"] == "payments_unavailable"
    checkout(client, auth)
    assert caplog.records
    assert kassa.secret_key not in caplog.text
    assert kassa.secret_key not in repr(container.settings())


def test_billing_off_is_503_billing_unavailable(tmp_path):
    app, container = build_test_app(make_settings(tmp_path))
    client = app.test_client()
    assert client.get("/api/v1/plans").status_code == 200
    auth = signed_up(client, container)
    r = client.post("/api/v1/billing/checkout", json={"plan": "pro"}, headers=auth)
    assert r.status_code == 503 and r.json["error"] == "billing_unavailable"
    assert client.get("/api/v1/billing", headers=auth).json["enabled"] is False
