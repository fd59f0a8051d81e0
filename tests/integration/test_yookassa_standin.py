"""The YooKassa stand-in itself, driven with plain ``requests`` (SPEC §12)."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tests.integration import yookassa_standin as yk
from tests.integration.yookassa_standin import YooKassaStandin

yookassa = yk.yookassa  # the stand-in fixture (one fresh server per test)

ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-5000-[89ab]000-[0-9a-f]{12}$")
RETURN_URL = "http://promptcore.test/account/billing?payment=p-1"


def checkout_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": {"value": "490.00", "currency": "RUB"},
        "capture": True,
        "confirmation": {"type": "redirect", "return_url": RETURN_URL},
        "description": "promptcore Pro, 30 days",
        "metadata": {"payment_id": "p-1", "user_id": "42"},
    }
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def receipt(value: str = "490.00", email: str | None = "ann@example.com") -> dict[str, Any]:
    customer = {"email": email} if email else {}
    return {
        "customer": customer,
        "items": [
            {
                "description": "promptcore Pro, 30 days",
                "quantity": "1.00",
                "amount": {"value": value, "currency": "RUB"},
                "vat_code": 1,
                "payment_mode": "full_payment",
                "payment_subject": "service",
            }
        ],
    }


class Api:
    """A tiny YooKassa client on ``requests``: Basic auth and a fresh key unless given."""

    def __init__(self, kassa: YooKassaStandin, auth: tuple[str, str] | None = None, timeout: float = 5.0):
        self.base = kassa.api_url
        self.session = requests.Session()
        self.session.auth = auth or kassa.auth
        self.timeout = timeout

    def post(self, path: str, body: Any = None, key: str | None = "", **kw: Any) -> requests.Response:
        headers = kw.pop("headers", {})
        if key is not None:
            headers["Idempotence-Key"] = key or str(uuid.uuid4())
        kw.setdefault("timeout", self.timeout)
        return self.session.post(self.base + path, json=body, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", self.timeout)
        return self.session.get(self.base + path, **kw)

    def create(self, key: str | None = "", **over: Any) -> dict[str, Any]:
        r = self.post("/payments", checkout_body(**over), key=key)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def api(yookassa: YooKassaStandin) -> Api:
    return Api(yookassa)


def assert_error(r: requests.Response, status: int, code: str, parameter: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["type"] == "error"
    assert body["code"] == code
    assert isinstance(body["id"], str) and body["id"]
    assert isinstance(body["description"], str) and body["description"]
    if parameter is not None:
        assert body["parameter"] == parameter
    return body


# -- a webhook receiver standing in for the app -------------------------------------------------


class Receiver:
    """Records the notifications it gets and answers from ``statuses`` (then 200)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.received.append((dict(self.headers.items()), data))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/billing/yookassa/webhook"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(data) for _, data in self.received]

    def events(self) -> list[str]:
        return [b["event"] for b in self.bodies]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hooked(receiver: Receiver) -> Iterator[YooKassaStandin]:
    """A stand-in that posts its notifications to ``receiver``."""
    with YooKassaStandin(webhook_url=receiver.url) as kassa:
        yield kassa


# -- money ------------------------------------------------------------------------------------


def test_money_is_integer_kopecks_and_two_decimal_strings() -> None:
    assert yk.parse_money("490.00") == 49000
    assert yk.parse_money("1990.00") == 199000
    assert yk.parse_money("0.01") == 1
    assert yk.format_money(49000) == "490.00"
    assert yk.format_money(5) == "0.05"
    for bad in ("490", "490.0", "490.000", "1,990.00", "-1.00", "00.10", 490, 490.0, None):
        with pytest.raises(ValueError):
            yk.parse_money(bad)
    with pytest.raises(TypeError):
        yk.format_money(490.0)  # type: ignore[arg-type]


# -- authentication -----------------------------------------------------------------------------


