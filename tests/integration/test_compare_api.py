"""Try it over HTTP (SPEC §15.3): POST /api/v1/prompts/{id}/compare against the OpenRouter stand-in,
streamed and as JSON, on SQLite and PostgreSQL — two distinct answers in the right events, one side
failing, the offline refusal, strangers, the limit, bad input, and the comparison kept with the record."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from adapters.sql import tables as t
from tests.conftest import build_test_app, make_settings
from tests.integration import openrouter_standin as so
from tests.integration.test_prompts_api import KEY, quota_used, read_events, signup

standin = so.standin
MODELS = "openai/gpt-4o-mini,anthropic/claude-3.5-haiku"
IMPROVED = "Role: you are an experienced expert."  # how the stand-in's improved prompts begin


@pytest.fixture
def api(tmp_path, database_url, standin):
    settings = make_settings(
        tmp_path, PROMPTCORE_DATABASE_URL=database_url, PROMPTCORE_LLM="openrouter", OPENROUTER_API_KEY=KEY,
        OPENROUTER_BASE_URL=standin.base_url, PROMPTCORE_LLM_MODELS=MODELS, PROMPTCORE_LLM_TIMEOUT="3")
    app, container = build_test_app(settings)
    yield app.test_client(), container, standin
    container.engine().dispose()


def improved_record(client, auth, prompt="explain recursion to a child", **extra) -> dict:
    r = client.post("/api/v1/prompts", json={"prompt": prompt, "style": "general", **extra}, headers=auth)
    assert r.status_code == 201, r.json
    return r.json


def expected_answer(prompt: str) -> str:
    return so.answer_text({"messages": [{"role": "user", "content": prompt}]})


def test_the_stream_answers_both_prompts_in_their_own_events(api):
    client, container, upstream = api
    auth = signup(client, container)
    record = improved_record(client, auth, model="anthropic/claude-3.5-haiku")
    upstream.reset()
    r = client.post(f"/api/v1/prompts/{record['id']}/compare", json={},
                    headers={**auth, "Accept": "text/event-stream"})
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    events = read_events(r.data)
    names = [name for name, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"a", "b"}
    a = "".join(d["text"] for e, d in events if e == "a")
    b = "".join(d["text"] for e, d in events if e == "b")
    assert a == expected_answer(record["original_prompt"]) and b == expected_answer(record["generated_prompt"])
    assert a != b and record["original_prompt"] in a and IMPROVED in b
    done = events[-1][1]
    assert done["status"] == "succeeded" and done["spent"] is True
    assert done["a"]["text"] == a and done["b"]["text"] == b
    assert done["a"]["status"] == done["b"]["status"] == "succeeded" and done["a"]["error"] is None
    assert done["model"] == "anthropic/claude-3.5-haiku"  # the record's model
    assert done["quota"]["used"] == 2 and quota_used(client, auth) == 2

    # Two plain streamed requests on the chosen model, the prompt as the only message, no fallbacks.
    sent = upstream.received
    assert len(sent) == 2
    for request in sent:
        body = request.json
        assert body["stream"] is True and body["model"] == "anthropic/claude-3.5-haiku" and "models" not in body
        assert [m["role"] for m in body["messages"]] == ["user"]
        assert request.header("Authorization") == f"Bearer {KEY}"
    assert {r.json["messages"][0]["content"] for r in sent} == {record["original_prompt"], record["generated_prompt"]}

    # The comparison is kept with the record.
    kept = client.get(f"/api/v1/prompts/{record['id']}", headers=auth).json["comparison"]
    assert kept["a"]["text"] == a and kept["b"]["text"] == b and kept["quota"] is None
    with container.engine().connect() as conn:
        units = conn.execute(select(t.quota_units.c.source_kind, t.quota_units.c.source_id)).all()
    assert sorted(units) == [("comparison", record["id"]), ("generation", record["id"])]


def test_json_when_no_stream_is_asked_for_with_the_model_and_input(api):
    client, container, upstream = api
    auth = signup(client, container)
    record = improved_record(client, auth)
    upstream.reset()
    r = client.post(f"/api/v1/prompts/{record['id']}/compare",
                    json={"model": "openai/gpt-4o-mini", "input": "  My son is 7.  "}, headers=auth)
    assert r.status_code == 201, r.json
    body = r.json
    assert body["input"] == "My son is 7." and body["model"] == "openai/gpt-4o-mini"
    assert body["status"] == "succeeded" and body["spent"] and body["quota"]["used"] == 2
    prompts = sorted(req.json["messages"][0]["content"] for req in upstream.received)
    assert prompts == sorted([record["original_prompt"] + "\n\nMy son is 7.",
                              record["generated_prompt"] + "\n\nMy son is 7."])
    assert body["a"]["text"] == expected_answer(record["original_prompt"] + "\n\nMy son is 7.")
    assert body["a"]["usage"]["total_tokens"] and body["a"]["latency_ms"] is not None
    # A second comparison replaces the first one.
    again = client.post(f"/api/v1/prompts/{record['id']}/compare", json={}, headers=auth).json
    assert client.get(f"/api/v1/prompts/{record['id']}", headers=auth).json["comparison"]["input"] is None
    assert again["quota"]["used"] == 3


@pytest.mark.parametrize("failing", ["a", "b"])
def test_one_side_failing_still_delivers_the_other_and_spends_nothing(api, failing):
    client, container, upstream = api
    auth = signup(client, container)
    record = improved_record(client, auth)
    upstream.reset()
    if failing == "b":  # the improved prompt: OpenRouter says no credits (not retried)
        upstream.when(so.asking(IMPROVED), so.no_credits())
    else:  # the original prompt: the model breaks off mid-stream
        upstream.when(lambda body: IMPROVED not in so.prompt_of(body), so.sse_mid_stream_error(("Half ", "an ")))
    r = client.post(f"/api/v1/prompts/{record['id']}/compare", json={},
                    headers={**auth, "Accept": "text/event-stream"})
    events = read_events(r.data)
    done = events[-1][1]
    assert events[-1][0] == "done", events
    other = "a" if failing == "b" else "b"
    prompt = record["original_prompt"] if other == "a" else record["generated_prompt"]
    assert "".join(d["text"] for e, d in events if e == other) == expected_answer(prompt)
    assert done[other]["status"] == "succeeded" and done[other]["text"] == expected_answer(prompt)
    assert done[failing]["status"] == "failed"
    assert done[failing]["error"] == {"error": "llm_unavailable",
                                      "message": "The language model is unavailable right now. Try again in a moment."}
    assert done["status"] == "partial" and done["spent"] is False
    assert done["quota"]["used"] == 1 and quota_used(client, auth) == 1
    if failing == "a":  # what was written before it broke off is kept, marked failed
        assert done["a"]["text"] == "Half an"
    kept = client.get(f"/api/v1/prompts/{record['id']}", headers=auth).json["comparison"]
    assert kept["status"] == "partial" and kept[other]["text"] == expected_answer(prompt)


def test_both_sides_failing_is_an_error_and_spends_nothing(api):
    client, container, upstream = api
    auth = signup(client, container)
    record = improved_record(client, auth)
    upstream.when(lambda body: True, so.no_credits())
    r = client.post(f"/api/v1/prompts/{record['id']}/compare", json={}, headers=auth)
    assert r.status_code == 503 and r.json["error"] == "llm_unavailable"
    r = client.post(f"/api/v1/prompts/{record['id']}/compare", json={}, headers={**auth, "Accept": "text/event-stream"})
    events = read_events(r.data)
    assert [e for e, _ in events] == ["error"] and events[0][1]["error"] == "llm_unavailable"
    assert events[0][1]["code"] == 503
    assert quota_used(client, auth) == 1
    assert client.get(f"/api/v1/prompts/{record['id']}", headers=auth).json["comparison"] is None
    assert KEY not in r.get_data(as_text=True)


def test_someone_elses_record_is_not_found(api):
    client, container, upstream = api
    ada = signup(client, container)
    record = improved_record(client, ada)
    bob = signup(client, container, "bob@example.com")
    upstream.reset()
    for headers in (bob, {**bob, "Accept": "text/event-stream"}):
        r = client.post(f"/api/v1/prompts/{record['id']}/compare", json={}, headers=headers)
        assert r.status_code == 404 and r.json["error"] == "not_found"
    assert client.post("/api/v1/prompts/987654/compare", json={}, headers=ada).status_code == 404
    assert upstream.count == 0 and quota_used(client, bob) == 0
    assert client.post(f"/api/v1/prompts/{record['id']}/compare", json={}).status_code == 401
    # A deleted record can no longer be compared, and its comparison went with its texts.
    assert client.post(f"/api/v1/prompts/{record['id']}/compare", json={}, headers=ada).status_code == 201
    assert client.delete(f"/api/v1/prompts/{record['id']}", headers=ada).status_code == 204
    assert client.post(f"/api/v1/prompts/{record['id']}/compare", json={}, headers=ada).status_code == 404
    with container.engine().connect() as conn:
        assert conn.execute(select(t.prompt_comparisons)).all() == []


def test_over_the_limit_is_429_as_for_prompts(api):
    client, container, upstream = api
    auth = signup(client, container)
    record = improved_record(client, auth)
    for _ in range(2):
        assert client.post(f"/api/v1/prompts/{record['id']}/compare", json={}, headers=auth).status_code == 201
    upstream.reset()
    for headers in (auth, {**auth, "Accept": "text/event-stream"}):
        r = client.post(f"/api/v1/prompts/{record['id']}/compare", json={}, headers=headers)
        assert r.status_code == 429 and r.json["error"] == "quota_exceeded"
        assert int(r.headers["Retry-After"]) > 0
        assert r.json["quota"]["used"] == 3 and r.json["quota"]["remaining"] == 0
        assert r.json["upgrade_url"] == "http://promptcore.test/pricing"
    assert upstream.count == 0


@pytest.mark.parametrize("body,field", [
    ({"model": "not/offered"}, "model"),
    ({"input": "x" * 4001}, "input"),
    ({"input": 5}, "input"),
    ({"stream": True}, "stream"),
])
def test_bad_input_is_422_and_changes_nothing(api, body, field):
    client, container, upstream = api
    auth = signup(client, container)
    record = improved_record(client, auth)
    upstream.reset()
    r = client.post(f"/api/v1/prompts/{record['id']}/compare", json=body, headers=auth)
    assert r.status_code == 422 and r.json["error"] == "validation_error" and field in r.json["errors"]
    assert upstream.count == 0 and quota_used(client, auth) == 1
    assert client.post(f"/api/v1/prompts/{record['id']}/compare", headers=auth).status_code == 400  # no body


def test_the_offline_improver_refuses_with_503_and_spends_nothing(tmp_path):
    app, container = build_test_app(make_settings(tmp_path))
    client = app.test_client()
    auth = signup(client, container)
    record = improved_record(client, auth)
    for headers in (auth, {**auth, "Accept": "text/event-stream"}):
        r = client.post(f"/api/v1/prompts/{record['id']}/compare", json={}, headers=headers)
        assert r.status_code == 503 and r.json["error"] == "llm_unavailable"
        assert "needs a language model" in r.json["message"]
    assert quota_used(client, auth) == 1
    with container.engine().connect() as conn:
        assert conn.execute(select(t.quota_units.c.source_kind)).scalars().all() == ["generation"]
    container.engine().dispose()
