"""PaymentGateway: the in-memory fake (tests/fake_payments.py) and YooKassaGateway against the
YooKassa stand-in on loopback answer the same way (SPEC §12), so a use case tested with the fake
behaves the same against YooKassa."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.yookassa import YooKassaGateway
from promptcore.domain.billing import Money, PaymentMethod
from promptcore.domain.billing_errors import PaymentNotFound, PaymentRejected
from promptcore.ports.billing import PaymentGateway, ProviderPayment
from tests.fake_payments import FakePaymentGateway
from tests.integration.yookassa_standin import YooKassaStandin

EMAIL = "ann@example.com"
RETURN_URL = "http://promptcore.test/account/billing?payment=1"
PRO = Money(490_00)


class FakeBackend:
    def __init__(self) -> None:
        self.gateway: PaymentGateway = FakePaymentGateway()
        self.fake = self.gateway

    def pay(self, provider_id: str, last4: str = "4242") -> None:
        self.fake.pay(provider_id, last4=last4)

    def decline(self, provider_id: str, reason: str) -> None:
        self.fake.decline(provider_id, reason)

    def set_recurring_outcome(self, outcome: str) -> None:
        self.fake.recurring_outcome = outcome

    def close(self) -> None:
        pass


class YooKassaBackend:
    def __init__(self) -> None:
        self.kassa = YooKassaStandin(require_receipt=True).start()
        self.gateway = YooKassaGateway(self.kassa.shop_id, self.kassa.secret_key, self.kassa.api_url,
                                       timeout=2.0, deadline=6.0, backoff_base=0.01)

    def pay(self, provider_id: str, last4: str = "4242") -> None:
        self.kassa.pay(provider_id, last4=last4)

    def decline(self, provider_id: str, reason: str) -> None:
        self.kassa.decline(provider_id, reason)

    def set_recurring_outcome(self, outcome: str) -> None:
        self.kassa.set_recurring_outcome(outcome)

    def close(self) -> None:
        self.gateway.close()
        self.kassa.stop()


@pytest.fixture(params=["fake", "yookassa"])
def backend(request) -> Iterator[Any]:
    made = FakeBackend() if request.param == "fake" else YooKassaBackend()
    yield made
    made.close()


def checkout(gateway: PaymentGateway, key: str, **kw: Any) -> ProviderPayment:
    kw.setdefault("amount", PRO)
    kw.setdefault("description", "promptcore Pro, 30 days")
    kw.setdefault("metadata", {"payment_id": 1, "user_id": 42})
    kw.setdefault("customer_email", EMAIL)
    kw.setdefault("return_url", RETURN_URL)
    return gateway.create_payment(idempotence_key=key, **kw)


def test_a_checkout_is_pending_until_paid(backend):
    gw = backend.gateway
    p = checkout(gw, "k-1")
    assert (p.status, p.paid, p.amount, p.refunded) == ("pending", False, PRO, Money(0))
    assert p.confirmation_url and p.metadata == {"payment_id": "1", "user_id": "42"}
    assert gw.get_payment(p.id) == p

    backend.pay(p.id)
    paid = gw.get_payment(p.id)
    assert (paid.status, paid.paid, paid.confirmation_url, paid.card_last4) == ("succeeded", True, None, "4242")
    assert paid.saved_method() is None


def test_a_repeated_key_answers_the_first_payment_and_other_arguments_are_refused(backend):
    gw = backend.gateway
    first = checkout(gw, "k-1")
    assert checkout(gw, "k-1").id == first.id
    with pytest.raises(PaymentRejected) as caught:
        checkout(gw, "k-1", amount=Money(1_990_00))
    assert caught.value.parameter == "Idempotence-Key"


def test_a_declined_payment_shows_the_reason(backend):
    gw = backend.gateway
    p = checkout(gw, "k-1")
    backend.decline(p.id, "insufficient_funds")
    seen = gw.get_payment(p.id)
    assert (seen.status, seen.paid) == ("canceled", False)
    assert (seen.cancellation_party, seen.cancellation_reason) == ("payment_network", "insufficient_funds")


def test_a_saved_method_renews_and_a_declined_renewal_shows_why(backend):
    gw = backend.gateway
    p = checkout(gw, "k-1", save_payment_method=True)
    backend.pay(p.id, last4="1111")
    method = gw.get_payment(p.id).saved_method()
    assert isinstance(method, PaymentMethod) and method.title == "card •••• 1111"

    renewal = dict(amount=PRO, description="promptcore Pro, 30 days", customer_email=EMAIL,
                   payment_method_id=method.id)
    charged = gw.create_payment(idempotence_key="renewal-1-a-0", **renewal)
    assert (charged.status, charged.paid, charged.confirmation_url) == ("succeeded", True, None)
    assert charged.saved_method() == method
    assert gw.create_payment(idempotence_key="renewal-1-a-0", **renewal).id == charged.id

    backend.set_recurring_outcome("card_expired")
    declined = gw.create_payment(idempotence_key="renewal-1-a-1", **renewal)
    assert (declined.status, declined.cancellation_reason) == ("canceled", "card_expired")


def test_an_unknown_saved_method_is_rejected(backend):
    with pytest.raises(PaymentRejected) as caught:
        backend.gateway.create_payment(amount=PRO, description="d", idempotence_key="k",
                                       payment_method_id="2d9e1a9c-000f-5000-9000-1b68e7b15f3f")
    assert caught.value.parameter == "payment_method_id"


def test_refunds_up_to_the_amount(backend):
    gw = backend.gateway
    p = checkout(gw, "k-1")
    with pytest.raises(PaymentRejected) as caught:
        gw.create_refund(p.id, Money(1_00), "r-0")
    assert caught.value.parameter == "payment_id"  # not succeeded yet
    backend.pay(p.id)

    part = gw.create_refund(p.id, Money(90_00), "r-1", description="Refund", customer_email=EMAIL)
    assert (part.status, part.amount, part.payment_id) == ("succeeded", Money(90_00), p.id)
    assert gw.create_refund(p.id, Money(90_00), "r-1", description="Refund", customer_email=EMAIL) == part
    assert gw.get_refund(part.id) == part
    assert gw.get_payment(p.id).refunded == Money(90_00)

    with pytest.raises(PaymentRejected) as caught:
        gw.create_refund(p.id, Money(400_01), "r-2")
    assert caught.value.parameter == "amount.value"
    gw.create_refund(p.id, Money(400_00), "r-3")
    assert gw.get_payment(p.id).refunded == PRO


def test_unknown_ids_are_not_found(backend):
    gw = backend.gateway
    with pytest.raises(PaymentNotFound):
        gw.get_payment("2d9e1a9c-000f-5000-9000-1b68e7b15f3f")
    with pytest.raises(PaymentNotFound):
        gw.get_refund("2d9e1a9c-0015-5000-9000-1b68e7b15f3f")


def test_arguments_outside_the_contract_are_value_errors(backend):
    gw = backend.gateway
    with pytest.raises(ValueError):
        checkout(gw, "k-1", return_url=None)
    with pytest.raises(ValueError):
        checkout(gw, "k-1", payment_method_id="pm-1")
    with pytest.raises(ValueError):
        checkout(gw, "k-1", amount=Money(0))
    with pytest.raises(ValueError):
        gw.create_refund("2d9e1a9c-000f-5000-9000-1b68e7b15f3f", Money(1), "r", customer_email=EMAIL)
