"""Swagger UI at /api/docs, served from the vendored swagger-ui-bundle (no CDN, no inline script)."""

from __future__ import annotations

from importlib import metadata

import swagger_ui_bundle
from flask import Blueprint, render_template, send_from_directory

bp = Blueprint("docs", __name__)
SWAGGER_DIR = swagger_ui_bundle.swagger_ui_path
ALLOWED = {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
           "favicon-32x32.png", "favicon-16x16.png", "oauth2-redirect.html"}


@bp.get("/api/docs")
@bp.get("/api/docs/")
def swagger_ui():
    return render_template("swagger.html")


@bp.get("/api/docs/vendor/<path:name>")
def swagger_asset(name: str):
    if name not in ALLOWED:
        return ("Not found", 404)
    response = send_from_directory(SWAGGER_DIR, name, max_age=86400)
    return response


@bp.get("/api/docs/LICENSE")
def swagger_licence():
    text = metadata.distribution("swagger-ui-bundle").read_text("LICENSE") or "Apache-2.0"
    return text, 200, {"Content-Type": "text/plain; charset=utf-8"}
