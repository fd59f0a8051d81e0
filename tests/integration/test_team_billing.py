"""Team billing end to end (SPEC §14 with §12; issue 13 item 4): the real app and its real YooKassa
adapter against the YooKassa stand-in over HTTP, whose webhooks reach the app served on loopback
(the fixture of test_billing_flow.py). An owner buys the team plan through the same checkout; the
subscription is the team's, its pool is the plan's 500 a day, and the team cannot be deleted while
the paid plan runs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from dependency_injector import providers

from promptcore.domain.access import Actor
from promptcore.domain.billing import Owner, SubscriptionStatus
from promptcore.domain.teams import Member, TeamRole
from tests.conftest import build_test_app, make_settings
from tests.fake_payments import FakePaymentGateway
from tests.integration.team_support import API, create_team, join, login, signup, user_id
from tests.integration.test_billing_flow import billing_app  # noqa: F401 - the fixture
from tests.integration.web.test_security import confirmed_user, signed_in_client, token

TEAM_PRICE = {"value": "1990.00", "currency": "RUB"}


def _world(client, container):
    auth = {name: signup(client, container, f"{name}@example.com") for name in ("ann", "dan", "cid", "oscar")}
    team_id = create_team(client, auth["ann"], "Support desk")["id"]
    join(client, container, auth["ann"], team_id, "dan@example.com", auth["dan"], "owner")
    join(client, container, auth["ann"], team_id, "cid@example.com", auth["cid"], "member")
    return auth, team_id


def _actor(client, container, auth) -> Actor:
    uid = user_id(client, auth)
    return Actor(uid, teams=container.teams().roles_of(uid))


def _outbox(container) -> list[tuple[str, str]]:
    with container.uow() as uow:
        return [(m.kind, m.to) for m, _created, _sent in uow.outbox.recent(100) if m.kind == "payment_received"]


def test_an_owner_buys_the_team_plan_the_pool_is_500_and_the_team_cannot_be_deleted(billing_app):  # noqa: F811
    client, container, kassa, clock = billing_app
    auth, team_id = _world(client, container)

    # who may buy: owners only; a stranger cannot even tell the team exists
    r = client.post(f"{API}/billing/checkout", json={"plan": "team", "team_id": team_id}, headers=auth["cid"])
    assert r.status_code == 403 and r.json["error"] == "forbidden", r.json
    r = client.post(f"{API}/billing/checkout", json={"plan": "team", "team_id": team_id}, headers=auth["oscar"])
    assert r.status_code == 404 and r.json["message"] == "Team not found.", r.json
    r = client.post(f"{API}/billing/checkout", json={"plan": "pro", "team_id": team_id}, headers=auth["ann"])
    assert r.status_code == 422 and r.json["error"] == "validation_error", r.json
    r = client.post(f"{API}/billing/checkout", json={"plan": "team"}, headers=auth["ann"])
    assert r.status_code == 422, r.json  # a team plan is not for a person
    for bad in (0, -1, "1", True, 2**63):
        r = client.post(f"{API}/billing/checkout", json={"plan": "team", "team_id": bad}, headers=auth["ann"])
        assert r.status_code == 422, (bad, r.json)
    assert kassa.api_requests("POST", "/v3/payments") == []
    r = client.get(f"{API}/teams/{team_id}/billing", headers=auth["cid"])
    assert r.status_code == 200 and r.json["plan"]["slug"] == "free" and r.json["plan"]["daily_limit"] == 0
    assert container.quota().team_usage(_actor(client, container, auth["cid"]), team_id).quota.limit == 0

    r = client.post(f"{API}/billing/checkout", json={"plan": "team", "team_id": team_id, "renew": True},
                    headers=auth["ann"])
    assert r.status_code == 201, r.json
    started = r.json
    provider_id = kassa.last_payment.id
    sent = kassa.payment(provider_id)
    assert sent["amount"] == TEAM_PRICE and sent["confirmation"]["confirmation_url"] == started["confirmation_url"]
    assert sent["metadata"] == {"payment_id": str(started["payment_id"]), "user_id": str(user_id(client, auth["ann"]))}
    assert sent["confirmation"]["return_url"].endswith(f"/teams/{team_id}/billing?payment={started['payment_id']}")
    assert kassa.last_payment.receipt["customer"]["email"] == "ann@example.com"

    kassa.pay(provider_id)  # → the webhook
    (note,) = kassa.events("payment.succeeded")
    assert note.status == 200 and b"applied" in note.answer

    # the subscription is the team's, not the payer's
    ann_id = user_id(client, auth["ann"])
    with container.uow() as uow:
        sub = uow.subscriptions.get(Owner.team(team_id))
        assert uow.subscriptions.get(Owner.user(ann_id)) is None
    assert sub.status is SubscriptionStatus.ACTIVE and sub.plan_slug == "team" and sub.renews
    billing = client.get(f"{API}/teams/{team_id}/billing", headers=auth["cid"]).json
    assert billing["plan"]["slug"] == "team" and billing["plan"]["daily_limit"] == 500
    assert billing["subscription"]["status"] == "active"
    assert billing["subscription"]["payment_method"] is None and billing["subscription"]["renews"]  # a member
    owner_view = client.get(f"{API}/teams/{team_id}/billing", headers=auth["dan"]).json
    assert owner_view["subscription"]["payment_method"] == "card •••• 4242"  # the owners see the card
    assert client.get(f"{API}/billing", headers=auth["ann"]).json["plan"]["slug"] == "free"
    assert client.get(f"{API}/profile", headers=auth["ann"]).json["daily_limit"] == 3
    (payment,) = client.get(f"{API}/teams/{team_id}/billing/payments", headers=auth["cid"]).json["items"]
    assert payment["status"] == "succeeded" and payment["amount"] == TEAM_PRICE
    assert client.get(f"{API}/teams/{team_id}/billing", headers=auth["oscar"]).status_code == 404
    assert client.get(f"{API}/teams/{team_id}/billing/payments", headers=auth["oscar"]).status_code == 404

    # the pool is the plan's
    for who in ("ann", "cid"):
        usage = container.quota().team_usage(_actor(client, container, auth[who]), team_id)
        assert usage.quota.limit == 500 and usage.quota.used == 0
    assert client.get(f"{API}/teams/{team_id}/usage", headers=auth["cid"]).json["quota"]["limit"] == 500
    # the owners are told
    assert sorted(_outbox(container)) == [("payment_received", "ann@example.com"),
                                          ("payment_received", "dan@example.com")]

    # a team with an active paid plan cannot be deleted, by either owner; nor after a cancel
    for who in ("ann", "dan"):
        r = client.delete(f"{API}/teams/{team_id}", headers=auth[who])
        assert r.status_code == 409 and r.json["error"] == "team_has_paid_plan", r.json
    assert client.post(f"{API}/teams/{team_id}/billing/cancel", headers=auth["cid"]).status_code == 403
    r = client.post(f"{API}/teams/{team_id}/billing/cancel", headers=auth["dan"])
    assert r.status_code == 200 and r.json["subscription"]["cancel_at_period_end"] is True
    assert client.delete(f"{API}/teams/{team_id}", headers=auth["ann"]).status_code == 409
    assert client.get(f"{API}/teams/{team_id}", headers=auth["cid"]).status_code == 200

    # the period ends: the plan with it, and then the team can go
    clock.current = sub.period_end + timedelta(minutes=1)
    container.billing().renewals()
    ann = login(client, "ann@example.com")  # a month later: a fresh access token
    billing = client.get(f"{API}/teams/{team_id}/billing", headers=ann).json
    assert billing["subscription"]["status"] == "canceled" and billing["plan"]["daily_limit"] == 0
    assert len(kassa.idempotence_keys("/v3/payments")) == 1  # canceled: nothing was charged again
    assert client.delete(f"{API}/teams/{team_id}", headers=ann).status_code == 204


def test_the_team_plan_renews_with_the_card_of_the_owner_who_saved_it(billing_app):  # noqa: F811
    client, container, kassa, clock = billing_app
    auth, team_id = _world(client, container)
    r = client.post(f"{API}/billing/checkout", json={"plan": "team", "team_id": team_id, "renew": True},
                    headers=auth["dan"])
    assert r.status_code == 201, r.json
    kassa.pay(kassa.last_payment.id)
    with container.uow() as uow:
        end = uow.subscriptions.get(Owner.team(team_id)).period_end
    clock.current = end - timedelta(hours=12)
    container.billing().renewals()
    container.billing().renewals()  # the period moved on: no second charge
    keys = kassa.idempotence_keys("/v3/payments")
    assert len(keys) == 2 and keys[1].startswith("renewal-")
    renewal = kassa.last_payment
    assert renewal.receipt["customer"]["email"] == "dan@example.com" and renewal.status == "succeeded"
    ann = login(client, "ann@example.com")
    items = client.get(f"{API}/teams/{team_id}/billing/payments", headers=ann).json["items"]
    assert [(p["purpose"], p["status"]) for p in items] == [("renewal", "succeeded"), ("checkout", "succeeded")]
    billing = client.get(f"{API}/teams/{team_id}/billing", headers=ann).json
    assert billing["subscription"]["period_end"] > end.isoformat()[:19]
    # renewal off (an owner); the plan then runs to its end
    cid = login(client, "cid@example.com")
    assert client.put(f"{API}/teams/{team_id}/billing/renewal", json={"enabled": False}, headers=cid).status_code == 403
    r = client.put(f"{API}/teams/{team_id}/billing/renewal", json={"enabled": False}, headers=ann)
    assert r.status_code == 200 and r.json["subscription"]["renews"] is False


# -- the pages (FakePaymentGateway in YooKassa's place, as tests/integration/web/test_billing_pages.py) --


RU = {"Accept-Language": "ru"}


@pytest.fixture
def site(tmp_path):
    app, container = build_test_app(make_settings(tmp_path))
    gateway = FakePaymentGateway()
    container.payment_gateway.override(providers.Object(gateway))
    container.billing.reset()
    container.teams.reset()
    ids = {name: confirmed_user(container, f"{name}@example.com") for name in ("ann", "dan", "cid", "oscar")}
    for uid in ids.values():  # the pages follow Accept-Language (en, or ru below)
        container.accounts().update_profile(Actor(uid), settings={"language": None})
    desk = container.teams().create(Actor(ids["ann"]), "Support desk").team.id
    lab = container.teams().create(Actor(ids["ann"]), "Lab <b>").team.id
    with container.uow() as uow:
        uow.teams.add_member(Member(desk, ids["dan"], TeamRole.OWNER, container.clock().now()))
        uow.teams.add_member(Member(desk, ids["cid"], TeamRole.MEMBER, container.clock().now()))
        uow.commit()
    yield app, container, gateway, {"desk": desk, "lab": lab}
    container.engine().dispose()


def page(response) -> str:
    return response.get_data(as_text=True)


def team_upgrade(client, team_id, plan: str = "team", renew: bool = False, headers=None):
    data = {"csrf_token": token(client, "/pricing"), "plan": plan, "team_id": str(team_id)}
    if renew:
        data["renew"] = "y"
    return client.post("/pricing/checkout", data=data, headers=headers or {})


def test_pricing_as_a_team_owner_offers_a_select_of_their_teams_in_both_languages(site):
    app, container, gateway, teams = site
    ann = signed_in_client(app, "ann@example.com")
    text = page(ann.get("/pricing"))
    assert "Coming soon" not in text and "coming soon" not in text
    assert 'id="team-buy-team"' in text and 'name="team_id"' in text
    assert re.search(rf'<option value="{teams["desk"]}">Support desk</option>', text)
    assert f'<option value="{teams["lab"]}">Lab &lt;b&gt;</option>' in text  # escaped
    assert re.search(r'<button[^>]*id="upgrade-team">Upgrade the team</button>', text)
    assert "For the team" in text and 'id="upgrade-pro"' in text  # her own upgrade is still there
    text = page(ann.get(f"/pricing?team={teams['lab']}"))
    assert f'<option value="{teams["lab"]}" selected>' in text  # the team page's "Upgrade" preselects
    text = page(ann.get("/pricing", headers=RU))
    assert '<html lang="ru"' in text and "Для команды" in text
    assert re.search(r'<button[^>]*id="upgrade-team">Подключить тариф команде</button>', text)

    # once the desk is on the plan, the select says until when
    container.billing().grant(None, "team", team_id=teams["desk"])
    text = page(ann.get("/pricing"))
    assert re.search(rf'<option value="{teams["desk"]}">Support desk — on this plan until [^<]+</option>', text)
    assert "на этом тарифе до" in page(ann.get("/pricing", headers=RU))

    # a member sees who can upgrade; a user without teams is pointed at creating one
    cid = signed_in_client(app, "cid@example.com")
    text = page(cid.get("/pricing"))
    assert 'id="upgrade-team"' not in text and "A team's owners upgrade it:" in text
    assert re.search(r"<strong>Support desk</strong>: (Ann|ann@example\.com), (Dan|dan@example\.com)", text)
    assert "Тариф команде подключают её владельцы:" in page(cid.get("/pricing", headers=RU))
    text = page(signed_in_client(app, "oscar@example.com").get("/pricing"))
    assert 'id="upgrade-team"' not in text and 'href="/teams"' in text and "Create a team" in text
    assert gateway.calls == []


def test_an_owner_upgrades_the_team_from_the_pricing_page_and_others_are_refused(site):
    app, container, gateway, teams = site
    desk = teams["desk"]
    for who, status, message in (("cid", 403, "Your role in this team does not allow that."),
                                 ("oscar", 404, "Team not found.")):
        client = signed_in_client(app, f"{who}@example.com")
        r = team_upgrade(client, desk)
        assert r.status_code == status and message in page(r) and 'id="checkout-error"' in page(r)
    ann = signed_in_client(app, "ann@example.com")
    for team_id, plan, status in (("abc", "team", 404), (desk, "pro", 422), ("", "team", 422)):
        r = team_upgrade(ann, team_id, plan)
        assert r.status_code == status, (team_id, plan, r.status_code)
    r = team_upgrade(ann, desk, plan="pro", headers=RU)
    assert r.status_code == 422 and "Этот тариф — для личных аккаунтов." in page(r)
    r = team_upgrade(signed_in_client(app, "cid@example.com"), desk, headers=RU)
    assert r.status_code == 403 and "Ваша роль в этой команде этого не позволяет." in page(r)
    assert gateway.calls == []

    r = team_upgrade(ann, desk, renew=True)
    assert r.status_code == 303 and re.fullmatch(r"/pricing/pay/\d+", r.headers["Location"])
    handoff = page(ann.get(r.headers["Location"]))
    url = re.search(r'<meta http-equiv="refresh" content="0; url=([^"]+)">', handoff).group(1)
    name, args = gateway.calls[0]
    assert [n for n, _a in gateway.calls] == ["create_payment", "get_payment"]  # the hand-off asked again
    assert name == "create_payment" and args["save_payment_method"] is True
    assert re.fullmatch(rf"http://promptcore\.test/teams/{desk}/billing\?payment=\d+", args["return_url"])
    provider_id = url.rsplit("/", 1)[1]
    gateway.pay(provider_id)
    payment_id = int(gateway.payments[provider_id].metadata["payment_id"])
    # the hand-off of a paid payment goes to the team's billing page; the return page shows the outcome
    again = ann.get(r.headers["Location"])
    assert again.status_code == 303 and again.headers["Location"] == f"/teams/{desk}/billing?payment={payment_id}"
    assert ann.get(f"/account/billing?payment={payment_id}").headers["Location"] == again.headers["Location"]
    text = page(ann.get(again.headers["Location"]))
    assert 'data-status="succeeded"' in text and "Payment received, thank you!" in text
    assert re.search(r'id="current-plan">\s*<strong>Team</strong>', text) and 'id="pool-limit">500<' in text
    with container.uow() as uow:
        assert uow.subscriptions.get(Owner.team(desk)).plan_slug == "team"
    # the payment is the payer's to look at through ?payment=; a member gets 404 for it
    cid = signed_in_client(app, "cid@example.com")
    assert cid.get(f"/teams/{desk}/billing?payment={payment_id}").status_code == 404
    assert cid.get(f"/teams/{teams['lab']}/billing").status_code == 404  # not cid's team
    # the team page says the plan; deleting the paid team is refused with the reason
    text = page(ann.get(f"/teams/{desk}"))
    assert re.search(r'id="team-plan">Plan: <strong>Team</strong> until [^<]+· <a href="/teams/\d+/billing"', text)
    r = ann.post(f"/teams/{desk}/delete", data={"csrf_token": token(ann, f"/teams/{desk}/delete")})
    assert r.status_code == 409 and "This team has an active paid plan" in page(r)
    assert re.search(r'id="team-plan">Тариф: <strong>Команда</strong> до [^<]+· <a[^>]*>Управлять</a>',
                     page(ann.get(f"/teams/{desk}", headers=RU)))
    r = ann.post(f"/teams/{desk}/delete", data={"csrf_token": token(ann, f"/teams/{desk}/delete")}, headers=RU)
    assert r.status_code == 409 and "У команды действующий платный тариф" in page(r)
    assert page(cid.get(f"/teams/{desk}")).count(">Details</a>") == 1  # members: the details, not "Manage"


def test_the_team_billing_page_shows_members_the_plan_and_owners_the_buttons(site):
    app, container, _gateway, teams = site
    desk = teams["desk"]
    container.billing().grant(None, "team", team_id=desk)
    cid = signed_in_client(app, "cid@example.com")
    text = page(cid.get(f"/teams/{desk}/billing"))
    assert 'id="pool-limit">500<' in text and 'id="cancel"' not in text and 'id="owners-manage"' in text
    assert "Only the team's owners buy and change its plan." in text
    assert "Покупают и меняют тариф команды только её владельцы." in page(cid.get(f"/teams/{desk}/billing", headers=RU))
    csrf = token(cid, f"/teams/{desk}/billing")
    r = cid.post(f"/teams/{desk}/billing/cancel", data={"csrf_token": csrf})
    assert r.status_code == 403 and "Your role in this team does not allow that." in page(r)
    oscar = signed_in_client(app, "oscar@example.com")
    assert oscar.get(f"/teams/{desk}/billing").status_code == 404
    assert oscar.post(f"/teams/{desk}/billing/cancel", data={"csrf_token": token(oscar, "/pricing")}).status_code == 404

    dan = signed_in_client(app, "dan@example.com")
    text = page(dan.get(f"/teams/{desk}/billing"))
    assert 'id="cancel"' in text and "given to the team by the service" in text
    csrf = token(dan, f"/teams/{desk}/billing")
    r = dan.post(f"/teams/{desk}/billing/cancel", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["Location"] == f"/teams/{desk}/billing"
    text = page(dan.get(f"/teams/{desk}/billing"))
    assert "The team&#39;s subscription is canceled" in text and 'id="resume"' in text  # (a flash: escaped)
    r = dan.post(f"/teams/{desk}/billing/resume", data={"csrf_token": csrf}, headers=RU)
    assert r.status_code == 303
    assert "Подписка команды продолжается" in page(dan.get(f"/teams/{desk}/billing", headers=RU))
    r = dan.post(f"/teams/{desk}/billing/renewal", data={"csrf_token": csrf, "enabled": "maybe"})
    assert r.status_code == 400
    # a team without a plan: no pool, and its owner is pointed at the upgrade
    text = page(signed_in_client(app, "ann@example.com").get(f"/teams/{teams['lab']}/billing"))
    assert "No team plan" in text and 'id="pool-limit">0<' in text
    assert f'id="upgrade-team" href="/pricing?team={teams["lab"]}"' in text


# -- review findings: whose card, who sees it, deleting while paid for (API and pages) ------------


def _api(app, email: str) -> tuple:
    client = app.test_client()
    return client, login(client, email)


def _paid_by(container, gateway, ids, who: str, team_id: int, renew: bool = True) -> int:
    """``who`` buys the team plan and pays; the return page's refresh applies it (no webhook)."""
    buyer = Actor(ids[who], teams=container.teams().roles_of(ids[who]))
    result = container.billing().checkout(buyer, "team", renew, team_id=team_id)
    provider_id = next(pid for pid, p in gateway.payments.items()
                       if p.metadata["payment_id"] == str(result.payment_id))
    gateway.pay(provider_id)
    assert container.billing().payment(buyer, result.payment_id).status.value == "succeeded"
    return result.payment_id


