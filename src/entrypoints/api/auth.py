"""Bearer authentication for API views."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import g, request

from promptcore.domain.errors import Forbidden, Unauthenticated
from promptcore.domain.users import User

from ..deps import services

BEARER = [{"bearerAuth": []}, {"oauth2": []}]


def current_user() -> User:
    return g.api_user


def _authenticate() -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send an access token: Authorization: Bearer <token>.")
    return services().accounts().user_from_access_token(token.strip())


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.api_user = _authenticate()
        return view(*args, **kwargs)

    return wrapper


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = _authenticate()
        if not user.is_admin:
            raise Forbidden("Administrators only.")
        g.api_user = user
        return view(*args, **kwargs)

    return wrapper
