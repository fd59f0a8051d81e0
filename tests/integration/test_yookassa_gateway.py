"""YooKassaGateway against the YooKassa stand-in, a real HTTP server on loopback (SPEC §12)."""

from __future__ import annotations

import base64
import json
import logging
import pickle
import time
import traceback
from collections.abc import Iterator

import pytest

from adapters.http import new_idempotence_key
from adapters.yookassa import YooKassaGateway
from promptcore.domain.billing import Money, PaymentMethod, PaymentStatus
from promptcore.domain.billing_errors import (
    PaymentNotFound,
    PaymentProviderMisconfigured,
    PaymentProviderUnavailable,
    PaymentRejected,
)
from promptcore.ports.billing import PaymentGateway, ProviderPayment
from tests.integration.http_standin import Retries
from tests.integration.yookassa_standin import YooKassaStandin

SHOP = "506751"
SECRET = "live_Qm9vLXNlY3JldC1rZXktMDEyMzQ1Njc4OWFiY2RlZg"
TOKEN = base64.b64encode(f"{SHOP}:{SECRET}".encode()).decode()
BASIC = f"Basic {TOKEN}"
RETURN_URL = "http://promptcore.test/account/billing?payment=17"
EMAIL = "ann@example.com"
PRO = Money(490_00)
DESCRIPTION = "promptcore Pro, 30 days"


@pytest.fixture
def kassa() -> Iterator[YooKassaStandin]:
    """A stand-in that, like a 54-FZ shop, refuses payments and refunds without a receipt."""
    with YooKassaStandin(shop_id=SHOP, secret_key=SECRET, require_receipt=True, require_refund_receipt=True) as server:
        yield server


@pytest.fixture
def gateways() -> Iterator[list[YooKassaGateway]]:
    made: list[YooKassaGateway] = []
    yield made
    for gateway in made:
        gateway.close()


@pytest.fixture
def make(kassa, gateways):
    def build(secret: str = SECRET, **kw) -> YooKassaGateway:
        kw.setdefault("timeout", 2.0)
        kw.setdefault("deadline", 6.0)
        kw.setdefault("backoff_base", 0.01)
        gateway = YooKassaGateway(SHOP, secret, kassa.api_url, **kw)
        gateways.append(gateway)
        return gateway

    return build


def checkout(gateway: YooKassaGateway, key: str | None = None, **kw) -> ProviderPayment:
    kw.setdefault("amount", PRO)
    kw.setdefault("description", DESCRIPTION)
    kw.setdefault("metadata", {"payment_id": 17, "user_id": "42"})
    kw.setdefault("customer_email", EMAIL)
    kw.setdefault("return_url", RETURN_URL)
    return gateway.create_payment(idempotence_key=key or new_idempotence_key(), **kw)


def renewal(gateway: YooKassaGateway, method_id: str, key: str) -> ProviderPayment:
    return gateway.create_payment(
        amount=PRO, description=DESCRIPTION, idempotence_key=key, metadata={"payment_id": 18, "user_id": 42},
        customer_email=EMAIL, payment_method_id=method_id,
    )


def no_float(text: str):
    raise AssertionError(f"a float in a request body: {text}")


# -- checkout -----------------------------------------------------------------------------------


def test_the_gateway_is_the_core_port(make):
    assert isinstance(make(), PaymentGateway)


