"""YooKassaGateway with a scripted fake transport: answers mapped to core errors, parsing,
arguments, 202 processing, and the secret kept out of everything (SPEC §12). No network."""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

import pytest

from adapters.http import Answer, Deadline, TransportFailed
from adapters.yookassa import YooKassaGateway, _encode
from promptcore.domain.billing import Money, PaymentMethod
from promptcore.domain.billing_errors import (
    PaymentNotFound,
    PaymentProviderMisconfigured,
    PaymentProviderUnavailable,
    PaymentRejected,
)
from promptcore.domain.errors import NotFound, ServiceUnavailable

SECRET = "test_unit-secret-key-9f8e7d6c5b4a"
PAY_ID = "2d9e1a9c-000f-5000-9000-1b68e7b15f3f"
REFUND_ID = "2d9e1a9c-0015-5000-9000-1b68e7b15f3f"
METHOD_ID = "2d9e1a9c-000f-5000-a000-aaaaaaaaaaaa"


class FakeTimer:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_767_225_600.0 + self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeTransport:
    """Plays back answers (``Answer`` or an exception to raise) and records each send."""

    def __init__(self, *script: Any, timeout: float = 30.0) -> None:
        self.script = list(script)
        self.sent: list[dict[str, Any]] = []
        self.timer = FakeTimer()
        self.timeout = timeout
        self.closed = False

    def deadline(self, seconds: float | None = None) -> Deadline:
        return Deadline(self.timer, self.timer.monotonic() + (self.timeout if seconds is None else seconds))

    def send(self, method: str, path: str, **kw: Any) -> Answer:
        self.sent.append({"method": method, "path": path, **kw})
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self.closed = True


def answer(status: int, body: Any) -> Answer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Answer(status, {"Content-Type": "application/json"}, raw)


def payment_json(**over: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": PAY_ID,
        "status": "pending",
        "paid": False,
        "amount": {"value": "490.00", "currency": "RUB"},
        "confirmation": {"type": "redirect", "confirmation_url": "https://yoomoney.ru/checkout?orderId=1"},
        "metadata": {"payment_id": "17"},
        "test": True,
    }
    obj.update(over)
    return obj


def error_json(code: str, description: str, parameter: str | None = None) -> dict[str, Any]:
    body = {"type": "error", "id": "e-1", "code": code, "description": description}
    if parameter:
        body["parameter"] = parameter
    return body


def gateway(*script: Any, **kw: Any) -> tuple[YooKassaGateway, FakeTransport]:
    transport = FakeTransport(*script)
    return YooKassaGateway("506751", SECRET, "https://api.yookassa.ru/v3", transport=transport, **kw), transport


def checkout(gw: YooKassaGateway, **kw: Any):
    kw.setdefault("amount", Money(490_00))
    kw.setdefault("description", "promptcore Pro, 30 days")
    kw.setdefault("idempotence_key", "key-1")
    kw.setdefault("return_url", "https://promptcore.example/account/billing?payment=17")
    return gw.create_payment(**kw)


# -- requests -----------------------------------------------------------------------------------


def test_a_checkout_is_one_post_with_the_key_the_auth_and_a_json_body():
    gw, transport = gateway(answer(200, payment_json()))

    payment = checkout(gw, metadata={"payment_id": 17}, save_payment_method=True, customer_email="ann@example.com")

    assert payment.id == PAY_ID and payment.confirmation_url.startswith("https://yoomoney.ru/")
    [sent] = transport.sent
    assert sent["method"] == "POST" and sent["path"] == "/payments"
    assert sent["idempotence_key"] == "key-1"
    assert sent["headers"]["Content-Type"] == "application/json"
    assert repr(sent["auth"]) == "<YooKassa credentials ***>"
    body = json.loads(sent["data"])
    assert body["amount"] == {"value": "490.00", "currency": "RUB"} and body["capture"] is True
    assert body["save_payment_method"] is True and body["metadata"] == {"payment_id": "17"}
    assert body["receipt"]["items"][0]["vat_code"] == 1


def test_the_auth_sets_the_basic_header():
    import base64

    import requests

    gw, transport = gateway(answer(200, payment_json()))
    checkout(gw)
    prepared = requests.Request("POST", "https://x.test/").prepare()
    transport.sent[0]["auth"](prepared)
    assert prepared.headers["Authorization"] == "Basic " + base64.b64encode(f"506751:{SECRET}".encode()).decode()


