"""Serving with gunicorn. Threads (gthread) keep many slow upstream calls in flight per
worker process while each waits on the network."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from http import HTTPStatus

from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine, ParseException
from gunicorn.workers.gthread import ThreadWorker
from werkzeug.exceptions import BadRequest

from adapters.migrations import is_up_to_date, upgrade
from adapters.sql.library_sync import quick_templates_in_sync
from adapters.sql.styles_sync import styles_in_sync

from .container import Container

log = logging.getLogger("promptcore.server")

# The longest request line (method, path, query string and protocol) gunicorn accepts: its own
# maximum, 8190 bytes; its default is 4094. Every query parameter has a documented maximum length,
# so a longer value than it allows gets the API's 422 from the application, not a refusal from
# the server; a line longer still gets JsonErrorThreadWorker's 414 (issue 15).
LIMIT_REQUEST_LINE = 8190

# gunicorn's own refusals, answered in the API's error shape (SPEC §7) instead of its HTML page.
_OWN_REFUSALS = {
    LimitRequestLine: (414, "uri_too_long",
                       f"The request line is too long: at most {LIMIT_REQUEST_LINE} bytes for the method, path and "
                       "query string together. Send long values in the request body."),
    LimitRequestHeaders: (431, "request_header_fields_too_large",
                          "The request's header fields are too large or too many."),
}


class JsonErrorThreadWorker(ThreadWorker):
    """gunicorn's gthread worker whose refusal of a too-long request line or header block is JSON.

    gunicorn refuses them before any application code runs, with an HTML page of its own; here
    the answer has the body every other error of the API has ({code, status, error, message}).
    Every other error gunicorn handles itself, as before."""

    def handle_error(self, req, client, addr, exc):
        refusal = next((v for cls, v in _OWN_REFUSALS.items() if isinstance(exc, cls)), None)
        if refusal is None:
            return super().handle_error(req, client, addr, exc)
        status, slug, message = refusal
        self.log.warning("Invalid request from ip=%s: %s", addr[0] if isinstance(addr, tuple) else addr, exc)
        phrase = HTTPStatus(status).phrase
        body = json.dumps({"code": status, "status": phrase, "error": slug, "message": message}).encode()
        head = (f"HTTP/1.1 {status} {phrase}\r\nConnection: close\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n\r\n")
        try:
            gunicorn_util.write_nonblock(client, head.encode("latin-1") + body)
        except Exception:  # the client may be gone already; gunicorn does the same
            self.log.debug("Failed to send error message.")
        return None


class _Gunicorn(BaseApplication):
    def __init__(self, app_factory, options: dict) -> None:
        self._factory = app_factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        return self._factory()


class _RequestBody:
    """gunicorn's ``wsgi.input``, whose parse errors are the client's fault and say so.

    gunicorn parses a chunked body only as the application reads it, and refuses a malformed
    chunk size (``0x0``, ``-0``, ``1_0``), extension or trailer by raising its own ParseException
    from ``read()``. Werkzeug turns only OSError and ValueError from the stream into a 400, so
    that exception reached Flask as an unexpected error: a 500. Here it becomes a 400."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def _call(self, method, *args):
        try:
            return method(*args)
        except ParseException as exc:
            raise BadRequest("The request body is malformed (its chunked encoding is not valid).") from exc

    def read(self, size=None):
        return self._call(self._stream.read, size)

    def readline(self, size=None):
        return self._call(self._stream.readline, size)

    def readlines(self, hint=None):
        return self._call(self._stream.readlines, hint)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def refuse_malformed_bodies(wsgi_app):
    """WSGI middleware: the app reads gunicorn's request body through _RequestBody."""

    def app(environ, start_response):
        stream = environ.get("wsgi.input")
        if stream is not None:
            environ["wsgi.input"] = _RequestBody(stream)
        return wsgi_app(environ, start_response)

    return app


def _metrics_dir() -> str:
    """Shared files for Prometheus metrics across worker processes, set before any worker
    imports prometheus-client."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        path = tempfile.mkdtemp(prefix="promptcore-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):  # a previous run's files would be counted again
        if name.endswith(".db"):
            os.unlink(os.path.join(path, name))
    return path


def serve(container: Container, host: str, port: int, workers: int, threads: int) -> int:
    _metrics_dir()
    settings = container.settings()
    engine = container.engine()
    if settings.is_production:
        if not is_up_to_date(engine):
            print("promptcore: database migrations are pending; run `promptcore db upgrade` first",
                  file=sys.stderr)
            return 2
        if not styles_in_sync(engine):  # the code's STYLES is the catalogue; db upgrade stores it
            print("promptcore: the stored style catalogue differs from this version's; run "
                  "`promptcore db upgrade` first", file=sys.stderr)
            return 2
        if not quick_templates_in_sync(engine):  # QUICK_TEMPLATES, stored the same way by db upgrade
            print("promptcore: the stored quick templates differ from this version's; run "
                  "`promptcore db upgrade` first", file=sys.stderr)
            return 2
    else:
        upgrade(engine)  # migrations, then the style catalogue from the code
    engine.dispose()  # do not carry pooled connections into forked workers
    if settings.billing == "dev-checkout":
        # The development checkout is this server calling itself: a checkout waits on the
        # adapter's call to /dev/checkout/api/v3, Pay on the webhook, the webhook on its GET. With
        # too few threads a worker would wait on a request queued behind it (web/dev_checkout.py).
        from .web.dev_checkout import MIN_THREADS

        if threads < MIN_THREADS:
            print(f"promptcore: PROMPTCORE_BILLING=dev-checkout calls this server from itself; "
                  f"using {MIN_THREADS} threads per worker instead of {threads}", file=sys.stderr)
            threads = MIN_THREADS

    def factory():
        from .app import create_app

        app = create_app(container)
        app.wsgi_app = refuse_malformed_bodies(app.wsgi_app)
        # Build the services once per worker, before the first request, so concurrent
        # first requests neither wait for nor race each other over them.
        container.accounts()
        container.prompts()
        container.admin()
        return app

    def post_worker_init(_worker) -> None:
        # Development delivers mail in-process. The thread starts in each worker after the
        # fork: a thread running in the master while it forks could leave a database lock
        # held forever in the child. Several workers delivering at once is safe (leases).
        if settings.is_development:
            from .worker import start_background_worker

            start_background_worker(container)

    def post_fork(_server, _worker) -> None:
        container.engine().dispose(close=False)

    def child_exit(_server, worker) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    options = {
        "bind": f"{host}:{port}",
        "workers": max(1, workers),
        "worker_class": JsonErrorThreadWorker,  # gthread, with JSON for its own 414 and 431
        "threads": max(1, threads),
        "limit_request_line": LIMIT_REQUEST_LINE,
        # Above the upstream deadline, so a slow model call is never cut by the server.
        "timeout": int(settings.llm_timeout * 2 + 30),
        "graceful_timeout": int(settings.llm_timeout + 10),
        "keepalive": 5,
        "accesslog": None,
        "post_worker_init": post_worker_init,
        "post_fork": post_fork,
        "child_exit": child_exit,
    }
    _Gunicorn(factory, options).run()
    return 0
