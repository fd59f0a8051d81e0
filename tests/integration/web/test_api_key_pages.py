"""The API key pages through Flask's test client (SPEC §15.1): /account/api-keys lists the keys and
makes new ones (the key shown once, in the answer to the form, never stored by the browser), and
/account/api-keys/<id>/revoke asks before revoking. Refusals come back on the page with the reason
in the page's language and the refusal's status; a stranger's key id is the 404 page; every form
carries its CSRF token."""

from __future__ import annotations

import re

import pytest

from tests.conftest import build_test_app, make_settings

from .test_security import confirmed_user, signed_in_client, token
from .test_team_pages import assert_every_form_has_csrf, assert_no_inline_code, plain, text

PAGE = "/account/api-keys"
SECRET = re.compile(r'id="new-key-value">(pc_[A-Za-z0-9_\-]{43})<')


@pytest.fixture
def site(tmp_path):
    app, container = build_test_app(make_settings(tmp_path))
    for email in ("ann@example.com", "bob@example.com"):
        confirmed_user(container, email)
    yield app, container
    container.engine().dispose()


def create(client, **form):
    data = {"csrf_token": token(client, PAGE), "name": "CI", "scopes": ["prompts:read"], **form}
    return client.post(PAGE, data=data)


def test_make_a_key_see_it_once_use_it_and_revoke_it(site):
    app, _container = site
    client = signed_in_client(app, "ann@example.com")
    page = text(client.get("/account"))
    assert f'href="{PAGE}"' in page

    r = client.get(PAGE)
    assert r.status_code == 200 and 'id="no-keys"' in text(r)
    assert_every_form_has_csrf(text(r))
    assert_no_inline_code(text(r))

    r = create(client, name="Build server", scopes=["prompts:read", "prompts:write"], expires_on="2099-01-01")
    assert r.status_code == 422 and "Choose an expiry within a year, or none." in plain(text(r))
    r = create(client, name="Build server", scopes=["prompts:read", "prompts:write"])
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store"
    secret = SECRET.search(text(r)).group(1)
    assert "this is the only time it is shown" in plain(text(r))
    assert f"Authorization: Bearer {secret}" in text(r)
    assert_no_inline_code(text(r))

    listed = text(client.get(PAGE))
    assert secret not in listed and secret[:11] in listed and "Build server" in listed
    assert "prompts:write" in listed and "Never used" in listed

    api = app.test_client()  # the key in a program
    assert api.get("/api/v1/prompts", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert "Last used" in plain(text(client.get(PAGE)))

    key_id = re.search(r'id="key-(\d+)"', listed).group(1)
    confirm = client.get(f"{PAGE}/{key_id}/revoke")
    assert confirm.status_code == 200 and "Revoke the key “Build server”?" in plain(text(confirm))
    assert_every_form_has_csrf(text(confirm))
    assert client.post(f"{PAGE}/{key_id}/revoke").status_code == 400  # no CSRF token
    r = client.post(f"{PAGE}/{key_id}/revoke", data={"csrf_token": token(client, PAGE)})
    assert r.status_code == 303 and r.headers["Location"].endswith(PAGE)
    after = plain(text(client.get(PAGE)))
    assert "was revoked" in after and "You have no API keys yet." in after
    assert api.get("/api/v1/prompts", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert client.get(f"{PAGE}/{key_id}/revoke").status_code == 404


def test_every_bad_field_is_shown_in_russian_and_nothing_is_made(site):
    app, container = site
    client = signed_in_client(app, "ann@example.com")
    client.post("/preferences", data={"csrf_token": token(client, "/app"), "language": "ru"})
    r = create(client, name="   ", scopes=["admin"], expires_on="31.12.2026")
    assert r.status_code == 422
    page = plain(text(r))
    assert "Назовите ключ, чтобы отличать его от других." in page
    assert "Неизвестные права: admin" in page
    assert "Введите дату в виде ГГГГ-ММ-ДД." in page
    assert create(client, name="x", scopes=[]).status_code == 422
    assert "Выберите хотя бы одно право." in plain(text(create(client, name="x", scopes=[])))
    with container.uow() as uow:
        user = uow.users.get_by_email("ann@example.com")
        assert uow.api_keys.of_user(user.id) == []


def test_the_21st_key_is_refused_on_the_page(site):
    app, _container = site
    client = signed_in_client(app, "ann@example.com")
    for n in range(20):
        assert create(client, name=f"k{n}").status_code == 201
    r = create(client, name="one more")
    assert r.status_code == 409
    assert "You can have at most 20 active API keys; revoke one first." in plain(text(r))
    assert "20 of 20 active keys." in plain(text(r))
    assert not SECRET.search(text(r))


def test_a_strangers_key_is_404_and_stays(site):
    app, _container = site
    ann, bob = signed_in_client(app, "ann@example.com"), signed_in_client(app, "bob@example.com")
    secret = SECRET.search(text(create(ann))).group(1)
    key_id = re.search(r'id="key-(\d+)"', text(ann.get(PAGE))).group(1)
    assert bob.get(f"{PAGE}/{key_id}/revoke").status_code == 404
    r = bob.post(f"{PAGE}/{key_id}/revoke", data={"csrf_token": token(bob, PAGE)})
    assert r.status_code == 404
    assert secret[:11] not in text(bob.get(PAGE))
    assert app.test_client().get("/api/v1/prompts", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_the_pages_need_a_session(site):
    app, _container = site
    anonymous = app.test_client()
    for path in (PAGE, f"{PAGE}/1/revoke"):
        r = anonymous.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"]
