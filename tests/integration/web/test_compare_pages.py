"""Try it's pages through Flask's test client (SPEC §15.3): the button on results, the compare view,
the form without JavaScript, the streaming endpoint the script reads, the comparison on the
history item, strangers, the limit, the offline improver's explanation, and Russian."""

from __future__ import annotations

import html
import re

import pytest

from tests.conftest import build_test_app, make_settings
from tests.integration import openrouter_standin as so
from tests.integration.test_prompts_api import read_events

from .test_security import confirmed_user, generate, signed_in_client, token

standin = so.standin
IMPROVED = "Role: you are an experienced expert."


@pytest.fixture
def site(tmp_path, standin):
    settings = make_settings(tmp_path, PROMPTCORE_LLM="openrouter", OPENROUTER_API_KEY="sk-or-pages",
                             OPENROUTER_BASE_URL=standin.base_url, PROMPTCORE_LLM_TIMEOUT="3",
                             PROMPTCORE_LLM_MODELS="openai/gpt-4o-mini,anthropic/claude-3.5-haiku",
                             PROMPTCORE_DAILY_LIMIT="3")
    app, container = build_test_app(settings)
    confirmed_user(container, "ada@example.com")
    client = signed_in_client(app, "ada@example.com")
    yield app, container, client, standin
    container.engine().dispose()


def text(response) -> str:
    return response.get_data(as_text=True)


def answer(prompt: str) -> str:
    return so.answer_text({"messages": [{"role": "user", "content": prompt}]})


def column(page: str, side: str) -> str:
    found = re.search(r'<section class="compare-col[^"]*" data-side="%s".*?</section>' % side, page, re.S)
    assert found, page
    return found.group(0)


def answer_in(page: str, side: str) -> str:
    found = re.search(r'data-answer="%s"[^>]*>(.*?)</pre>' % side, column(page, side), re.S)
    return found.group(1) if found else ""


def test_the_button_opens_the_view_and_the_form_shows_both_answers(site):
    app, container, client, upstream = site
    record_id = generate(client, "explain recursion to a child")
    result = text(client.get(f"/app?result={record_id}"))
    assert f'href="/history/{record_id}/try"' in result and 'id="try-it"' in result
    assert f'href="/history/{record_id}/try"' in text(client.get(f"/history/{record_id}"))

    page = text(client.get(f"/history/{record_id}/try"))
    assert 'id="compare-form"' in page and f'data-compare-stream="/history/{record_id}/try/stream"' in page
    assert answer_in(page, "a") == answer_in(page, "b") == ""
    assert "0 of 3 used today" not in page and "1 of 3 used today" in page

    r = client.post(f"/history/{record_id}/try", data={"csrf_token": token(client, f"/history/{record_id}/try"),
                                                       "model": "openai/gpt-4o-mini", "input": "He is 7."})
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/history/{record_id}/try#compare-columns")
    page = text(client.get(f"/history/{record_id}/try"))
    assert html.unescape(answer_in(page, "a")) == answer("explain recursion to a child\n\nHe is 7.")
    assert IMPROVED in answer_in(page, "b") and "explain recursion" not in answer_in(page, "b")[:40]
    assert "2 of 3 used today" in page

    # The kept comparison is on the history item.
    item = text(client.get(f"/history/{record_id}"))
    assert 'id="compare-kept"' in item
    assert "explain recursion to a child" in answer_in(item, "a") and IMPROVED in answer_in(item, "b")


def test_the_streaming_endpoint_sends_each_side_in_its_own_event(site):
    app, container, client, upstream = site
    record_id = generate(client, "write a limerick about a cat")
    r = client.post(f"/history/{record_id}/try/stream",
                    data={"csrf_token": token(client, f"/history/{record_id}/try"), "input": ""},
                    headers={"Accept": "text/event-stream"})
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    events = read_events(r.data)
    assert events[-1][0] == "done" and {e for e, _ in events[:-1]} == {"a", "b"}
    a = "".join(d["text"] for e, d in events if e == "a")
    b = "".join(d["text"] for e, d in events if e == "b")
    assert "write a limerick about a cat" in a and IMPROVED in b and IMPROVED not in a
    done = events[-1][1]
    assert done["status"] == "succeeded" and 'data-side="a"' in done["html"]
    assert "2 of 3 used today" in done["quota_html"]


