"""The library over HTTP (SPEC §13.1-13.3): templates with variables and versions, quick
templates, custom styles; bad input and other users' ids (SQLite and PostgreSQL, offline improver)."""

from __future__ import annotations

import pytest

from tests.conftest import build_test_app, make_settings
from tests.integration import openrouter_standin as so

standin = so.standin

PW = "correct horse battery"
API = "/api/v1"


@pytest.fixture
def api(tmp_path, database_url):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url))
    client = app.test_client()
    yield client, container
    container.engine().dispose()


def signup(client, container, email="ada@example.com", limit=None):
    """A confirmed user's bearer header (``limit``: a daily limit of their own)."""
    client.post(f"{API}/auth/register", json={"email": email, "password": PW})
    user = container.accounts().authenticate(email, PW)
    token = container.signed_tokens().dumps("confirm-email", {"uid": user.id, "email": email})
    assert client.post(f"{API}/auth/confirm-email", json={"token": token}).status_code == 200
    if limit is not None:
        container.accounts().set_daily_limit(email, limit)
    pair = client.post(f"{API}/auth/login", json={"email": email, "password": PW}).json
    return {"Authorization": f"Bearer {pair['access_token']}"}


def new_template(client, auth, **fields):
    body = {"title": "Post", "body": "Write a post about {{topic}} for {{ audience }}.", **fields}
    r = client.post(f"{API}/templates", json=body, headers=auth)
    assert r.status_code == 201, r.json
    return r.json


def new_style(client, auth, **fields):
    body = {"title": "Pirate", "instructions": "Make it sound like a pirate wrote the prompt.", **fields}
    r = client.post(f"{API}/custom-styles", json=body, headers=auth)
    assert r.status_code == 201, r.json
    return r.json


def quota_used(client, auth):
    return client.get(f"{API}/stats", headers=auth).json["quota"]["used"]


def template_count(client, auth):
    return len(client.get(f"{API}/templates?limit=100", headers=auth).json["items"])


# -- happy paths ----------------------------------------------------------------------------------

def test_templates_are_created_listed_searched_changed_and_deleted(api):
    client, container = api
    auth = signup(client, container)
    post = new_template(client, auth, description="For launches", tags=["Marketing", " social "], favourite=True)
    assert post["variables"] == ["topic", "audience"]
    assert post["tags"] == ["marketing", "social"] and post["favourite"] is True
    assert post["version"] == 1 and post["read_only"] is False and post["builtin"] is None
    review = new_template(client, auth, title="Code review", body="Review this {{language}} code:\n{{code}}",
                          tags=["dev"])
    third = new_template(client, auth, title="Reply", body="Answer the customer politely.", tags=["social"])
    assert third["variables"] == []

    items = client.get(f"{API}/templates", headers=auth).json["items"]
    assert [t["id"] for t in items] == [third["id"], review["id"], post["id"]], "most recently changed first"
    assert [t["id"] for t in client.get(f"{API}/templates?q=CODE", headers=auth).json["items"]] == [review["id"]]
    assert {t["id"] for t in client.get(f"{API}/templates?tag=Social", headers=auth).json["items"]} == {
        post["id"], third["id"]}
    assert [t["id"] for t in client.get(f"{API}/templates?favourite=true", headers=auth).json["items"]] == [
        post["id"]]
    page = client.get(f"{API}/templates?limit=2", headers=auth).json
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(f"{API}/templates?limit=2&cursor={page['next_cursor']}", headers=auth).json
    assert [t["id"] for t in rest["items"]] == [post["id"]] and rest["next_cursor"] is None
    tags = client.get(f"{API}/templates/tags", headers=auth).json["tags"]
    assert tags == [{"tag": "social", "count": 2}, {"tag": "dev", "count": 1}, {"tag": "marketing", "count": 1}]

    r = client.patch(f"{API}/templates/{post['id']}", json={"title": "Launch post", "favourite": False,
                                                            "tags": ["launch"]}, headers=auth)
    assert r.status_code == 200 and r.json["title"] == "Launch post" and r.json["version"] == 1
    assert r.json["tags"] == ["launch"] and r.json["favourite"] is False
    assert client.get(f"{API}/templates/{post['id']}", headers=auth).json["title"] == "Launch post"
    assert client.patch(f"{API}/templates/{post['id']}", json={"title": "code review"}, headers=auth
                        ).json["error"] == "title_taken"
    r = client.post(f"{API}/templates", json={"title": "CODE REVIEW", "body": "x"}, headers=auth)
    assert r.status_code == 409 and r.json["error"] == "title_taken"

    assert client.delete(f"{API}/templates/{review['id']}", headers=auth).status_code == 204
    assert client.get(f"{API}/templates/{review['id']}", headers=auth).status_code == 404
    assert client.delete(f"{API}/templates/{review['id']}", headers=auth).status_code == 404
    assert template_count(client, auth) == 2


