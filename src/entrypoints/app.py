"""The Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from promptcore.domain.errors import PromptcoreError

from .api import errors as api_errors
from .client import trust_proxies
from .config import Settings, load_dotenv_file, load_settings
from .container import Container, build_container
from .ids import BoundedIntConverter
from .limits import limiter

log = logging.getLogger("promptcore")

MAX_BODY_BYTES = 256 * 1024


class PromptcoreApi(Api):
    """flask-smorest's Api with errors in the shape of SPEC §7."""

    # The document's DEFAULT_ERROR and UNPROCESSABLE_ENTITY responses describe the body the error
    # table really sends ({code, status, error, message, errors?}), not flask-smorest's own shape.
    ERROR_SCHEMA = api_errors.ErrorOut

    def handle_http_exception(self, error: HTTPException):  # type: ignore[override]
        return api_errors.http_error_response(error)


def _is_api_request() -> bool:
    return request.path.startswith("/api/")


def create_app(container: Container | None = None, settings: Settings | None = None) -> Flask:
    if container is None:
        if settings is None:
            load_dotenv_file()
            settings = load_settings()
        container = build_container(settings)
    settings = container.settings()

    app = Flask(__name__, static_folder="web/static", template_folder="web/templates")
    # JSON answers carry text as UTF-8 (application/json is UTF-8), not \uXXXX escapes: two bytes
    # for a Cyrillic letter instead of six, and readable as it is (issue 15). SSE does the same.
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    # PROMPTCORE_TRUSTED_PROXIES hops of X-Forwarded-For name the client (see client.py).
    app.wsgi_app = trust_proxies(app.wsgi_app, settings.trusted_proxies)  # type: ignore[method-assign]
    # Before any route is added: every <int:...> segment is a 64-bit value in ASCII digits.
    app.url_map.converters["int"] = BoundedIntConverter
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        SESSION_COOKIE_NAME="promptcore_session",
        API_TITLE="promptcore API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="v1/openapi.json",
        API_SPEC_OPTIONS={
            "info": {
                "description": (
                    "Turns a rough prompt into a better prompt for large language models. "
                    "Sign in with POST /api/v1/auth/token (OAuth2 password grant, first-party only) "
                    "or POST /api/v1/auth/login, then send `Authorization: Bearer <access_token>`."
                )
            },
            "servers": [{"url": "/"}],
        },
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_url,
        PROMPTCORE_AUTH_RATE_LIMIT=settings.auth_rate_limit,
        PROMPTCORE_MAIL_RATE_LIMIT=settings.mail_rate_limit,
    )
    app.extensions["promptcore"] = container

    from .api.scopes import ApiKeyScopesPlugin

    api = PromptcoreApi(app, spec_kwargs={"extra_plugins": [ApiKeyScopesPlugin()]})
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    api.spec.components.security_scheme(
        "oauth2", {"type": "oauth2", "flows": {"password": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}}})
    api.spec.components.security_scheme("apiKey", {
        "type": "http", "scheme": "bearer", "bearerFormat": "pc_ personal API key",
        "description": ("A personal API key (made on /account/api-keys or with POST /api/v1/api-keys): "
                        "`Authorization: Bearer pc_...`. It works only on the operations that list it, "
                        "within the scopes they name in `x-api-key-scopes`; elsewhere 403 insufficient_scope.")})
    from .api import register_api
    from .api.auth import init_app as init_api_auth

    register_api(api)
    init_api_auth(app)
    limiter.init_app(app)

    from .web import register_web

    register_web(app)
    from .observability import init_request_tracking, init_sentry, metrics_bp

    init_request_tracking(app)
    app.register_blueprint(metrics_bp)
    init_sentry(settings.sentry_dsn, settings.env)
    _register_error_handlers(app)
    return app


def _register_error_handlers(app: Flask) -> None:
    from .web.errors import page_error

    @app.errorhandler(PromptcoreError)
    def _core_error(error: PromptcoreError):
        if _is_api_request():
            return api_errors.core_error_response(error)
        return page_error(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if _is_api_request():
            return api_errors.http_error_response(error)
        return page_error(error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _is_api_request():
            return api_errors.internal_error_response()
        return page_error(error)