def test_a_checkout_sends_what_yookassa_needs_and_reads_the_outcome(kassa, make):
    gateway = make()
    key = new_idempotence_key()
    long_description = DESCRIPTION + ", " + "with a very long tail " * 10

    payment = checkout(gateway, key, description=long_description)

    assert payment.status == PaymentStatus.PENDING.value and payment.paid is False
    assert payment.amount == PRO and payment.refunded == Money(0)
    assert payment.confirmation_url == f"{kassa.url}/checkout/{payment.id}"
    assert payment.metadata == {"payment_id": "17", "user_id": "42"}
    assert payment.saved_method() is None

    [sent] = kassa.api_requests("POST", "/v3/payments")
    assert sent.header("Authorization") == BASIC
    assert sent.idempotence_key == key
    assert sent.header("Content-Type") == "application/json"
    body = json.loads(sent.raw, parse_float=no_float)  # amounts are strings, never numbers
    assert body["amount"] == {"value": "490.00", "currency": "RUB"}
    assert body["capture"] is True
    assert body["confirmation"] == {"type": "redirect", "return_url": RETURN_URL}
    assert "save_payment_method" not in body and "payment_method_id" not in body
    assert len(body["description"]) <= 128 and body["description"].startswith(DESCRIPTION)
    assert body["metadata"] == {"payment_id": "17", "user_id": "42"}
    assert body["receipt"] == {
        "customer": {"email": EMAIL},
        "items": [
            {
                "description": body["description"],
                "quantity": "1.00",
                "amount": {"value": "490.00", "currency": "RUB"},
                "vat_code": 1,
                "payment_mode": "full_payment",
                "payment_subject": "service",
            }
        ],
    }

    kassa.pay(payment.id)
    paid = gateway.get_payment(payment.id)

    assert paid.id == payment.id
    assert paid.status == "succeeded" and paid.paid is True
    assert paid.confirmation_url is None
    assert paid.payment_method_title == "Bank card *4242" and paid.card_last4 == "4242"
    assert paid.payment_method_saved is False and paid.saved_method() is None
    [read] = kassa.api_requests("GET", f"/v3/payments/{payment.id}")
    assert read.header("Authorization") == BASIC and read.idempotence_key is None


def test_the_receipt_carries_the_configured_vat_code(kassa, make):
    checkout(make(vat_code=4))
    assert kassa.last_payment.request["receipt"]["items"][0]["vat_code"] == 4


def test_a_declined_checkout_shows_the_reason(kassa, make):
    gateway = make()
    payment = checkout(gateway)
    kassa.decline(payment.id, "card_expired")

    seen = gateway.get_payment(payment.id)

    assert seen.status == "canceled" and seen.paid is False
    assert seen.cancellation_reason == "card_expired" and seen.cancellation_party == "payment_network"


def test_the_same_key_answers_the_same_payment(kassa, make):
    gateway = make()
    key = new_idempotence_key()
    first = checkout(gateway, key)
    second = checkout(gateway, key)
    assert second.id == first.id and len(kassa.payments) == 1


# -- renewals -----------------------------------------------------------------------------------


def test_a_saved_card_is_charged_without_the_user(kassa, make):
    gateway = make()
    payment = checkout(gateway, save_payment_method=True)
    assert kassa.last_payment.request["save_payment_method"] is True
    kassa.pay(payment.id, last4="1111")

    method = gateway.get_payment(payment.id).saved_method()

    assert method == PaymentMethod(kassa.last_payment.payment_method.id, "card •••• 1111")

    key = "renewal-7-20260201T000000Z-0"
    charged = renewal(gateway, method.id, key)

    assert charged.status == "succeeded" and charged.paid is True
    assert charged.confirmation_url is None
    assert charged.payment_method_id == method.id and charged.payment_method_saved is True
    sent = kassa.api_requests("POST", "/v3/payments")[-1]
    assert sent.idempotence_key == key
    body = json.loads(sent.raw, parse_float=no_float)
    assert body["payment_method_id"] == method.id and body["capture"] is True
    assert "confirmation" not in body and "save_payment_method" not in body
    assert body["receipt"]["customer"] == {"email": EMAIL}

    # The worker running twice sends the same key: one charge.
    assert renewal(gateway, method.id, key).id == charged.id
    assert sum(1 for p in kassa.payments.values() if p.recurring) == 1

    # A declined renewal (the next attempt, a new key) shows why.
    kassa.set_recurring_outcome("insufficient_funds")
    declined = renewal(gateway, method.id, "renewal-7-20260201T000000Z-1")

    assert declined.status == "canceled" and declined.paid is False
    assert declined.cancellation_reason == "insufficient_funds"
    assert declined.cancellation_party == "payment_network"
    assert gateway.get_payment(declined.id).cancellation_reason == "insufficient_funds"


