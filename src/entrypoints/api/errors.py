"""The one table that maps core errors to HTTP statuses and stable slugs (SPEC §7)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from promptcore.domain import billing_errors as billing
from promptcore.domain import errors as core
from promptcore.services.accounts import InvalidRefreshToken

from ..deps import services

# ErrorOut documents error_body(); app.py gives it to flask-smorest as the spec's error schema.
from .schemas import ErrorOut

__all__ = ["ERROR_TABLE", "ErrorOut", "error_body", "lookup", "upgrade_url"]

log = logging.getLogger("promptcore.errors")

# Most specific first: the first class in an error's MRO that is listed wins.
ERROR_TABLE: dict[type[core.PromptcoreError], tuple[int, str]] = {
    core.ImportRejected: (422, "import_invalid"),
    core.ValidationFailed: (422, "validation_error"),
    core.TitleTaken: (409, "title_taken"),
    core.LimitReached: (409, "limit_reached"),
    core.TeamPlanRequired: (402, "team_plan_required"),
    core.LastOwner: (409, "last_owner"),
    core.HasPaidPlan: (409, "team_has_paid_plan"),
    core.Conflict: (409, "conflict"),
    core.VariablesChanged: (422, "variables_changed"),
    core.InvalidCredentials: (401, "invalid_credentials"),
    InvalidRefreshToken: (401, "invalid_refresh_token"),
    core.Unauthenticated: (401, "unauthorized"),
    core.LoginThrottled: (429, "too_many_attempts"),
    core.InvalidToken: (400, "invalid_token"),
    core.InsufficientScope: (403, "insufficient_scope"),
    core.Forbidden: (403, "forbidden"),
    core.NotFound: (404, "not_found"),
    core.EmailNotConfirmed: (403, "email_not_confirmed"),
    core.QuotaExceeded: (429, "quota_exceeded"),
    core.PromptRejected: (422, "prompt_rejected"),
    core.LlmUnavailable: (503, "llm_unavailable"),
    core.ServiceUnavailable: (503, "service_unavailable"),
    core.ServiceBusy: (503, "service_busy"),
    core.DeliveryFailed: (503, "service_unavailable"),
    billing.BillingUnavailable: (503, "billing_unavailable"),
    billing.PaymentProviderUnavailable: (503, "payments_unavailable"),
    billing.PaymentRejected: (422, "payment_rejected"),
    billing.WebhookForbidden: (403, "forbidden"),
}

# Slugs for plain HTTP errors raised by Flask, webargs or the framework.
HTTP_SLUGS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    431: "request_header_fields_too_large",
    500: "internal_error",
    503: "service_unavailable",
}


def lookup(error: core.PromptcoreError) -> tuple[int, str]:
    for cls in type(error).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return 400, "bad_request"


def upgrade_url() -> str:
    """Where a user over the limit buys a larger one (SPEC §12.7): the pricing page."""
    return services().upgrade_url()


def error_body(status: int, slug: str, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "error": slug,
        "message": message,
    }
    if errors:
        body["errors"] = errors
    return body


# POST /auth/token documents its 400, 429 and 503 in RFC 6749's form (§5.2: error,
# error_description); errors raised before its view runs answer in that form too: the per-IP
# sign-in limit's 429 (Flask-Limiter) and a body the server cannot read (400).
TOKEN_ENDPOINT = "auth.Token"
OAUTH_SLUGS = {400: "invalid_request", 429: "rate_limited", 503: "temporarily_unavailable"}


def _oauth_error_response(status: int, message: str, error: Any):
    limit = getattr(getattr(error, "limit", None), "limit", None)  # Flask-Limiter's RateLimitExceeded
    if limit is not None:
        message = (f"Too many sign-in attempts from this address (at most {limit}). "
                   "Try again after the seconds in Retry-After.")
    response = jsonify({"error": OAUTH_SLUGS[status], "error_description": message})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def core_error_response(error: core.PromptcoreError):
    status, slug = lookup(error)
    if status in OAUTH_SLUGS and request.endpoint == TOKEN_ENDPOINT:  # e.g. the database is down: 503
        response = _oauth_error_response(status, error.message, error)
    else:
        errors = getattr(error, "errors", None)
        body = error_body(status, slug, error.message, errors)
        quota = getattr(error, "quota", None)
        if quota is not None:
            body["quota"] = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in quota.to_dict().items()}
            body["upgrade_url"] = upgrade_url()
        response = jsonify(body)
        response.status_code = status
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="promptcore"'
    if status >= 500:
        log.warning("service error %s on %s %s", slug, request.method, request.path)
    return response


def flatten_webargs(messages: Any) -> dict[str, list[str]]:
    """webargs nests messages by location ({"json": {"email": [...]}}); flatten them."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            flat.setdefault(prefix or "_schema", []).extend(value)
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                walk(f"{prefix}.{i}", sub)
        else:
            flat.setdefault(prefix or "_schema", []).append(str(value))

    if isinstance(messages, dict):
        for location, fields in messages.items():
            walk("", fields) if location in ("json", "form", "query", "files", "headers") else walk(location, fields)
    return flat


def http_error_response(error: HTTPException):
    status = error.code or 500
    slug = HTTP_SLUGS.get(status, "error")
    data = getattr(error, "data", None) or {}
    errors = flatten_webargs(data.get("messages")) if "messages" in data else None
    if status == 422 and errors:
        message = "Some fields are invalid: " + ", ".join(sorted(errors)) + "."
    elif errors and errors.get("_schema"):
        # e.g. webargs' "Invalid JSON body." beats werkzeug's generic 400 description
        message = " ".join(errors["_schema"])
    elif status >= 500:
        message = "Something went wrong on our side. Try again in a moment."
    else:
        message = data.get("message") or error.description or HTTPStatus(status).phrase
    if status in OAUTH_SLUGS and request.endpoint == TOKEN_ENDPOINT:
        response = _oauth_error_response(status, message, error)
    else:
        response = jsonify(error_body(status, slug, message, errors))
        response.status_code = status
    for key, value in (error.get_headers() if hasattr(error, "get_headers") else []):
        if key.lower() not in ("content-type", "content-length"):
            response.headers[key] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="promptcore"'
    headers = data.get("headers") or {}
    for key, value in headers.items():
        response.headers[key] = value
    return response


def internal_error_response():
    response = jsonify(error_body(500, "internal_error", "Something went wrong on our side. Try again in a moment."))
    response.status_code = 500
    return response