def test_basic_auth_is_checked(yookassa: YooKassaStandin, api: Api) -> None:
    p = api.create()
    url = f"{yookassa.api_url}/payments/{p['id']}"
    assert requests.get(url, auth=yookassa.auth, timeout=5).status_code == 200
    assert_error(requests.get(url, timeout=5), 401, "invalid_credentials")
    assert_error(requests.get(url, auth=(yookassa.shop_id, "wrong"), timeout=5), 401, "invalid_credentials")
    assert_error(requests.get(url, auth=("999999", yookassa.secret_key), timeout=5), 401, "invalid_credentials")
    r = Api(yookassa, auth=("1", "2")).post("/payments", checkout_body())
    assert_error(r, 401, "invalid_credentials")
    assert len(yookassa.payments) == 1


def test_configurable_credentials_and_revoked_key() -> None:
    with YooKassaStandin(shop_id="506751", secret_key="live_abc") as kassa:
        api = Api(kassa, auth=("506751", "live_abc"))
        assert api.get("/payments").status_code == 200
        kassa.set_credentials_invalid()
        assert_error(api.get("/payments"), 401, "invalid_credentials")
        assert_error(api.post("/payments", checkout_body()), 401, "invalid_credentials")
        kassa.set_credentials_invalid(False)
        assert api.get("/payments").status_code == 200
        assert kassa.payments == {}


# -- idempotence ------------------------------------------------------------------------------


def test_post_without_idempotence_key_is_refused(yookassa: YooKassaStandin, api: Api) -> None:
    assert_error(api.post("/payments", checkout_body(), key=None), 400, "invalid_request", "Idempotence-Key")
    assert_error(api.post("/payments", checkout_body(), key="k" * 65), 400, "invalid_request", "Idempotence-Key")
    assert yookassa.payments == {}
    assert api.get("/payments").status_code == 200  # GET needs no key


def test_same_key_same_body_returns_the_same_payment(yookassa: YooKassaStandin, api: Api) -> None:
    first = api.post("/payments", checkout_body(), key="order-1")
    again = api.post("/payments", checkout_body(), key="order-1")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert len(yookassa.payments) == 1
    assert yookassa.idempotence_keys() == ["order-1", "order-1"]
    # a body with the keys in another order is the same request
    reordered = dict(reversed(list(checkout_body().items())))
    assert api.post("/payments", reordered, key="order-1").json()["id"] == first.json()["id"]
    # the same body under another key is a second payment
    assert api.post("/payments", checkout_body(), key="order-2").json()["id"] != first.json()["id"]
    assert len(yookassa.payments) == 2


def test_same_key_different_body_is_an_error(yookassa: YooKassaStandin, api: Api) -> None:
    api.create(key="order-1")
    other = checkout_body(amount={"value": "1990.00", "currency": "RUB"})
    body = assert_error(api.post("/payments", other, key="order-1"), 400, "invalid_request", "Idempotence-Key")
    assert body["description"] == "Idempotence key duplicated"
    assert len(yookassa.payments) == 1


def test_requests_are_logged(yookassa: YooKassaStandin, api: Api) -> None:
    p = api.create(key="order-1")
    api.get(f"/payments/{p['id']}")
    requests.get(f"{yookassa.api_url}/payments", timeout=5)
    post, get, anonymous = yookassa.requests
    assert (post.method, post.path, post.idempotence_key, post.has_authorization) == (
        "POST",
        "/v3/payments",
        "order-1",
        True,
    )
    assert post.json == checkout_body() and post.status == 200
    assert post.header("authorization").startswith("Basic ")
    assert (get.method, get.path, get.idempotence_key, get.status) == ("GET", f"/v3/payments/{p['id']}", None, 200)
    assert anonymous.has_authorization is False and anonymous.status == 401
    assert [r.method for r in yookassa.api_requests("POST")] == ["POST"]


# -- creating a payment -----------------------------------------------------------------------


