"""Who is signed in on the pages: the user id, the account's session generation and the time of
sign-in, in Flask's signed cookie.

The account's generation moves on sign-out, password change or reset and deactivation, so a copy
of the cookie saved before any of them opens nothing afterwards; a session also ends
SESSION_MAX_AGE after sign-in however active it is (the cookie's own lifetime is the same)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import g, redirect, request, session, url_for

from promptcore.domain.access import Actor
from promptcore.domain.users import User

from ..actor import build_actor
from ..deps import services

UID = "uid"
GENERATION = "gen"
SIGNED_IN_AT = "at"


def sign_in(user: User) -> None:
    session.clear()  # a fresh session on sign-in (no fixation)
    session[UID] = user.id
    session[GENERATION] = user.session_generation
    session[SIGNED_IN_AT] = int(services().clock().now().timestamp())
    session.permanent = True
    g.user = user


def sign_out() -> None:
    """End this browser's session and, through the account's generation, every saved copy of it."""
    uid = session.get(UID)
    session.clear()
    g.user = None
    if isinstance(uid, int) and not isinstance(uid, bool):
        services().accounts().end_sessions(Actor(uid))


def forget_session() -> None:
    """Drop this browser's session cookie only (the account is gone or the session already ended)."""
    session.clear()
    g.user = None


def current_user() -> User | None:
    if "user" in g:
        return g.user
    user = None
    uid = session.get(UID)
    if isinstance(uid, int) and not isinstance(uid, bool):
        user = services().accounts().user_for_session(uid, session.get(GENERATION), session.get(SIGNED_IN_AT))
    if user is None and UID in session:
        session.clear()
    g.user = user
    return user


def current_actor() -> Actor | None:
    """The Actor of this request, built once from the signed-in user."""
    if "actor" not in g:
        user = current_user()
        g.actor = build_actor(user) if user is not None else None
    return g.actor


def refresh_user(user: User) -> None:
    """After a change to the signed-in user (settings, password), keep the session in step."""
    g.user = user
    g.pop("theme", None)
    g.pop("actor", None)
    session[GENERATION] = user.session_generation


# C0 controls, DEL and C1 controls: CR/LF would split the Location header (werkzeug refuses
# to send it: a 500), and none of them belongs in a path a page links to.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def safe_next(target: str | None, default: str = "/app") -> str:
    """Only local paths are followed after sign-in or a preference change."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if _CONTROL.search(target):
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