def test_versions_diff_restore_and_render(api):
    client, container = api
    auth = signup(client, container)
    t = new_template(client, auth, body="Line one about {{topic}}\nLine two")
    tid = t["id"]
    r = client.patch(f"{API}/templates/{tid}", json={"body": "Line one about {{topic}}\nLine 2 for {{who}}",
                                                     "note": "more detail"}, headers=auth)
    assert r.status_code == 200 and r.json["version"] == 2 and r.json["variables"] == ["topic", "who"]
    same = client.patch(f"{API}/templates/{tid}", json={"body": "Line one about {{topic}}\nLine 2 for {{who}}"},
                        headers=auth).json
    assert same["version"] == 2, "an unchanged text makes no version"

    versions = client.get(f"{API}/templates/{tid}/versions", headers=auth).json
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[0]["note"] == "more detail" and versions[0]["variables"] == ["topic", "who"]
    assert versions[1]["body"] == "Line one about {{topic}}\nLine two" and versions[1]["author_id"]
    one = client.get(f"{API}/templates/{tid}/versions/1", headers=auth).json
    assert one == versions[1]
    assert client.get(f"{API}/templates/{tid}/versions/3", headers=auth).status_code == 404

    diff = client.get(f"{API}/templates/{tid}/diff?from=1&to=2", headers=auth).json
    assert diff["from"] == 1 and diff["to"] == 2
    assert diff["lines"] == [
        {"op": " ", "text": "Line one about {{topic}}", "old_number": 1, "new_number": 1},
        {"op": "-", "text": "Line two", "old_number": 2, "new_number": None},
        {"op": "+", "text": "Line 2 for {{who}}", "old_number": None, "new_number": 2},
    ]
    assert client.get(f"{API}/templates/{tid}/diff?from=1&to=9", headers=auth).status_code == 404
    assert client.get(f"{API}/templates/{tid}/diff?from=1", headers=auth).status_code == 422

    r = client.post(f"{API}/templates/{tid}/restore", json={"version": 1}, headers=auth)
    assert r.status_code == 200 and r.json["version"] == 3 and r.json["body"] == one["body"]
    latest = client.get(f"{API}/templates/{tid}/versions", headers=auth).json[0]
    assert latest["number"] == 3 and latest["note"] == "restored from version 1"
    assert client.post(f"{API}/templates/{tid}/restore", json={"version": 7}, headers=auth).status_code == 404

    r = client.post(f"{API}/templates/{tid}/render", json={"values": {"topic": "tea", "unused": "x"}}, headers=auth)
    assert r.status_code == 200 and r.json == {"text": "Line one about tea\nLine two"}
    r = client.post(f"{API}/templates/{tid}/render", json={"values": {"topic": "tea", "who": "{ kids"},
                                                          "version": 2}, headers=auth)
    assert r.status_code == 422 and "values.who" in r.json["errors"], "a value may not start with a brace"
    r = client.post(f"{API}/templates/{tid}/render", json={"values": {"topic": "tea", "who": "kids"}, "version": 2},
                    headers=auth)
    assert r.json == {"text": "Line one about tea\nLine 2 for kids"}