def test_created_payment_has_yookassa_shape(yookassa: YooKassaStandin, api: Api) -> None:
    p = api.create()
    assert ID.match(p["id"])
    assert p["status"] == "pending" and p["paid"] is False
    assert p["amount"] == {"value": "490.00", "currency": "RUB"}
    assert p["description"] == "promptcore Pro, 30 days"
    assert p["metadata"] == {"payment_id": "p-1", "user_id": "42"}
    assert p["test"] is True and p["refundable"] is False
    assert p["recipient"]["account_id"] == yookassa.shop_id
    confirmation = p["confirmation"]
    assert confirmation["type"] == "redirect" and confirmation["return_url"] == RETURN_URL
    assert confirmation["confirmation_url"].startswith(yookassa.url + "/checkout/")
    assert p["created_at"].endswith("Z")
    datetime.fromisoformat(p["created_at"].replace("Z", "+00:00"))
    for absent in ("captured_at", "payment_method", "cancellation_details", "refunded_amount"):
        assert absent not in p
    assert api.get(f"/payments/{p['id']}").json() == p
    stored = yookassa.payments[p["id"]]
    assert stored.amount == 49000 and isinstance(stored.amount, int)
    assert stored.idempotence_key == yookassa.requests[0].idempotence_key


def test_metadata_comes_back_as_strings(api: Api) -> None:
    p = api.create(metadata={"payment_id": 7, "renew": True})
    assert p["metadata"] == {"payment_id": "7", "renew": "true"}


@pytest.mark.parametrize(
    ("over", "parameter"),
    [
        ({"amount": None}, "amount"),
        ({"amount": {"value": 490, "currency": "RUB"}}, "amount.value"),
        ({"amount": {"value": 490.0, "currency": "RUB"}}, "amount.value"),
        ({"amount": {"value": "490", "currency": "RUB"}}, "amount.value"),
        ({"amount": {"value": "490.0", "currency": "RUB"}}, "amount.value"),
        ({"amount": {"value": "0.00", "currency": "RUB"}}, "amount.value"),
        ({"amount": {"value": "490.00"}}, "amount.currency"),
        ({"amount": {"value": "490.00", "currency": "rub"}}, "amount.currency"),
        ({"amount": {"value": "490.00", "currency": "USD"}}, "amount.currency"),
        ({"capture": "yes"}, "capture"),
        ({"confirmation": None}, "confirmation"),
        ({"confirmation": {"type": "redirect"}}, "confirmation.return_url"),
        ({"confirmation": {"type": "embedded"}}, "confirmation.type"),
        ({"description": "x" * 129}, "description"),
        ({"metadata": {"nested": {"a": 1}}}, "metadata"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"save_payment_method": "yes"}, "save_payment_method"),
        ({"payment_method_id": "no-such-card"}, "payment_method_id"),
    ],
)
def test_invalid_payments_are_refused(yookassa: YooKassaStandin, api: Api, over: dict, parameter: str) -> None:
    body = checkout_body()
    for key, value in over.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    assert_error(api.post("/payments", body), 400, "invalid_request", parameter)
    assert yookassa.payments == {}


def test_rejected_request_does_not_burn_the_key(yookassa: YooKassaStandin, api: Api) -> None:
    bad = checkout_body(amount={"value": "490", "currency": "RUB"})
    assert api.post("/payments", bad, key="order-1").status_code == 400
    assert api.post("/payments", checkout_body(), key="order-1").status_code == 200


def test_not_json_and_wrong_content_type(api: Api) -> None:
    r = api.session.post(
        api.base + "/payments", data=b"{nope", headers={"Idempotence-Key": "k", "Content-Type": "application/json"}
    )
    assert_error(r, 400, "invalid_request")
    r = api.session.post(
        api.base + "/payments",
        data=json.dumps(checkout_body()),
        headers={"Idempotence-Key": "k2", "Content-Type": "text/plain"},
    )
    assert r.status_code == 415


# -- receipts (54-FZ) ---------------------------------------------------------------------------


