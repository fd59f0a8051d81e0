"""The billing pages through Flask's test client (SPEC §12.6): /pricing, the Upgrade button and
the return from checkout on /account/billing, cancel/resume/renewal, and /admin/payments with
refunds, in English and Russian, against the in-memory FakePaymentGateway (the same rules as
YooKassa and its stand-in, held by tests/contract). Bad input gets a 4xx page that says why."""

from __future__ import annotations

import re

import pytest
from dependency_injector import providers

from promptcore.domain.access import Actor
from tests.conftest import build_test_app, make_settings
from tests.fake_payments import FakePaymentGateway

from .conftest import PASSWORD
from .test_security import confirmed_user, signed_in_client, token

NBSP = "\u00a0"
RU = {"Accept-Language": "ru"}


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def billing_site(tmp_path):
    """The app with billing on: the fake gateway stands where YooKassa's adapter would."""
    app, container = build_test_app(make_settings(tmp_path))
    gateway = FakePaymentGateway()
    container.payment_gateway.override(providers.Object(gateway))
    container.billing.reset()
    yield app, container, gateway
    container.engine().dispose()


@pytest.fixture
def billing_off(tmp_path):
    """No shop configured outside development: PROMPTCORE_BILLING is off."""
    app, container = build_test_app(make_settings(tmp_path))
    assert container.billing().enabled is False
    yield app, container
    container.engine().dispose()


def upgrade(client, plan: str = "pro", renew: bool = False, headers=None):
    data = {"csrf_token": token(client, "/pricing"), "plan": plan}
    if renew:
        data["renew"] = "y"
    return client.post("/pricing/checkout", data=data, headers=headers or {})


def confirmation_url(client, response) -> str:
    """Follow an Upgrade's 303 to the hand-off page; the provider's URL it moves on to."""
    assert response.status_code == 303, text(response)
    assert re.fullmatch(r"/pricing/pay/\d+", response.headers["Location"])
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    url = re.search(r'<meta http-equiv="refresh" content="0; url=([^"]+)">', text(page)).group(1)
    assert f'id="continue-payment" href="{url}"' in text(page)
    return url


def paid_pro(app, container, gateway, email: str, renew: bool = True):
    """A signed-in client whose pro checkout was paid; the payment's id."""
    confirmed_user(container, email)
    client = signed_in_client(app, email)
    provider_id = confirmation_url(client, upgrade(client, renew=renew)).rsplit("/", 1)[1]
    gateway.pay(provider_id)
    payment_id = int(gateway.payments[provider_id].metadata["payment_id"])
    # no webhook here: the return page asks the provider, as a browser back from checkout does
    assert client.get(f"/account/billing?payment={payment_id}").status_code == 200
    return client, payment_id


def set_language(container, email: str, language: str | None) -> None:
    """The account's own language setting (it wins over Accept-Language on the pages)."""
    with container.uow() as uow:
        uid = uow.users.get_by_email(email).id
    container.accounts().update_profile(Actor(uid), settings={"language": language})


# -- /pricing -------------------------------------------------------------------------------------


def test_pricing_shows_the_plans_side_by_side_in_both_languages(billing_site):
    app, _container, _gateway = billing_site
    client = app.test_client()
    page = text(client.get("/pricing"))
    assert 'href="/pricing" aria-current="page">Plans</a>' in page  # the header link, for everyone
    for slug in ("free", "pro", "team"):
        assert f'id="plan-{slug}"' in page
    assert f"RUB{NBSP}490.00" in page and f"RUB{NBSP}1,990.00" in page
    assert "Improvements a day: 100" in page and "Improvements a day: 3" in page
    assert 'id="upgrade-pro"' in page and 'name="renew"' in page
    assert 'id="upgrade-team"' not in page and 'id="upgrade-free"' not in page
    assert "An owner of a team upgrades it here." in page  # anonymous: no team to choose
    assert 'id="billing-off"' not in page and "<script>" not in page
    page = text(client.get("/pricing", headers=RU))
    assert '<html lang="ru"' in page and "Тарифы" in page and "Про" in page and "Команда" in page
    assert f"490,00{NBSP}₽" in page and f"1{NBSP}990,00{NBSP}₽" in page
    assert "Улучшений в день: 100" in page and "Продлевать автоматически" in page
    assert "Владелец команды подключает ей тариф здесь." in page


