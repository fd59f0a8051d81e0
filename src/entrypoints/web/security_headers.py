"""Security headers on every response (SPEC §11), and no caching of authenticated answers."""

from __future__ import annotations

from flask import Flask, Response, g

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    production = app.config.get("SESSION_COOKIE_SECURE", False)

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if g.get("api_user") is not None or g.get("user") is not None:
            # An answer for a bearer token (api/auth.py) or a signed-in page (web/session.py) is
            # that person's alone: neither the browser's cache nor a shared one may keep it.
            headers["Cache-Control"] = "no-store"
        return response