def test_receipt_required_when_the_shop_says_so() -> None:
    with YooKassaStandin(require_receipt=True) as kassa:
        api = Api(kassa)
        assert_error(api.post("/payments", checkout_body()), 400, "invalid_request", "receipt")
        no_email = checkout_body(receipt=receipt(email=None))
        assert_error(api.post("/payments", no_email), 400, "invalid_request", "receipt.customer")
        mismatch = checkout_body(receipt=receipt(value="400.00"))
        assert_error(api.post("/payments", mismatch), 400, "invalid_request", "receipt")
        no_items = checkout_body(receipt={"customer": {"email": "a@b.c"}, "items": []})
        assert_error(api.post("/payments", no_items), 400, "invalid_request", "receipt.items")
        float_quantity = checkout_body(receipt=receipt())
        float_quantity["receipt"]["items"][0]["quantity"] = 1.0
        assert_error(api.post("/payments", float_quantity), 400, "invalid_request", "receipt.items[0].quantity")
        no_vat = checkout_body(receipt=receipt())
        del no_vat["receipt"]["items"][0]["vat_code"]
        assert_error(api.post("/payments", no_vat), 400, "invalid_request", "receipt.items[0].vat_code")
        assert kassa.payments == {}

        p = api.create(receipt=receipt())
        assert p["receipt_registration"] == "pending"
        assert kassa.pay(p["id"])["receipt_registration"] == "succeeded"


def test_receipt_items_may_split_the_amount() -> None:
    with YooKassaStandin(require_receipt=True) as kassa:
        split = receipt(value="245.00")
        split["items"][0]["quantity"] = "2.00"
        assert Api(kassa).create(receipt=split)["status"] == "pending"


# -- outcomes decided by the test -----------------------------------------------------------------


def test_pay_succeeds_a_captured_payment(yookassa: YooKassaStandin, api: Api) -> None:
    p = api.create()
    paid = yookassa.pay(p["id"])
    assert paid["status"] == "succeeded" and paid["paid"] is True
    assert "confirmation" not in paid
    assert paid["captured_at"].endswith("Z") and paid["refundable"] is True
    method = paid["payment_method"]
    assert method["type"] == "bank_card" and method["saved"] is False
    assert method["title"] == "Bank card *4242" and method["card"]["last4"] == "4242"
    assert method["card"]["card_type"] == "Visa" and ID.match(method["id"])
    assert api.get(f"/payments/{p['id']}").json() == paid
    assert yookassa.saved_methods == {}


def test_pay_without_capture_waits_for_capture(yookassa: YooKassaStandin, api: Api) -> None:
    p = api.create(capture=False)
    waiting = yookassa.pay(p["id"])
    assert waiting["status"] == "waiting_for_capture" and waiting["paid"] is True
    assert "captured_at" not in waiting and "expires_at" in waiting
    captured = api.post(f"/payments/{p['id']}/capture", {})
    assert captured.status_code == 200
    assert captured.json()["status"] == "succeeded" and "captured_at" in captured.json()


def test_capture_part_and_cancel(yookassa: YooKassaStandin, api: Api) -> None:
    p = api.create(capture=False)
    yookassa.pay(p["id"])
    r = api.post(f"/payments/{p['id']}/capture", {"amount": {"value": "100.00", "currency": "RUB"}})
    assert r.json()["amount"] == {"value": "100.00", "currency": "RUB"}
    assert yookassa.payments[p["id"]].amount == 10000

    q = api.create(capture=False)
    assert_error(api.post(f"/payments/{q['id']}/cancel", {}), 400, "invalid_request")  # still pending
    assert_error(api.post(f"/payments/{q['id']}/capture", {}), 400, "invalid_request")
    yookassa.pay(q["id"])
    canceled = api.post(f"/payments/{q['id']}/cancel", None).json()
    assert canceled["status"] == "canceled" and canceled["paid"] is False
    assert canceled["cancellation_details"] == {"party": "merchant", "reason": "canceled_by_merchant"}
    assert_error(api.post(f"/payments/{q['id']}/capture", {}), 400, "invalid_request")
    assert_error(api.post("/payments/nope/capture", {}), 404, "not_found")
    # capture and cancel want an Idempotence-Key too
    assert_error(api.post(f"/payments/{q['id']}/cancel", {}, key=None), 400, "invalid_request", "Idempotence-Key")