def test_an_unknown_saved_method_is_rejected_with_the_parameter_and_not_retried(kassa, make):
    retries = Retries()
    gateway = make(on_retry=retries)

    with pytest.raises(PaymentRejected) as caught:
        renewal(gateway, "2d9e1a9c-000f-5000-9000-1b68e7b15f3f", "renewal-1-x-0")

    err = caught.value
    assert err.parameter == "payment_method_id" and err.code == "invalid_request"
    assert "doesn't exist" in err.description and "payment_method_id" in err.message
    assert len(kassa.api_requests("POST", "/v3/payments")) == 1 and retries.calls == []


# -- faults -------------------------------------------------------------------------------------


def test_a_lost_answer_is_asked_again_with_the_same_key_and_one_payment_is_made(kassa, make):
    retries = Retries()
    gateway = make(on_retry=retries)
    kassa.fail_next(2, create_before_failing=True)
    key = new_idempotence_key()

    payment = checkout(gateway, key)

    assert len(kassa.payments) == 1 and payment.id == kassa.last_payment.id
    assert kassa.idempotence_keys() == [key, key, key]
    assert retries.calls == [(1, "500"), (2, "500")]


def test_a_dropped_connection_is_asked_again_with_the_same_key(kassa, make):
    retries = Retries()
    gateway = make(on_retry=retries)
    kassa.drop_next(1, create_before_failing=True)
    key = new_idempotence_key()

    payment = checkout(gateway, key)

    assert len(kassa.payments) == 1 and payment.id == kassa.last_payment.id
    assert kassa.idempotence_keys() == [key, key]
    assert retries.calls == [(1, "connection")]


def test_an_answer_slower_than_the_timeout_costs_one_attempt_not_the_deadline(kassa, make):
    retries = Retries()
    gateway = make(timeout=0.5, deadline=5.0, on_retry=retries)
    kassa.delay_next(3.0)  # carried out at once, answered after 3 s
    key = new_idempotence_key()

    started = time.monotonic()
    payment = checkout(gateway, key)
    elapsed = time.monotonic() - started

    assert 0.5 <= elapsed < 2.0
    assert len(kassa.payments) == 1 and payment.id == kassa.last_payment.id
    assert kassa.idempotence_keys() == [key, key]
    assert retries.calls == [(1, "timeout")]


def test_an_upstream_that_stays_slow_is_unavailable_within_the_deadline(kassa, make):
    gateway = make(timeout=0.3, deadline=1.2, max_attempts=10)
    kassa.delay_next(5.0, n=50)
    key = new_idempotence_key()

    started = time.monotonic()
    with pytest.raises(PaymentProviderUnavailable) as caught:
        checkout(gateway, key)
    elapsed = time.monotonic() - started

    assert elapsed < 1.2 + 0.5
    assert caught.value.message == PaymentProviderUnavailable.default_message
    assert caught.value.reason == "timeout"
    keys = kassa.idempotence_keys()
    assert len(keys) >= 3 and set(keys) == {key}
    assert len(kassa.payments) == 1  # made on the first attempt: repeating the key gets it


def test_retry_after_is_honoured(kassa, make):
    retries = Retries()
    gateway = make(on_retry=retries)
    kassa.fail_next(1, status=429)  # answered with Retry-After: 1

    started = time.monotonic()
    checkout(gateway)
    elapsed = time.monotonic() - started

    assert 1.0 <= elapsed < 3.0
    assert retries.calls == [(1, "429")] and len(kassa.payments) == 1


