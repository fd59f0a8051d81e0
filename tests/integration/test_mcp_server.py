"""The MCP server (SPEC §15.2) through the official SDK's own client, against real processes:
``promptcore mcp`` spawned over stdio and ``promptcore mcp-http`` on a free port, both on the test's
database (SQLite, and a fresh PostgreSQL one where the test takes ``database_url``) with the offline
improver.

A session initializes, lists the tools, improves, iterates, searches the history, lists styles,
renders a template and reads the templates as prompts; what it made is in the history the API shows
and counts against the quota the API reports. And the bad input, each refused with the API's
message and nothing changed: no key, a malformed, revoked or access-token credential (HTTP 401;
stdio refuses to start), a key revoked mid-session, a key without the scope, bad arguments, a bad
style, the quota spent, another user's record and template (not found)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import anyio
import pytest
import requests
from mcp import Client, ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, PaginatedRequestParams
from sqlalchemy import func, select

from adapters.sql import tables as t
from tests.conftest import build_test_app, make_settings
from tests.integration.smtp_server import free_port
from tests.integration.team_support import API, signup

EXE = os.path.join(os.path.dirname(sys.executable), "promptcore")
ALL_SCOPES = ["prompts:read", "prompts:write", "templates:read"]
TOOLS = ["improve_prompt", "iterate_prompt", "list_styles", "search_history", "render_template"]
INVALID = "The API key is invalid, expired or revoked."


@dataclass
class World:
    client: Any
    container: Any
    tmp: Path
    url: str
    ann: dict[str, str]  # bearer headers of the accounts' access tokens
    bob: dict[str, str]
    key: str  # ann's key, with ALL_SCOPES
    key_id: int

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a server process on this world's database."""
        return {"PROMPTCORE_ENV": "test", "PROMPTCORE_DATABASE_URL": self.url, "PROMPTCORE_VAR_DIR": str(self.tmp),
                "PROMPTCORE_LLM": "offline", "PROMPTCORE_SECRET_KEY": "s" * 40,
                "PROMPTCORE_BASE_URL": "http://promptcore.test", **extra}

    def make_key(self, auth: dict[str, str], scopes: list[str], name: str = "mcp") -> dict:
        r = self.client.post(f"{API}/api-keys", json={"name": name, "scopes": scopes}, headers=auth)
        assert r.status_code == 201, r.json
        return r.json

    def revoke(self, key_id: int) -> None:
        assert self.client.delete(f"{API}/api-keys/{key_id}", headers=self.ann).status_code == 204

    def records(self) -> int:
        with self.container.engine().connect() as conn:
            return conn.execute(select(func.count()).select_from(t.prompt_requests)).scalar_one()


def _world(tmp_path: Path, url: str) -> World:
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=url))
    client = app.test_client()
    ann = signup(client, container, "ann@example.com")
    bob = signup(client, container, "bob@example.com")
    world = World(client, container, tmp_path, url, ann, bob, "", 0)
    made = world.make_key(ann, ALL_SCOPES)
    world.key, world.key_id = made["key"], made["id"]
    return world


@pytest.fixture
def world(tmp_path, database_url) -> Iterator[World]:
    made = _world(tmp_path, database_url)
    yield made
    made.container.engine().dispose()


@pytest.fixture
def sqlite_world(tmp_path) -> Iterator[World]:
    made = _world(tmp_path, f"sqlite:///{tmp_path}/mcp.db")
    yield made
    made.container.engine().dispose()


# -- the two transports, through the SDK's client ------------------------------------------------------

def _leaf(error: BaseException) -> BaseException:
    """The one exception inside the task groups' nesting (the SDK's transports run in task groups)."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


def _run(main) -> Any:
    try:
        return anyio.run(main)
    except BaseExceptionGroup as group:
        raise _leaf(group) from None


def run_stdio(world: World, session_fn, **env: str) -> Any:
    """Spawn ``promptcore mcp`` with the SDK's stdio client, initialize, run ``session_fn``."""
    params = StdioServerParameters(command=EXE, args=["mcp"], cwd=str(world.tmp),
                                   env=world.env(PROMPTCORE_API_KEY=world.key, **env))

    async def main():
        with anyio.fail_after(60):
            async with stdio_client(params, errlog=open(world.tmp / "mcp-stdio.log", "a")) as (read, write):
                async with ClientSession(read, write) as session:
                    init = await session.initialize()
                    return await session_fn(session, init)

    return _run(main)


