"""Bearer authentication for API views: the request's Actor is built here, once.

``Authorization: Bearer`` carries either an access token (from signing in) or a personal API key
(``pc_...``, SPEC §15.1). A key acts within its scopes and only on the operations the scope table
lists (api/scopes.py): ``init_app`` checks a key before any view runs, on every API operation but
the public catalogue reads, so a key on an operation that declares no scope is refused with 403
``insufficient_scope`` whether or not the operation signs anyone in; a key that is malformed,
unknown, revoked or expired is 401.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import Flask, g, request

from promptcore.domain.access import Actor
from promptcore.domain.api_keys import is_key_like
from promptcore.domain.errors import Unauthenticated
from promptcore.domain.users import User

from ..actor import build_actor, unchecked_actor
from ..deps import services
from .scopes import PUBLIC, current_operation, require_operation_scopes

BEARER = [{"bearerAuth": []}, {"oauth2": []}]


def current_user() -> User:
    return g.api_user


def current_actor() -> Actor:
    return g.actor


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _key_credential(raw: str) -> tuple[User, Actor]:
    """The user and Actor of an API key, allowed on this operation (at most once per request)."""
    if "api_key_credential" not in g:
        user, actor = services().api_keys().authenticate(raw)
        require_operation_scopes(actor, current_operation())
        g.api_key_credential = (user, actor)
    return g.api_key_credential


def _authenticate() -> tuple[User, Actor]:
    token = _bearer_token()
    if token is None:
        raise Unauthenticated("Send an access token or an API key: Authorization: Bearer <token>.")
    if is_key_like(token):
        return _key_credential(token)
    user = services().accounts().user_from_access_token(token)
    return user, build_actor(user)


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Authenticate the bearer token (or API key) and build the Actor; what the actor may do is
    the core's access rule to decide (promptcore.domain.access), not the view's."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.api_user, g.actor = _authenticate()
        return view(*args, **kwargs)

    return wrapper


def login_checked_by_reservation(view: Callable[..., Any]) -> Callable[..., Any]:
    """``login_required`` for the generation views, one database read the less where the
    reservation checks the access token in its own statement (Prompts.checks_tokens_when_reserving):
    the token's signature, audience and lifetime are checked here, the account behind it (active,
    same session generation) under the account's row lock when the unit is reserved. Any answer
    that the reservation did not precede — a 4xx for the body, a style or a team, a failure after
    it — is given only after the usual check, so a token the account no longer accepts gets its
    401 whatever else is wrong with the request. API keys and other databases take
    ``login_required``."""
    checked = login_required(view)

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _bearer_token()
        if token is None or is_key_like(token) or not services().prompts().checks_tokens_when_reserving:
            return checked(*args, **kwargs)
        user_id, unchecked = services().accounts().unchecked_token(token)
        g.actor = unchecked_actor(user_id, unchecked)
        try:
            return view(*args, **kwargs)
        except Exception:
            g.api_user, g.actor = _authenticate()  # Unauthenticated for a token no longer accepted
            raise

    return wrapper


def init_app(app: Flask) -> None:
    """Check an API key before any view, on every API operation that is not public: signed-in or
    not, an operation that declares no scope never runs for a key."""

    @app.before_request
    def _api_keys_only_where_declared() -> None:
        token = _bearer_token()
        if token is None or not is_key_like(token):
            return
        operation = current_operation()
        if operation is None or operation in PUBLIC:
            return
        _key_credential(token)
