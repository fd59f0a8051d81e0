"""``promptcore serve`` with another gunicorn worker class, for the worker-class comparison only.

It builds the same container, refuses pending migrations in production the same way, and
passes the same gunicorn options as entrypoints.server.serve, except ``worker_class`` (and
``worker_connections`` instead of ``threads``). Production serving stays ``promptcore serve``.
"""

from __future__ import annotations

import argparse
import sys


def _patch_early(argv: list[str]) -> None:
    """gevent must patch before psycopg is imported: psycopg picks its wait function at import
    time, and the C one (wait_c) would block the whole worker on every database round trip.
    The master imports psycopg (migration check) before forking, so patch here first."""
    if "gevent" in argv:
        from gevent import monkey

        monkey.patch_all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker-class", default="gevent")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=1000)
    args = parser.parse_args(argv)

    from adapters.migrations import is_up_to_date
    from entrypoints.config import load_settings
    from entrypoints.container import build_container
    from entrypoints.server import _Gunicorn

    try:
        from entrypoints.observability import configure_logging
    except ImportError:  # older tree
        configure_logging = None

    settings = load_settings()
    if configure_logging is not None:
        configure_logging(getattr(settings, "log_format", "text"), getattr(settings, "log_level", "INFO"))
    container = build_container(settings)
    engine = container.engine()
    if not is_up_to_date(engine):
        print("migrations pending", file=sys.stderr)
        return 2
    engine.dispose()

    def factory():
        import psycopg.waiting

        from entrypoints.app import create_app

        print(f"gserve: {args.worker_class} worker, psycopg wait function {psycopg.waiting.wait.__name__}",
              file=sys.stderr, flush=True)
        return create_app(container)

    def post_fork(_server, _worker) -> None:
        container.engine().dispose(close=False)

    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": max(1, args.workers),
        "worker_class": args.worker_class,
        "worker_connections": args.connections,
        "timeout": int(settings.llm_timeout * 2 + 30),
        "graceful_timeout": int(settings.llm_timeout + 10),
        "keepalive": 5,
        "accesslog": None,
        "post_fork": post_fork,
    }
    _Gunicorn(factory, options).run()
    return 0


if __name__ == "__main__":
    _patch_early(sys.argv[1:])
    sys.exit(main())
