"""Hypothesis properties on every request schema of the API (issue 6 item 1, SPEC §7 and §11).

For each JSON endpoint, its query-string endpoints and the RFC 6749 token form, bodies are drawn
field by field from a mix of plausible values and hostile ones: any Unicode (lone surrogates
included), control characters, NUL, bidi and zero-width marks, empty and huge strings, wrong
types, nulls, nested containers, unknown fields, and bodies that are not objects at all; plus raw
bytes under various media types. Every answer must be a 2xx, or a 4xx whose body has the
documented error shape ({code, status, error, message, errors?}; RFC 6749 form on /auth/token),
and never a 5xx.

Runs on a fresh PostgreSQL database (stricter than SQLite about text) with the OpenRouter stand-in
as upstream; each example gets a fresh bearer token of a restored administrator, so examples that
delete the account or change its password do not spoil the next ones.
PROMPTCORE_FUZZ_EXAMPLES raises the examples per endpoint (default 50) and PROMPTCORE_FUZZ_SEED
makes the run random-but-replayable (default: derandomized, the same examples every run).
"""

from __future__ import annotations

import json
import os
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from promptcore.domain.catalogue import STYLES
from tests.conftest import fresh_postgres_database
from tests.integration.fuzz_support import (
    EMAIL,
    MODELS,
    PASSWORD,
    fuzzed_app,
)

_SEED = os.environ.get("PROMPTCORE_FUZZ_SEED", "").strip()
EXAMPLES = int(os.environ.get("PROMPTCORE_FUZZ_EXAMPLES") or 50)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not _SEED,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def _seeded(test):
    return seed(int(_SEED))(test) if _SEED.isdigit() else test


# -- hostile values -------------------------------------------------------------------------------

SPECIAL_STRINGS = [
    "", " ", "\t\n", "\x00", "a\x00b", "\ud800", "\udfff", "x\ud83dy", "\u202eevil", "\u200b", "\ufeff",
    "\x1b[31m", "\x7f", "\r\n\r\n", "🙂" * 40, "Ω≈ç√∫", "Привет, мир", "{{placeholder}}", "%s%n%x",
    "' OR 1=1 --", "<script>alert(1)</script>", "null", "true", "0", "-1", "1e309", "NaN",
    "a" * 33, "a" * 201, "a" * 1001, "a" * 5001,
]
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)  # surrogates too
control_text = st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Cs"]), min_size=1, max_size=20)
huge_text = st.sampled_from([10_000, 100_001, 300_000]).map(lambda n: "x" * n)  # the last is past 256 KiB
hostile_text = st.one_of(st.sampled_from(SPECIAL_STRINGS), control_text, any_text, huge_text)
scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                   st.floats(allow_nan=False, allow_infinity=False),
                   hostile_text)


def _containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(any_text, inner, max_size=3))


hostile = st.recursive(scalar, _containers, max_leaves=6)


def field(*plausible: st.SearchStrategy) -> st.SearchStrategy:
    """Plausible values a third of the time, so hostile values in other fields reach deeper code;
    hostile text a third (the values that used to become 500s); any hostile JSON value a third."""
    return st.one_of(st.one_of(*plausible), hostile_text, hostile)


emails = field(st.sampled_from([EMAIL, "ada@example.com", "new-address@example.com"]), st.emails())
passwords = field(st.sampled_from([PASSWORD, "correct horse battery"]), st.text(min_size=12, max_size=40))
tokens = field(st.text(st.characters(codec="ascii"), min_size=1, max_size=200))
styles = field(st.sampled_from([s.slug for s in STYLES]))
settings_objects = st.fixed_dictionaries({}, optional={
    "language": field(st.sampled_from(["en", "ru", None])),
    "theme": field(st.sampled_from(["system", "light", "dark"])),
    "default_style": field(styles, st.none()),
    "preferred_model": field(st.sampled_from(MODELS), st.none()),
    "notify_limit": field(st.booleans()),
    "extra": hostile,
})


def body(required: dict[str, st.SearchStrategy], optional: dict[str, st.SearchStrategy] | None = None):
    """Objects with the schema's fields (any of them missing sometimes, unknown ones sometimes) or
    no object at all."""
    fields = {**required, **(optional or {})}
    objects = st.fixed_dictionaries({}, optional={**fields, "unexpected": hostile})
    complete = st.fixed_dictionaries(required, optional={**(optional or {})})
    return st.one_of(complete, objects, hostile)


