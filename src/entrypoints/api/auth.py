"""Bearer authentication for API views: the request's Actor is built here, once."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import g, request

from promptcore.domain.access import Actor
from promptcore.domain.errors import Unauthenticated
from promptcore.domain.users import User

from ..actor import build_actor
from ..deps import services

BEARER = [{"bearerAuth": []}, {"oauth2": []}]


def current_user() -> User:
    return g.api_user


def current_actor() -> Actor:
    return g.actor


def _authenticate() -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send an access token: Authorization: Bearer <token>.")
    return services().accounts().user_from_access_token(token.strip())


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Authenticate the bearer token and build the Actor; what the actor may do is the core's
    access rule to decide (promptcore.domain.access), not the view's."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = _authenticate()
        g.api_user = user
        g.actor = build_actor(user)
        return view(*args, **kwargs)

    return wrapper
