"""A real MCP session against ``promptcore mcp`` over stdio, printed message by message.

    python -m bench.mcp_transcript [--keep DIR]

On a throwaway SQLite database (migrated, one confirmed account, a personal API key with the
prompt and template scopes, the offline improver) it spawns ``promptcore mcp`` with the official
SDK's stdio client and runs initialize → tools/list → tools/call improve_prompt → tools/call
iterate_prompt → tools/call improve_prompt with an unknown style (a tool error). Every JSON-RPC
message that crosses the pipe is printed as one line (→ client to server, ← server to client;
long strings and the tools' JSON Schemas abridged), then a summary. The database and the server's
stderr are removed afterwards unless ``--keep`` names a directory for them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

EMAIL = "transcript@example.com"
PASSWORD = "correct horse battery staple"
SCOPES = ["prompts:read", "prompts:write", "templates:read"]
TEXT_MAX = 90


def _environment(var_dir: Path) -> dict[str, str]:
    return {"PROMPTCORE_ENV": "test", "PROMPTCORE_VAR_DIR": str(var_dir),
            "PROMPTCORE_DATABASE_URL": f"sqlite:///{var_dir}/transcript.db", "PROMPTCORE_LLM": "offline",
            "PROMPTCORE_SECRET_KEY": "transcript-" + "x" * 32}


def make_account(env: dict[str, str]) -> str:
    """Migrate the database, make a confirmed account and a key for it; answers the key."""
    from adapters.migrations import upgrade
    from entrypoints.config import load_settings
    from entrypoints.container import build_container
    from promptcore.domain.access import Actor

    container = build_container(load_settings(env))
    upgrade(container.engine())
    accounts = container.accounts()
    accounts.register_user(EMAIL, PASSWORD, "Transcript")
    with container.uow() as uow:
        user = uow.users.get_by_email(EMAIL)
    accounts.confirm_email(container.signed_tokens().dumps("confirm-email", {"uid": user.id, "email": EMAIL}))
    key = container.api_keys().create(Actor.of(user), "transcript", SCOPES).secret
    container.engine().dispose()
    return key


def abridge(value: Any, key: str = "") -> Any:
    """A message made short enough to read: long strings cut, a tool's schemas as their fields."""
    if key in ("inputSchema", "outputSchema") and isinstance(value, dict):
        return {"properties": sorted(value.get("properties", {})), "required": value.get("required", [])}
    if isinstance(value, dict):
        return {k: abridge(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [abridge(v) for v in value]
    if isinstance(value, str) and len(value) > TEXT_MAX:
        return value[:TEXT_MAX] + f"… ({len(value)} chars)"
    return value


def show(direction: str, message: Any) -> None:
    data = message.message.model_dump(by_alias=True, exclude_none=True, mode="json")
    print(f"{direction} {json.dumps(abridge(data), ensure_ascii=False)}", flush=True)


async def session(env: dict[str, str], errlog) -> dict[str, Any]:
    import anyio
    from mcp import ClientSession, StdioServerParameters, stdio_client
    from mcp.shared.message import SessionMessage

    exe = os.path.join(os.path.dirname(sys.executable), "promptcore")
    params = StdioServerParameters(command=exe, args=["mcp"], env=env, cwd=env["PROMPTCORE_VAR_DIR"])
    summary: dict[str, Any] = {}
    async with stdio_client(params, errlog=errlog) as (server_out, server_in):
        # A relay on each side of the session prints every message on its way through.
        to_server, from_session = anyio.create_memory_object_stream[SessionMessage](0)
        to_session, from_server = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def outgoing() -> None:
            async with from_session:
                async for message in from_session:
                    show("→", message)
                    await server_in.send(message)

        async def incoming() -> None:
            async with to_session:
                async for message in server_out:
                    if isinstance(message, Exception):
                        print(f"← (transport error) {message!r}", flush=True)
                    else:
                        show("←", message)
                    await to_session.send(message)

        async with anyio.create_task_group() as tg:
            tg.start_soon(outgoing)
            tg.start_soon(incoming)
            async with ClientSession(from_server, to_server) as client:
                init = await client.initialize()
                summary["initialize"] = (f"protocol {init.protocol_version}, server {init.server_info.name} "
                                         f"{init.server_info.version}, capabilities: "
                                         + ", ".join(k for k, v in init.capabilities.model_dump().items() if v))
                tools = await client.list_tools()
                summary["tools/list"] = ", ".join(t.name for t in tools.tools)
                improved = await client.call_tool("improve_prompt", {
                    "prompt": "write a post about our new coffee machine", "style": "marketing"})
                record = improved.structured_content
                summary["tools/call improve_prompt"] = (
                    f"isError {improved.is_error}; record {record['id']}, model {record['model']}, quota "
                    f"{record['quota']['used']}/{record['quota']['limit']} used; "
                    f"{len(record['generated_prompt'])} chars of improved prompt")
                iterated = await client.call_tool("iterate_prompt", {"record_id": record["id"],
                                                                     "feedback": "make it shorter"})
                again = iterated.structured_content
                summary["tools/call iterate_prompt"] = (
                    f"isError {iterated.is_error}; record {again['id']} (parent {again['parent_id']}), quota "
                    f"{again['quota']['used']}/{again['quota']['limit']} used")
                refused = await client.call_tool("improve_prompt", {"prompt": "hello", "style": "baroque"})
                summary["tools/call improve_prompt (bad style)"] = (
                    f"isError {refused.is_error}; {refused.structured_content['code']} "
                    f"{refused.structured_content['error']}: {refused.content[0].text}")
            tg.cancel_scope.cancel()
    return summary


def main(argv: list[str] | None = None) -> int:
    import anyio

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", metavar="DIR", help="keep the database and the server's log in DIR")
    args = parser.parse_args(argv)
    var_dir = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="promptcore-mcp-"))
    var_dir.mkdir(parents=True, exist_ok=True)
    try:
        env = _environment(var_dir)
        key = make_account(env)
        print(f"# promptcore mcp over stdio, for {EMAIL} with key {key[:11]}… (scopes {', '.join(SCOPES)}), "
              f"offline improver, SQLite in {var_dir}", flush=True)
        with open(var_dir / "mcp-stderr.log", "w") as errlog:
            summary = anyio.run(session, {**env, "PROMPTCORE_API_KEY": key}, errlog)
        print("\n# summary")
        for step, outcome in summary.items():
            print(f"{step}: {outcome}")
    finally:
        if not args.keep:
            shutil.rmtree(var_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