def test_decline_cancels_with_the_reason(yookassa: YooKassaStandin, api: Api) -> None:
    p = api.create()
    declined = yookassa.decline(p["id"], "insufficient_funds")
    assert declined["status"] == "canceled" and declined["paid"] is False
    assert declined["cancellation_details"] == {"party": "payment_network", "reason": "insufficient_funds"}
    assert "confirmation" not in declined
    with pytest.raises(ValueError):
        yookassa.pay(p["id"])  # a canceled payment stays canceled
    q = api.create()
    assert yookassa.expire(q["id"])["cancellation_details"] == {
        "party": "yoo_money",
        "reason": "expired_on_confirmation",
    }


# -- saved cards and recurring charges ----------------------------------------------------------------


def test_saved_card_then_recurring_charge_without_confirmation(yookassa: YooKassaStandin, api: Api) -> None:
    first = api.create(save_payment_method=True)
    paid = yookassa.pay(first["id"], last4="4444", card_type="MasterCard")
    method = paid["payment_method"]
    assert method["saved"] is True and method["title"] == "Bank card *4444"
    assert method["id"] in yookassa.saved_methods

    renewal = checkout_body(payment_method_id=method["id"], confirmation=None)
    r = api.post("/payments", renewal, key="sub-1-period-2")
    assert r.status_code == 200
    charged = r.json()
    assert charged["status"] == "succeeded" and charged["paid"] is True
    assert "confirmation" not in charged
    assert charged["payment_method"]["id"] == method["id"] and charged["payment_method"]["saved"] is True
    # a repeated renewal with the same key charges nothing more
    assert api.post("/payments", renewal, key="sub-1-period-2").json()["id"] == charged["id"]
    assert len(yookassa.payments) == 2


def test_recurring_charge_declined_per_configured_outcome(yookassa: YooKassaStandin, api: Api) -> None:
    card = yookassa.add_saved_method(last4="0002", outcome="insufficient_funds")
    r = api.post("/payments", checkout_body(payment_method_id=card, confirmation=None))
    declined = r.json()
    assert r.status_code == 200 and declined["status"] == "canceled"
    assert declined["cancellation_details"] == {"party": "payment_network", "reason": "insufficient_funds"}

    good = yookassa.add_saved_method()
    assert api.create(payment_method_id=good, confirmation=None)["status"] == "succeeded"
    yookassa.set_recurring_outcome("card_expired")
    assert api.create(payment_method_id=good, confirmation=None)["cancellation_details"]["reason"] == "card_expired"
    yookassa.set_recurring_outcome("pending")
    pending = api.create(payment_method_id=good, confirmation=None)
    assert pending["status"] == "pending" and "confirmation" not in pending
    assert yookassa.pay(pending["id"])["status"] == "succeeded"


def test_recurring_not_allowed_for_the_shop() -> None:
    with YooKassaStandin(recurring_allowed=False) as kassa:
        api = Api(kassa)
        assert_error(api.post("/payments", checkout_body(save_payment_method=True)), 403, "forbidden")
        card = kassa.add_saved_method()
        body = checkout_body(payment_method_id=card, confirmation=None)
        assert_error(api.post("/payments", body), 403, "forbidden", "payment_method_id")


# -- the confirmation page ----------------------------------------------------------------------------


def test_confirmation_page_pay_button_redirects_to_return_url(yookassa: YooKassaStandin, api: Api) -> None:
    p = api.create()
    page = requests.get(p["confirmation"]["confirmation_url"], timeout=5)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert 'id="pay"' in page.text and 'id="decline"' in page.text and "490.00 RUB" in page.text
    action = re.search(r'action="([^"]+)"', page.text).group(1)
    r = requests.post(yookassa.url + action, data={"action": "pay"}, allow_redirects=False, timeout=5)
    assert r.status_code == 303 and r.headers["Location"] == RETURN_URL
    assert yookassa.payment(p["id"])["status"] == "succeeded"
    again = requests.get(p["confirmation"]["confirmation_url"], timeout=5)
    assert "already succeeded" in again.text and 'id="pay"' not in again.text


def test_confirmation_page_decline_button(yookassa: YooKassaStandin, api: Api) -> None:
    p = api.create()
    url = p["confirmation"]["confirmation_url"]
    r = requests.post(url, data={"action": "decline", "reason": "card_expired"}, allow_redirects=False, timeout=5)
    assert r.status_code == 303 and r.headers["Location"] == RETURN_URL
    assert yookassa.payment(p["id"])["cancellation_details"]["reason"] == "card_expired"
    assert requests.get(yookassa.url + "/checkout/nope", timeout=5).status_code == 404


