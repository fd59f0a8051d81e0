"""Issue 15's edges from an outside fuzz run, each shown by the request that found it: query strings
and request lines longer than gunicorn's default 4 KiB (its HTML 414 page), the per-IP limit of
the OAuth2 token endpoint answering outside RFC 6749's shape, and Cyrillic sent as \\uXXXX."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from entrypoints.server import LIMIT_REQUEST_LINE
from tests.conftest import build_test_app, make_settings
from tests.integration.live import live_server

PW = "correct horse battery"
EMAIL = "root@example.com"
CYRILLIC = "Напиши короткое стихотворение о чае"


# -- long query strings and request lines, against a real `promptcore serve` -------------------------


def _raw(base: str, head: str) -> tuple[int, dict[str, str], bytes]:
    """One request as exactly these bytes (request line and headers), on its own connection."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(head.encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    header_block, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = header_block.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, body


def _get(base: str, target: str, token: str, extra: str = "") -> tuple[int, dict[str, str], bytes, int]:
    line = f"GET {target} HTTP/1.1"
    head = (f"{line}\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n{extra}"
            "Connection: close\r\n\r\n")
    status, headers, body = _raw(base, head)
    return status, headers, body, len(line)


def _api_error(status: int, headers: dict[str, str], body: bytes, expected: int) -> dict:
    assert status == expected, (status, body[:300])
    assert headers["content-type"] == "application/json", headers
    error = json.loads(body)
    assert error["code"] == expected and error["error"] and error["message"], error
    return error


def test_long_query_strings_and_request_lines_get_json_from_the_real_server(tmp_path):
    db = f"sqlite:///{tmp_path}/live.db"
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=db))
    container.accounts().create_admin(EMAIL, PW)
    container.engine().dispose()
    env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": db, "PROMPTCORE_VAR_DIR": str(tmp_path),
           "PROMPTCORE_LLM": "offline"}
    with live_server(env, workers=1, threads=4, cwd=str(tmp_path)) as base:
        token = requests.post(f"{base}/api/v1/auth/login", json={"email": EMAIL, "password": PW},
                              timeout=30).json()["access_token"]

        # a 6 KiB `q` (gunicorn's default limit of 4094 bytes answered its own HTML 414): the API's 422
        status, headers, body, length = _get(base, "/api/v1/prompts?q=" + "tea+" * 1536, token)
        assert 6 * 1024 < length < LIMIT_REQUEST_LINE
        error = _api_error(status, headers, body, 422)
        assert set(error["errors"]) == {"q"} and error["error"] == "validation_error"

        # `cursor` repeated until the line is 6 KiB: each value is short, the parameter takes one
        status, headers, body, length = _get(base, "/api/v1/prompts?" + "&".join(["cursor=abc"] * 560), token)
        assert 6 * 1024 < length < LIMIT_REQUEST_LINE
        error = _api_error(status, headers, body, 422)
        assert error["errors"] == {"cursor": ["Give this parameter once."]}

        # a line of exactly the limit still reaches the application
        target = "/api/v1/prompts?q="
        target += "a" * (LIMIT_REQUEST_LINE - len(f"GET {target} HTTP/1.1"))
        status, headers, body, length = _get(base, target, token)
        assert length == LIMIT_REQUEST_LINE
        assert _api_error(status, headers, body, 422)["errors"] == {"q": ["Longer than maximum length 200."]}

        # beyond it gunicorn refuses the line before any application code runs: JSON all the same
        status, headers, body, length = _get(base, target + "a", token)
        assert length == LIMIT_REQUEST_LINE + 1
        error = _api_error(status, headers, body, 414)
        assert error["error"] == "uri_too_long" and str(LIMIT_REQUEST_LINE) in error["message"]
        assert headers["connection"] == "close"
        status, headers, body, _ = _get(base, "/api/v1/prompts?q=" + "a" * 20_000, token)
        assert _api_error(status, headers, body, 414)["error"] == "uri_too_long"

        # and a header field over gunicorn's limit too
        status, headers, body, _ = _get(base, "/api/v1/prompts", token, extra=f"X-Big: {'b' * 9000}\r\n")
        assert _api_error(status, headers, body, 431)["error"] == "request_header_fields_too_large"

        # the server is fine after all that
        ok = requests.get(f"{base}/api/v1/prompts?q=tea", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert ok.status_code == 200 and ok.json()["items"] == []


@pytest.fixture
def site(tmp_path):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_AUTH_RATE_LIMIT="3/minute"))
    container.accounts().create_admin(EMAIL, PW)
    yield app, container
    container.engine().dispose()


