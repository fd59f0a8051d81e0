"""Server-rendered pages, health probes, API docs and security headers."""

from __future__ import annotations

from flask import Flask


def register_web(app: Flask) -> None:
    from . import docs, probes, security_headers, views

    security_headers.init_app(app)
    app.register_blueprint(probes.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(views.bp)