def test_quick_templates_are_read_only_and_copyable(api):
    client, container = api
    auth = signup(client, container)
    everything = client.get(f"{API}/quick-templates", headers=auth).json
    russian = client.get(f"{API}/quick-templates?language=ru", headers=auth).json
    english = client.get(f"{API}/quick-templates?language=en", headers=auth).json
    assert len(russian) >= 12 and len(english) >= 12 and len(everything) == len(russian) + len(english)
    assert {t["language"] for t in russian} == {"ru"}
    assert {t["builtin"] for t in russian} == {t["builtin"] for t in english}
    assert all(t["read_only"] and t["variables"] for t in everything)
    assert client.get(f"{API}/quick-templates?language=de", headers=auth).status_code == 422

    quick = english[0]
    assert client.get(f"{API}/templates/{quick['id']}", headers=auth).json == quick
    for method, path, body in [("patch", "", {"title": "Mine now"}), ("delete", "", None),
                               ("post", "/restore", {"version": 1})]:
        r = getattr(client, method)(f"{API}/templates/{quick['id']}{path}", json=body, headers=auth)
        assert r.status_code == 403 and r.json["error"] == "forbidden", (method, path, r.json)
    assert client.get(f"{API}/templates/{quick['id']}", headers=auth).json == quick
    assert [v["number"] for v in client.get(f"{API}/templates/{quick['id']}/versions", headers=auth).json] == [1]
    values = {name: "something" for name in quick["variables"]}
    r = client.post(f"{API}/templates/{quick['id']}/render", json={"values": values}, headers=auth)
    assert r.status_code == 200 and "{{" not in r.json["text"]

    copy = client.post(f"{API}/templates/{quick['id']}/copy", json={}, headers=auth)
    assert copy.status_code == 201, copy.json
    copy = copy.json
    assert copy["read_only"] is False and copy["builtin"] is None and copy["id"] != quick["id"]
    assert (copy["title"], copy["body"], copy["tags"]) == (quick["title"], quick["body"], quick["tags"])
    again = client.post(f"{API}/templates/{quick['id']}/copy", json={}, headers=auth).json
    assert again["title"] == quick["title"] + " (2)"
    named = client.post(f"{API}/templates/{copy['id']}/copy", json={"title": "Mine"}, headers=auth).json
    assert named["title"] == "Mine" and named["body"] == quick["body"]
    assert client.patch(f"{API}/templates/{copy['id']}", json={"title": "Changed"}, headers=auth).status_code == 200
    assert template_count(client, auth) == 3, "quick templates are not in anyone's library"


def test_a_template_from_a_history_record(api):
    client, container = api
    auth = signup(client, container)
    record = client.post(f"{API}/prompts", json={"prompt": "write a haiku about autumn tea", "style": "creative"},
                         headers=auth).json
    assert record["source"] == "generation"
    r = client.post(f"{API}/templates/from-record", json={"record_id": record["id"]}, headers=auth)
    assert r.status_code == 201, r.json
    assert r.json["body"] == record["generated_prompt"].strip() and r.json["title"] == "write a haiku about autumn tea"
    named = client.post(f"{API}/templates/from-record", json={"record_id": record["id"], "title": "Haiku"},
                        headers=auth).json
    assert named["title"] == "Haiku"
    assert client.post(f"{API}/templates/from-record", json={"record_id": 999999}, headers=auth).status_code == 404
    assert client.post(f"{API}/templates/from-record", json={"record_id": "1"}, headers=auth).status_code == 422


def test_improving_a_template_keeps_its_variables_and_spends_one_unit(api):
    client, container = api
    auth = signup(client, container, limit=10)
    body = "Write a post about {{topic}} for {{network}}. Our readers are {{audience}}."
    t = new_template(client, auth, body=body)
    before = quota_used(client, auth)
    r = client.post(f"{API}/templates/{t['id']}/improve", json={"style": "marketing"}, headers=auth)
    assert r.status_code == 200, r.json
    improved = r.json
    assert improved["template_id"] == t["id"] and improved["model"] == "offline"
    assert improved["variables"] == ["topic", "network", "audience"]
    assert improved["text"] != body
    for name in ("topic", "network", "audience"):
        assert "{{" + name + "}}" in improved["text"]
    assert quota_used(client, auth) == before + 1 and improved["quota"]["used"] == before + 1
    unchanged = client.get(f"{API}/templates/{t['id']}", headers=auth).json
    assert unchanged["body"] == body and unchanged["version"] == 1, "saved only when the user saves it"
    record = client.get(f"{API}/prompts/{improved['record_id']}", headers=auth).json
    assert record["generated_prompt"] == improved["text"]
    saved = client.patch(f"{API}/templates/{t['id']}", json={"body": improved["text"]}, headers=auth).json
    assert saved["version"] == 2 and saved["variables"] == ["topic", "network", "audience"]
    # a quick template improves too, in its language
    ru = client.get(f"{API}/quick-templates?language=ru", headers=auth).json[0]
    r = client.post(f"{API}/templates/{ru['id']}/improve", json={"style": "general"}, headers=auth)
    assert r.status_code == 200 and set(r.json["variables"]) == set(ru["variables"])
    assert client.post(f"{API}/templates/{t['id']}/improve", json={"style": "nope"}, headers=auth).status_code == 422
    style = new_style(client, auth)
    r = client.post(f"{API}/templates/{t['id']}/improve", json={"style": style["slug"]}, headers=auth)
    assert r.status_code == 200 and r.json["variables"] == ["topic", "network", "audience"], r.json


