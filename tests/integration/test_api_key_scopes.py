"""The scope matrix of SPEC §15.1: personal API keys against every operation of the API.

The operations come from the app itself (its url_map, checked against the OpenAPI document), so a
new route cannot be left out. For each one:

- an operation that declares no scope (account, API keys, billing, teams, administration, sign-in,
  and any route added without a line in entrypoints/api/scopes.py) refuses every key, even one with
  every scope, with 403 ``insufficient_scope``;
- an operation that declares scopes refuses a key lacking any of them with 403 ``insufficient_scope``
  and lets through a key holding exactly them (whatever the operation then answers: 404 for an id
  that names nothing, 422 for an empty body — never 401 or ``insufficient_scope``);
- the public catalogue reads neither check nor use a key: a forged one changes nothing.

The document says the same: ``x-api-key-scopes`` and the ``apiKey`` security requirement on exactly
the operations the table lists."""

from __future__ import annotations

import re

import pytest

from entrypoints.api.scopes import KEY_SCOPES, PUBLIC
from promptcore.domain.api_keys import SCOPES
from tests.conftest import build_test_app, make_settings
from tests.integration.team_support import API, signup

IGNORED_METHODS = {"HEAD", "OPTIONS"}
_PARAM = re.compile(r"<(?:[^:<>]+:)?(\w+)>")
FORGED = "pc_" + "A" * 43


def api_operations(app) -> set[tuple[str, str]]:
    """(method, path as the document writes it) of every API route, from the url_map."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API + "/") and not rule.endpoint.startswith("api-docs."):
            path = _PARAM.sub(r"{\1}", rule.rule)
            found |= {(method, path) for method in rule.methods - IGNORED_METHODS}
    return found


def documented_operations(document) -> dict[tuple[str, str], dict]:
    return {(method.upper(), path): operation for path, item in document["paths"].items()
            for method, operation in item.items() if method != "parameters"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    app, container = build_test_app(make_settings(tmp_path_factory.mktemp("scopes")))
    client = app.test_client()
    auth = signup(client, container, "matrix@example.com")
    needed_sets = {frozenset(s) for s in KEY_SCOPES.values()}
    single = {frozenset({s}) for s in SCOPES}
    keys = {}
    for scopes in needed_sets | single | {frozenset(SCOPES)}:
        r = client.post(f"{API}/api-keys", json={"name": " ".join(sorted(scopes)), "scopes": sorted(scopes)},
                        headers=auth)
        assert r.status_code == 201, r.json
        keys[scopes] = {"Authorization": f"Bearer {r.json['key']}"}
    document = client.get(f"{API}/openapi.json").json
    yield client, keys, document, api_operations(app)
    container.engine().dispose()


def _send(client, method: str, path: str, headers: dict):
    url = re.sub(r"\{\w+\}", "1", path)
    kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    response = client.open(url, method=method, headers=headers, **kwargs)
    response.get_data()  # a streamed answer (an export) is read to its end before the next request
    response.close()
    return response


def _refused(response) -> bool:
    return response.status_code == 403 and (response.json or {}).get("error") == "insufficient_scope"


def test_the_table_names_real_operations_and_the_document_shows_it(world):
    _client, _keys, document, operations = world
    assert len(operations) > 60, "no operations found: the enumeration is broken"
    documented = documented_operations(document)
    assert set(documented) == operations, "the url_map and the OpenAPI document disagree"
    assert not set(KEY_SCOPES) - operations, f"scopes for operations that do not exist: {set(KEY_SCOPES) - operations}"
    assert not PUBLIC - operations, f"public operations that do not exist: {PUBLIC - operations}"
    assert not PUBLIC & set(KEY_SCOPES)
    for operation, doc in documented.items():
        if operation in KEY_SCOPES:
            assert doc["x-api-key-scopes"] == sorted(KEY_SCOPES[operation]), operation
            assert {"apiKey": []} in doc["security"], operation
        else:
            assert "x-api-key-scopes" not in doc and {"apiKey": []} not in doc.get("security", []), operation
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_keys_never_reach_an_operation_without_a_declared_scope(world):
    client, keys, _document, operations = world
    every_scope = keys[frozenset(SCOPES)]
    undeclared = sorted(operations - set(KEY_SCOPES) - PUBLIC)
    for method, path in undeclared:
        r = _send(client, method, path, every_scope)
        assert _refused(r), (method, path, r.status_code, r.json)
    # account, keys, billing, teams, administration and sign-in are all among them
    for must in (("GET", f"{API}/profile"), ("DELETE", f"{API}/profile"), ("POST", f"{API}/api-keys"),
                 ("GET", f"{API}/api-keys"), ("DELETE", f"{API}/api-keys/{{key_id}}"), ("GET", f"{API}/billing"),
                 ("POST", f"{API}/billing/checkout"), ("POST", f"{API}/teams"), ("GET", f"{API}/admin/users"),
                 ("POST", f"{API}/auth/login"), ("POST", f"{API}/auth/logout"), ("POST", f"{API}/invitations/accept")):
        assert must in undeclared, must


def test_a_declared_operation_takes_exactly_its_scopes(world):
    client, keys, _document, _operations = world
    for (method, path), needed in sorted(KEY_SCOPES.items()):
        r = _send(client, method, path, keys[needed])
        assert r.status_code != 401 and not _refused(r), (method, path, sorted(needed), r.status_code, r.json)
        # every key that lacks one of them (single scopes, the other pairs) is refused
        for held, headers in keys.items():
            if not needed <= held:
                r = _send(client, method, path, headers)
                assert _refused(r), (method, path, sorted(held), r.status_code, r.json)


def test_public_reads_neither_check_nor_use_a_key(world):
    client, keys, _document, _operations = world
    for method, path in sorted(PUBLIC):
        anonymous = _send(client, method, path, {})
        for headers in ({"Authorization": f"Bearer {FORGED}"}, keys[frozenset({"prompts:read"})]):
            r = _send(client, method, path, headers)
            assert (r.status_code, r.get_data()) == (anonymous.status_code, anonymous.get_data()), (method, path)
