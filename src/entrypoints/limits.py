"""Per-IP rate limits (Flask-Limiter), stored where PROMPTCORE_RATELIMIT_STORAGE_URL says."""

from __future__ import annotations

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def _auth_limit_value() -> str:
    return current_app.config["PROMPTCORE_AUTH_RATE_LIMIT"]


# Applied to endpoints that accept credentials or send mail.
auth_limit = limiter.shared_limit(_auth_limit_value, scope="auth")
