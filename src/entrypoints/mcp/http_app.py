"""The MCP server over streamable HTTP (SPEC §15.2): the ASGI app ``promptcore mcp-http`` serves
with uvicorn (run.py), a process of its own beside gunicorn's web app, behind the same reverse
proxy at ``/mcp``.

Every HTTP request to ``/mcp`` must carry ``Authorization: Bearer pc_...``: the key is checked
(``ApiKeys.authenticate``) before the SDK reads the request, on every request, so a revoked key is
refused at once. A request without a working key gets 401 in the API's error shape with
``WWW-Authenticate: Bearer``; the SDK never sees it. The credential then rides on the ASGI scope to
the handlers (server.py).

The SDK's transport runs stateless with JSON answers: no session outlives a request, so any
process behind the proxy can answer any request and nothing needs to be sticky, and a session id
never stands in for the key. DNS-rebinding checks on Host/Origin are off: every request needs the
key, which a page in a browser does not have, and the proxy in front sets Host to the public name.

``GET /healthz`` answers 200 while the process is up (the container's health check); anything else
is 404 in the API's error shape.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from promptcore.domain.api_keys import is_key_like
from promptcore.domain.errors import Unauthenticated

from ..api.errors import error_body
from .server import CREDENTIAL_SCOPE_KEY, build_server
from .tools import McpOperations

if TYPE_CHECKING:
    from ..container import Container

__all__ = ["MCP_PATH", "KeyAuthenticatedMcp", "build_http_app"]

log = logging.getLogger("promptcore.mcp")

MCP_PATH = "/mcp"
NO_KEY = "Send a personal API key: Authorization: Bearer pc_..."
KEYS_ONLY = "The MCP server takes a personal API key (pc_...), not an access token."


async def _json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
           (b"cache-control", b"no-store")]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


async def _error(send: Send, status: int, slug: str, message: str) -> None:
    headers = {"WWW-Authenticate": 'Bearer realm="promptcore"'} if status == 401 else None
    await _json(send, status, error_body(status, slug, message), headers)


class KeyAuthenticatedMcp:
    """The outer ASGI app: the health probe, the key check on ``/mcp``, 404 elsewhere; lifespan
    events go to the SDK's app (its session manager starts and stops with the server)."""

    def __init__(self, sdk_app: ASGIApp, operations: McpOperations) -> None:
        self._sdk_app = sdk_app
        self._operations = operations

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan (websockets are not served)
            await self._sdk_app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == "/healthz" and scope.get("method") in ("GET", "HEAD"):
            await _json(send, 200, {"status": "ok"})
            return
        if path != MCP_PATH:
            await _error(send, 404, "not_found", f"Not found. The MCP endpoint is {MCP_PATH}.")
            return
        authorization = Headers(scope=scope).get("authorization", "")
        scheme, _, raw = authorization.partition(" ")
        raw = raw.strip()
        if scheme.lower() != "bearer" or not raw:
            await _error(send, 401, "unauthorized", NO_KEY)
            return
        if not is_key_like(raw):
            await _error(send, 401, "unauthorized", KEYS_ONLY)
            return
        try:
            credential = await anyio.to_thread.run_sync(self._operations.authenticate, raw)
        except Unauthenticated as exc:
            await _error(send, 401, "unauthorized", exc.message)
            return
        except Exception:
            log.exception("MCP key check failed")
            await _error(send, 503, "service_unavailable", "The service is temporarily unavailable. Try again in "
                                                           "a moment.")
            return
        scope[CREDENTIAL_SCOPE_KEY] = credential
        await self._sdk_app(scope, receive, send)


def build_http_app(container: "Container") -> KeyAuthenticatedMcp:
    from mcp.server.transport_security import TransportSecuritySettings

    server = build_server(container)
    sdk_app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return KeyAuthenticatedMcp(sdk_app, McpOperations(container))