def test_reads_send_no_key_and_no_body():
    gw, transport = gateway(answer(200, payment_json(status="succeeded", paid=True)))
    assert gw.get_payment(PAY_ID).status == "succeeded"
    [sent] = transport.sent
    assert (sent["method"], sent["path"], sent["data"], sent["idempotence_key"]) == ("GET", f"/payments/{PAY_ID}",
                                                                                     None, None)


def test_cancel_posts_to_the_payment_with_a_key():
    gw, transport = gateway(answer(200, payment_json(status="canceled",
                                                     cancellation_details={"party": "merchant",
                                                                           "reason": "canceled_by_merchant"})))
    payment = gw.cancel_payment(PAY_ID, "cancel-1")
    assert payment.cancellation_party == "merchant" and payment.cancellation_reason == "canceled_by_merchant"
    [sent] = transport.sent
    assert sent["path"] == f"/payments/{PAY_ID}/cancel" and sent["idempotence_key"] == "cancel-1"


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"return_url": None}, "exactly one"),
        ({"payment_method_id": METHOD_ID}, "exactly one"),
        ({"idempotence_key": ""}, "idempotence key"),
        ({"idempotence_key": "k" * 65}, "idempotence key"),
        ({"idempotence_key": "two words"}, "idempotence key"),
        ({"amount": Money(0)}, "above zero"),
        ({"description": "   "}, "description"),
        ({"metadata": {"ratio": 0.5}}, "metadata"),
        ({"metadata": {"flag": True}}, "metadata"),
        ({"metadata": {f"k{i}": i for i in range(17)}}, "metadata"),
        ({"return_url": "https://x.test/" + "a" * 2048}, "return_url"),
    ],
)
def test_broken_arguments_are_refused_before_sending(change, problem):
    gw, transport = gateway()
    with pytest.raises(ValueError, match=problem):
        checkout(gw, **change)
    assert transport.sent == []


def test_a_charge_of_a_saved_method_cannot_ask_to_save_it_again():
    gw, transport = gateway()
    with pytest.raises(ValueError):
        gw.create_payment(amount=Money(1), description="d", idempotence_key="k", payment_method_id=METHOD_ID,
                          save_payment_method=True)
    with pytest.raises(ValueError):
        gw.create_payment(amount=Money(1), description="d", idempotence_key="k", payment_method_id="../x")
    assert transport.sent == []


def test_a_refund_receipt_needs_a_description():
    gw, transport = gateway()
    with pytest.raises(ValueError, match="description"):
        gw.create_refund(PAY_ID, Money(100), "k", customer_email="ann@example.com")
    assert transport.sent == []


def test_a_float_never_reaches_a_body():
    with pytest.raises(TypeError):
        _encode({"amount": {"value": 490.0, "currency": "RUB"}})
    with pytest.raises(TypeError):
        _encode({"items": [{"quantity": 1.0}]})
    assert _encode({"amount": Money(1_990_00).to_amount()}) == b'{"amount":{"value":"1990.00","currency":"RUB"}}'


@pytest.mark.parametrize("forged", ["../refunds", "a/b", "x?y", "", "a" * 65, "id with space", None, 17])
def test_ids_that_cannot_be_yookassas_are_not_found_without_a_call(forged):
    gw, transport = gateway()
    with pytest.raises(PaymentNotFound):
        gw.get_payment(forged)
    with pytest.raises(PaymentNotFound):
        gw.get_refund(forged)
    with pytest.raises(PaymentNotFound):
        gw.create_refund(forged, Money(1), "k")
    assert transport.sent == []


@pytest.mark.parametrize(
    "kw, problem",
    [
        ({"shop_id": ""}, "shop id"),
        ({"shop_id": "1:2"}, "shop id"),
        ({"secret_key": ""}, "secret key"),
        ({"vat_code": 0}, "vat_code"),
        ({"vat_code": 13}, "vat_code"),
        ({"timeout": 0}, "timeout"),
        ({"api_url": "ftp://api.yookassa.ru/v3"}, "http"),
        ({"api_url": "https://506751:" + SECRET + "@api.yookassa.ru/v3"}, "credentials"),
    ],
)
def test_constructor_validation_never_echoes_the_secret(kw, problem):
    args: dict[str, Any] = {"shop_id": "506751", "secret_key": SECRET, "api_url": "https://api.yookassa.ru/v3"}
    args.update(kw)
    with pytest.raises(ValueError, match=problem) as caught:
        YooKassaGateway(**args)
    assert SECRET not in str(caught.value)


