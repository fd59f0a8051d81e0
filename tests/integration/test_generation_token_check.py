"""A generation's access token is checked against the account in the reservation itself on
PostgreSQL (auth.login_checked_by_reservation, migration 0015), and by the usual read elsewhere:
either way a token the account no longer accepts — after sign-out, a password change, deactivation
or deletion — gets 401 for every generation request, whatever else is wrong with it, and nothing is
written. SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from adapters.sql import tables as t
from tests.conftest import build_test_app, make_settings
from tests.integration.team_support import API, PW, create_team, signup

EXPIRED = "The access token is no longer valid; sign in again."


@pytest.fixture
def api(tmp_path, database_url):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url))
    yield app, container
    container.engine().dispose()


def written(container) -> tuple[int, int]:
    with container.engine().connect() as conn:
        return (conn.execute(select(func.count()).select_from(t.prompt_requests)).scalar_one(),
                conn.execute(select(func.count()).select_from(t.quota_units)).scalar_one())


def sign_in(client) -> tuple[dict[str, str], str]:
    r = client.post(f"{API}/auth/login", json={"email": "ada@example.com", "password": PW})
    return {"Authorization": f"Bearer {r.json['access_token']}"}, r.json["refresh_token"]


def revoke_by(how: str, client, container, auth, refresh) -> None:
    if how == "logout":
        assert client.post(f"{API}/auth/logout", json={"refresh_token": refresh}).status_code == 204
    elif how == "password change":
        assert client.post(f"{API}/profile/password", json={"current_password": PW, "new_password": PW + " 2"},
                           headers=auth).status_code == 204
    elif how == "deactivation":
        with container.uow() as uow:
            user = uow.users.get_by_email("ada@example.com")
            user.is_active = False
            uow.users.update(user)
            uow.commit()
    elif how == "deletion":
        assert client.delete(f"{API}/profile", json={"password": PW}, headers=auth).status_code == 204


@pytest.mark.parametrize("how", ["logout", "password change", "deactivation", "deletion"])
def test_a_token_the_account_no_longer_accepts_gets_401_for_every_generation(api, how):
    app, container = api
    client = app.test_client()
    signup(client, container, "ada@example.com")
    auth, refresh = sign_in(client)
    first = client.post(f"{API}/prompts", json={"prompt": "a post about tea", "style": "general"}, headers=auth)
    assert first.status_code == 201, first.json
    style = client.post(f"{API}/custom-styles", json={"title": "Pirate", "instructions": "Talk like a pirate."},
                        headers=auth).json["id"]
    team = create_team(client, auth, "Desk")["id"]
    revoke_by(how, client, container, auth, refresh)
    before = written(container)

    bodies = [
        {"prompt": "a post about tea", "style": "general"},  # would reserve
        {"prompt": "a post about tea", "style": "no-such-style"},  # 422 for anyone else
        {"prompt": "", "style": "general"},  # 422
        {"prompt": "a post about tea", "style": f"custom:{style}"},  # their own style
        {"style": "general", "parent_id": first.json["id"], "feedback": "shorter"},  # their own record
        {"prompt": "a post about tea", "style": "general", "team_id": team},  # their own team
        {"prompt": "a post about tea", "style": "general", "team_id": 987654},  # a team that is not theirs
    ]
    for body in bodies:
        for headers in (auth, {**auth, "Accept": "text/event-stream"}):
            for path in ("/prompts", "/generate-prompt"):
                r = client.post(f"{API}{path}", json=body, headers=headers)
                assert r.status_code == 401, (how, body, r.status_code, r.get_data(as_text=True)[:200])
                assert r.json["error"] == "unauthorized"
    assert client.post(f"{API}/prompts", data="not json", headers={**auth, "Content-Type": "application/json"}
                       ).status_code == 401
    assert written(container) == before


def test_fifty_parallel_generations_with_a_revoked_token_write_nothing(api):
    app, container = api
    signup(app.test_client(), container, "ada@example.com")
    auth, refresh = sign_in(app.test_client())
    assert app.test_client().post(f"{API}/auth/logout", json={"refresh_token": refresh}).status_code == 204
    before = written(container)

    def generate(i: int) -> int:
        return app.test_client().post(f"{API}/prompts", json={"prompt": f"tea {i}", "style": "general"},
                                      headers=auth).status_code

    with ThreadPoolExecutor(10) as pool:
        assert set(pool.map(generate, range(50))) == {401}
    assert written(container) == before


def test_a_fresh_token_after_sign_out_generates_and_the_old_one_does_not(api):
    app, container = api
    client = app.test_client()
    signup(client, container, "ada@example.com")
    old, refresh = sign_in(client)
    assert client.post(f"{API}/auth/logout", json={"refresh_token": refresh}).status_code == 204
    new, _ = sign_in(client)
    body = {"prompt": "a post about tea", "style": "general"}
    assert client.post(f"{API}/prompts", json=body, headers=old).json["message"] == EXPIRED
    r = client.post(f"{API}/prompts", json=body, headers=new)
    assert r.status_code == 201 and r.json["quota"]["used"] == 1