def test_the_signed_in_users_plan_is_marked(billing_site):
    app, container, _gateway = billing_site
    confirmed_user(container, "mark@example.com")
    client = signed_in_client(app, "mark@example.com")
    page = text(client.get("/pricing"))
    assert 'id="current-free"' in page and 'id="current-pro"' not in page
    assert re.search(r'<button[^>]*id="upgrade-pro">Upgrade</button>', page)
    container.billing().grant("mark@example.com", "pro")
    page = text(client.get("/pricing"))
    assert 'id="current-pro"' in page and 'id="current-free"' not in page
    assert re.search(r'<button[^>]*id="upgrade-pro">Pay for 30 more days</button>', page)
    assert "You return to the free plan when a paid period ends." in page


def test_an_anonymous_upgrade_is_sent_to_sign_in(billing_site):
    app, _container, gateway = billing_site
    client = app.test_client()
    r = upgrade(client)
    assert r.status_code == 303 and r.headers["Location"] == "/login?next=/pricing"
    assert gateway.calls == []
    r = client.post("/pricing/checkout", data={"plan": "pro"})  # and the form needs its CSRF token
    assert r.status_code == 400


def test_upgrade_redirects_to_the_payment_page_and_bad_choices_say_why(billing_site):
    app, container, gateway = billing_site
    confirmed_user(container, "buy@example.com")
    client = signed_in_client(app, "buy@example.com")
    for plan, status, message in (("team", 422, "That plan is for teams."), ("nope", 422, "No such plan."),
                                  ("", 422, "No such plan."), ("free", 422, "That plan is free.")):
        r = upgrade(client, plan)
        assert r.status_code == status, (plan, r.status_code)
        assert 'id="checkout-error"' in text(r) and message in text(r)
    set_language(container, "buy@example.com", "ru")
    r = upgrade(client, "team")
    assert r.status_code == 422 and "Этот тариф — для команд." in text(r)
    set_language(container, "buy@example.com", None)  # Accept-Language again
    r = upgrade(client, "team", headers=RU)
    assert r.status_code == 422 and "Этот тариф — для команд." in text(r)
    assert gateway.calls == []

    r = upgrade(client, renew=True)
    (name, args), = gateway.calls
    assert name == "create_payment" and args["save_payment_method"] is True
    url = confirmation_url(client, r)
    assert url == gateway.payments[url.rsplit("/", 1)[1]].confirmation_url
    assert re.fullmatch(r"http://promptcore\.test/account/billing\?payment=\d+", args["return_url"])
    assert upgrade(client).headers["Location"] == r.headers["Location"]  # one pending checkout at a time
    # a paid payment's hand-off goes to the return page instead; a stranger's is 404
    gateway.pay(url.rsplit("/", 1)[1])
    again = client.get(r.headers["Location"])
    assert again.status_code == 303 and again.headers["Location"].startswith("/account/billing?payment=")
    confirmed_user(container, "other@example.com")
    assert signed_in_client(app, "other@example.com").get(r.headers["Location"]).status_code == 404


def test_an_unconfirmed_user_is_told_to_confirm_first(billing_site):
    app, container, gateway = billing_site
    container.accounts().register_user("new@example.com", PASSWORD)
    client = signed_in_client(app, "new@example.com")
    r = upgrade(client)
    assert r.status_code == 403 and "Confirm your e-mail address first: the receipt is sent there." in text(r)
    set_language(container, "new@example.com", "ru")
    r = upgrade(client)
    assert r.status_code == 403 and "Сначала подтвердите адрес электронной почты" in text(r)
    assert gateway.calls == []


def test_billing_off_shows_the_plans_and_says_payments_are_not_set_up(billing_off):
    app, container = billing_off
    client = app.test_client()
    page = text(client.get("/pricing"))
    assert 'id="billing-off"' in page and "Payments are not set up on this server yet" in page
    assert 'id="plan-pro"' in page and 'id="upgrade-' not in page
    assert "Оплата на этом сервере пока не настроена" in text(client.get("/pricing", headers=RU))
    confirmed_user(container, "off@example.com")
    client = signed_in_client(app, "off@example.com")
    r = upgrade(client)
    assert r.status_code == 503 and "Payments are not set up on this server." in text(r)
    page = text(client.get("/account/billing"))
    assert 'id="billing-off"' in page and re.search(r'id="current-plan"><strong>Free</strong>', page)


# -- /account/billing -----------------------------------------------------------------------------


