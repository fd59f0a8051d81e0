"""Per-IP rate limits (Flask-Limiter), stored where PROMPTCORE_RATELIMIT_STORAGE_URL says.

Both are keyed on ``client_address()`` (client.py): the socket's peer, or the address the
trusted reverse proxies saw (PROMPTCORE_TRUSTED_PROXIES), so clients behind one proxy do not
share a limit and no client can pick its own key.

Two scopes, shared by the API and the pages:
- ``signin``: every POST to a sign-in endpoint (API login, the OAuth2 token endpoint with
  either grant, the sign-in page) counts before the view runs, successful or not. Counting only
  failures, after the answer, let parallel guesses all reach the password check before the
  first one was counted; counted up front, at most the limit's worth of attempts from one
  address reach it per window, however many run at once. The per-account throttle in the
  core does the rest.
- ``mail``: every request to an endpoint that sends mail or consumes a mailed token counts,
  so one address cannot flood inboxes.
"""

from __future__ import annotations

from flask import current_app
from flask_limiter import Limiter

from .client import client_address

limiter = Limiter(key_func=client_address, default_limits=[], headers_enabled=True)


def signin_limit_value() -> str:
    return current_app.config["PROMPTCORE_AUTH_RATE_LIMIT"]


def mail_limit_value() -> str:
    return current_app.config["PROMPTCORE_MAIL_RATE_LIMIT"]


signin_limit = limiter.shared_limit(signin_limit_value, scope="signin", methods=["POST"])
mail_limit = limiter.shared_limit(mail_limit_value, scope="mail", methods=["POST"])