JSON_ENDPOINTS: dict[tuple[str, str], st.SearchStrategy] = {
    ("POST", "/api/v1/auth/register"): body({"email": emails, "password": passwords},
                                            {"name": field(st.text(max_size=100))}),
    ("POST", "/api/v1/auth/confirm-email"): body({"token": tokens}),
    ("POST", "/api/v1/auth/confirm-email-change"): body({"token": tokens}),
    ("POST", "/api/v1/auth/resend-confirmation"): body({"email": emails}),
    ("POST", "/api/v1/auth/login"): body({"email": emails, "password": passwords}),
    ("POST", "/api/v1/auth/refresh-token"): body({"refresh_token": tokens}),
    ("POST", "/api/v1/auth/logout"): body({"refresh_token": tokens}),
    ("POST", "/api/v1/auth/forgot-password"): body({"email": emails}),
    ("POST", "/api/v1/auth/reset-password"): body({"token": tokens, "password": passwords}),
    ("PATCH", "/api/v1/profile"): body({}, {"name": field(st.text(max_size=100), st.none()),
                                            "settings": field(settings_objects)}),
    ("POST", "/api/v1/profile/password"): body({"current_password": passwords, "new_password": passwords}),
    ("POST", "/api/v1/profile/email"): body({"new_email": emails, "password": passwords}),
    ("DELETE", "/api/v1/profile"): body({"password": passwords}),
    ("POST", "/api/v1/prompts"): body({"style": styles}, {
        "prompt": field(st.text(min_size=1, max_size=300)),
        "model": field(st.sampled_from([None, *MODELS])),
        "parent_id": field(st.sampled_from([None, 1, 2, 3]), st.integers(-(2**64), 2**64)),
        "feedback": field(st.none(), st.text(max_size=200)),
    }),
    ("PATCH", "/api/v1/admin/users/{id}"): body({}, {
        "daily_limit": field(st.integers(0, 100_000), st.none()),
        "role": field(st.sampled_from(["user", "admin"])),
        "is_active": field(st.booleans()),
    }),
    ("POST", "/api/v1/billing/checkout"): body({"plan": field(st.sampled_from(["pro", "free", "team", "nope"]))},
                                                {"renew": field(st.booleans())}),
    ("PUT", "/api/v1/billing/renewal"): body({"enabled": field(st.booleans())}),
    ("POST", "/api/v1/admin/payments/{id}/refund"): body({}, {
        "amount": field(st.sampled_from(["490.00", "0.01", "100", "0", "-1", "1e3", "490.001"]), st.none())}),
    ("POST", "/api/v1/billing/yookassa/webhook"): body({"type": field(st.just("notification")),
                                                        "event": field(st.sampled_from(["payment.succeeded"])),
                                                        "object": field(st.fixed_dictionaries({"id": tokens}))}),
}
JSON_ENDPOINTS[("POST", "/api/v1/generate-prompt")] = JSON_ENDPOINTS[("POST", "/api/v1/prompts")]

query_text = field(st.text(max_size=40))
QUERY_ENDPOINTS: dict[str, dict[str, st.SearchStrategy]] = {
    "/api/v1/prompts": {"limit": field(st.integers(-5, 200)), "cursor": query_text, "style": field(styles),
                        "q": query_text},
    "/api/v1/history": {"limit": field(st.integers(-5, 200)), "cursor": query_text, "q": query_text},
    "/api/v1/admin/users": {"q": query_text, "cursor": query_text},
    "/api/v1/admin/payments": {"q": query_text, "cursor": query_text},
    "/api/v1/prompts/export": {"format": field(st.sampled_from(["csv", "json"]))},
}
ADMIN_TARGETS = st.sampled_from([1, 2, 3, 10**6, 2**63 - 1])


# -- the property ---------------------------------------------------------------------------------


def assert_documented(response, what: str) -> None:
    status = response.status_code
    text = response.get_data(as_text=True)
    assert status < 500, f"{what}: {status} {text[:500]}"
    if status < 400:
        assert 200 <= status < 300, f"{what}: {status}"
        return
    assert response.mimetype == "application/json", f"{what}: {status} {response.mimetype}"
    error = response.get_json()
    assert isinstance(error, dict), f"{what}: {text[:300]}"
    if what.endswith("/auth/token") and set(error) <= {"error", "error_description"}:
        assert error["error"] and isinstance(error.get("error_description", ""), str), error  # RFC 6749 §5.2
        return
    assert {"code", "status", "error", "message"} <= set(error) <= {"code", "status", "error", "message",
                                                                    "errors", "quota"}, f"{what}: {error}"
    assert error["code"] == status and error["status"] == HTTPStatus(status).phrase, f"{what}: {error}"
    assert isinstance(error["error"], str) and error["error"].replace("_", "").isalpha(), f"{what}: {error}"
    assert isinstance(error["message"], str) and error["message"].strip(), f"{what}: {error}"
    if "errors" in error:
        errors = error["errors"]
        assert isinstance(errors, dict) and errors, f"{what}: {error}"
        for messages in errors.values():
            assert isinstance(messages, list) and messages and all(isinstance(m, str) and m for m in messages), error