def test_custom_styles_are_managed_and_used_by_the_generator(api):
    client, container = api
    auth = signup(client, container, limit=20)
    style = new_style(client, auth, description="Arr")
    assert style["slug"] == f"custom:{style['id']}" and style["description"] == "Arr"
    assert client.get(f"{API}/custom-styles", headers=auth).json == [style]
    assert client.get(f"{API}/custom-styles/{style['id']}", headers=auth).json == style
    r = client.patch(f"{API}/custom-styles/{style['id']}", json={"instructions": "Short and salty."}, headers=auth)
    assert r.status_code == 200 and r.json["instructions"] == "Short and salty." and r.json["title"] == "Pirate"
    other = new_style(client, auth, title="Formal")
    r = client.patch(f"{API}/custom-styles/{other['id']}", json={"title": "pirate"}, headers=auth)
    assert r.status_code == 409 and r.json["error"] == "title_taken"
    assert client.post(f"{API}/custom-styles", json={"title": "P", "instructions": "x" * 4001},
                       headers=auth).status_code == 422

    r = client.post(f"{API}/prompts", json={"prompt": "explain recursion to a child", "style": style["slug"]},
                    headers=auth)
    assert r.status_code == 201, r.json
    assert r.json["style"] == style["slug"] and r.json["status"] == "succeeded" and r.json["generated_prompt"]
    for slug in ("custom:0", "custom:x", "custom:"):
        r = client.post(f"{API}/prompts", json={"prompt": "hello there", "style": slug}, headers=auth)
        assert r.status_code in (404, 422), (slug, r.json)

    assert client.delete(f"{API}/custom-styles/{style['id']}", headers=auth).status_code == 204
    assert client.get(f"{API}/custom-styles/{style['id']}", headers=auth).status_code == 404
    r = client.post(f"{API}/prompts", json={"prompt": "hello there", "style": style["slug"]}, headers=auth)
    assert r.status_code == 404
    assert [s["id"] for s in client.get(f"{API}/custom-styles", headers=auth).json] == [other["id"]]


def test_the_library_needs_a_token(api):
    client, container = api
    for method, path in [("get", "/templates"), ("post", "/templates"), ("get", "/templates/1"),
                         ("get", "/quick-templates"), ("get", "/custom-styles"), ("get", "/templates/export"),
                         ("post", "/templates/import"), ("post", "/prompts/import")]:
        r = getattr(client, method)(f"{API}{path}", json={})
        assert r.status_code == 401 and r.json["error"] == "unauthorized", (method, path)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


# -- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("body,fragment", [
    ("Hello {{name", "never closed"),
    ("Hello name}} there", "closes no"),
    ("Hello {{}} there", "no variable name"),
    ("Hello {{ }} there", "no variable name"),
    ("Hello {{" + "n" * 65 + "}}", "65 characters"),
    ("Hello {{first name}}", "contains ' '"),
    ("Hello {{a{{b}}", "never closed"),
])
def test_malformed_variables_are_refused_and_nothing_is_written(api, body, fragment):
    client, container = api
    auth = signup(client, container)
    r = client.post(f"{API}/templates", json={"title": "Bad", "body": body}, headers=auth)
    assert r.status_code == 422 and r.json["error"] == "validation_error", r.json
    assert any(fragment in m for m in r.json["errors"]["body"]), r.json
    assert template_count(client, auth) == 0
    good = new_template(client, auth, title="Good", body="Hi {{name}}")
    r = client.patch(f"{API}/templates/{good['id']}", json={"body": body, "title": "Renamed"}, headers=auth)
    assert r.status_code == 422
    kept = client.get(f"{API}/templates/{good['id']}", headers=auth).json
    assert (kept["title"], kept["body"], kept["version"]) == ("Good", "Hi {{name}}", 1)


def test_names_of_64_characters_of_any_alphabet_are_variables(api):
    client, container = api
    auth = signup(client, container)
    name = "имя_" + "x" * 60
    t = new_template(client, auth, body=f"Hi {{{{{name}}}}} and {{{{ v1.2-b }}}}")
    assert t["variables"] == [name, "v1.2-b"]
    r = client.post(f"{API}/templates/{t['id']}/render", json={"values": {name: "Ann", "v1.2-b": "Bo"}}, headers=auth)
    assert r.json == {"text": "Hi Ann and Bo"}