# -- answers ------------------------------------------------------------------------------------


def test_a_payment_is_read_into_a_snapshot():
    obj = payment_json(
        status="succeeded",
        paid=True,
        payment_method={"type": "bank_card", "id": METHOD_ID, "saved": True, "title": "Bank card *4444",
                        "card": {"last4": "4444", "card_type": "MasterCard"}},
        refunded_amount={"value": "100.50", "currency": "RUB"},
        metadata={"payment_id": "17", "user_id": "42"},
        description="promptcore Pro",
    )
    del obj["confirmation"]
    gw, _ = gateway(answer(200, obj))

    p = gw.get_payment(PAY_ID)

    assert (p.status, p.paid, p.amount, p.refunded) == ("succeeded", True, Money(490_00), Money(100_50))
    assert p.confirmation_url is None and p.description == "promptcore Pro" and p.test is True
    assert (p.payment_method_id, p.payment_method_title, p.payment_method_saved, p.card_last4) == (
        METHOD_ID, "Bank card *4444", True, "4444")
    assert p.saved_method() == PaymentMethod(METHOD_ID, "card •••• 4444")
    assert p.metadata == {"payment_id": "17", "user_id": "42"}


def test_a_saved_method_that_is_not_a_card_keeps_the_providers_title():
    obj = payment_json(status="succeeded", paid=True,
                       payment_method={"type": "yoo_money", "id": METHOD_ID, "saved": True, "title": "YooMoney wallet"})
    gw, _ = gateway(answer(200, obj))
    assert gw.get_payment(PAY_ID).saved_method() == PaymentMethod(METHOD_ID, "YooMoney wallet")


def test_a_refund_is_read_into_a_snapshot():
    gw, _ = gateway(answer(200, {"id": REFUND_ID, "payment_id": PAY_ID, "status": "succeeded",
                                 "amount": {"value": "90.00", "currency": "RUB"}}))
    refund = gw.get_refund(REFUND_ID)
    assert (refund.id, refund.payment_id, refund.status, refund.amount) == (REFUND_ID, PAY_ID, "succeeded",
                                                                             Money(90_00))


@pytest.mark.parametrize(
    "body",
    [
        b"<html>gateway</html>",
        b"[]",
        json.dumps(payment_json(status="authorized")).encode(),
        json.dumps(payment_json(amount={"value": 490.0, "currency": "RUB"})).encode(),
        json.dumps(payment_json(amount={"value": "-1.00", "currency": "RUB"})).encode(),
        json.dumps(payment_json(paid="yes")).encode(),
        json.dumps(payment_json(id="../x")).encode(),
        json.dumps(payment_json(id="2d9e1a9c-000f-5000-9000-000000000000")).encode(),  # another payment
        json.dumps(payment_json(refunded_amount={"value": "1.00", "currency": "USD"})).encode(),
        json.dumps(payment_json(metadata=["a"])).encode(),
    ],
)
def test_an_unreadable_answer_is_unavailable(body, caplog):
    gw, _ = gateway(answer(200, body))
    with caplog.at_level(logging.ERROR), pytest.raises(PaymentProviderUnavailable) as caught:
        gw.get_payment(PAY_ID)
    assert caught.value.reason == "unreadable answer"
    assert caught.value.__context__ is None
    assert any("unreadable" in r.getMessage() for r in caplog.records)


def test_a_refund_of_another_payment_is_unreadable():
    gw, _ = gateway(answer(200, {"id": REFUND_ID, "payment_id": "other-payment", "status": "succeeded",
                                 "amount": {"value": "1.00", "currency": "RUB"}}))
    with pytest.raises(PaymentProviderUnavailable):
        gw.create_refund(PAY_ID, Money(1_00), "k")


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, body, error",
    [
        (400, error_json("invalid_request", "Receipt is missing or illegal", "receipt"), PaymentRejected),
        (401, error_json("invalid_credentials", "Login or password is incorrect", "Authorization"),
         PaymentProviderMisconfigured),
        (403, error_json("forbidden", "Recurring payments are not available"), PaymentProviderMisconfigured),
        (404, error_json("not_found", "Payment not found"), PaymentNotFound),
        (405, error_json("method_not_allowed", "No"), PaymentProviderUnavailable),
        (415, error_json("unsupported_media_type", "No"), PaymentProviderUnavailable),
        (501, b"not implemented", PaymentProviderUnavailable),
        (400, b"", PaymentRejected),
    ],
)
def test_error_answers_map_to_core_errors(status, body, error):
    gw, transport = gateway(answer(status, body))
    with pytest.raises(error) as caught:
        checkout(gw)
    assert type(caught.value) is error
    assert len(transport.sent) == 1  # the transport already retried what is worth retrying
    assert caught.value.__context__ is None and caught.value.__cause__ is None