def test_another_owner_cannot_resume_renewal_on_the_card_of_the_owner_who_saved_it(site):
    app, container, gateway, teams = site
    desk = teams["desk"]
    ids = {name: user_id(*_api(app, f"{name}@example.com")) for name in ("ann", "dan", "cid")}
    _paid_by(container, gateway, ids, "ann", desk)
    client, dan = _api(app, "dan@example.com")
    r = client.post(f"{API}/teams/{desk}/billing/cancel", headers=dan)
    assert r.status_code == 200 and r.json["subscription"]["renews"] is False
    for method, path, body in (("post", "resume", None), ("put", "renewal", {"enabled": True})):
        kwargs = {"json": body} if body is not None else {}
        r = getattr(client, method)(f"{API}/teams/{desk}/billing/{path}", headers=dan, **kwargs)
        assert r.status_code == 403 and r.json["error"] == "forbidden", r.json
        assert "only they can turn renewal back on" in r.json["message"]
    assert client.get(f"{API}/teams/{desk}/billing", headers=dan).json["subscription"]["cancel_at_period_end"]
    # the page: no Resume button for dan, the reason instead; ann, whose card it is, resumes
    page_text = page(signed_in_client(app, "dan@example.com").get(f"/teams/{desk}/billing"))
    assert 'id="resume"' not in page_text and 'id="resume-own-card"' in page_text
    ann_page = signed_in_client(app, "ann@example.com")
    assert 'id="resume"' in page(ann_page.get(f"/teams/{desk}/billing"))
    client, ann = _api(app, "ann@example.com")
    r = client.post(f"{API}/teams/{desk}/billing/resume", headers=ann)
    assert r.status_code == 200 and r.json["subscription"]["renews"] is True


