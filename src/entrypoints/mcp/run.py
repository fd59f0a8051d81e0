"""``promptcore mcp`` and ``promptcore mcp-http`` (SPEC §4, §15.2): the checks before serving, then
the server. The checks come first and import nothing of the SDK, so a missing key or an
unmigrated database is reported at once, in one line on stderr, with exit status 2.

Neither command migrates the database (``promptcore db upgrade`` does, or ``promptcore serve`` in
development): a server for someone's AI assistant should not change the schema under the web app.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

from promptcore.domain.errors import Unauthenticated

from .tools import McpOperations

if TYPE_CHECKING:
    from ..container import Container

__all__ = ["API_KEY_VARIABLE", "check_database", "run_http", "run_stdio"]

log = logging.getLogger("promptcore.mcp")

API_KEY_VARIABLE = "PROMPTCORE_API_KEY"


def _refuse(message: str) -> int:
    print(f"promptcore: {message}", file=sys.stderr)
    return 2


def check_database(container: "Container") -> str | None:
    """Why the MCP server cannot serve this database, or None."""
    from adapters.migrations import is_up_to_date

    try:
        if not is_up_to_date(container.engine()):
            return "database migrations are pending; run `promptcore db upgrade` first"
    except Exception as exc:  # an unreachable server, a bad path: one line, no traceback
        log.debug("database check failed", exc_info=True)
        return f"cannot reach the database ({type(exc).__name__}); check PROMPTCORE_DATABASE_URL"
    return None


def run_stdio(container: "Container", environ: dict[str, str] | None = None) -> int:
    """``promptcore mcp``: MCP over stdin/stdout for the key in PROMPTCORE_API_KEY, which must work
    before anything is served (missing, malformed, unknown, revoked or expired: refused). Only the
    protocol is written to stdout; logs go to stderr."""
    env = os.environ if environ is None else environ
    raw = (env.get(API_KEY_VARIABLE) or "").strip()
    if not raw:
        return _refuse(f"{API_KEY_VARIABLE} is not set; make a personal API key (pc_...) on the account's API keys "
                       "page (/account/api-keys) and pass it in the environment")
    problem = check_database(container)
    if problem is not None:
        return _refuse(problem)
    try:
        McpOperations(container).authenticate(raw)
    except Unauthenticated as exc:
        return _refuse(f"{API_KEY_VARIABLE}: {exc.message}")

    import anyio
    from mcp.server.stdio import stdio_server

    from .server import build_server

    server = build_server(container, api_key=raw)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    try:
        anyio.run(main)
    except KeyboardInterrupt:  # pragma: no cover - Ctrl-C in a terminal
        pass
    finally:
        container.engine().dispose()
    return 0


def run_http(container: "Container", host: str, port: int) -> int:
    """``promptcore mcp-http``: streamable HTTP at /mcp under uvicorn, until SIGTERM or SIGINT
    (requests in flight may finish within the upstream deadline)."""
    problem = check_database(container)
    if problem is not None:
        return _refuse(problem)

    import uvicorn

    from .http_app import MCP_PATH, build_http_app

    settings = container.settings()
    config = uvicorn.Config(
        build_http_app(container), host=host, port=port, lifespan="on", log_config=None, access_log=False,
        server_header=False, timeout_keep_alive=5, timeout_graceful_shutdown=int(settings.llm_timeout + 10))
    # the SDK notes every stateless request's end at INFO ("Terminating session: None")
    logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)
    log.info("MCP server on http://%s:%d%s", host, port, MCP_PATH)
    try:
        uvicorn.Server(config).run()
    finally:
        container.engine().dispose()
    return 0