def encode(value: Any) -> str:
    # Lone surrogates travel as "\ud800" escapes, which is how a hostile JSON client sends them.
    return json.dumps(value, ensure_ascii=True)


@pytest.fixture(scope="module")
def api(tmp_path_factory, postgres_server_url):
    with fresh_postgres_database(postgres_server_url, "promptcore_props") as url, \
            fuzzed_app(tmp_path_factory.mktemp("props"), url) as env:
        client = env.app.test_client()
        for i in range(3):  # records 1..3 exist, so parent_id and iteration are reachable
            r = client.post("/api/v1/prompts", headers=env.fresh_headers(),
                            json={"prompt": f"seed prompt {i}", "style": "general"})
            assert r.status_code == 201, r.json
        yield env


@pytest.mark.parametrize(("method", "path"), list(JSON_ENDPOINTS), ids=lambda v: v)
@_seeded
@SETTINGS
@given(data=st.data())
def test_json_body_gets_2xx_or_documented_4xx(api, method, path, data):
    payload = data.draw(JSON_ENDPOINTS[(method, path)], label="body")
    url = path.replace("{id}", str(data.draw(ADMIN_TARGETS, label="id")))
    r = api.app.test_client().open(url, method=method, data=encode(payload), headers=api.fresh_headers(),
                                   content_type="application/json")
    assert_documented(r, f"{method} {path}")


@pytest.mark.parametrize("path", list(QUERY_ENDPOINTS))
@_seeded
@SETTINGS
@given(data=st.data())
def test_query_string_gets_2xx_or_documented_4xx(api, path, data):
    params = data.draw(st.fixed_dictionaries({}, optional={**QUERY_ENDPOINTS[path], "unexpected": query_text}))
    # A query string carries text: hostile non-strings go as their JSON text, lists as repeats, and
    # surrogates as the invalid UTF-8 bytes a hostile client would percent-encode.
    query = "&".join(
        f"{quote(k)}={quote((v if isinstance(v, str) else encode(v)).encode('utf-8', 'surrogatepass'))}"
        for k, value in params.items() for v in (value if isinstance(value, list) else [value]))
    r = api.app.test_client().get(path, query_string=query, headers=api.fresh_headers())
    assert_documented(r, f"GET {path}")


token_form_value = field(st.sampled_from(["password", "refresh_token", EMAIL, PASSWORD]), st.text(max_size=40))


@_seeded
@SETTINGS
@given(form=st.fixed_dictionaries({}, optional={
    "grant_type": token_form_value, "username": token_form_value, "password": token_form_value,
    "refresh_token": token_form_value, "scope": token_form_value, "unexpected": token_form_value}))
def test_token_form_gets_2xx_or_documented_4xx(api, form):
    fields = {k: v if isinstance(v, str) else encode(v) for k, v in form.items()}
    # Form values are text; surrogates cannot be encoded, so they go as their escaped JSON text.
    fields = {k: v.encode("utf-8", "backslashreplace").decode("utf-8") for k, v in fields.items()}
    r = api.app.test_client().post("/api/v1/auth/token", data=fields)
    assert_documented(r, "POST /api/v1/auth/token")


RAW_TARGETS = [("POST", "/api/v1/auth/register"), ("POST", "/api/v1/auth/login"), ("PATCH", "/api/v1/profile"),
               ("POST", "/api/v1/prompts"), ("PATCH", "/api/v1/admin/users/1"), ("POST", "/api/v1/auth/token")]
MEDIA_TYPES = [None, "application/json", "application/json; charset=latin-1", "text/plain",
               "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"]


@_seeded
@SETTINGS
@given(target=st.sampled_from(RAW_TARGETS), media_type=st.sampled_from(MEDIA_TYPES),
       raw=st.one_of(st.binary(max_size=200), st.sampled_from([b"", b"{", b"{}", b"[]", b"null", b"\xff\xfe{}",
                                                               b'{"email": "\xc3\x28"}', b"\x00" * 10,
                                                               b'{"style": "general", "prompt": 1e999}'])))
def test_raw_bytes_get_2xx_or_documented_4xx(api, target, media_type, raw):
    method, path = target
    headers = {**api.fresh_headers(), **({"Content-Type": media_type} if media_type else {})}
    r = api.app.test_client().open(path, method=method, data=raw, headers=headers)
    assert_documented(r, f"{method} {path}")


# -- regressions: what the fuzzers found (each was a 5xx or a contradiction of the document) ------