def test_only_owners_see_the_teams_card(site):
    app, container, gateway, teams = site
    desk = teams["desk"]
    ids = {name: user_id(*_api(app, f"{name}@example.com")) for name in ("ann", "dan", "cid")}
    _paid_by(container, gateway, ids, "ann", desk)
    for who, shown in (("ann", "card •••• 4242"), ("dan", "card •••• 4242"), ("cid", None)):
        client, auth = _api(app, f"{who}@example.com")
        sub = client.get(f"{API}/teams/{desk}/billing", headers=auth).json["subscription"]
        assert (sub["payment_method"], sub["renews"]) == (shown, True), who
    text = page(signed_in_client(app, "cid@example.com").get(f"/teams/{desk}/billing"))
    assert "4242" not in text and re.search(r"<dt>Automatic renewal</dt><dd>on</dd>", text)
    assert "включено</dd>" in page(signed_in_client(app, "cid@example.com").get(f"/teams/{desk}/billing",
                                                                                headers=RU))
    assert re.search(r"<dd>on, card\xa0••••\xa04242</dd>",
                     page(signed_in_client(app, "dan@example.com").get(f"/teams/{desk}/billing")))


def test_a_team_with_a_pending_checkout_is_not_deleted(site):
    app, container, gateway, teams = site
    desk = teams["desk"]
    ann_id = user_id(*_api(app, "ann@example.com"))
    ann_actor = Actor(ann_id, teams=container.teams().roles_of(ann_id))
    result = container.billing().checkout(ann_actor, "team", False, team_id=desk)
    client, ann = _api(app, "ann@example.com")
    r = client.delete(f"{API}/teams/{desk}", headers=ann)
    assert r.status_code == 409 and r.json["error"] == "conflict", r.json
    assert r.json["message"].startswith("A payment for this team is in progress")
    browser = signed_in_client(app, "ann@example.com")
    r = browser.post(f"/teams/{desk}/delete", data={"csrf_token": token(browser, f"/teams/{desk}/delete")},
                     headers=RU)
    assert r.status_code == 409 and "По команде идёт оплата" in page(r)
    assert client.get(f"{API}/teams/{desk}", headers=ann).status_code == 200
    # the payment is declined: then the team may go
    provider_id = next(iter(gateway.payments))
    gateway.decline(provider_id)
    assert container.billing().payment(ann_actor, result.payment_id).status.value == "canceled"
    assert client.delete(f"{API}/teams/{desk}", headers=ann).status_code == 204


def test_the_only_member_of_a_paid_team_cannot_delete_the_account(site):
    app, container, gateway, teams = site
    client, oscar = _api(app, "oscar@example.com")
    oscar_id = user_id(client, oscar)
    solo = container.teams().create(Actor(oscar_id), "Solo").team.id
    _paid_by(container, gateway, {"oscar": oscar_id}, "oscar", solo)
    r = client.delete(f"{API}/profile", json={"password": "correct horse battery"}, headers=oscar)
    assert r.status_code == 409 and r.json["error"] == "team_has_paid_plan", r.json
    assert r.json["message"].startswith("You are the only member of a team with an active paid plan")
    browser = signed_in_client(app, "oscar@example.com")
    r = browser.post("/account/delete", data={"csrf_token": token(browser, "/account"),
                                              "password": "correct horse battery"})
    assert r.status_code == 409 and "You are the only member of a team with an active paid plan" in page(r)
    assert client.get(f"{API}/profile", headers=oscar).status_code == 200
    assert client.get(f"{API}/teams/{solo}", headers=oscar).status_code == 200
