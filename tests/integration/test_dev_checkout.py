"""The development checkout (SPEC §12.5): served only with PROMPTCORE_BILLING=dev-checkout (never in
production), it answers the YooKassa API calls of the real adapter and shows a payment page whose
Pay and Decline post the webhook to the app over HTTP.

First its API and page through the test client (no server: the webhook it posts cannot arrive,
which must not matter — the return page asks again), then end to end through `promptcore serve`
in development, several worker processes, and a server started with one thread."""

from __future__ import annotations

import base64
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from adapters.sql import tables as t
from entrypoints.config import load_settings
from tests.conftest import build_test_app, make_settings
from tests.integration.live import live_server
from tests.integration.smtp_server import free_port

from .web.test_security import PASSWORD, confirmed_user

API = "/dev/checkout/api/v3"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"dev:dev-checkout").decode()}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _body(**changes) -> dict:
    body = {"amount": {"value": "490.00", "currency": "RUB"}, "capture": True, "description": "promptcore Pro",
            "metadata": {"payment_id": "999999", "user_id": "1"},
            "confirmation": {"type": "redirect", "return_url": "http://127.0.0.1:9/account/billing?payment=1"},
            "receipt": {"customer": {"email": "ann@example.com"}, "items": [{"description": "Pro"}]}}
    body.update(changes)
    return body


@pytest.fixture
def dev_app(tmp_path):
    # A base URL where nothing listens: the webhook the page posts is refused at once.
    settings = make_settings(tmp_path, PROMPTCORE_BILLING="dev-checkout", PROMPTCORE_BASE_URL="http://127.0.0.1:9")
    app, container = build_test_app(settings)
    yield app, container
    container.engine().dispose()


def _post(client, path: str, body: dict, key: str | None = "key-1", auth: dict | None = AUTH):
    headers = dict(auth or {})
    if key is not None:
        headers["Idempotence-Key"] = key
    return client.post(API + path, json=body, headers=headers)


def test_the_api_speaks_yookassa_auth_idempotence_errors(dev_app, tmp_path):
    app, _ = dev_app
    client = app.test_client()
    assert _post(client, "/payments", _body(), auth=None).status_code == 401
    assert _post(client, "/payments", _body(), auth={"Authorization": "Basic eDp5"}).json["code"] == \
        "invalid_credentials"
    missing = _post(client, "/payments", _body(), key=None)
    assert missing.status_code == 400 and missing.json["parameter"] == "Idempotence-Key"
    assert _post(client, "/payments", _body(amount={"value": "490", "currency": "RUB"})).status_code == 400

    # No CSRF token needed for the API (Basic auth, like YooKassa's), and the same key answers the same object.
    first = _post(client, "/payments", _body(), key="same")
    assert first.status_code == 200, first.json
    again = _post(client, "/payments", _body(), key="same")
    assert again.json == first.json
    other = _post(client, "/payments", _body(description="another"), key="same")
    assert other.status_code == 400 and other.json["type"] == "error"
    payment = first.json
    assert payment["status"] == "pending" and payment["amount"] == {"value": "490.00", "currency": "RUB"}
    assert payment["confirmation"]["confirmation_url"] == f"http://127.0.0.1:9/dev/checkout/pay/{payment['id']}"
    assert client.get(f"{API}/payments/{payment['id']}", headers=AUTH).json == payment
    assert client.get(f"{API}/payments/{payment['id']}").status_code == 401
    assert client.get(f"{API}/payments/nope", headers=AUTH).status_code == 404
    assert (tmp_path / "dev_checkout.sqlite3").exists()  # the state every worker process shares