def test_the_error_classes_fit_the_core_table():
    assert issubclass(PaymentProviderUnavailable, ServiceUnavailable)
    assert issubclass(PaymentProviderMisconfigured, PaymentProviderUnavailable)
    assert issubclass(PaymentNotFound, NotFound)
    assert PaymentProviderMisconfigured(provider_status=401).message == PaymentProviderUnavailable.default_message


def test_a_rejection_carries_the_providers_words():
    gw, _ = gateway(answer(400, error_json("invalid_request", "Refund amount is greater than what is left",
                                           "amount.value")))
    with pytest.raises(PaymentRejected) as caught:
        gw.create_refund(PAY_ID, Money(1_00), "k")
    err = caught.value
    assert (err.code, err.parameter, err.provider_status) == ("invalid_request", "amount.value", 400)
    assert err.description == "Refund amount is greater than what is left"
    assert err.message == ("The payment provider refused the request: Refund amount is greater than what is left "
                           "(amount.value)")


def test_a_failed_transport_is_unavailable_with_a_short_reason(caplog):
    gw, _ = gateway(TransportFailed("giving up after 3 attempt(s), last failure: 503", 3))
    with caplog.at_level(logging.ERROR), pytest.raises(PaymentProviderUnavailable) as caught:
        checkout(gw)
    assert caught.value.reason == "503" and caught.value.__context__ is None
    assert "giving up after 3 attempt(s)" in caplog.text


def test_provider_text_is_redacted_everywhere(caplog):
    import base64

    token = base64.b64encode(f"506751:{SECRET}".encode()).decode()
    echoed = f"bad header Basic {token} for key {SECRET}"
    errors = []
    for status in (400, 401, 404, 500):
        gw, _ = gateway(answer(status, error_json("invalid_request", echoed, f"p-{SECRET}")))
        with caplog.at_level(logging.DEBUG):
            try:
                checkout(gw)
            except Exception as exc:
                errors.append(exc)
    gw, _ = gateway(TransportFailed(f"request failed: {SECRET}"))
    try:
        checkout(gw)
    except Exception as exc:
        errors.append(exc)
    assert len(errors) == 5
    texts = [caplog.text] + [r.getMessage() for r in caplog.records]
    for err in errors:
        texts += [str(err), repr(err), repr(vars(err)), "".join(traceback.format_exception(err))]
    for text in texts:
        assert SECRET not in text and token not in text


# -- 202 processing -----------------------------------------------------------------------------


def test_processing_is_asked_again_with_the_same_key_after_retry_after():
    retries: list[tuple[int, str]] = []
    processing = {"type": "processing", "id": "r-1", "description": "Request accepted", "retry_after": 1800}
    gw, transport = gateway(answer(202, processing), answer(202, processing), answer(200, payment_json()),
                            on_retry=lambda n, why: retries.append((n, why)))

    payment = checkout(gw, idempotence_key="renewal-1")

    assert payment.id == PAY_ID
    assert [s["idempotence_key"] for s in transport.sent] == ["renewal-1"] * 3
    assert len({id(s["deadline"]) for s in transport.sent}) == 1  # one deadline for the operation
    assert transport.timer.sleeps == [1.8, 1.8]
    assert retries == [(1, "processing"), (2, "processing")]


def test_processing_past_the_deadline_is_unavailable():
    processing = {"type": "processing", "retry_after": 20_000}
    gw, transport = gateway(*[answer(202, processing) for _ in range(5)])
    with pytest.raises(PaymentProviderUnavailable) as caught:
        checkout(gw)
    assert caught.value.reason == "processing"
    assert len(transport.sent) == 2 and transport.timer.sleeps == [20.0]  # 30 s deadline


def test_repr_and_close():
    gw, transport = gateway()
    assert repr(gw) == "YooKassaGateway(api_url='https://api.yookassa.ru/v3', shop_id='506751')"
    assert SECRET not in repr(vars(gw))
    gw.close()
    assert transport.closed
