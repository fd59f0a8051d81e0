"""Who is signed in on the pages: the user id and a session version in Flask's signed cookie.

The version is derived from the password hash and the active flag, so changing the password or
deactivating the account ends every other browser session."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, g, redirect, request, session, url_for

from promptcore.domain.errors import Unauthenticated
from promptcore.domain.users import User

from ..deps import services

UID = "uid"
VERSION = "sv"


def session_version(user: User) -> str:
    return hashlib.sha256(f"{user.password_hash}|{user.is_active}".encode()).hexdigest()[:24]


def sign_in(user: User) -> None:
    session.clear()  # a fresh session on sign-in (no fixation)
    session[UID] = user.id
    session[VERSION] = session_version(user)
    session.permanent = True
    g.user = user


def sign_out() -> None:
    session.clear()
    g.user = None


def current_user() -> User | None:
    if "user" in g:
        return g.user
    user = None
    uid = session.get(UID)
    if isinstance(uid, int):
        try:
            user = services().accounts().get_profile(uid)
        except Unauthenticated:
            user = None
        if user is not None and session.get(VERSION) != session_version(user):
            user = None
        if user is None:
            session.clear()
    g.user = user
    return user


def refresh_user(user: User) -> None:
    """After a change to the signed-in user (settings, password), keep the session in step."""
    g.user = user
    g.pop("theme", None)
    session[VERSION] = session_version(user)


def safe_next(target: str | None, default: str = "/app") -> str:
    """Only local paths are followed after sign-in or a preference change."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def login_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def admin_required(view: Callable) -> Callable:
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        user = current_user()
        if user is None or not user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper
