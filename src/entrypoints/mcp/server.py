"""The MCP server on the official SDK's low-level ``Server`` (SPEC §15.2), for both transports
(run.py starts them).

One ``Server`` serves both transports; what differs is where a request's credential comes from:

- stdio (``promptcore mcp``): the key in ``PROMPTCORE_API_KEY``. It is checked before the server
  starts (a missing or dead key stops it with one line naming the variable) and again on every
  request, so a key revoked while a desktop client keeps the process running stops working at
  once.
- streamable HTTP (``promptcore mcp-http``, http_app.py): the ``Authorization: Bearer pc_...``
  header of each HTTP request, checked by the ASGI layer before the SDK sees the request; the
  credential rides on the request's ASGI scope to the handlers here.

The handlers run the synchronous use cases (tools.py) in worker threads. A tool's failure is a tool
error (``isError: true``) carrying the API's error body; an unknown tool or prompt, and a prompt's
failures, are JSON-RPC errors (invalid params; internal error for a 5xx), as the MCP specification
asks.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

import promptcore
from promptcore.domain.errors import PromptcoreError, Unauthenticated
from promptcore.services.api_keys import INVALID_KEY

from ..api.errors import error_body, lookup
from .tools import INTERNAL_MESSAGE, Credential, McpOperations, ToolResult, error_result, internal_error_result

if TYPE_CHECKING:
    from ..container import Container

__all__ = ["CREDENTIAL_SCOPE_KEY", "build_server"]

log = logging.getLogger("promptcore.mcp")

CREDENTIAL_SCOPE_KEY = "promptcore.credential"  # the ASGI scope entry http_app.py fills per request
INSTRUCTIONS = (
    "promptcore turns a rough prompt into a better prompt for a large language model. Call list_styles to see "
    "the styles, improve_prompt to rewrite a prompt (one unit of the user's daily quota), iterate_prompt with "
    "the record id and feedback to refine a result, search_history to find earlier results, and "
    "render_template (or the template-<id> prompts) to fill in the user's templates.")


def _rpc_error(error: PromptcoreError) -> MCPError:
    """A core error where the protocol wants a JSON-RPC error (prompts): invalid params for the
    caller's mistakes, internal error for the service's; the API's error body as the data."""
    status, slug = lookup(error)
    code = types.INTERNAL_ERROR if status >= 500 else types.INVALID_PARAMS
    return MCPError(code, error.message, error_body(status, slug, error.message, getattr(error, "errors", None)))


def _tool(spec) -> types.Tool:
    return types.Tool(
        name=spec.name, title=spec.title, description=spec.description, input_schema=spec.input_schema,
        output_schema=spec.output_schema,
        annotations=types.ToolAnnotations(title=spec.title, read_only_hint=spec.read_only,
                                          destructive_hint=False if not spec.read_only else None,
                                          idempotent_hint=spec.read_only, open_world_hint=spec.open_world))


def _tool_result(result: ToolResult) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=t) for t in result.texts],
                                structured_content=result.data, is_error=result.is_error)


def build_server(container: "Container", api_key: str | None = None) -> Server:
    """The MCP server. With ``api_key`` (stdio) every request acts for that key, checked again each
    time; without, for the credential http_app.py put on the HTTP request's scope."""
    operations = McpOperations(container)
    tools = [_tool(spec) for spec in operations.specs]

    async def credential(ctx) -> Credential:
        if api_key is not None:
            return await anyio.to_thread.run_sync(operations.authenticate, api_key)
        request = getattr(ctx, "request", None)
        found = request.scope.get(CREDENTIAL_SCOPE_KEY) if request is not None else None
        if not isinstance(found, Credential):  # http_app.py lets no request through without one
            raise Unauthenticated(INVALID_KEY)
        return found

    async def on_list_tools(ctx, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def on_call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        if not operations.has_tool(params.name):
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
        try:
            who = await credential(ctx)
        except PromptcoreError as exc:
            return _tool_result(error_result(exc))
        except Exception:
            log.exception("MCP authentication failed")
            return _tool_result(internal_error_result())
        result = await anyio.to_thread.run_sync(operations.call, who, params.name, params.arguments)
        return _tool_result(result)

    async def on_list_prompts(ctx, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        try:
            who = await credential(ctx)
            found, cursor = await anyio.to_thread.run_sync(operations.list_prompts, who,
                                                           params.cursor if params is not None else None)
        except PromptcoreError as exc:
            raise _rpc_error(exc) from None
        except Exception:
            log.exception("MCP prompts/list failed")
            raise MCPError(types.INTERNAL_ERROR, INTERNAL_MESSAGE) from None
        prompts = [types.Prompt(name=p.name, title=p.title, description=p.description,
                                arguments=[types.PromptArgument(name=a, description=f"The value of {{{{{a}}}}}",
                                                                required=True) for a in p.arguments])
                   for p in found]
        return types.ListPromptsResult(prompts=prompts, next_cursor=cursor)

    async def on_get_prompt(ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        try:
            who = await credential(ctx)
            description, text = await anyio.to_thread.run_sync(operations.get_prompt, who, params.name,
                                                                params.arguments)
        except PromptcoreError as exc:
            raise _rpc_error(exc) from None
        except Exception:
            log.exception("MCP prompt %s failed", params.name)
            raise MCPError(types.INTERNAL_ERROR, INTERNAL_MESSAGE) from None
        return types.GetPromptResult(description=description, messages=[
            types.PromptMessage(role="user", content=types.TextContent(text=text))])

    return Server(
        "promptcore",
        version=promptcore.__version__,
        title="promptcore",
        description="Turns a rough prompt into a better prompt for large language models",
        instructions=INSTRUCTIONS,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
        on_list_prompts=on_list_prompts,
        on_get_prompt=on_get_prompt,
    )
