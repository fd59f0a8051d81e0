"""The MCP server's deployment and documentation (SPEC §15.2), and the parts of it that need no
process: the command line, the tools' schemas, argument checks and the prompts' cursor."""

from __future__ import annotations

import json
import pathlib
import re

import pytest

from entrypoints.cli import build_parser
from entrypoints.mcp.tools import _Args, _decode_cursor, _encode_cursor, _tools, error_result
from promptcore.domain.errors import NotFound, QuotaExceeded, ValidationFailed
from promptcore.domain.quota import QuotaStatus

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_compose_runs_the_mcp_http_server_beside_the_app():
    text = (ROOT / "docker" / "compose.yaml").read_text()
    services = text.split("\nservices:\n", 1)[1].split("\nvolumes:\n", 1)[0]
    blocks = dict(re.findall(r"^  ([a-z]+):\n((?:(?:    .*)?\n)+)", services, re.M))
    mcp = blocks["mcp"]
    assert '"promptcore", "mcp-http", "--host", "0.0.0.0", "--port", "8001"' in mcp
    assert '"127.0.0.1:8001:8001"' in mcp and "8001/healthz" in mcp
    assert "service_completed_successfully" in mcp  # after the migration


def test_the_readme_shows_how_to_add_the_server_to_a_client():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## MCP server\n", 1)[1].split("\n## ", 1)[0]
    configs = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)]
    stdio, http = (c["mcpServers"]["promptcore"] for c in configs)
    assert stdio["args"] == ["mcp"] and stdio["command"].endswith("promptcore")
    assert "PROMPTCORE_API_KEY" in stdio["env"]
    assert http["url"].endswith("/mcp") and http["headers"]["Authorization"].startswith("Bearer pc_")
    for tool in ("improve_prompt", "iterate_prompt", "list_styles", "search_history", "render_template"):
        assert f"`{tool}(" in section


def test_the_command_line_has_both_transports():
    parser = build_parser()
    assert parser.parse_args(["mcp"]).func.__name__ == "cmd_mcp"
    args = parser.parse_args(["mcp-http"])
    assert (args.host, args.port, args.func.__name__) == ("127.0.0.1", 8001, "cmd_mcp_http")
    args = parser.parse_args(["mcp-http", "--host", "0.0.0.0", "--port", "9000"])
    assert (args.host, args.port) == ("0.0.0.0", 9000)


def test_the_tools_schemas_are_objects_that_name_their_required_fields():
    specs = {spec.name: spec for spec in _tools(("openai/gpt-4o-mini", "anthropic/claude"), 8000)}
    assert list(specs) == ["improve_prompt", "iterate_prompt", "list_styles", "search_history", "render_template"]
    for spec in specs.values():
        assert spec.input_schema["type"] == "object" and spec.input_schema["additionalProperties"] is False
        assert set(spec.input_schema.get("required", [])) <= set(spec.input_schema["properties"])
        assert spec.output_schema["type"] == "object"
    assert "openai/gpt-4o-mini, anthropic/claude" in specs["improve_prompt"].input_schema["properties"]["model"][
        "description"]
    assert specs["improve_prompt"].input_schema["properties"]["prompt"]["maxLength"] == 8000


def test_arguments_are_checked_field_by_field_with_the_apis_messages():
    args = _Args({"prompt": 5, "record_id": True, "extra": 1}, {"prompt", "record_id", "style"})
    args.text("prompt", True), args.integer("record_id", True), args.text("style", True)
    with pytest.raises(ValidationFailed) as caught:
        args.done()
    assert caught.value.errors == {"prompt": ["Not a valid string."], "record_id": ["Not a valid integer."],
                                   "style": ["Missing data for required field."], "extra": ["Unknown field."]}
    assert caught.value.message == "Some fields are invalid: extra, prompt, record_id, style."
    ok = _Args({"record_id": 3.0, "query": None}, {"record_id", "query"})
    assert ok.integer("record_id") == 3 and ok.text("query") is None
    ok.done()
    with pytest.raises(ValidationFailed):
        _Args(["not", "an", "object"], set()).done()
    # text the database cannot hold, refused as the API's Text field refuses it
    bad = _Args({"query": "a\x00b", "values": {"k": "\ud800"}, "long": "x" * 201}, {"query", "values", "long"})
    assert bad.text("query") is None and bad.mapping("values") is None and bad.text("long", max_length=200) is None
    assert bad.errors == {"query": ["Remove the NUL character (\\u0000)."],
                          "values.k": ["The text is not valid Unicode (it contains an unpaired surrogate)."],
                          "long": ["Longer than maximum length 200."]}


def test_core_errors_become_tool_errors_in_the_apis_shape():
    result = error_result(NotFound("No such prompt in your history."))
    assert result.is_error and result.texts == ["No such prompt in your history."]
    assert result.data == {"code": 404, "status": "Not Found", "error": "not_found",
                           "message": "No such prompt in your history."}
    quota = QuotaStatus(used=3, limit=3, remaining=0, resets_at=None, window="rolling")
    result = error_result(QuotaExceeded(quota, 60), "http://promptcore.test/pricing")
    assert result.data["code"] == 429 and result.data["error"] == "quota_exceeded"
    assert result.data["quota"]["remaining"] == 0 and result.data["upgrade_url"] == "http://promptcore.test/pricing"
    assert result.data["retry_after"] == 60 and "3 of 3 used" in result.texts[1]


def test_the_prompts_cursor_reads_back_and_refuses_anything_else():
    assert _decode_cursor(None) == (0, None)
    assert _decode_cursor(_encode_cursor(2, "abc")) == (2, "abc")
    for bad in ("%%%", "bm9wZQ", _encode_cursor(-1, None), "WzEsMl0"):  # not base64/JSON, negative, [1, 2]
        with pytest.raises(ValidationFailed):
            _decode_cursor(bad)