# -- refunds -------------------------------------------------------------------------------------------


def test_full_and_partial_refunds(yookassa: YooKassaStandin, api: Api) -> None:
    p = api.create()
    yookassa.pay(p["id"])
    part = api.post("/refunds", {"payment_id": p["id"], "amount": {"value": "90.00", "currency": "RUB"}})
    assert part.status_code == 200
    refund = part.json()
    assert ID.match(refund["id"]) and refund["status"] == "succeeded" and refund["payment_id"] == p["id"]
    assert refund["amount"] == {"value": "90.00", "currency": "RUB"}
    after = api.get(f"/payments/{p['id']}").json()
    assert after["refunded_amount"] == {"value": "90.00", "currency": "RUB"}
    assert after["status"] == "succeeded" and after["refundable"] is True
    assert api.get(f"/refunds/{refund['id']}").json() == refund

    too_much = {"payment_id": p["id"], "amount": {"value": "400.01", "currency": "RUB"}}
    assert_error(api.post("/refunds", too_much), 400, "invalid_request", "amount.value")
    rest = api.post("/refunds", {"payment_id": p["id"], "amount": {"value": "400.00", "currency": "RUB"}})
    assert rest.status_code == 200
    final = yookassa.payment(p["id"])
    assert final["refunded_amount"]["value"] == "490.00" and final["refundable"] is False
    assert yookassa.payments[p["id"]].refunded == 49000
    listed = api.get("/refunds", params={"payment_id": p["id"]}).json()
    assert listed["type"] == "list" and len(listed["items"]) == 2


def test_refund_rules(yookassa: YooKassaStandin, api: Api) -> None:
    p = api.create()
    body = {"payment_id": p["id"], "amount": {"value": "490.00", "currency": "RUB"}}
    assert_error(api.post("/refunds", body), 400, "invalid_request")  # not paid yet
    assert_error(api.post("/refunds", {**body, "payment_id": "nope"}), 400, "invalid_request", "payment_id")
    yookassa.pay(p["id"])
    assert_error(api.post("/refunds", body, key=None), 400, "invalid_request", "Idempotence-Key")
    first = api.post("/refunds", body, key="refund-1").json()
    assert api.post("/refunds", body, key="refund-1").json() == first  # a retry refunds nothing more
    assert len(yookassa.refunds) == 1
    assert_error(api.get("/refunds/nope"), 404, "not_found")


def test_refund_receipt_when_required() -> None:
    with YooKassaStandin(require_refund_receipt=True) as kassa:
        api = Api(kassa)
        p = api.create()
        kassa.pay(p["id"])
        body = {"payment_id": p["id"], "amount": {"value": "490.00", "currency": "RUB"}}
        assert_error(api.post("/refunds", body), 400, "invalid_request", "receipt")
        assert api.post("/refunds", {**body, "receipt": receipt()}).status_code == 200


# -- lookups and unknown things -------------------------------------------------------------------------


def test_not_found_and_wrong_method(yookassa: YooKassaStandin, api: Api) -> None:
    assert_error(api.get("/payments/2d9e1a9c-000f-5000-9000-1b68e7b15f3f"), 404, "not_found")
    assert_error(api.get("/nothing"), 404, "not_found")
    p = api.create()
    assert api.get(f"/payments/{p['id']}/cancel").status_code == 405
    assert api.session.delete(f"{api.base}/payments/{p['id']}", timeout=5).status_code == 405


def test_list_payments(yookassa: YooKassaStandin, api: Api) -> None:
    a, b = api.create(), api.create()
    yookassa.pay(a["id"])
    items = api.get("/payments").json()["items"]
    assert [i["id"] for i in items] == [b["id"], a["id"]]
    assert [i["id"] for i in api.get("/payments", params={"status": "succeeded"}).json()["items"]] == [a["id"]]


# -- webhooks -----------------------------------------------------------------------------------------------