def test_the_page_pays_saves_the_card_then_renewals_and_refunds_work(dev_app):
    app, _ = dev_app
    client = app.test_client()
    payment = _post(client, "/payments", _body(save_payment_method=True), key="checkout").json
    page = client.get(f"/dev/checkout/pay/{payment['id']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "490.00" in html and 'id="pay"' in html and 'id="decline"' in html
    assert "<script>" not in html and "insufficient_funds" in html
    # The page form needs its CSRF token.
    refused = client.post(f"/dev/checkout/pay/{payment['id']}", data={"action": "pay"})
    assert refused.status_code == 400
    assert client.get(f"{API}/payments/{payment['id']}", headers=AUTH).json["status"] == "pending"

    paid = client.post(f"/dev/checkout/pay/{payment['id']}",
                       data={"action": "pay", "csrf_token": TOKEN.search(html).group(1)})
    # The webhook could not be delivered (nothing listens): the buyer is sent back all the same.
    assert paid.status_code == 303 and paid.headers["Location"] == "http://127.0.0.1:9/account/billing?payment=1"
    stored = client.get(f"{API}/payments/{payment['id']}", headers=AUTH).json
    assert stored["status"] == "succeeded" and stored["paid"] is True and "confirmation" not in stored
    method = stored["payment_method"]
    assert method["saved"] is True and method["card"]["last4"] == "4242"

    # A renewal with the saved card succeeds at once; an unknown card is refused.
    renewal = _post(client, "/payments", {"amount": {"value": "490.00", "currency": "RUB"}, "capture": True,
                                          "description": "renewal", "payment_method_id": method["id"]}, key="renew")
    assert renewal.status_code == 200 and renewal.json["status"] == "succeeded"
    unknown = _post(client, "/payments", {"amount": {"value": "490.00", "currency": "RUB"}, "capture": True,
                                          "payment_method_id": "not-saved"}, key="renew-2")
    assert unknown.status_code == 400 and unknown.json["parameter"] == "payment_method_id"

    # Refunds: part, then more than is left is refused; the payment shows what was refunded.
    refund = _post(client, "/refunds", {"payment_id": payment["id"], "amount": {"value": "90.00", "currency": "RUB"}},
                   key="refund-1")
    assert refund.status_code == 200 and refund.json["status"] == "succeeded"
    assert client.get(f"{API}/refunds/{refund.json['id']}", headers=AUTH).json == refund.json
    too_much = _post(client, "/refunds", {"payment_id": payment["id"],
                                          "amount": {"value": "400.01", "currency": "RUB"}}, key="refund-2")
    assert too_much.status_code == 400
    after = client.get(f"{API}/payments/{payment['id']}", headers=AUTH).json
    assert after["refunded_amount"] == {"value": "90.00", "currency": "RUB"}

    # A second submit of a settled payment changes nothing.
    html = client.get(f"/dev/checkout/pay/{payment['id']}").get_data(as_text=True)
    assert 'id="pay"' not in html
    client.post(f"/dev/checkout/pay/{payment['id']}",
                data={"action": "decline", "csrf_token": TOKEN.search(html).group(1)})
    assert client.get(f"{API}/payments/{payment['id']}", headers=AUTH).json["status"] == "succeeded"


def test_decline_cancels_with_the_reason(dev_app):
    app, _ = dev_app
    client = app.test_client()
    payment = _post(client, "/payments", _body(), key="decline").json
    html = client.get(f"/dev/checkout/pay/{payment['id']}").get_data(as_text=True)
    r = client.post(f"/dev/checkout/pay/{payment['id']}",
                    data={"action": "decline", "reason": "card_expired", "csrf_token": TOKEN.search(html).group(1)})
    assert r.status_code == 303
    stored = client.get(f"{API}/payments/{payment['id']}", headers=AUTH).json
    assert stored["status"] == "canceled"
    assert stored["cancellation_details"] == {"party": "payment_network", "reason": "card_expired"}


def test_it_is_served_only_in_dev_checkout_mode_and_never_in_production(tmp_path):
    app, container = build_test_app(make_settings(tmp_path))  # billing off
    client = app.test_client()
    assert client.get(f"{API}/payments/x", headers=AUTH).status_code == 404
    assert client.get("/dev/checkout/pay/x").status_code == 404
    # Outside the API, POSTs still need a CSRF token: the exemption is the dev API blueprint alone.
    assert client.post(f"{API}/payments", json=_body(), headers={**AUTH, "Idempotence-Key": "k"}).status_code == 400
    container.engine().dispose()

    # The settings refuse the mode in production, and the app would not serve it there either.
    prod = {"PROMPTCORE_ENV": "production", "PROMPTCORE_SECRET_KEY": "p" * 40, "PROMPTCORE_SMTP_URL": "smtp://m:25",
            "PROMPTCORE_LLM": "offline", "PROMPTCORE_DATABASE_URL": f"sqlite:///{tmp_path}/prod.db"}
    settings = dataclasses.replace(load_settings(prod), billing="dev-checkout")
    from entrypoints.app import create_app

    with pytest.raises(RuntimeError, match="never served in production"):
        create_app(settings=settings)


def test_production_refuses_to_start_with_the_dev_checkout(tmp_path):
    env = {**os.environ, "PROMPTCORE_ENV": "production", "PROMPTCORE_BILLING": "dev-checkout",
           "PROMPTCORE_SECRET_KEY": "p" * 40, "PROMPTCORE_SMTP_URL": "smtp://mail:25", "PROMPTCORE_LLM": "offline",
           "PROMPTCORE_DATABASE_URL": f"sqlite:///{tmp_path}/prod.db", "PROMPTCORE_VAR_DIR": str(tmp_path)}
    exe = os.path.join(os.path.dirname(sys.executable), "promptcore")
    done = subprocess.run([exe, "serve", "--port", str(free_port())], env=env, cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "PROMPTCORE_BILLING=dev-checkout is refused in production" in done.stderr


# -- end to end through `promptcore serve` ----------------------------------------------------


def _served(tmp_path: Path, database_url: str, workers: int, threads: int):
    port = free_port()
    env = {"PROMPTCORE_ENV": "development", "PROMPTCORE_VAR_DIR": str(tmp_path),
           "PROMPTCORE_DATABASE_URL": database_url, "PROMPTCORE_LLM": "offline", "PROMPTCORE_SMTP_URL": "",
           "PROMPTCORE_BASE_URL": f"http://127.0.0.1:{port}"}  # development: billing is dev-checkout by default
    return live_server(env, workers=workers, threads=threads, cwd=str(tmp_path), port=port)


def _user(tmp_path: Path, database_url: str, email: str):
    """A confirmed user in the served database, made in this process."""
    _, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url))
    confirmed_user(container, email)
    return container