def test_5xx_to_the_end_is_unavailable_after_the_attempts(kassa, make):
    gateway = make(max_attempts=3)
    kassa.fail_next(10, status=503)
    key = new_idempotence_key()

    with pytest.raises(PaymentProviderUnavailable) as caught:
        checkout(gateway, key)

    assert caught.value.reason == "503"
    assert kassa.idempotence_keys() == [key, key, key] and kassa.payments == {}


def test_bad_credentials_are_misconfiguration_not_retried(kassa, make, caplog):
    retries = Retries()
    gateway = make(secret="live_wrong", on_retry=retries)

    with caplog.at_level(logging.ERROR, logger="adapters.yookassa"):
        with pytest.raises(PaymentProviderMisconfigured) as caught:
            checkout(gateway)

    err = caught.value
    assert isinstance(err, PaymentProviderUnavailable)  # users see "unavailable"
    assert err.provider_status == 401 and err.code == "invalid_credentials"
    assert err.message == PaymentProviderUnavailable.default_message
    assert len(kassa.api_requests()) == 1 and retries.calls == []
    assert any("401" in r.getMessage() and "SECRET_KEY" in r.getMessage() for r in caplog.records)


def test_revoked_credentials_fail_reads_too(kassa, make):
    gateway = make()
    payment = checkout(gateway)
    kassa.set_credentials_invalid()
    with pytest.raises(PaymentProviderMisconfigured):
        gateway.get_payment(payment.id)


def test_a_shop_without_recurring_payments_is_misconfigured(kassa, make):
    kassa.recurring_allowed = False
    with pytest.raises(PaymentProviderMisconfigured) as caught:
        checkout(make(), save_payment_method=True)
    assert caught.value.provider_status == 403


def test_unknown_and_impossible_ids_are_not_found(kassa, make):
    gateway = make()
    with pytest.raises(PaymentNotFound) as caught:
        gateway.get_payment("2d9e1a9c-000f-5000-9000-1b68e7b15f3f")
    assert caught.value.provider_id == "2d9e1a9c-000f-5000-9000-1b68e7b15f3f"
    with pytest.raises(PaymentNotFound):
        gateway.get_refund("2d9e1a9c-0015-5000-9000-1b68e7b15f3f")
    asked = len(kassa.api_requests())

    for forged in ("../refunds", "a/b", "x?limit=100", "", "é" * 3, "a" * 65):
        with pytest.raises(PaymentNotFound):
            gateway.get_payment(forged)
    assert len(kassa.api_requests()) == asked  # none of them was sent


# -- refunds ------------------------------------------------------------------------------------


def paid_payment(kassa: YooKassaStandin, gateway: YooKassaGateway) -> ProviderPayment:
    payment = checkout(gateway)
    kassa.pay(payment.id)
    return gateway.get_payment(payment.id)


def test_partial_then_full_refunds(kassa, make):
    gateway = make()
    payment = paid_payment(kassa, gateway)
    key = new_idempotence_key()

    part = gateway.create_refund(payment.id, Money(100_00), key, description=DESCRIPTION, customer_email=EMAIL)

    assert part.status == "succeeded" and part.amount == Money(100_00) and part.payment_id == payment.id
    [sent] = kassa.api_requests("POST", "/v3/refunds")
    assert sent.header("Authorization") == BASIC and sent.idempotence_key == key
    body = json.loads(sent.raw, parse_float=no_float)
    assert body["payment_id"] == payment.id and body["amount"] == {"value": "100.00", "currency": "RUB"}
    assert body["receipt"]["items"][0]["amount"] == {"value": "100.00", "currency": "RUB"}
    assert body["receipt"]["customer"] == {"email": EMAIL}
    assert gateway.get_payment(payment.id).refunded == Money(100_00)
    assert gateway.get_refund(part.id) == part

    # Asking again with the same key refunds nothing more.
    again = gateway.create_refund(payment.id, Money(100_00), key, description=DESCRIPTION, customer_email=EMAIL)
    assert again == part and gateway.get_payment(payment.id).refunded == Money(100_00)

    rest = gateway.create_refund(payment.id, Money(390_00), new_idempotence_key(), description=DESCRIPTION,
                                 customer_email=EMAIL)
    assert rest.amount == Money(390_00)
    assert gateway.get_payment(payment.id).refunded == payment.amount

    with pytest.raises(PaymentRejected) as caught:
        gateway.create_refund(payment.id, Money(1), new_idempotence_key(), description=DESCRIPTION,
                              customer_email=EMAIL)
    assert caught.value.parameter == "amount.value"