def test_state_changes_post_notifications(hooked: YooKassaStandin, receiver: Receiver) -> None:
    api = Api(hooked)
    p = api.create(capture=False)
    assert receiver.received == []  # creating a payment is no event
    hooked.pay(p["id"])  # returns once the webhook is delivered
    assert receiver.events() == ["payment.waiting_for_capture"]
    api.post(f"/payments/{p['id']}/capture", {})
    assert hooked.wait_webhooks()
    refund = api.post("/refunds", {"payment_id": p["id"], "amount": {"value": "490.00", "currency": "RUB"}}).json()
    q = api.create()
    hooked.decline(q["id"])
    assert hooked.wait_webhooks()
    assert receiver.events() == [
        "payment.waiting_for_capture",
        "payment.succeeded",
        "refund.succeeded",
        "payment.canceled",
    ]
    bodies = receiver.bodies
    assert all(b["type"] == "notification" for b in bodies)
    assert bodies[1]["object"]["id"] == p["id"] and bodies[1]["object"]["status"] == "succeeded"
    assert bodies[2]["object"] == refund
    assert bodies[3]["object"]["cancellation_details"]["reason"] == "insufficient_funds"
    headers, _ = receiver.received[0]
    assert headers["Content-Type"] == "application/json" and "X-Forwarded-For" not in headers
    assert all(n.delivered for n in hooked.notifications)


def test_recurring_and_page_clicks_post_notifications(hooked: YooKassaStandin, receiver: Receiver) -> None:
    api = Api(hooked)
    p = api.create()
    requests.post(p["confirmation"]["confirmation_url"], data={"action": "pay"}, allow_redirects=False, timeout=5)
    assert receiver.events() == ["payment.succeeded"]  # delivered before the redirect
    card = hooked.add_saved_method(outcome="insufficient_funds")
    api.create(payment_method_id=card, confirmation=None)
    assert hooked.wait_webhooks()
    assert receiver.events() == ["payment.succeeded", "payment.canceled"]


def test_no_webhook_url_records_events_only(yookassa: YooKassaStandin, api: Api) -> None:
    p = api.create()
    yookassa.pay(p["id"])
    (note,) = yookassa.events("payment.succeeded")
    assert note.url is None and note.status is None and note.object["id"] == p["id"]


def test_forwarded_for_header_on_notifications(receiver: Receiver) -> None:
    with YooKassaStandin(webhook_url=receiver.url, webhook_forwarded_for=yk.YOOKASSA_WEBHOOK_IP) as kassa:
        p = Api(kassa).create()
        kassa.pay(p["id"])
        kassa.post_notification("payment.succeeded", payment_id=p["id"], forwarded_for="203.0.113.9")
        kassa.post_notification("payment.succeeded", payment_id=p["id"], forwarded_for=None)
    sources = [headers.get("X-Forwarded-For") for headers, _ in receiver.received]
    assert sources == [yk.YOOKASSA_WEBHOOK_IP, "203.0.113.9", None]


def test_lying_duplicate_and_out_of_order_notifications(hooked: YooKassaStandin, receiver: Receiver) -> None:
    api = Api(hooked)
    p = api.create(capture=False)
    # a lie: the payment is pending, the notification says it succeeded
    lie = hooked.post_notification("payment.succeeded", {"status": "succeeded", "paid": True}, payment_id=p["id"])
    assert lie.status == 200 and lie.object["status"] == "succeeded"
    assert hooked.payment(p["id"])["status"] == "pending"  # nothing really changed
    # a forged payment id
    forged = hooked.post_notification("payment.succeeded", {"id": "forged-id", "status": "succeeded"})
    assert forged.object == {"id": "forged-id", "status": "succeeded"}
    hooked.pay(p["id"])
    api.post(f"/payments/{p['id']}/capture", {})
    assert hooked.wait_webhooks()
    # a duplicate of the last one, byte for byte
    dup = hooked.resend()
    assert dup.data == hooked.notifications[-2].data and dup.event == "payment.succeeded"
    # an old event arriving late
    late = hooked.post_notification("payment.waiting_for_capture", payment_id=p["id"], as_of="waiting_for_capture")
    assert late.object["status"] == "waiting_for_capture" and "captured_at" not in late.object
    # any body at all
    junk = hooked.post_notification("junk", body=b"not json")
    assert junk.status == 200
    assert receiver.received[-1][1] == b"not json"
    events = [json.loads(data)["event"] for _, data in receiver.received[:-1]]
    assert events == [
        "payment.succeeded",  # the lie
        "payment.succeeded",  # the forged id
        "payment.waiting_for_capture",
        "payment.succeeded",
        "payment.succeeded",  # the duplicate
        "payment.waiting_for_capture",  # late
    ]


