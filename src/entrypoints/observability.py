"""Request ids, structured logs, request metrics, /metrics and optional Sentry."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import time
import uuid
from datetime import datetime, timezone

from flask import Blueprint, Flask, Response, g, request

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = logging.getLogger("promptcore.access")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or "-"
        return True


_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029]")


class JsonFormatter(logging.Formatter):
    """One JSON object a line. Only the message and whitelisted extras are written, so
    headers, bodies and secrets never reach the log by accident."""

    EXTRAS = ("method", "path", "status", "duration_ms", "route", "remote")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid and rid != "-":
            entry["request_id"] = rid
        for key in self.EXTRAS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            entry["exc"] = self.formatException(record.exc_info)
        # json.dumps escapes C0 controls; DEL, C1 and U+2028/9 pass through raw with
        # ensure_ascii=False, and some of them end a line for log readers (splitlines() too).
        return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(entry, ensure_ascii=False))


# C0 controls, DEL, C1 controls and the Unicode line and paragraph separators (every character
# str.splitlines() breaks on is among them), and the backslash so an escape cannot be faked.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\\\\]")
_NAMED = {"\\": "\\\\", "\r": "\\r", "\n": "\\n", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def escape_controls(text: str) -> str:
    """The text on one line: control characters written as escapes (``\\r``, ``\\n``, ``\\x1b``)."""
    return _UNSAFE.sub(_escape_char, text)


class TextFormatter(logging.Formatter):
    """One record a line for people to read. A request path, an e-mail address or an error
    message can hold CR/LF or terminal escapes; written raw they would start a forged line, so
    they are escaped. A traceback keeps its lines, each indented, so it never starts a record."""

    FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
    INDENT = "    "

    def __init__(self) -> None:
        super().__init__(self.FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        text = escape_controls(self.formatMessage(record))
        extra = []
        if record.exc_info:
            extra.append(self.formatException(record.exc_info))
        elif record.exc_text:
            extra.append(record.exc_text)
        if record.stack_info:
            extra.append(self.formatStack(record.stack_info))
        for block in extra:
            for line in block.splitlines():
                text += "\n" + self.INDENT + escape_controls(line)
        return text


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


def init_request_tracking(app: Flask) -> None:
    from adapters.metrics import HTTP_LATENCY, HTTP_REQUESTS

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        g.request_id = rid
        g.started = time.perf_counter()
        g.request_id_token = _request_id.set(rid)

    @app.after_request
    def _finish(response: Response) -> Response:
        rid = getattr(g, "request_id", None)
        if rid:
            response.headers["X-Request-ID"] = rid
        started = getattr(g, "started", None)
        if started is not None:
            elapsed = time.perf_counter() - started
            route = _route()
            if route != "/metrics":
                status = str(response.status_code)
                HTTP_REQUESTS.labels(request.method, route, status).inc()
                HTTP_LATENCY.labels(request.method, route, status).observe(elapsed)
            # a secret in the path (an invitation link's token) is logged as its route, never as is
            path = route if request.view_args and "token" in request.view_args else request.path
            access_log.info("%s %s %s", request.method, path, response.status_code,
                            extra={"method": request.method, "path": path, "route": route,
                                   "status": response.status_code, "duration_ms": round(elapsed * 1000, 2)})
        return response

    @app.teardown_request
    def _clear(_exc) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            _request_id.reset(token)


metrics_bp = Blueprint("metrics", __name__)


@metrics_bp.get("/metrics")
def metrics():
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    from .deps import services

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    body = generate_latest(registry)
    body += _backlog_lines(services())
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def _backlog_lines(container) -> bytes:
    """The outbox backlog is read from the database at scrape time (any process sees it)."""
    try:
        with container.uow() as uow:
            pending = uow.outbox.pending_count()
    except Exception:
        pending = -1
    return (
        "# HELP promptcore_outbox_pending Queued e-mails not yet delivered (-1: database unreachable)\n"
        "# TYPE promptcore_outbox_pending gauge\n"
        f"promptcore_outbox_pending {pending}\n"
    ).encode()


def init_sentry(dsn: str | None, environment: str) -> None:
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration

    sentry_sdk.init(dsn=dsn, environment=environment, integrations=[FlaskIntegration()], send_default_pii=False,
                    traces_sample_rate=0.0)