def test_render_refuses_missing_values_and_values_holding_variables(api):
    client, container = api
    auth = signup(client, container)
    t = new_template(client, auth)
    r = client.post(f"{API}/templates/{t['id']}/render", json={"values": {"topic": "tea"}}, headers=auth)
    assert r.status_code == 422 and list(r.json["errors"]) == ["values.audience"]
    assert "audience" in r.json["message"]
    for value in ("{{x}}", "a {{x}} b", "close }} here", "{", "ends with }"):
        r = client.post(f"{API}/templates/{t['id']}/render", json={"values": {"topic": value, "audience": "kids"}},
                        headers=auth)
        assert r.status_code == 422 and "values.topic" in r.json["errors"], (value, r.json)
    r = client.post(f"{API}/templates/{t['id']}/render", json={"values": {"topic": 5, "audience": "kids"}},
                    headers=auth)
    assert r.status_code == 422
    r = client.post(f"{API}/templates/{t['id']}/render", json={"values": {"topic": "{x}", "audience": "kids"}},
                    headers=auth)
    assert r.status_code == 422, "a value that starts with a brace could make {{ beside the template's text"
    r = client.post(f"{API}/templates/{t['id']}/render", json={"values": {"topic": "x{y}z", "audience": "kids"}},
                    headers=auth)
    assert r.json == {"text": "Write a post about x{y}z for kids."}


