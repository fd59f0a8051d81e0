"""Access and e-mailed tokens: tampered, expired, alg none, wrong audience, wrong purpose."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from tests.conftest import build_test_app, make_settings

PW = "correct horse battery"
SECRET = "s" * 40


@pytest.fixture
def client_and_user(tmp_path):
    app, container = build_test_app(make_settings(tmp_path))
    client = app.test_client()
    client.post("/api/v1/auth/register", json={"email": "ada@example.com", "password": PW})
    pair = client.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": PW}).json
    user_id = container.accounts().authenticate("ada@example.com", PW).id
    return client, pair, user_id


def claims(user_id, **over):
    now = int(time.time())
    base = {"sub": str(user_id), "role": "user", "typ": "access", "iss": "promptcore", "aud": "promptcore-api",
            "iat": now, "exp": now + 600, "jti": "abc"}
    base.update(over)
    return base


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def profile(client, token):
    return client.get("/api/v1/profile", headers={"Authorization": f"Bearer {token}"})


def test_a_genuine_token_works(client_and_user):
    client, pair, _ = client_and_user
    assert profile(client, pair["access_token"]).status_code == 200


@pytest.mark.parametrize("case", ["tampered", "expired", "alg_none", "wrong_audience", "wrong_issuer",
                                  "other_key", "refresh_type", "missing_jti", "garbage", "hs512"])
def test_bad_access_tokens_get_401(client_and_user, case):
    client, pair, uid = client_and_user
    if case == "tampered":
        head, body, sig = pair["access_token"].split(".")
        data = json.loads(base64.urlsafe_b64decode(body + "=="))
        data["role"] = "admin"
        token = f"{head}.{b64(data)}.{sig}"
    elif case == "expired":
        token = jwt.encode(claims(uid, iat=int(time.time()) - 3600, exp=int(time.time()) - 60), SECRET, "HS256")
    elif case == "alg_none":
        token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(uid))}."
    elif case == "wrong_audience":
        token = jwt.encode(claims(uid, aud="someone-else"), SECRET, "HS256")
    elif case == "wrong_issuer":
        token = jwt.encode(claims(uid, iss="evil"), SECRET, "HS256")
    elif case == "other_key":
        token = jwt.encode(claims(uid), "k" * 40, "HS256")
    elif case == "refresh_type":
        token = jwt.encode(claims(uid, typ="refresh"), SECRET, "HS256")
    elif case == "missing_jti":
        c = claims(uid)
        del c["jti"]
        token = jwt.encode(c, SECRET, "HS256")
    elif case == "hs512":
        token = jwt.encode(claims(uid), SECRET * 2, "HS512")
    else:
        token = "not-a-token"
    r = profile(client, token)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert r.json["error"] == "unauthorized"


def test_missing_or_malformed_authorization_gets_401(client_and_user):
    client, _, _ = client_and_user
    assert client.get("/api/v1/profile").status_code == 401
    assert client.get("/api/v1/profile", headers={"Authorization": "Basic abc"}).status_code == 401


@pytest.mark.parametrize("case", ["tampered", "wrong_purpose", "expired", "other_key", "empty"])
def test_bad_emailed_tokens_get_400_invalid_token(client_and_user, case):
    client, _, uid = client_and_user
    confirm = URLSafeTimedSerializer(SECRET, salt="promptcore.confirm-email")
    good = confirm.dumps({"uid": uid, "email": "ada@example.com"})
    if case == "tampered":
        token = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    elif case == "wrong_purpose":
        token = URLSafeTimedSerializer(SECRET, salt="promptcore.reset-password").dumps(
            {"uid": uid, "email": "ada@example.com"})
    elif case == "expired":
        class OldSigner(TimestampSigner):
            def get_timestamp(self):
                return int((datetime.now(timezone.utc) - timedelta(hours=49)).timestamp())
        token = URLSafeTimedSerializer(SECRET, salt="promptcore.confirm-email", signer=OldSigner).dumps(
            {"uid": uid, "email": "ada@example.com"})
    elif case == "other_key":
        token = URLSafeTimedSerializer("z" * 40, salt="promptcore.confirm-email").dumps(
            {"uid": uid, "email": "ada@example.com"})
    else:
        token = "x"
    r = client.post("/api/v1/auth/confirm-email", json={"token": token})
    assert r.status_code == 400 and r.json["error"] == "invalid_token"
    assert client.post("/api/v1/auth/confirm-email", json={"token": good}).status_code == 200
    assert client.post("/api/v1/auth/confirm-email", json={"token": good}).status_code == 200  # harmless twice


def test_reset_token_is_not_a_confirmation_token_and_vice_versa(client_and_user):
    client, _, uid = client_and_user
    confirm_token = URLSafeTimedSerializer(SECRET, salt="promptcore.confirm-email").dumps({"uid": uid, "pw": "x"})
    r = client.post("/api/v1/auth/reset-password", json={"token": confirm_token, "password": "brand new pass"})
    assert r.status_code == 400 and r.json["error"] == "invalid_token"
