"""Personal API keys (SPEC §15.1): make one (the key is in this answer only), list them, revoke one.

These operations manage the account: they take the access token from signing in, never a key (the
scope table, api/scopes.py, lists none of them, and the use case refuses scoped credentials too).
No answer carries a key's hash; the key itself is in the 201 of its creation and nowhere else.
"""

from __future__ import annotations

from datetime import timezone
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from promptcore.domain.api_keys import EXPIRY_MAX, MAX_ACTIVE_KEYS, NAME_MAX, SCOPES, ApiKey

from ..deps import services
from .auth import BEARER, current_actor, login_required
from .parsing import Blueprint
from .schemas import ID_CONVERTER, ErrorOut, StrictSchema, Text

__all__ = ["api_key_dict", "blp"]

blp = Blueprint("api_keys", __name__, url_prefix="/api/v1",
                description="Personal API keys: `Authorization: Bearer pc_...` within the key's scopes")

Scope = lambda **kw: Text(validate=validate.OneOf(SCOPES), **kw)  # noqa: E731


class ApiKeyIn(StrictSchema):
    name = Text(required=True, validate=validate.Length(min=1, max=NAME_MAX), metadata={
        "example": "Build server",
        "description": f"1-{NAME_MAX} characters, to tell the key from the others."})
    scopes = fields.List(Scope(), required=True, validate=validate.Length(min=1, max=len(SCOPES)), metadata={
        "example": ["prompts:read", "prompts:write"],
        "description": ("What the key may do: prompts:read (history, a record, stats, export), prompts:write "
                        "(improve and iterate, delete, import), templates:read (templates, versions, render, "
                        "quick templates, custom styles, library export), templates:write (create, change, "
                        "delete, copy, restore, library import).")})
    expires_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=timezone.utc, metadata={
        "example": "2026-12-31T23:59:59Z",
        "description": (f"When the key stops working: in the future and at most {EXPIRY_MAX.days} days ahead; "
                        "null or left out: it does not expire. Without an offset the time is UTC.")})


class ApiKeyOut(Schema):
    id = fields.Integer(required=True)
    name = Text(required=True)
    prefix = Text(required=True, metadata={"example": "pc_Xr4Tq9Lm",
                                           "description": "The key's first characters, to recognise it."})
    scopes = fields.List(Scope(), required=True)
    status = Text(required=True, validate=validate.OneOf(["active", "expired"]))
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(required=True, allow_none=True, metadata={
        "description": "Written at most once a minute, so it may lag by up to a minute."})
    expires_at = fields.DateTime(required=True, allow_none=True)


class ApiKeyCreatedOut(ApiKeyOut):
    key = Text(required=True, metadata={
        "example": "pc_Xr4Tq9Lm" + "0" * 35,
        "description": "The key itself, shown this once: only its hash is stored, so it cannot be shown again."})


def api_key_dict(key: ApiKey, now: Any) -> dict[str, Any]:
    """A key as the API and the page show it (never its hash)."""
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "scopes": key.sorted_scopes(),
            "status": "expired" if key.is_expired(now) else "active", "created_at": key.created_at,
            "last_used_at": key.last_used_at, "expires_at": key.expires_at}


def _now() -> Any:
    return services().clock().now()


@blp.route("/api-keys")
class ApiKeyCollection(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, ApiKeyOut(many=True))
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="insufficient_scope: an API key cannot list keys")
    def get(self):
        """Your keys that are not revoked, newest first (expired ones too, until you revoke them)."""
        now = _now()
        return [api_key_dict(key, now) for key in services().api_keys().list(current_actor())]

    @blp.doc(security=BEARER)
    @blp.arguments(ApiKeyIn)
    @blp.response(201, ApiKeyCreatedOut, headers={"Cache-Control": {"schema": {"type": "string"},
                                                                     "description": "no-store"}})
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description=(
        "email_not_confirmed; insufficient_scope: an API key cannot make keys"))
    @blp.alt_response(409, schema=ErrorOut, description=(
        f"limit_reached: you have {MAX_ACTIVE_KEYS} active keys (or 100 kept, expired ones included)"))
    @blp.alt_response(422, schema=ErrorOut)
    def post(self, data):
        """Make a key. The answer holds the key itself, this once: store it now. Send it as
        `Authorization: Bearer pc_...`."""
        made = services().api_keys().create(current_actor(), data["name"], data["scopes"], data.get("expires_at"))
        return {**api_key_dict(made.key, _now()), "key": made.secret}, {"Cache-Control": "no-store",
                                                                         "Pragma": "no-cache"}


@blp.route(f"/api-keys/<{ID_CONVERTER}:key_id>")
class ApiKeyItem(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(204)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="insufficient_scope: an API key cannot revoke keys")
    @blp.alt_response(404, schema=ErrorOut, description="not_found: not one of your keys, or already revoked")
    def delete(self, key_id):
        """Revoke one of your keys: it stops working at once."""
        services().api_keys().revoke(current_actor(), key_id)