def test_the_return_page_shows_a_paid_payment_and_the_plan(billing_site):
    app, container, gateway = billing_site
    client, payment_id = paid_pro(app, container, gateway, "paid@example.com")
    page = text(client.get(f"/account/billing?payment={payment_id}"))
    assert 'id="payment-outcome" data-status="succeeded"' in page and "Payment received, thank you!" in page
    assert re.search(r'id="current-plan"><strong>Pro</strong>', page)
    assert "on, card\u00a0••••\u00a04242" in page and "Renews on" in page
    assert f"RUB{NBSP}490.00" in page and ">paid<" in page
    assert 'id="cancel"' in page and 'id="renewal-off"' in page and 'id="resume"' not in page
    set_language(container, "paid@example.com", "ru")
    page = text(client.get(f"/account/billing?payment={payment_id}"))
    assert "Оплата получена, спасибо!" in page and "включено, карта\u00a0••••\u00a04242" in page
    assert f"490,00{NBSP}₽" in page and "Тариф и платежи" in page and ">оплачен<" in page
    # the account page links here, the header marks Account, the pricing page marks Pro
    assert 'href="/account/billing"' in text(client.get("/account"))
    assert 'id="current-pro"' in text(client.get("/pricing"))


def test_the_return_page_refreshes_a_pending_payment_and_names_a_decline(billing_site):
    app, container, gateway = billing_site
    confirmed_user(container, "wait@example.com")
    client = signed_in_client(app, "wait@example.com")
    provider_id = confirmation_url(client, upgrade(client)).rsplit("/", 1)[1]
    payment_id = int(gateway.payments[provider_id].metadata["payment_id"])
    page = text(client.get(f"/account/billing?payment={payment_id}"))
    assert 'data-status="pending"' in page and "Waiting for the payment." in page
    assert f'href="/account/billing?payment={payment_id}"' in page and "Continue to payment" in page
    set_language(container, "wait@example.com", "ru")
    assert "Ждём оплату." in text(client.get(f"/account/billing?payment={payment_id}"))
    set_language(container, "wait@example.com", "en")
    gateway.decline(provider_id, "insufficient_funds")  # no webhook: the page asks the provider
    page = text(client.get(f"/account/billing?payment={payment_id}"))
    assert 'data-status="canceled"' in page
    assert "The payment did not go through: there is not enough money on the card." in page
    assert re.search(r'id="current-plan"><strong>Free</strong>', page)
    set_language(container, "wait@example.com", "ru")
    page = text(client.get(f"/account/billing?payment={payment_id}"))
    assert "Оплата не прошла: на карте недостаточно денег." in page


def test_a_strangers_or_a_malformed_payment_id_is_404(billing_site):
    app, container, gateway = billing_site
    _owner, payment_id = paid_pro(app, container, gateway, "owner@example.com")
    confirmed_user(container, "stranger@example.com")
    stranger = signed_in_client(app, "stranger@example.com")
    for query in (str(payment_id), "999999", "abc", "-1", "0", "9" * 30, ""):
        r = stranger.get(f"/account/billing?payment={query}")
        assert r.status_code == 404, query
        assert "Payment received" not in text(r)
    assert stranger.get("/account/billing").status_code == 200
    r = app.test_client().get(f"/account/billing?payment={payment_id}")
    assert r.status_code == 302 and "/login?next=" in r.headers["Location"]