def run_http(url: str, key: str | None, session_fn) -> Any:
    """Open a streamable HTTP session with the SDK's client (the key in every request's header)."""

    async def main():
        headers = {"Authorization": f"Bearer {key}"} if key is not None else None
        with anyio.fail_after(60):
            async with create_mcp_http_client(headers=headers) as http:
                async with streamable_http_client(url, http_client=http) as (read, write):
                    async with ClientSession(read, write) as session:
                        init = await session.initialize()
                        return await session_fn(session, init)

    return _run(main)


@contextmanager
def mcp_http_server(world: World) -> Iterator[str]:
    """``promptcore mcp-http`` as its own process on a free port; yields the /mcp URL."""
    port = free_port()
    log_path = world.tmp / f"mcp-http-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "PROMPTCORE_"))}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([EXE, "mcp-http", "--host", "127.0.0.1", "--port", str(port)],
                                env={**env, **world.env()}, cwd=world.tmp, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mcp-http exited: {log_path.read_text()[-2000:]}")
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mcp-http did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield base + "/mcp"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


# -- what a session checks -------------------------------------------------------------------------------

def text_of(result) -> str:
    return "\n".join(block.text for block in result.content)


def api_error(world: World, method: str, path: str, auth: dict[str, str], **body) -> dict:
    """The API's answer to the same request, for comparing messages."""
    r = getattr(world.client, method)(f"{API}{path}", headers=auth, **body)
    assert r.status_code >= 400, r.json
    return r.json


async def _full_session(session: ClientSession, init, world: World, bob_record: int, bob_template: int,
                        template_id: int, style_id: int) -> dict:
    """Everything a user does in one session, with the bad calls between; answers what the test
    checks against the API afterwards."""
    seen: dict[str, Any] = {"server": init.server_info.name, "capabilities": init.capabilities}
    listed = await session.list_tools()
    seen["tools"] = {tool.name: tool for tool in listed.tools}

    before = world.records()
    improved = await session.call_tool("improve_prompt", {"prompt": "write a post about our new coffee machine",
                                                          "style": "marketing"})
    assert not improved.is_error, text_of(improved)
    seen["improved"] = improved

    iterated = await session.call_tool("iterate_prompt", {"record_id": improved.structured_content["id"],
                                                          "feedback": "shorter"})
    assert not iterated.is_error, text_of(iterated)
    seen["iterated"] = iterated
    assert world.records() == before + 2

    # bad input: each refused with the API's message, nothing written
    refused = {
        "bad_style": await session.call_tool("improve_prompt", {"prompt": "hello", "style": "nope"}),
        "missing": await session.call_tool("improve_prompt", {"style": "general", "colour": "red"}),
        "wrong_type": await session.call_tool("iterate_prompt", {"record_id": "12", "feedback": 5}),
        "empty": await session.call_tool("improve_prompt", {"prompt": "   ", "style": "general"}),
        "bad_model": await session.call_tool("improve_prompt", {"prompt": "hello", "style": "general",
                                                                "model": "gpt-none"}),
        "strangers_record": await session.call_tool("iterate_prompt", {"record_id": bob_record,
                                                                       "feedback": "shorter"}),
        "unknown_record": await session.call_tool("iterate_prompt", {"record_id": 10**9, "feedback": "x"}),
        "huge_record": await session.call_tool("iterate_prompt", {"record_id": 2**70, "feedback": "x"}),
        "huge_template": await session.call_tool("render_template", {"template_id": 2**70, "values": {}}),
        "nul_query": await session.call_tool("search_history", {"query": "coffee\x00"}),
        "strangers_template": await session.call_tool("render_template", {"template_id": bob_template,
                                                                          "values": {"topic": "tea"}}),
        "missing_value": await session.call_tool("render_template", {"template_id": template_id,
                                                                     "values": {"topic": "tea"}}),
        "history_limit": await session.call_tool("search_history", {"limit": 1000}),
    }
    assert world.records() == before + 2
    seen["refused"] = refused
    with pytest.raises(MCPError) as unknown_tool:
        await session.call_tool("delete_everything", {})
    assert unknown_tool.value.code == INVALID_PARAMS

    seen["styles"] = await session.call_tool("list_styles", {})
    seen["history"] = await session.call_tool("search_history", {"query": "coffee machine", "limit": 5})
    seen["nothing"] = await session.call_tool("search_history", {"query": "submarine"})
    seen["rendered"] = await session.call_tool("render_template", {"template_id": template_id,
                                                                   "values": {"topic": "tea", "audience": "kids"}})
    prompts = await session.list_prompts()
    seen["prompts"] = {p.name: p for p in prompts.prompts}
    seen["prompt"] = await session.get_prompt(f"template-{template_id}", {"topic": "tea", "audience": "kids"})
    for name, arguments in ((f"template-{template_id}", {"topic": "tea"}), (f"template-{bob_template}",
                                                                             {"topic": "tea"}),
                            ("coffee", {})):
        with pytest.raises(MCPError) as failed:
            await session.get_prompt(name, arguments)
        seen.setdefault("prompt_errors", []).append(failed.value)

    # the third improvement spends the last unit; the fourth is refused with the quota
    third = await session.call_tool("improve_prompt", {"prompt": "plan a trip to Kazan", "style": "general"})
    assert not third.is_error and third.structured_content["quota"]["remaining"] == 0
    seen["over"] = await session.call_tool("improve_prompt", {"prompt": "one more", "style": "general"})
    assert world.records() == before + 3
    return seen


def _check_full_session(world: World, seen: dict, bob_record: int, bob_template: int, template_id: int,
                        style_id: int) -> None:
    assert seen["server"] == "promptcore"
    assert seen["capabilities"].tools is not None and seen["capabilities"].prompts is not None
    assert sorted(seen["tools"]) == sorted(TOOLS)
    improve = seen["tools"]["improve_prompt"]
    assert improve.input_schema["required"] == ["prompt", "style"] and "model" in improve.input_schema["properties"]
    assert seen["tools"]["list_styles"].annotations.read_only_hint is True

    # the improvement is a record of ann's history, with her quota, as the API shows it
    improved = seen["improved"].structured_content
    assert improved["model"] == "offline" and improved["style"] == "marketing" and improved["status"] == "succeeded"
    assert seen["improved"].content[0].text == improved["generated_prompt"]
    assert "coffee machine" in improved["generated_prompt"]
    assert f"record_id={improved['id']}" in seen["improved"].content[1].text
    assert improved["quota"]["used"] == 1 and improved["quota"]["limit"] == 3
    record = world.client.get(f"{API}/prompts/{improved['id']}", headers=world.ann)
    assert record.status_code == 200 and record.json["generated_prompt"] == improved["generated_prompt"]
    iterated = seen["iterated"].structured_content
    assert iterated["parent_id"] == improved["id"] and iterated["feedback"] == "shorter"
    assert iterated["style"] == "marketing" and iterated["quota"]["used"] == 2
    assert world.client.get(f"{API}/prompts/{improved['id']}", headers=world.bob).status_code == 404

    # the bad calls: tool errors (isError) carrying the API's error body and message
    refused = seen["refused"]
    for name, result in refused.items():
        assert result.is_error, name
        assert result.content[0].text == result.structured_content["message"], name
    api = api_error(world, "post", "/prompts", world.ann, json={"prompt": "hello", "style": "nope"})
    assert refused["bad_style"].structured_content == api
    assert refused["bad_style"].structured_content["error"] == "validation_error"
    missing = refused["missing"].structured_content
    assert missing["error"] == "validation_error" and missing["code"] == 422
    assert missing["errors"] == {"prompt": ["Missing data for required field."], "colour": ["Unknown field."]}
    assert set(refused["wrong_type"].structured_content["errors"]) == {"record_id", "feedback"}
    api = api_error(world, "post", "/prompts", world.ann, json={"prompt": "   ", "style": "general"})
    assert refused["empty"].structured_content["message"] == api["message"]
    api = api_error(world, "post", "/prompts", world.ann, json={"prompt": "hello", "style": "general",
                                                                  "model": "gpt-none"})
    assert refused["bad_model"].structured_content["message"] == api["message"]
    for name in ("strangers_record", "unknown_record", "huge_record", "strangers_template", "huge_template"):
        body = refused[name].structured_content
        assert (body["code"], body["error"]) == (404, "not_found"), name
    assert refused["strangers_record"].structured_content == refused["unknown_record"].structured_content \
        == refused["huge_record"].structured_content
    assert refused["strangers_template"].structured_content == refused["huge_template"].structured_content
    api = api_error(world, "get", "/prompts?q=coffee%00", world.ann)
    assert refused["nul_query"].structured_content["errors"]["query"] == api["errors"]["q"]
    api = api_error(world, "get", f"/prompts/{bob_record}", world.ann)
    assert refused["strangers_record"].structured_content["message"] == api["message"]
    api = api_error(world, "post", f"/templates/{bob_template}/render", world.ann, json={"values": {"topic": "t"}})
    assert refused["strangers_template"].structured_content == api
    api = api_error(world, "post", f"/templates/{template_id}/render", world.ann, json={"values": {"topic": "tea"}})
    assert refused["missing_value"].structured_content == api
    assert refused["history_limit"].structured_content["errors"].keys() == {"limit"}

    styles = seen["styles"].structured_content["styles"]
    slugs = [s["slug"] for s in styles]
    assert slugs[:2] == ["general", "technical"] and f"custom:{style_id}" in slugs
    assert next(s for s in styles if s["slug"] == f"custom:{style_id}")["custom"] is True
    assert f"custom:{style_id}: Pirate" in text_of(seen["styles"])

    found = seen["history"].structured_content
    assert [item["id"] for item in found["items"]] == [iterated["id"], improved["id"]] and found["more"] is False
    assert seen["nothing"].structured_content == {"items": [], "more": False}
    assert seen["rendered"].structured_content == {"template_id": template_id,
                                                   "text": "Write a post about tea for kids"}

    prompt = seen["prompts"][f"template-{template_id}"]
    assert prompt.title == "Post" and prompt.description.startswith("Post")
    assert [(a.name, a.required) for a in prompt.arguments] == [("topic", True), ("audience", True)]
    assert f"template-{bob_template}" not in seen["prompts"]
    assert seen["prompt"].messages[0].content.text == "Write a post about tea for kids"
    missing_arg, strangers, unknown = seen["prompt_errors"]
    assert missing_arg.code == INVALID_PARAMS and missing_arg.message == "Fill in every variable: audience."
    assert strangers.code == INVALID_PARAMS and strangers.message == "Template not found."
    assert unknown.code == INVALID_PARAMS and "template-<id>" in unknown.message

    # over the limit: the API's 429 body, its message as the text, the quota the API reports
    over = seen["over"]
    api = api_error(world, "post", "/prompts", world.ann, json={"prompt": "one more", "style": "general"})
    assert over.is_error and over.content[0].text == api["message"]
    assert over.structured_content["error"] == "quota_exceeded" and over.structured_content["code"] == 429
    assert over.structured_content["quota"] == api["quota"] and over.structured_content["upgrade_url"]
    stats = world.client.get(f"{API}/stats", headers=world.ann).json
    assert stats["quota"]["used"] == 3 and stats["total"] == 3


def _library(world: World) -> tuple[int, int, int, int]:
    """Ann's template and custom style; Bob's record and template (a stranger's ids)."""
    r = world.client.post(f"{API}/templates", json={"title": "Post", "description": "A social post",
                                                    "body": "Write a post about {{topic}} for {{audience}}"},
                          headers=world.ann)
    assert r.status_code == 201, r.json
    template_id = r.json["id"]
    r = world.client.post(f"{API}/custom-styles", json={"title": "Pirate", "instructions": "Talk like a pirate."},
                          headers=world.ann)
    assert r.status_code == 201, r.json
    style_id = r.json["id"]
    r = world.client.post(f"{API}/prompts", json={"prompt": "bob's secret plan", "style": "general"},
                          headers=world.bob)
    assert r.status_code == 201, r.json
    bob_record = r.json["id"]
    r = world.client.post(f"{API}/templates", json={"title": "Bob's", "body": "About {{topic}}"}, headers=world.bob)
    assert r.status_code == 201, r.json
    return template_id, style_id, bob_record, r.json["id"]


# -- the tests ------------------------------------------------------------------------------------------

def test_a_stdio_session_improves_iterates_searches_and_uses_templates(world):
    template_id, style_id, bob_record, bob_template = _library(world)
    seen = run_stdio(world, lambda session, init: _full_session(session, init, world, bob_record, bob_template,
                                                                template_id, style_id))
    _check_full_session(world, seen, bob_record, bob_template, template_id, style_id)


def test_a_streamable_http_session_does_the_same_with_the_key_in_each_request(world):
    template_id, style_id, bob_record, bob_template = _library(world)
    with mcp_http_server(world) as url:
        seen = run_http(url, world.key, lambda session, init: _full_session(session, init, world, bob_record,
                                                                            bob_template, template_id, style_id))
    _check_full_session(world, seen, bob_record, bob_template, template_id, style_id)


def _mcp(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "PROMPTCORE_"))}
    return subprocess.run([EXE, *args], env={**clean, **env}, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)


def test_stdio_refuses_to_start_without_a_key_that_works(sqlite_world):
    world = sqlite_world
    jwt = world.ann["Authorization"].split()[1]
    revoked = world.make_key(world.ann, ["prompts:read"], name="old")
    world.revoke(revoked["id"])
    cases = {
        "": "PROMPTCORE_API_KEY is not set",
        "   ": "PROMPTCORE_API_KEY is not set",
        "pc_short": f"PROMPTCORE_API_KEY: {INVALID}",
        jwt: f"PROMPTCORE_API_KEY: {INVALID}",
        "pc_" + "A" * 43: f"PROMPTCORE_API_KEY: {INVALID}",  # well formed, unknown
        revoked["key"]: f"PROMPTCORE_API_KEY: {INVALID}",
    }
    for key, expected in cases.items():
        env = world.env(PROMPTCORE_API_KEY=key) if key else world.env()
        done = _mcp("mcp", env=env, cwd=world.tmp)
        assert done.returncode == 2, (key, done.stderr)
        assert done.stdout == "", "nothing but the protocol goes to stdout"
        lines = [line for line in done.stderr.splitlines() if line.startswith("promptcore:")]
        assert len(lines) == 1 and expected in lines[0], (key, done.stderr)
    # a database that is not migrated: refused the same way, for both transports
    fresh = world.env(PROMPTCORE_API_KEY=world.key, PROMPTCORE_DATABASE_URL=f"sqlite:///{world.tmp}/empty.db")
    for args in (["mcp"], ["mcp-http", "--port", str(free_port())]):
        done = _mcp(*args, env=fresh, cwd=world.tmp)
        assert done.returncode == 2 and "migrations are pending" in done.stderr, done.stderr


def test_a_key_revoked_during_a_stdio_session_stops_working_at_once(sqlite_world):
    world = sqlite_world

    async def session_fn(session, init):
        first = await session.call_tool("search_history", {})
        world.revoke(world.key_id)
        after = await session.call_tool("improve_prompt", {"prompt": "hello", "style": "general"})
        with pytest.raises(MCPError) as listing:
            await session.list_prompts()
        return first, after, listing.value

    first, after, listing = run_stdio(world, session_fn)
    assert not first.is_error and first.structured_content == {"items": [], "more": False}
    assert after.is_error and after.content[0].text == INVALID
    assert (after.structured_content["code"], after.structured_content["error"]) == (401, "unauthorized")
    assert listing.message == INVALID
    assert world.records() == 0