def _bearer(client) -> dict[str, str]:
    pair = client.post("/api/v1/auth/token", data={"grant_type": "password", "username": EMAIL, "password": PW})
    assert pair.status_code == 200, pair.get_data(as_text=True)
    return {"Authorization": f"Bearer {pair.json['access_token']}"}


def test_every_query_parameter_has_a_documented_bound(site):
    app, _ = site
    doc = app.test_client().get("/api/v1/openapi.json").json
    seen = 0
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter["in"] != "query":
                    continue
                seen += 1
                schema, where = parameter["schema"], f"{method.upper()} {path} ?{parameter['name']}"
                if schema["type"] == "string":
                    assert "maxLength" in schema or "enum" in schema, where
                elif schema["type"] == "integer":
                    assert "maximum" in schema, where
                else:
                    assert schema["type"] == "boolean", where
    assert seen >= 20


def test_history_query_parameters_refuse_long_and_repeated_values(site):
    app, _ = site
    client = app.test_client()
    auth = _bearer(client)
    for query, field in (("q=" + "x" * 201, "q"), ("style=" + "s" * 33, "style"), ("cursor=" + "c" * 201, "cursor"),
                         ("style=general&style=coding", "style"), ("limit=5&limit=6", "limit")):
        r = client.get(f"/api/v1/prompts?{query}", headers=auth)
        assert r.status_code == 422 and r.json["error"] == "validation_error", (query, r.json)
        assert set(r.json["errors"]) == {field}, (query, r.json)
    assert client.get("/api/v1/prompts?q=" + "x" * 200, headers=auth).status_code == 200


# -- the per-IP limit of POST /auth/token answers in RFC 6749's shape ------------------------------------


def test_token_endpoint_per_ip_limit_answers_in_its_documented_shape(site):
    app, _ = site
    client = app.test_client()
    form = {"grant_type": "password", "username": EMAIL, "password": "wrong password"}
    assert [client.post("/api/v1/auth/token", data=form).status_code for _ in range(3)] == [400, 400, 400]
    r = client.post("/api/v1/auth/token", data={**form, "password": PW})  # right or wrong, counted first
    assert r.status_code == 429
    assert r.mimetype == "application/json"
    assert set(r.json) == {"error", "error_description"}, r.json  # RFC 6749 §5.2, as the document says
    assert r.json["error"] == "rate_limited" and "3 per 1 minute" in r.json["error_description"]
    assert int(r.headers["Retry-After"]) > 0
    assert r.headers["Cache-Control"] == "no-store"

    doc = client.get("/api/v1/openapi.json").json
    documented = doc["paths"]["/api/v1/auth/token"]["post"]["responses"]["429"]
    assert documented["content"]["application/json"]["schema"]["$ref"].endswith("/OAuthErrorOut")

    # the JSON sign-in shares the limit and keeps the API's general shape
    r = client.post("/api/v1/auth/login", json={"email": EMAIL, "password": PW})
    assert r.status_code == 429 and r.json["error"] == "rate_limited" and r.json["code"] == 429
    assert int(r.headers["Retry-After"]) > 0


# -- UTF-8 as it is ------------------------------------------------------------------------------------


def test_answers_carry_utf8_text_unescaped_in_json_and_sse(site):
    app, _ = site
    client = app.test_client()
    auth = _bearer(client)
    escaped = json.dumps(CYRILLIC)[1:7]  # "\u041d", how the letter was sent before

    r = client.post("/api/v1/prompts", json={"prompt": CYRILLIC, "style": "general"}, headers=auth)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.headers["Content-Type"] == "application/json"
    assert CYRILLIC.encode("utf-8") in r.data and escaped.encode() not in r.data
    assert r.json["original_prompt"] == CYRILLIC

    listed = client.get("/api/v1/prompts?q=" + "стихотворение", headers=auth)
    assert CYRILLIC.encode("utf-8") in listed.data and b"\\u04" not in listed.data

    r = client.post("/api/v1/prompts", json={"prompt": CYRILLIC, "style": "general"},
                    headers={**auth, "Accept": "text/event-stream"})
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    events = [block for block in r.get_data().split(b"\n\n") if block.strip()]
    assert any(CYRILLIC.encode("utf-8") in block for block in events), events[-1][:300]
    assert not any(b"\\u04" in block for block in events)

    # an error message in another language: the same
    r = client.post("/api/v1/prompts", json={"prompt": CYRILLIC, "style": "нет-такого"}, headers=auth)
    assert r.status_code == 422 and b"\\u04" not in r.data
