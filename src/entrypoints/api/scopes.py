"""Where a personal API key works (SPEC §15.1): one table, closed by default.

An API operation is its method and its path as the OpenAPI document writes it. An operation in
``KEY_SCOPES`` accepts a key that holds every scope listed for it (and a session's access token, as
always). An operation in ``PUBLIC`` needs no credential and reads none, so a key sent there is
neither checked nor used. Every other operation refuses a key with 403 ``insufficient_scope``,
whatever its scopes: the account, API keys, billing, teams, administration and sign-in. A route
added later is therefore closed to keys until it is listed here;
tests/integration/test_api_key_scopes.py sends keys to every operation of the document and holds
this table to the routes.

The OpenAPI document shows the table too: ``ApiKeyScopesPlugin`` adds the ``apiKey`` security
scheme and ``x-api-key-scopes`` to every operation listed here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from apispec import BasePlugin
from flask import request

from promptcore.domain.access import Actor, require_scope
from promptcore.domain.api_keys import PROMPTS_READ, PROMPTS_WRITE, TEMPLATES_READ, TEMPLATES_WRITE
from promptcore.domain.errors import InsufficientScope

__all__ = ["KEY_SCOPES", "NO_KEYS", "PUBLIC", "ApiKeyScopesPlugin", "current_operation", "operation_path",
           "require_operation_scopes"]

API = "/api/v1"
NO_KEYS = "API keys cannot be used for this operation; use an access token from signing in instead."

_PR, _PW = frozenset({PROMPTS_READ}), frozenset({PROMPTS_WRITE})
_TR, _TW = frozenset({TEMPLATES_READ}), frozenset({TEMPLATES_WRITE})

KEY_SCOPES: dict[tuple[str, str], frozenset[str]] = {
    # prompts: improve and iterate, history, stats, export and import of history, Try it
    ("POST", f"{API}/prompts"): _PW,
    ("POST", f"{API}/generate-prompt"): _PW,
    ("GET", f"{API}/prompts"): _PR,
    ("GET", f"{API}/history"): _PR,
    ("GET", f"{API}/prompts/{{record_id}}"): _PR,
    ("DELETE", f"{API}/prompts/{{record_id}}"): _PW,
    ("GET", f"{API}/prompts/export"): _PR,
    ("POST", f"{API}/prompts/import"): _PW,
    ("GET", f"{API}/stats"): _PR,
    ("POST", f"{API}/prompts/{{record_id}}/compare"): _PW,
    # templates, their versions, quick templates, library export and import
    ("GET", f"{API}/templates"): _TR,
    ("POST", f"{API}/templates"): _TW,
    ("GET", f"{API}/templates/tags"): _TR,
    ("GET", f"{API}/templates/{{template_id}}"): _TR,
    ("PATCH", f"{API}/templates/{{template_id}}"): _TW,
    ("DELETE", f"{API}/templates/{{template_id}}"): _TW,
    ("GET", f"{API}/templates/{{template_id}}/versions"): _TR,
    ("GET", f"{API}/templates/{{template_id}}/versions/{{number}}"): _TR,
    ("GET", f"{API}/templates/{{template_id}}/diff"): _TR,
    ("POST", f"{API}/templates/{{template_id}}/restore"): _TW,
    ("POST", f"{API}/templates/{{template_id}}/render"): _TR,
    # improving a template is a generation: it spends a unit and lands in the history
    ("POST", f"{API}/templates/{{template_id}}/improve"): _TR | _PW,
    ("POST", f"{API}/templates/{{template_id}}/copy"): _TW,
    # a template made from a history record reads the record
    ("POST", f"{API}/templates/from-record"): _TW | _PR,
    ("GET", f"{API}/quick-templates"): _TR,
    ("GET", f"{API}/templates/export"): _TR,
    ("POST", f"{API}/templates/import"): _TW,
    # custom styles
    ("GET", f"{API}/custom-styles"): _TR,
    ("POST", f"{API}/custom-styles"): _TW,
    ("GET", f"{API}/custom-styles/{{style_id}}"): _TR,
    ("PATCH", f"{API}/custom-styles/{{style_id}}"): _TW,
    ("DELETE", f"{API}/custom-styles/{{style_id}}"): _TW,
}

# Public catalogue reads: no credential needed, none read.
PUBLIC: frozenset[tuple[str, str]] = frozenset({
    ("GET", f"{API}/styles"),
    ("GET", f"{API}/models"),
    ("GET", f"{API}/plans"),
    ("GET", f"{API}/schemas/library-export.json"),
})

_PARAM = re.compile(r"<(?:[^:<>]+:)?(\w+)>")


@lru_cache(maxsize=512)
def operation_path(rule: str) -> str:
    """A Flask rule (``/api/v1/prompts/<int(min=1):record_id>``) as the document writes its path
    (``/api/v1/prompts/{record_id}``)."""
    return _PARAM.sub(r"{\1}", rule)


def current_operation() -> tuple[str, str] | None:
    """The API operation this request reached (method, path), or None outside the API's
    operations (no route matched, the OpenAPI document itself, a CORS preflight)."""
    rule = request.url_rule
    if rule is None or request.method == "OPTIONS" or not rule.rule.startswith(API + "/"):
        return None
    if (request.endpoint or "").startswith("api-docs."):
        return None
    method = "GET" if request.method == "HEAD" else request.method
    return method, operation_path(rule.rule)


def require_operation_scopes(actor: Actor, operation: tuple[str, str] | None) -> None:
    """For a scoped actor (an API key): InsufficientScope unless the operation is listed and the
    key holds every scope listed for it. A session's or access token's actor passes."""
    if actor.scopes is None:
        return
    needed = KEY_SCOPES.get(operation) if operation is not None else None
    if not needed:
        raise InsufficientScope(NO_KEYS)
    for scope in sorted(needed):
        require_scope(actor, scope)


class ApiKeyScopesPlugin(BasePlugin):
    """Marks the operations a key may call in the OpenAPI document: the ``apiKey`` scheme among
    their security requirements and the scopes it needs as ``x-api-key-scopes``."""

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **kwargs: Any) -> None:
        for method, operation in (operations or {}).items():
            needed = KEY_SCOPES.get((method.upper(), path or ""))
            if not needed or not isinstance(operation, dict):
                continue
            operation["security"] = [*operation.get("security", []), {"apiKey": []}]
            operation["x-api-key-scopes"] = sorted(needed)