def test_webhook_redelivered_until_the_app_says_ok(receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    with YooKassaStandin(webhook_url=receiver.url, webhook_attempts=3, webhook_retry_delay=0.01) as kassa:
        p = Api(kassa).create()
        kassa.pay(p["id"])
        (note,) = kassa.notifications
        assert note.delivered and note.attempts == 3
    assert receiver.events() == ["payment.succeeded"] * 3


def test_notification_to_a_dead_app_is_recorded(yookassa: YooKassaStandin) -> None:
    p = Api(yookassa).create()
    note = yookassa.post_notification("payment.succeeded", payment_id=p["id"], url="http://127.0.0.1:9/hook")
    assert note.status is None and note.error and not note.delivered


# -- faults ---------------------------------------------------------------------------------------------------


def test_fail_next_answers_500(yookassa: YooKassaStandin, api: Api) -> None:
    yookassa.fail_next(2)
    assert_error(api.post("/payments", checkout_body(), key="order-1"), 500, "internal_server_error")
    assert_error(api.post("/payments", checkout_body(), key="order-1"), 500, "internal_server_error")
    assert yookassa.payments == {}
    assert api.post("/payments", checkout_body(), key="order-1").status_code == 200
    assert yookassa.idempotence_keys() == ["order-1"] * 3
    yookassa.fail_next(1, status=429)
    r = api.get("/payments")
    assert_error(r, 429, "too_many_requests")
    assert r.headers["Retry-After"] == "1"


def test_fail_after_creating_then_retry_gets_the_same_payment(yookassa: YooKassaStandin, api: Api) -> None:
    yookassa.fail_next(1, status=500, create_before_failing=True)
    assert api.post("/payments", checkout_body(), key="order-1").status_code == 500
    assert len(yookassa.payments) == 1
    created = yookassa.last_payment
    r = api.post("/payments", checkout_body(), key="order-1")
    assert r.status_code == 200 and r.json()["id"] == created.id
    assert len(yookassa.payments) == 1


def test_slow_answer_times_the_client_out_but_the_payment_exists(yookassa: YooKassaStandin) -> None:
    api = Api(yookassa, timeout=0.2)
    yookassa.delay_next(0.6)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.post("/payments", checkout_body(), key="order-1")
    assert time.monotonic() - started < 0.55
    r = api.post("/payments", checkout_body(), key="order-1")  # answered at once: the delay was one request
    assert r.status_code == 200 and len(yookassa.payments) == 1
    assert r.json()["id"] == yookassa.last_payment.id


def test_dropped_connection(yookassa: YooKassaStandin, api: Api) -> None:
    yookassa.drop_next()
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post("/payments", checkout_body(), key="order-1")
    assert yookassa.payments == {} and yookassa.requests[-1].dropped
    yookassa.drop_next(create_before_failing=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post("/payments", checkout_body(), key="order-1")
    assert len(yookassa.payments) == 1
    again = api.post("/payments", checkout_body(), key="order-1")
    assert again.status_code == 200 and again.json()["id"] == yookassa.last_payment.id
    assert yookassa.idempotence_keys() == ["order-1"] * 3


def test_faults_do_not_touch_the_confirmation_page(yookassa: YooKassaStandin, api: Api) -> None:
    p = api.create()
    yookassa.fail_next(1)
    assert requests.get(p["confirmation"]["confirmation_url"], timeout=5).status_code == 200
    assert api.get(f"/payments/{p['id']}").status_code == 500
