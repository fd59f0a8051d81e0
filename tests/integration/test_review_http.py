"""Security review, issue 9, "Low" findings 3, 4, 5 and 7, each shown by the attack it stops:
authenticated answers cached by the browser (3), bad input that came back a 500 (4), the API docs
keeping credentials in browser storage (5), and log lines forged through CR/LF in the path (7)."""

from __future__ import annotations

import json
import logging
import re
import socket

import pytest

from entrypoints import observability
from entrypoints.web.session import safe_next
from tests.conftest import build_test_app, make_settings
from tests.integration.http_standin import wait_until
from tests.integration.live import live_server

PW = "correct horse battery"
EMAIL = "root@example.com"
BIG = str(2**63)  # one past PostgreSQL's bigint (and SQLite's INTEGER)
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def site(tmp_path, database_url):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url))
    container.accounts().create_admin(EMAIL, PW)  # a confirmed user who may also open /admin
    yield app, container
    container.engine().dispose()


def csrf(client, path: str = "/login") -> str:
    return TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def signed_in(app):
    client = app.test_client()
    r = client.post("/login", data={"csrf_token": csrf(client), "email": EMAIL, "password": PW})
    assert r.status_code == 303, r.get_data(as_text=True)
    return client


def generate(client) -> int:
    r = client.post("/app", data={"csrf_token": csrf(client, "/app"), "prompt": "a prompt", "style": "general"})
    assert r.status_code == 303, r.get_data(as_text=True)
    return int(r.headers["Location"].rsplit("=", 1)[1])


# -- Low 3: authenticated answers are never stored by a browser or a shared cache -----------


