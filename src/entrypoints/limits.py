"""Per-IP rate limits (Flask-Limiter), stored where PROMPTCORE_RATELIMIT_STORAGE_URL says.

Two scopes, shared by the API and the pages:
- ``signin``: sign-in attempts that fail (status 400 and up) count, so guessing from one address
  is slowed while people who sign in successfully are never held back; the per-account
  throttle in the core does the rest.
- ``mail``: every request to an endpoint that sends mail or consumes a mailed token counts,
  so one address cannot flood inboxes.
"""

from __future__ import annotations

from flask import Response, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def signin_limit_value() -> str:
    return current_app.config["PROMPTCORE_AUTH_RATE_LIMIT"]


def mail_limit_value() -> str:
    return current_app.config["PROMPTCORE_MAIL_RATE_LIMIT"]


def _failed(response: Response) -> bool:
    return response.status_code >= 400


signin_limit = limiter.shared_limit(signin_limit_value, scope="signin", methods=["POST"], deduct_when=_failed)
mail_limit = limiter.shared_limit(mail_limit_value, scope="mail", methods=["POST"])