def test_http_refuses_requests_without_a_working_key_and_keeps_to_the_scopes(sqlite_world):
    world = sqlite_world
    reader = world.make_key(world.ann, ["prompts:read"], name="reader")
    templates_only = world.make_key(world.ann, ["templates:read"], name="templates")
    with mcp_http_server(world) as url:
        base = url.rsplit("/", 1)[0]
        assert requests.get(base + "/healthz", timeout=5).json() == {"status": "ok"}
        missing = requests.get(base + "/elsewhere", timeout=5)
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"

        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "improve_prompt", "arguments": {"prompt": "hello", "style": "general"}}}
        accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        jwt = world.ann["Authorization"].split()[1]
        for authorization, message in ((None, "Send a personal API key: Authorization: Bearer pc_..."),
                                       ("Basic YW5uOnB3", "Send a personal API key: Authorization: Bearer pc_..."),
                                       (f"Bearer {jwt}", "The MCP server takes a personal API key (pc_...), not an "
                                                         "access token."),
                                       ("Bearer pc_nope", INVALID), ("Bearer pc_" + "A" * 43, INVALID)):
            headers = {**accept, **({"Authorization": authorization} if authorization else {})}
            r = requests.post(url, data=json.dumps(call), headers=headers, timeout=10)
            assert r.status_code == 401, (authorization, r.text)
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
            assert r.json() == {"code": 401, "status": "Unauthorized", "error": "unauthorized", "message": message}

        # the SDK's client without a key cannot even initialize
        with pytest.raises(MCPError):
            run_http(url, None, lambda session, init: session.list_tools())

        # a key without the scope: the API's 403 insufficient_scope as a tool error
        async def as_reader(session, init):
            improve = await session.call_tool("improve_prompt", {"prompt": "hello", "style": "general"})
            history = await session.call_tool("search_history", {})
            render = await session.call_tool("render_template", {"template_id": 1, "values": {}})
            prompts = await session.list_prompts()
            styles = await session.call_tool("list_styles", {})
            return improve, history, render, prompts, styles

        improve, history, render, prompts, styles = run_http(url, reader["key"], as_reader)
        assert improve.is_error and improve.structured_content["error"] == "insufficient_scope"
        assert improve.content[0].text == "This API key lacks the prompts:write scope."
        assert improve.structured_content == api_error(
            world, "post", "/prompts", {"Authorization": f"Bearer {reader['key']}"},
            json={"prompt": "hello", "style": "general"})
        assert not history.is_error
        assert render.is_error and render.content[0].text == "This API key lacks the templates:read scope."
        assert prompts.prompts == []
        assert not styles.is_error

        async def as_templates_reader(session, init):
            return await session.call_tool("search_history", {"query": "x"})

        history = run_http(url, templates_only["key"], as_templates_reader)
        assert history.is_error and history.content[0].text == "This API key lacks the prompts:read scope."

        # a client on the newer protocol (no handshake: every request carries its own envelope)
        async def modern():
            async with create_mcp_http_client(headers={"Authorization": f"Bearer {reader['key']}"}) as http:
                async with Client(streamable_http_client(url, http_client=http), mode="auto") as client:
                    return (client.session.protocol_version, await client.list_tools(),
                            await client.call_tool("search_history", {"limit": 3}))

        version, listed, found = _run(modern)
        assert version not in (None, "2025-11-25") and len(listed.tools) == len(TOOLS)
        assert not found.is_error and found.structured_content == {"items": [], "more": False}

        # the key works, then is revoked: the very next request is refused
        async def improve_then_revoke(session, init):
            done = await session.call_tool("improve_prompt", {"prompt": "hello", "style": "general"})
            world.revoke(world.key_id)
            with pytest.raises(MCPError):
                await session.call_tool("improve_prompt", {"prompt": "hello again", "style": "general"})
            return done

        done = run_http(url, world.key, improve_then_revoke)
        assert not done.is_error and done.structured_content["quota"]["used"] == 1
        r = requests.post(url, data=json.dumps(call), headers={**accept, "Authorization": f"Bearer {world.key}"},
                          timeout=10)
        assert r.status_code == 401 and r.json()["message"] == INVALID
    assert world.records() == 1


def test_the_prompts_list_pages_through_the_users_and_their_teams_templates(sqlite_world):
    world = sqlite_world
    r = world.client.post(f"{API}/teams", json={"name": "Desk"}, headers=world.ann)
    assert r.status_code == 201, r.json
    team_id = r.json["id"]
    mine = []
    for n in range(103):
        r = world.client.post(f"{API}/templates", json={"title": f"T{n}", "body": f"Body {n} {{{{x}}}}"},
                              headers=world.ann)
        assert r.status_code == 201, r.json
        mine.append(r.json["id"])
    r = world.client.post(f"{API}/templates", json={"title": "Shared", "body": "Team {{y}}", "team_id": team_id},
                          headers=world.ann)
    assert r.status_code == 201, r.json
    shared = r.json["id"]

    async def session_fn(session, init):
        pages = []
        cursor = None
        while True:
            page = await session.list_prompts(params=None if cursor is None else PaginatedRequestParams(cursor=cursor))
            pages.append([p.name for p in page.prompts])
            cursor = page.next_cursor
            if cursor is None:
                return pages

    pages = run_stdio(world, session_fn)
    names = [name for page in pages for name in page]
    assert len(pages) == 2 and len(pages[0]) == 100
    assert sorted(names) == sorted([f"template-{i}" for i in mine] + [f"template-{shared}"])
    assert names[-1] == f"template-{shared}"  # the team's library after the user's own