def test_signed_in_pages_and_authenticated_api_answers_are_not_stored(site):
    app, _ = site
    anonymous = app.test_client()
    for path in ("/", "/login", "/healthz", "/api/v1/styles"):
        assert "no-store" not in anonymous.get(path).headers.get("Cache-Control", ""), path

    client = signed_in(app)
    record = generate(client)
    for path in ("/app", f"/app?result={record}", "/history", f"/history/{record}", "/account", "/admin",
                 "/", "/history/999999"):
        r = client.get(path)
        assert r.headers.get("Cache-Control") == "no-store", (path, r.status_code)

    pair = anonymous.post("/api/v1/auth/login", json={"email": EMAIL, "password": PW}).json
    auth = {"Authorization": f"Bearer {pair['access_token']}"}
    for path in ("/api/v1/profile", "/api/v1/prompts", f"/api/v1/prompts/{record}", "/api/v1/stats",
                 "/api/v1/admin/users", "/api/v1/prompts/999999"):
        r = anonymous.get(path, headers=auth)
        assert r.headers.get("Cache-Control") == "no-store", (path, r.status_code)
    # a bearer token that authenticates no one: nothing personal in the answer
    r = anonymous.get("/api/v1/profile", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


# -- Low 4: bad input is a 4xx, never a 500 -----------------------------------------------


@pytest.mark.parametrize("target", [
    "/app\r\nSet-Cookie: pwned=1", "/app\nX: y", "/app\rX: y", "/app\x00", "/app\tx", "/app\x1b[31m",
    "/app\x7f", "/app\x85", "/app\x9b",
])
def test_safe_next_refuses_control_characters(target):
    assert safe_next(target) == "/app" and safe_next(target, "/home") == "/home"


def test_safe_next_still_follows_local_paths():
    for target in ("/history?q=caf%C3%A9", "/history?q=café", "/account#settings"):
        assert safe_next(target) == target


def test_cr_lf_in_next_falls_back_to_the_default(site):
    app, _ = site
    evil = "/app\r\nSet-Cookie: pwned=1"
    client = app.test_client()
    r = client.post("/login", data={"csrf_token": csrf(client), "email": EMAIL, "password": PW, "next": evil})
    assert r.status_code == 303 and r.headers["Location"].endswith("/app"), r.status_code
    r = client.get("/login", query_string={"next": evil})  # signed in: the page redirects at once
    assert r.status_code == 302 and r.headers["Location"].endswith("/app"), r.status_code
    r = client.post("/preferences", data={"csrf_token": csrf(client, "/"), "theme": "dark", "next": evil})
    assert r.status_code == 303 and r.headers["Location"].endswith("/"), r.status_code
    r = client.post("/admin/users/1", data={"csrf_token": csrf(client, "/admin"), "daily_limit": "x", "back": evil})
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin"), r.status_code
    assert client.get_cookie("pwned") is None
    # a page whose own path holds CR/LF still renders (its language switch carries the path)
    assert client.get("/nope%0d%0aX:%20y").status_code == 404


def test_ids_past_bigint_are_not_found_on_pages(site):
    app, _ = site
    client = signed_in(app)
    record = generate(client)
    token = csrf(client, "/app")
    for big in (BIG, str(2**64), "9" * 40):
        assert client.get(f"/history/{big}").status_code == 404, big
        assert client.post(f"/history/{big}/delete", data={"csrf_token": token}).status_code == 404, big
        assert client.get(f"/app?result={big}").status_code == 404, big
        r = client.post("/app", data={"csrf_token": token, "prompt": "a prompt", "style": "general",
                                      "parent_id": big, "feedback": "shorter"})
        assert r.status_code == 404, big
        assert client.post(f"/admin/users/{big}", data={"csrf_token": token}).status_code == 404, big
    for odd in ("-1", "0", "１２", " 1", "1e3", "0x1"):  # not a row id written in ASCII digits
        assert client.get("/app", query_string={"result": odd}).status_code == 404, odd
    # the largest id is an ordinary miss, and the real one is still found
    assert client.get(f"/history/{2**63 - 1}").status_code == 404
    assert client.get(f"/app?result={record}").status_code == 200
    assert client.get(f"/history/{record}").status_code == 200


def test_nul_in_page_inputs_is_a_bad_request(site):
    app, _ = site
    client = app.test_client()
    r = client.post("/login", data={"csrf_token": csrf(client), "email": "root\x00@example.com", "password": PW})
    assert r.status_code == 400
    assert "Bad request" in r.get_data(as_text=True)
    r = client.post("/register", data={"csrf_token": csrf(client, "/register"), "email": "nul@example.com",
                                       "password": PW, "name": "N\x00L"})
    assert r.status_code == 400
    client = signed_in(app)
    for path in ("/history?q=%00", "/history?q=a%00b", "/admin?q=%00", "/history?style=%00", "/history?a%00=1"):
        assert client.get(path).status_code == 400, path
    r = client.post("/account/profile", data={"csrf_token": csrf(client, "/account"), "name": "N\x00L"})
    assert r.status_code == 400
    # the API keeps its own answer (422 from its schemas) and ordinary text still works
    assert client.get("/history?q=caf%C3%A9").status_code == 200
    assert client.get("/api/v1/prompts?q=%00").status_code == 401


# -- Low 5: the API docs keep no credentials in browser storage ---------------------------


def test_api_docs_do_not_persist_authorization(tmp_path):
    app, _ = build_test_app(make_settings(tmp_path))
    client = app.test_client()
    page = client.get("/api/docs").get_data(as_text=True)
    scripts = re.findall(r'<script src="([^"]+)"', page)
    init = [s for s in scripts if "swagger-init" in s]
    assert init, scripts
    source = client.get(init[0]).get_data(as_text=True)
    assert "SwaggerUIBundle(" in source
    assert re.search(r"persistAuthorization\s*:\s*false", source)
    assert not re.search(r"persistAuthorization\s*:\s*true", source)
    assert 'localStorage.removeItem("authorized")' in source  # what an earlier version kept


# -- Low 7: one request is one log line -----------------------------------------------------


def record(message: str, *args, exc_info=None) -> logging.LogRecord:
    rec = logging.LogRecord("promptcore.access", logging.INFO, __file__, 1, message, args, exc_info)
    rec.request_id = "-"
    return rec


def test_text_formatter_escapes_control_characters():
    formatter = observability.TextFormatter()
    forged = "/x\r\n2030-01-01 00:00:00,000 INFO promptcore.access [-] GET /admin 200"
    line = formatter.format(record("%s %s %s", "GET", forged, 404))
    assert "\n" not in line and "\r" not in line
    assert line.endswith("GET /x\\r\\n2030-01-01 00:00:00,000 INFO promptcore.access [-] GET /admin 200 404")
    for char, shown in (("\x00", "\\x00"), ("\x1b", "\\x1b"), ("\t", "\\t"), ("\x7f", "\\x7f"),
                        ("\x85", "\\x85"), ("\x9b", "\\x9b"), ("\u2028", "\\u2028"), ("\\", "\\\\")):
        assert formatter.format(record("a%sb", char)).endswith(f"a{shown}b"), repr(char)
    assert formatter.format(record("café ✓ 日本")).endswith("café ✓ 日本")


def test_text_formatter_keeps_a_traceback_from_starting_a_line():
    formatter = observability.TextFormatter()
    try:
        raise ValueError("bad\n2030-01-01 00:00:00,000 INFO forged")
    except ValueError:
        import sys

        text = formatter.format(record("failed on %s", "/x\ny", exc_info=sys.exc_info()))
    first, *rest = text.split("\n")
    assert first.endswith("failed on /x\\ny")
    assert rest and all(line.startswith(" ") for line in rest), rest
    assert not any(line.startswith("2030") for line in text.splitlines())
    assert "ValueError: bad" in text


def test_json_formatter_keeps_a_record_on_one_line():
    formatter = observability.JsonFormatter()
    for char in ("\r\n", "\x85", "\u2028", "\u2029", "\x7f", "\x1b"):
        line = formatter.format(record("GET /x%sy", char))
        assert len(line.splitlines()) == 1, repr(char)
        assert json.loads(line)["msg"] == f"GET /x{char}y"


# -- through the real server: chunked bodies and the access log -----------------------------


def raw(base: str, data: bytes) -> bytes:
    host, port = base.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
    assert match, answer[:200]
    return int(match.group(1))


def chunked(path: str, size_line: bytes, content_type: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode() + size_line + b"\r\n\r\n"


def _server_log(tmp_path) -> str:
    return "".join(p.read_text(errors="replace") for p in tmp_path.glob("server-*.log"))


def test_real_server_refuses_malformed_chunks_and_logs_one_line_a_request(tmp_path):
    env = {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": f"sqlite:///{tmp_path}/live.db",
           "PROMPTCORE_VAR_DIR": str(tmp_path), "PROMPTCORE_LLM": "offline", "PROMPTCORE_LOG_FORMAT": "text"}
    with live_server(env, workers=1, threads=4, cwd=str(tmp_path)) as base:
        for size in (b"0x0", b"-0", b"1_0", b"+1", b" 1", b"1 ", b"g"):
            for path, kind in (("/api/v1/auth/login", "application/json"),
                               ("/api/v1/auth/token", "application/x-www-form-urlencoded"),
                               ("/login", "application/x-www-form-urlencoded")):
                status = status_of(raw(base, chunked(path, size, kind)))
                assert 400 <= status < 500, (size, path, status)
        # a well-formed chunked body still reaches the application
        body = b'{"email": "x@example.com", "password": "y"}'
        ok = (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
              + f"{len(body):x}".encode() + b"\r\n" + body + b"\r\n0\r\n\r\n")
        assert status_of(raw(base, ok)) == 401

        forged = "2030-01-01%2000:00:00,000%20INFO%20promptcore.access%20[-]%20GET%20/admin%20200"
        answer = raw(base, f"GET /forge%0d%0a{forged} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                     .encode())
        assert status_of(answer) == 404
        wait_until(lambda: "GET /forge" in _server_log(tmp_path), what="the forged request's access line")
    log = _server_log(tmp_path)
    assert "Traceback" not in log and " 500" not in log, log[-3000:]
    lines = [line for line in log.splitlines() if "promptcore.access" in line]
    assert not any(line.startswith("2030-01-01") for line in log.splitlines()), lines
    assert any(line.endswith("GET /forge\\r\\n2030-01-01 00:00:00,000 INFO promptcore.access [-] GET /admin 200 404")
               for line in lines), lines
