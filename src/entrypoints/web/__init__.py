"""Server-rendered pages, health probes, API docs and security headers."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def register_web(app: Flask) -> None:
    from . import (  # noqa: F401 - they add routes to views.bp
        account,
        admin_pages,
        auth_pages,
        docs,
        generator,
        i18n,
        probes,
        security_headers,
        views,
    )

    security_headers.init_app(app)
    i18n.init_app(app)
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(days=14))
    # CSRF on every page form; the API under /api/ authenticates with bearer tokens instead,
    # so the check is made here, by path, and covers API blueprints added at any time.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    csrf.init_app(app)

    @app.before_request
    def _csrf_on_pages():
        if request.method in UNSAFE_METHODS and not request.path.startswith("/api/"):
            csrf.protect()

    app.register_blueprint(probes.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(views.bp)