def test_cancel_resume_and_renewal_off(billing_site):
    app, container, gateway = billing_site
    client, _payment_id = paid_pro(app, container, gateway, "sub@example.com")
    csrf = token(client, "/account/billing")
    r = client.post("/account/billing/cancel", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["Location"] == "/account/billing"
    page = text(client.get("/account/billing"))
    assert "Your subscription is canceled" in page and "canceled, runs to the period end" in page
    assert 'id="resume"' in page and 'id="cancel"' not in page and "Ends on" in page
    set_language(container, "sub@example.com", "ru")
    r = client.post("/account/billing/resume", data={"csrf_token": csrf})
    assert r.status_code == 303
    page = text(client.get("/account/billing"))
    assert "Подписка продолжается" in page and 'id="cancel"' in page
    set_language(container, "sub@example.com", "en")
    r = client.post("/account/billing/renewal", data={"csrf_token": csrf, "enabled": "0"})
    assert r.status_code == 303
    page = text(client.get("/account/billing"))
    assert "Automatic renewal is off and the card is forgotten." in page and "••••\u00a04242" not in page
    assert "To renew automatically, pay for the plan" in page
    r = client.post("/account/billing/renewal", data={"csrf_token": csrf, "enabled": "1"})
    assert r.status_code == 422 and "Automatic renewal needs a saved card" in text(r)
    r = client.post("/account/billing/renewal", data={"csrf_token": csrf, "enabled": "maybe"})
    assert r.status_code == 400 and "Choose whether to renew automatically." in text(r)
    assert client.post("/account/billing/cancel").status_code == 400  # no CSRF token


def test_without_a_subscription_cancel_and_resume_say_so(billing_site):
    app, container, _gateway = billing_site
    confirmed_user(container, "none@example.com")
    client = signed_in_client(app, "none@example.com")
    page = text(client.get("/account/billing"))
    assert "No payments yet." in page and 'id="cancel"' not in page
    csrf = token(client, "/account/billing")
    r = client.post("/account/billing/cancel", data={"csrf_token": csrf})
    assert r.status_code == 404 and "You have no subscription." in text(r)
    set_language(container, "none@example.com", "ru")
    r = client.post("/account/billing/resume", data={"csrf_token": csrf})
    assert r.status_code == 404 and "У вас нет подписки." in text(r)


# -- /admin/payments ------------------------------------------------------------------------------


def test_admin_payments_search_and_refund(billing_site):
    app, container, gateway = billing_site
    container.accounts().create_admin("root@example.com", PASSWORD)
    buyer, payment_id = paid_pro(app, container, gateway, "buyer@example.com")
    assert buyer.get("/admin/payments").status_code == 403
    r = buyer.post(f"/admin/payments/{payment_id}/refund", data={"csrf_token": token(buyer, "/app")})
    assert r.status_code == 403

    admin = signed_in_client(app, "root@example.com")
    assert 'href="/admin/payments"' in text(admin.get("/admin"))
    page = text(admin.get("/admin/payments?q=buyer@"))
    assert f'id="payment-{payment_id}"' in page and "buyer@example.com" in page
    assert f'id="refund-{payment_id}"' in page and 'placeholder="490.00"' in page
    assert "No payments match" in text(admin.get("/admin/payments?q=nobody"))
    assert admin.get("/admin/payments?cursor=zzz").status_code == 200  # a bad cursor starts over

    csrf = token(admin, "/admin/payments")
    back = "/admin/payments?q=buyer%40"
    for amount, message in (("abc", "Enter an amount such as &#34;490.00&#34;: digits"),
                            ("1000.00", "Refund between 0.01 and 490.00."), ("0", "Refund between 0.01 and 490.00."),
                            ("1" * 50, "Enter an amount such as")):
        r = admin.post(f"/admin/payments/{payment_id}/refund", data={"csrf_token": csrf, "amount": amount})
        assert r.status_code == 422, amount
        assert f"Payment {payment_id} was not refunded" in text(r) and message in text(r)
    set_language(container, "root@example.com", "ru")
    r = admin.post(f"/admin/payments/{payment_id}/refund", data={"csrf_token": csrf, "amount": "abc"})
    assert r.status_code == 422 and "Введите сумму вида" in text(r) and "не возвращён" in text(r)
    set_language(container, "root@example.com", "en")
    r = admin.post("/admin/payments/987654/refund", data={"csrf_token": csrf})
    assert r.status_code == 404 and "No such payment." in text(r)

    r = admin.post(f"/admin/payments/{payment_id}/refund", data={"csrf_token": csrf, "amount": "100.00",
                                                                 "back": back})
    assert r.status_code == 303 and r.headers["Location"] == back
    page = text(admin.get(back))
    assert f"Payment {payment_id}: RUB{NBSP}100.00 refunded in all." in page
    assert "paid, partly refunded" in page and 'placeholder="390.00"' in page
    r = admin.post(f"/admin/payments/{payment_id}/refund", data={"csrf_token": csrf, "amount": "",
                                                                 "back": "https://evil.example/"})
    assert r.status_code == 303 and r.headers["Location"] == "/admin/payments"
    page = text(admin.get("/admin/payments"))
    assert f"Payment {payment_id}: RUB{NBSP}490.00 refunded in all." in page and ">refunded<" in page
    assert f'id="refund-{payment_id}"' not in page
    r = admin.post(f"/admin/payments/{payment_id}/refund", data={"csrf_token": csrf})
    assert r.status_code == 422 and "Nothing of this payment can be refunded." in text(r)
    # a full refund ends the subscription at once
    page = text(buyer.get("/account/billing"))
    assert re.search(r'id="current-plan"><strong>Free</strong>', page) and ">refunded<" in page
    assert "refunded RUB" in page