def test_the_documented_error_schema_is_the_error_body(api):
    spec = api.app.test_client().get("/api/v1/openapi.json").json
    default = spec["components"]["responses"]["DEFAULT_ERROR"]["content"]["application/json"]["schema"]
    unprocessable = spec["components"]["responses"]["UNPROCESSABLE_ENTITY"]["content"]["application/json"]["schema"]
    assert default == unprocessable == {"$ref": "#/components/schemas/ErrorOut"}
    error = spec["components"]["schemas"]["ErrorOut"]
    assert set(error["required"]) == {"code", "status", "error", "message"}
    r = api.app.test_client().post("/api/v1/auth/login", json={})
    assert r.status_code == 422 and set(r.json) <= set(error["properties"])


@pytest.mark.parametrize(("method", "path", "payload", "field"), [
    ("PATCH", "/api/v1/profile", {"name": "a\ud800b"}, "name"),
    ("PATCH", "/api/v1/profile", {"name": "a\x00b"}, "name"),
    ("POST", "/api/v1/auth/login", {"email": "x\ud800@example.com", "password": "p" * 12}, "email"),
    ("POST", "/api/v1/auth/register", {"email": "a@example.com", "password": "long enough \ud800"}, "password"),
    ("POST", "/api/v1/auth/logout", {"refresh_token": "\udfff"}, "refresh_token"),
    ("POST", "/api/v1/prompts", {"style": "general", "prompt": "hi \ud83d"}, "prompt"),
    ("POST", "/api/v1/profile/email", {"new_email": "b@example.com", "password": "\x00"}, "password"),
])
def test_nul_and_lone_surrogates_are_422_not_500(api, method, path, payload, field):
    r = api.app.test_client().open(path, method=method, data=encode(payload), content_type="application/json",
                                   headers=api.fresh_headers())
    assert r.status_code == 422, r.json
    assert r.json["error"] == "validation_error" and field in r.json["errors"], r.json


@pytest.mark.parametrize("query", ["q=%00", "style=%00", "cursor=%00", "q=a%00b"])
@pytest.mark.parametrize("path", ["/api/v1/prompts", "/api/v1/history", "/api/v1/admin/users"])
def test_nul_in_a_query_string_is_422_not_500(api, path, query):
    if path == "/api/v1/admin/users" and query.startswith("style"):
        query = "q=%00%00"
    r = api.app.test_client().get(f"{path}?{query}", headers=api.fresh_headers())
    assert r.status_code == 422 and r.json["error"] == "validation_error", r.json


def test_nul_in_the_token_form_is_an_rfc_6749_error(api):
    r = api.app.test_client().post("/api/v1/auth/token", data={"grant_type": "password", "username": "a\x00@b.co",
                                                               "password": "whatever"})
    assert r.status_code == 400 and r.json["error"] == "invalid_request", r.json
    assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/api/v1/prompts/{}", "/api/v1/admin/users/{}"])
@pytest.mark.parametrize("ident", [0, 2**63, 10**30])
def test_ids_no_row_can_have_are_404_not_500(api, path, ident):
    method = "PATCH" if "admin" in path else "GET"
    r = api.app.test_client().open(path.format(ident), method=method, json={}, headers=api.fresh_headers())
    assert r.status_code == 404 and r.json["error"] == "not_found", r.json
    spec = api.app.test_client().get("/api/v1/openapi.json").json
    template = path.replace("{}", "{record_id}" if "prompts" in path else "{user_id}")
    (param,) = spec["paths"][template]["parameters"]
    assert param["schema"]["minimum"] == 1 and param["schema"]["maximum"] == 2**63 - 1


@pytest.mark.parametrize(("method", "path"), [("PATCH", "/api/v1/profile"), ("PATCH", "/api/v1/admin/users/1"),
                                              ("POST", "/api/v1/auth/login")])
def test_a_missing_or_non_json_body_is_refused(api, method, path):
    client = api.app.test_client()
    r = client.open(path, method=method, headers=api.fresh_headers())
    assert r.status_code == 400 and r.json["error"] == "bad_request" and "JSON" in r.json["message"], r.json
    r = client.open(path, method=method, data='{"name": "Ada"}', content_type="text/plain", headers=api.fresh_headers())
    assert r.status_code == 415 and r.json["error"] == "unsupported_media_type", r.json
    r = client.open(path, method=method, data="{", content_type="application/json", headers=api.fresh_headers())
    assert r.status_code == 400 and r.json["message"] == "Invalid JSON body.", r.json


def test_the_documented_feedback_limit_is_the_enforced_one(api):
    from promptcore.domain.prompts import FEEDBACK_MAX

    spec = api.app.test_client().get("/api/v1/openapi.json").json
    assert spec["components"]["schemas"]["PromptIn"]["properties"]["feedback"]["maxLength"] == FEEDBACK_MAX
    r = api.app.test_client().post("/api/v1/prompts", headers=api.fresh_headers(),
                                   json={"style": "general", "parent_id": 1, "feedback": "x" * (FEEDBACK_MAX + 1)})
    assert r.status_code == 422 and "feedback" in r.json["errors"]