def test_other_fields_are_checked(api):
    client, container = api
    auth = signup(client, container)
    cases = [
        ({"title": "", "body": "x"}, "title"),
        ({"title": "   ", "body": "x"}, "title"),
        ({"title": "a\nb", "body": "x"}, "title"),
        ({"title": "t" * 201, "body": "x"}, "title"),
        ({"title": "T", "body": "x" * 16001}, "body"),
        ({"title": "T", "body": "   "}, "body"),
        ({"title": "T", "body": "x", "tags": ["a,b"]}, "tags"),
        ({"title": "T", "body": "x", "tags": ["t" * 33]}, "tags.0"),
        ({"title": "T", "body": "x", "tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"title": "T", "body": "x", "favourite": "yes"}, "favourite"),
        ({"title": "T", "body": "x", "owner_id": 2}, "owner_id"),
    ]
    for body, field in cases:
        r = client.post(f"{API}/templates", json=body, headers=auth)
        assert r.status_code == 422 and field in r.json["errors"], (body, r.json)
    assert template_count(client, auth) == 0
    assert client.get(f"{API}/templates?q=" + "q" * 201, headers=auth).status_code == 422
    assert client.get(f"{API}/templates?tag=" + "t" * 33, headers=auth).status_code == 422
    assert client.get(f"{API}/templates?cursor=" + "c" * 201, headers=auth).status_code == 422
    assert client.get(f"{API}/templates?cursor=garbage", headers=auth).status_code == 422
    assert client.get(f"{API}/templates/99999999999999999999", headers=auth).status_code == 404


# -- other users' ids -------------------------------------------------------------------------------

# Every route that takes a template id, a style id or a record id: (method, path, body). A route
# added later without an entry here fails test_every_id_route_is_checked.
TEMPLATE_ROUTES = [
    ("GET", "/templates/{template_id}", None),
    ("PATCH", "/templates/{template_id}", {"title": "Stolen", "body": "Mine {{now}}"}),
    ("DELETE", "/templates/{template_id}", None),
    ("GET", "/templates/{template_id}/versions", None),
    ("GET", "/templates/{template_id}/versions/1", None),
    ("GET", "/templates/{template_id}/diff?from=1&to=2", None),
    ("POST", "/templates/{template_id}/restore", {"version": 1}),
    ("POST", "/templates/{template_id}/render", {"values": {"topic": "tea", "audience": "kids"}}),
    ("POST", "/templates/{template_id}/improve", {"style": "general"}),
    ("POST", "/templates/{template_id}/copy", {}),
]
STYLE_ROUTES = [
    ("GET", "/custom-styles/{style_id}", None),
    ("PATCH", "/custom-styles/{style_id}", {"title": "Stolen"}),
    ("DELETE", "/custom-styles/{style_id}", None),
    ("POST", "/prompts", {"prompt": "hello there", "style": "custom:{style_id}"}),
    ("POST", "/templates/{own_template_id}/improve", {"style": "custom:{style_id}"}),
]
RECORD_ROUTES = [
    ("GET", "/prompts/{record_id}", None),
    ("DELETE", "/prompts/{record_id}", None),
    ("POST", "/templates/from-record", {"record_id": "{record_id}"}),
    ("POST", "/prompts", {"style": "general", "parent_id": "{record_id}", "feedback": "shorter"}),
]


def _fill(value, ids):
    """``value`` with "{name}" replaced by the id (a whole "{name}" becomes the number)."""
    if isinstance(value, str) and value[1:-1] in ids and value == "{" + value[1:-1] + "}":
        return ids[value[1:-1]]
    if isinstance(value, str) and "{{" not in value:
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def test_every_id_route_is_checked(api):
    """The routes above are every operation of the document with a template or style id."""
    client, _ = api
    spec = client.get(f"{API}/openapi.json").json
    documented = {(method.upper(), path.removeprefix(API)) for path, ops in spec["paths"].items()
                  for method in ops if method != "parameters" and ("{template_id}" in path or "{style_id}" in path)}
    listed = {(m, p.split("?")[0].replace("/versions/1", "/versions/{number}"))
              for m, p, _ in TEMPLATE_ROUTES + STYLE_ROUTES[:3]}
    assert documented == listed


def test_another_users_ids_are_not_found_in_every_route(api):
    client, container = api
    ada = signup(client, container, limit=20)
    bob = signup(client, container, "bob@example.com", limit=20)
    template = new_template(client, ada)
    client.patch(f"{API}/templates/{template['id']}", json={"body": "New {{topic}} {{audience}}"}, headers=ada)
    style = new_style(client, ada)
    record = client.post(f"{API}/prompts", json={"prompt": "write a poem", "style": "general"}, headers=ada).json
    bobs_template = new_template(client, bob)
    ids = {"template_id": template["id"], "style_id": style["id"], "record_id": record["id"],
           "own_template_id": bobs_template["id"]}

    def snapshot():
        return (client.get(f"{API}/templates/{template['id']}", headers=ada).json,
                client.get(f"{API}/templates/{template['id']}/versions", headers=ada).json,
                client.get(f"{API}/custom-styles/{style['id']}", headers=ada).json,
                client.get(f"{API}/prompts/{record['id']}", headers=ada).json,
                client.get(f"{API}/templates", headers=bob).json,
                client.get(f"{API}/custom-styles", headers=bob).json,
                client.get(f"{API}/prompts", headers=bob).json)

    before = snapshot()
    bob_quota = quota_used(client, bob)
    for method, path, body in TEMPLATE_ROUTES + STYLE_ROUTES + RECORD_ROUTES:
        r = client.open(f"{API}{_fill(path, ids)}", method=method, json=_fill(body, ids), headers=bob)
        assert r.status_code == 404, (method, path, r.status_code, r.json)
        assert r.json["error"] == "not_found" and r.json["code"] == 404 and r.json["message"]
    assert snapshot() == before, "nothing changed"
    assert quota_used(client, bob) == bob_quota
    assert client.get(f"{API}/templates?q=Post", headers=bob).json["items"] == [
        client.get(f"{API}/templates/{bobs_template['id']}", headers=bob).json]


def test_an_improvement_that_loses_a_variable_twice_is_422_and_spends_nothing(tmp_path, database_url, standin):
    settings = make_settings(
        tmp_path, PROMPTCORE_DATABASE_URL=database_url, PROMPTCORE_LLM="openrouter", OPENROUTER_API_KEY="sk-or-v1-x",
        OPENROUTER_BASE_URL=standin.base_url, PROMPTCORE_LLM_MODELS="openai/gpt-4o-mini", PROMPTCORE_LLM_TIMEOUT="3")
    app, container = build_test_app(settings)
    client = app.test_client()
    try:
        auth = signup(client, container)
        t = new_template(client, auth)
        dropped = so.success("Write a post about {{topic}}.")
        standin.enqueue(dropped, dropped)
        r = client.post(f"{API}/templates/{t['id']}/improve", json={"style": "general"}, headers=auth)
        assert r.status_code == 422 and r.json["error"] == "variables_changed", r.json
        assert r.json["errors"] == {"missing": ["audience"], "added": []} and r.json["code"] == 422
        assert standin.count == 2 and quota_used(client, auth) == 0
        standin.enqueue(dropped)  # then the stand-in's default answer, which quotes the body
        r = client.post(f"{API}/templates/{t['id']}/improve", json={"style": "general"}, headers=auth)
        assert r.status_code == 200 and r.json["variables"] == ["topic", "audience"], r.json
        assert standin.count == 4 and quota_used(client, auth) == 1
    finally:
        container.engine().dispose()