def test_one_side_failing_shows_the_other_and_says_which_failed(site):
    app, container, client, upstream = site
    record_id = generate(client, "summarise the meeting notes")
    upstream.when(so.asking(IMPROVED), so.no_credits())
    r = client.post(f"/history/{record_id}/try", data={"csrf_token": token(client, f"/history/{record_id}/try")})
    assert r.status_code == 303
    page = text(client.get(f"/history/{record_id}/try"))
    assert "summarise the meeting notes" in answer_in(page, "a")
    assert "No answer from the model" in column(page, "b") and "No answer from the model" not in column(page, "a")
    assert "was not counted in your quota" in page and "1 of 3 used today" in page


def test_errors_show_on_the_page_and_in_the_script_s_json(site):
    app, container, client, upstream = site
    record_id = generate(client, "plan a trip to Kazan")
    path = f"/history/{record_id}/try"
    r = client.post(path, data={"csrf_token": token(client, path), "model": "not/offered"})
    assert r.status_code == 422 and 'id="model-error"' in text(r) and "This model is not offered" in text(r)
    r = client.post(path + "/stream", data={"csrf_token": token(client, path), "input": "x" * 4001})
    assert r.status_code == 422 and "input" in r.json["errors"]
    upstream.when(lambda body: True, so.no_credits())
    r = client.post(path, data={"csrf_token": token(client, path)})
    assert r.status_code == 503 and "The language model is unavailable right now" in text(r)
    r = client.post(path + "/stream", data={"csrf_token": token(client, path)})
    assert read_events(r.data) == [("error", {"message": "The language model is unavailable right now. "
                                                         "Try again in a moment."})]
    upstream.reset()
    for _ in range(2):
        assert client.post(path, data={"csrf_token": token(client, path)}).status_code == 303
    r = client.post(path, data={"csrf_token": token(client, path)})
    assert r.status_code == 429 and "You have used all 3 improvements for today." in text(r)
    r = client.post(path + "/stream", data={"csrf_token": token(client, path)})
    assert r.status_code == 429 and r.json["error"] == "quota_exceeded" and "quota_html" in r.json
    assert re.search(r'id="compare-run"[^>]*disabled', text(client.get(path)))
    assert client.post(path, data={}).status_code == 400  # no CSRF token


def test_someone_elses_record_is_not_found(site):
    app, container, client, upstream = site
    record_id = generate(client, "mine")
    confirmed_user(container, "bob@example.com")
    bob = signed_in_client(app, "bob@example.com")
    path = f"/history/{record_id}/try"
    assert bob.get(path).status_code == 404
    assert bob.post(path, data={"csrf_token": token(bob, "/app")}).status_code == 404
    assert bob.post(path + "/stream", data={"csrf_token": token(bob, "/app")}).status_code == 404
    assert upstream.count == 1  # the improvement only


def test_russian_page(site):
    app, container, client, upstream = site
    record_id = generate(client, "напиши пост про кофемашину")
    client.post("/preferences", data={"csrf_token": token(client, "/app"), "language": "ru", "next": "/app"})
    page = text(client.get(f"/history/{record_id}/try"))
    assert '<html lang="ru"' in page and "Попробовать: сравните ответы" in page and "Запустить оба" in page
    assert "Попробовать" in text(client.get(f"/history/{record_id}"))


def test_the_offline_improver_explains_that_a_model_is_needed(tmp_path):
    app, container = build_test_app(make_settings(tmp_path))
    confirmed_user(container, "ada@example.com")
    client = signed_in_client(app, "ada@example.com")
    record_id = generate(client, "write a haiku")
    result = text(client.get(f"/app?result={record_id}"))
    assert re.search(r'id="try-it"[^>]*disabled', result) and "Try it needs a language model" in result
    page = text(client.get(f"/history/{record_id}/try"))
    assert 'id="try-it-needs-model"' in page and 'id="compare-form"' not in page
    r = client.post(f"/history/{record_id}/try", data={"csrf_token": token(client, "/app")})
    assert r.status_code == 503 and "needs a language model" in text(r)
    assert "1 of 3 used today" in text(client.get("/app"))
    container.engine().dispose()