def test_a_full_refund_in_one_go(kassa, make):
    gateway = make()
    payment = paid_payment(kassa, gateway)
    refund = gateway.create_refund(payment.id, payment.amount, new_idempotence_key(), description=DESCRIPTION,
                                   customer_email=EMAIL)
    assert refund.amount == PRO and gateway.get_payment(payment.id).refunded == PRO


def test_a_refund_whose_answer_is_lost_is_made_once(kassa, make):
    gateway = make()
    payment = paid_payment(kassa, gateway)
    kassa.fail_next(1, status=502, create_before_failing=True)
    key = new_idempotence_key()

    refund = gateway.create_refund(payment.id, Money(50_00), key, description=DESCRIPTION, customer_email=EMAIL)

    assert len(kassa.refunds) == 1 and refund.id in kassa.refunds
    assert kassa.idempotence_keys("/v3/refunds") == [key, key]
    assert gateway.get_payment(payment.id).refunded == Money(50_00)


# -- the secret ---------------------------------------------------------------------------------


def test_the_secret_never_leaks(kassa, make, caplog):
    caplog.set_level(logging.DEBUG)  # everything: ours, the transport's, urllib3's
    gateway = make(timeout=0.3, deadline=1.0, max_attempts=3)
    errors: list[BaseException] = []

    def attempt(call) -> None:
        try:
            call()
        except Exception as exc:
            errors.append(exc)

    payment = checkout(gateway)
    kassa.pay(payment.id)
    attempt(lambda: renewal(gateway, "2d9e1a9c-000f-5000-9000-1b68e7b15f3f", "renewal-1-x-0"))  # 400
    attempt(lambda: gateway.get_payment("2d9e1a9c-000f-5000-9000-1b68e7b15f3f"))  # 404
    kassa.fail_next(3, status=500)
    attempt(lambda: checkout(gateway))  # 5xx to the end
    kassa.drop_next(3)
    attempt(lambda: checkout(gateway))  # dropped connections
    kassa.delay_next(3.0, n=3)
    attempt(lambda: checkout(gateway))  # timeouts
    kassa.reset()
    attempt(lambda: gateway.create_refund(payment.id, Money(1_00), new_idempotence_key(),
                                          description=DESCRIPTION, customer_email=EMAIL))  # 400 payment gone
    kassa.set_credentials_invalid()
    attempt(lambda: checkout(gateway))  # 401
    attempt(lambda: gateway.get_refund("2d9e1a9c-0015-5000-9000-1b68e7b15f3f"))  # 401

    kinds = {type(e) for e in errors}
    assert kinds == {PaymentRejected, PaymentNotFound, PaymentProviderUnavailable, PaymentProviderMisconfigured}
    texts = [repr(gateway), str(gateway), repr(gateway.transport), repr(vars(gateway)), caplog.text]
    texts += [r.getMessage() for r in caplog.records]
    for err in errors:
        texts += [str(err), repr(err), repr(err.args), repr(vars(err))]
        texts.append("".join(traceback.format_exception(err)))  # the whole chain
        assert err.__cause__ is None and err.__context__ is None
    for text in texts:
        assert SECRET not in text and TOKEN not in text and "Basic " not in text

    with pytest.raises(TypeError):
        pickle.dumps(gateway)