def _login(base: str, email: str) -> dict[str, str]:
    r = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}


def _checkout(base: str, auth: dict) -> dict:
    r = requests.post(f"{base}/api/v1/billing/checkout", json={"plan": "pro"}, headers=auth, timeout=60)
    assert r.status_code == 201, r.text
    started = r.json()
    assert started["confirmation_url"].startswith(f"{base}/dev/checkout/pay/")
    return started


def _submit(base: str, confirmation_url: str, **form: str) -> requests.Response:
    browser = requests.Session()  # the payment page needs no sign-in, only its own CSRF token
    page = browser.get(confirmation_url, timeout=30)
    assert page.status_code == 200 and 'id="pay"' in page.text
    return browser.post(confirmation_url, data={**form, "csrf_token": TOKEN.search(page.text).group(1)},
                        allow_redirects=False, timeout=60)


def _webhook_events(container) -> list[str]:
    with container.engine().connect() as conn:
        return list(conn.execute(select(t.billing_events.c.event_key)).scalars())


def test_pay_and_decline_through_a_multi_process_server(tmp_path, database_url):
    with _served(tmp_path, database_url, workers=3, threads=8) as base:
        container = _user(tmp_path, database_url, "ann@example.com")
        _user(tmp_path, database_url, "bob@example.com").engine().dispose()
        ann = _login(base, "ann@example.com")
        assert requests.get(f"{base}/api/v1/profile", headers=ann, timeout=30).json()["daily_limit"] == 3

        started = _checkout(base, ann)
        assert _checkout(base, ann) == started  # one pending checkout: the same URL again
        paid = _submit(base, started["confirmation_url"], action="pay")
        assert paid.status_code == 303
        assert paid.headers["Location"] == f"{base}/account/billing?payment={started['payment_id']}"
        # The webhook came over HTTP from loopback and was applied before the redirect.
        events = _webhook_events(container)
        assert any(e.startswith("payment.succeeded:") and e.endswith(":succeeded") for e in events), events
        payment = requests.get(f"{base}/api/v1/billing/payments/{started['payment_id']}", headers=ann, timeout=30)
        assert payment.json()["status"] == "succeeded"
        assert requests.get(f"{base}/api/v1/profile", headers=ann, timeout=30).json()["daily_limit"] == 100
        billing = requests.get(f"{base}/api/v1/billing", headers=ann, timeout=30).json()
        assert billing["plan"]["slug"] == "pro" and billing["subscription"]["status"] == "active"

        bob = _login(base, "bob@example.com")
        started = _checkout(base, bob)
        declined = _submit(base, started["confirmation_url"], action="decline", reason="insufficient_funds")
        assert declined.status_code == 303
        payment = requests.get(f"{base}/api/v1/billing/payments/{started['payment_id']}", headers=bob, timeout=30)
        assert payment.json()["status"] == "canceled"
        assert payment.json()["cancellation_reason"] == "insufficient_funds"
        assert requests.get(f"{base}/api/v1/profile", headers=bob, timeout=30).json()["daily_limit"] == 3
        assert requests.get(f"{base}/api/v1/billing", headers=bob, timeout=30).json()["plan"]["slug"] == "free"
        container.engine().dispose()


def test_a_one_thread_server_does_not_wait_on_itself(tmp_path):
    database_url = f"sqlite:///{tmp_path}/one.db"
    with _served(tmp_path, database_url, workers=1, threads=1) as base:
        container = _user(tmp_path, database_url, "cy@example.com")
        auth = _login(base, "cy@example.com")
        started = _checkout(base, auth)
        assert _submit(base, started["confirmation_url"], action="pay").status_code == 303
        assert requests.get(f"{base}/api/v1/profile", headers=auth, timeout=30).json()["daily_limit"] == 100
        container.engine().dispose()
    log = next(tmp_path.glob("server-*.log")).read_text()
    assert "using 8 threads per worker instead of 1" in log
