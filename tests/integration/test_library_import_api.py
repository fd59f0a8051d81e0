"""Library and history import and export over HTTP (SPEC §13.4): round trips into another account,
conflicts, dry runs, all-or-nothing with a per-item report, size limits and bad files (SQLite and
PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import jsonschema_rs
import pytest

from tests.integration.test_library_api import API, api, new_style, new_template, quota_used, signup

__all__ = ["api"]  # the fixture, shared with test_library_api

MiB = 1024 * 1024


def export_doc(client, auth):
    r = client.get(f"{API}/templates/export?format=json", headers=auth)
    assert r.status_code == 200 and r.mimetype == "application/json", r.data[:200]
    assert r.headers["Content-Disposition"].startswith('attachment; filename="promptcore-library-')
    doc = json.loads(r.data)
    doc.pop("exported_at")
    return doc


def import_json(client, auth, doc, query=""):
    data = doc if isinstance(doc, (bytes, str)) else json.dumps(doc)
    return client.post(f"{API}/templates/import{query}", data=data, content_type="application/json", headers=auth)


def import_file(client, auth, data, name="library.json", path="/templates/import", query=""):
    if isinstance(data, str):
        data = data.encode()
    return client.post(f"{API}{path}{query}", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data", headers=auth)


def fill_library(client, auth):
    """Templates and styles with every field set, formula-like text among them."""
    new_template(client, auth, title="=SUM(A1:A9)", body="-- cells {{a}} and {{b}}\n+ more", description="@home",
                 tags=["sheet", "=risky"], favourite=True)
    new_template(client, auth, title="Пост", body="Напиши пост про {{тема}} для {{аудитория}}.",
                 description="По-русски, с \"кавычками\", запятыми, и\nпереводом строки", tags=["ru"])
    new_template(client, auth, title="Plain", body="No variables here.")
    t = new_template(client, auth, title="Versioned", body="v1 {{x}}")
    client.patch(f"{API}/templates/{t['id']}", json={"body": "v2 {{x}} {{y}}"}, headers=auth)
    new_style(client, auth, title="Pirate", description="+arr", instructions="=Talk like a pirate.\n@crew")
    new_style(client, auth, title="Terse", instructions="Fewer words.")


def library_counts(client, auth):
    return (len(client.get(f"{API}/templates?limit=100", headers=auth).json["items"]),
            len(client.get(f"{API}/custom-styles", headers=auth).json))


# -- round trips ----------------------------------------------------------------------------------

def test_json_export_imports_into_another_account_equal(api):
    client, container = api
    ada = signup(client, container)
    fill_library(client, ada)
    original = export_doc(client, ada)
    assert len(original["templates"]) == 4 and len(original["styles"]) == 2
    schema = client.get(f"{API}/schemas/library-export.json")  # public: no token
    assert schema.status_code == 200 and schema.mimetype in ("application/schema+json", "application/json")
    validator = jsonschema_rs.validator_for(schema.json)
    full = json.loads(client.get(f"{API}/templates/export?format=json", headers=ada).data)
    assert validator.is_valid(full), list(validator.iter_errors(full))
    assert not validator.is_valid({**full, "schema_version": 2})

    bob = signup(client, container, "bob@example.com")
    r = import_json(client, bob, full)
    assert r.status_code == 200, r.json
    assert r.json["counts"] == {"created": 6, "renamed": 0, "skipped": 0, "replaced": 0}
    assert r.json["dry_run"] is False and all(item["id"] for item in r.json["items"])
    assert export_doc(client, bob) == original

    carol = signup(client, container, "carol@example.com")  # the same file as a form upload
    r = import_file(client, carol, json.dumps(full).encode(), "my-library.json")
    assert r.status_code == 200, r.json
    assert export_doc(client, carol) == original


def test_csv_export_imports_into_another_account_equal(api):
    client, container = api
    ada = signup(client, container)
    fill_library(client, ada)
    original = export_doc(client, ada)
    r = client.get(f"{API}/templates/export?format=csv", headers=ada)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    text = r.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["kind", "title", "description", "body", "tags", "favourite", "instructions"]
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")], "formula cells are defused"
    assert "'=SUM(A1:A9)" in cells and "'=Talk like a pirate.\n@crew" in cells

    bob = signup(client, container, "bob@example.com")
    r = import_file(client, bob, r.data, "library.csv")
    assert r.status_code == 200, r.json
    assert r.json["counts"]["created"] == 6
    assert export_doc(client, bob) == original


def test_on_conflict_and_dry_run(api):
    client, container = api
    ada = signup(client, container)
    fill_library(client, ada)
    doc = json.loads(client.get(f"{API}/templates/export?format=json", headers=ada).data)
    doc["templates"][0]["body"] = "Changed {{a}}"  # "=SUM(A1:A9)", by title
    doc["templates"].append({"title": "Brand new", "body": "New {{one}}"})
    before = export_doc(client, ada)
    versions_of = {t["title"]: t["id"] for t in client.get(f"{API}/templates?limit=100", headers=ada).json["items"]}

    for mode in ("rename", "skip", "replace"):
        r = import_json(client, ada, doc, f"?on_conflict={mode}&dry_run=true")
        assert r.status_code == 200, r.json
        assert r.json["dry_run"] is True and r.json["on_conflict"] == mode
        assert export_doc(client, ada) == before, f"a dry run ({mode}) writes nothing"
        assert library_counts(client, ada) == (4, 2)
        expected = {"rename": {"created": 1, "renamed": 6, "skipped": 0, "replaced": 0},
                    "skip": {"created": 1, "renamed": 0, "skipped": 6, "replaced": 0},
                    "replace": {"created": 1, "renamed": 0, "skipped": 0, "replaced": 6}}[mode]
        assert r.json["counts"] == expected
    plan = import_json(client, ada, doc, "?dry_run=true").json  # rename by default
    assert {i["final_title"] for i in plan["items"] if i["action"] == "renamed"} == {
        "=SUM(A1:A9) (2)", "Пост (2)", "Plain (2)", "Versioned (2)", "Pirate (2)", "Terse (2)"}

    r = import_json(client, ada, doc, "?on_conflict=skip")
    assert r.json["counts"] == {"created": 1, "renamed": 0, "skipped": 6, "replaced": 0}
    assert library_counts(client, ada) == (5, 2)
    skipped = {i["title"]: i["id"] for i in r.json["items"] if i["action"] == "skipped"}
    assert skipped["Plain"] == versions_of["Plain"]

    r = import_json(client, ada, doc, "?on_conflict=replace")
    assert r.json["counts"] == {"created": 0, "renamed": 0, "skipped": 0, "replaced": 7}
    assert library_counts(client, ada) == (5, 2)
    replaced = client.get(f"{API}/templates/{versions_of['=SUM(A1:A9)']}", headers=ada).json
    assert replaced["body"] == "Changed {{a}}" and replaced["version"] == 2
    assert client.get(f"{API}/templates/{versions_of['=SUM(A1:A9)']}/versions", headers=ada).json[0]["note"] \
        == "imported"
    assert client.get(f"{API}/templates/{versions_of['Plain']}", headers=ada).json["version"] == 1, \
        "an unchanged text makes no version"

    r = import_json(client, ada, doc, "?on_conflict=rename")
    assert r.json["counts"] == {"created": 0, "renamed": 7, "skipped": 0, "replaced": 0}
    titles = {t["title"] for t in client.get(f"{API}/templates?limit=100", headers=ada).json["items"]}
    assert {"Brand new", "Brand new (2)", "Plain (2)", "=SUM(A1:A9) (2)"} <= titles
    assert library_counts(client, ada) == (10, 4)
    r = import_json(client, ada, doc, "?on_conflict=merge")
    assert r.status_code == 422 and "on_conflict" in r.json["errors"]


# -- bad files ------------------------------------------------------------------------------------

def test_a_3_mib_import_is_413_and_writes_nothing(api):
    client, container = api
    ada = signup(client, container)
    big_body = "x" * 15000
    doc = {"schema_version": 1, "kind": "promptcore.library", "styles": [],
           "templates": [{"title": f"T{i}", "body": big_body} for i in range(210)]}
    data = json.dumps(doc).encode()
    assert 3 * MiB <= len(data) < 3.2 * MiB
    for r in (import_json(client, ada, data), import_file(client, ada, data, "big.json")):
        assert r.status_code == 413, r.json
        assert r.json["error"] == "payload_too_large" and r.json["code"] == 413 and r.json["message"]
    # a file just over 2 MiB inside a form that fits the form's room is refused the same way
    r = import_file(client, ada, b"[" + b" " * (2 * MiB) + b"]", "big.json")
    assert r.status_code == 413 and r.json["error"] == "payload_too_large"
    r = import_file(client, ada, data, "big.json", path="/prompts/import")
    assert r.status_code == 413
    assert library_counts(client, ada) == (0, 0)
    assert client.get(f"{API}/prompts", headers=ada).json["items"] == []


class EndlessBody:
    """A request body with no Content-Length that never ends (as a chunked upload reaches the app
    through gunicorn): counts what the app reads of it."""

    def __init__(self, head: bytes) -> None:
        self.head = head
        self.read_bytes = 0

    def read(self, size=-1):
        size = 65536 if size is None or size < 0 else size
        chunk = (self.head[self.read_bytes:self.read_bytes + size] + b" " * size)[:size]
        self.read_bytes += len(chunk)
        return chunk

    def readline(self, size=-1):
        return self.read(size if size and size > 0 else 1024)


CHUNKED = {"Transfer-Encoding": "chunked"}


@pytest.mark.parametrize("path", ["/templates/import", "/prompts/import"])
def test_an_endless_chunked_body_is_refused_once_past_the_limit(api, path):
    client, container = api
    ada = signup(client, container)
    body = EndlessBody(b'{"schema_version": 1, "templates": [')
    r = client.post(f"{API}{path}", content_type="application/json", headers={**ada, **CHUNKED},
                    environ_overrides={"wsgi.input": body, "wsgi.input_terminated": True})
    assert r.status_code == 413 and r.json["error"] == "payload_too_large"
    assert body.read_bytes <= 2 * MiB + 65536 * 2, "read no further than the limit"
    boundary = "b0undary"
    form = EndlessBody(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.json"\r\n'
                       f"Content-Type: application/json\r\n\r\n".encode())
    r = client.post(f"{API}{path}", content_type=f"multipart/form-data; boundary={boundary}",
                    headers={**ada, **CHUNKED}, environ_overrides={"wsgi.input": form, "wsgi.input_terminated": True})
    assert r.status_code == 413 and r.json["error"] == "payload_too_large"
    assert form.read_bytes <= 2 * MiB + 64 * 1024 + 65536 * 2
    assert library_counts(client, ada) == (0, 0)


def test_bodies_that_are_not_an_import_file(api):
    client, container = api
    ada = signup(client, container)
    r = client.post(f"{API}/templates/import", headers=ada)
    assert r.status_code == 400 and r.json["error"] == "bad_request"
    r = client.post(f"{API}/templates/import", data="kind,title", content_type="text/plain", headers=ada)
    assert r.status_code == 415 and r.json["error"] == "unsupported_media_type"
    r = client.post(f"{API}/templates/import", data={"other": (io.BytesIO(b"{}"), "x.json")},
                    content_type="multipart/form-data", headers=ada)
    assert r.status_code == 422 and "file" in r.json["errors"]
    r = client.post(f"{API}/prompts/import", data={"file": "just text"}, content_type="multipart/form-data",
                    headers=ada)
    assert r.status_code == 422 and "file" in r.json["errors"]


def test_files_of_the_wrong_kind(api):
    client, container = api
    ada = signup(client, container, limit=10)
    fill_library(client, ada)
    client.post(f"{API}/prompts", json={"prompt": "write a haiku about tea", "style": "creative"}, headers=ada)
    history_json = client.get(f"{API}/prompts/export?format=json", headers=ada).data
    history_csv = client.get(f"{API}/prompts/export?format=csv", headers=ada).data
    library_json = client.get(f"{API}/templates/export?format=json", headers=ada).data
    library_csv = client.get(f"{API}/templates/export?format=csv", headers=ada).data
    bob = signup(client, container, "bob@example.com")

    for r in (import_json(client, bob, history_json), import_file(client, bob, history_json, "h.json")):
        assert r.status_code == 422 and "history" in r.json["message"], r.json
    r = import_file(client, bob, history_csv, "h.csv")
    assert r.status_code == 422 and "file" in r.json["errors"], r.json
    for r in (client.post(f"{API}/prompts/import", data=library_json, content_type="application/json", headers=bob),
              import_file(client, bob, library_json, "l.json", path="/prompts/import")):
        assert r.status_code == 422 and "library" in r.json["message"], r.json
    r = import_file(client, bob, library_csv, "l.csv", path="/prompts/import")
    assert r.status_code == 422 and "file" in r.json["errors"], r.json
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    for path in ("/templates/import", "/prompts/import"):
        r = import_file(client, bob, png, "photo.png", path=path)
        assert r.status_code == 422 and "file" in r.json["errors"], r.json
        r = import_file(client, bob, b"", "empty.json", path=path)
        assert r.status_code == 422 and "file" in r.json["errors"], r.json
    assert library_counts(client, bob) == (0, 0)
    assert client.get(f"{API}/prompts", headers=bob).json["items"] == []


def test_invalid_utf8_is_refused(api):
    client, container = api
    ada = signup(client, container)
    doc = json.dumps({"schema_version": 1, "templates": [{"title": "Caf\u00e9", "body": "x"}], "styles": []},
                     ensure_ascii=False)
    broken = doc.encode().replace("\u00e9".encode(), b"\xe9")  # Latin-1, not UTF-8
    for r in (import_json(client, ada, broken), import_file(client, ada, broken, "l.json"),
              import_file(client, ada, b"kind,title\n\xff\xfe", "l.csv"),
              client.post(f"{API}/prompts/import", data=b"[\xc3\x28]", content_type="application/json",
                          headers=ada)):
        assert r.status_code == 422 and "UTF-8" in " ".join(r.json["errors"]["file"]), r.json
    assert library_counts(client, ada) == (0, 0)


def test_a_csv_with_a_formula_cell_is_refused(api):
    client, container = api
    ada = signup(client, container)
    header = "kind,title,description,body,tags,favourite,instructions\r\n"
    safe = header + "template,Fine,,Hello {{name}},,false,\r\n"
    r = import_file(client, ada, safe, "l.csv", query="?dry_run=true")
    assert r.status_code == 200 and r.json["counts"]["created"] == 1
    evil = safe + 'template,=HYPERLINK("http://evil.example"),,x,,false,\r\n'
    r = import_file(client, ada, evil, "l.csv")
    assert r.status_code == 422 and r.json["error"] == "import_invalid", r.json
    assert list(r.json["errors"]) == ["templates.1.title"]
    r = import_file(client, ada, safe + "style,S,,,,,@SUM(1)\r\n", "l.csv")
    assert r.status_code == 422 and list(r.json["errors"]) == ["styles.0.instructions"]
    assert library_counts(client, ada) == (0, 0)


def test_duplicate_titles_in_one_file(api):
    client, container = api
    ada = signup(client, container)
    doc = {"schema_version": 1, "templates": [{"title": "Same", "body": "a"}, {"title": "same ", "body": "b"}],
           "styles": [{"title": "Same", "instructions": "fine: styles are another kind"}]}
    r = import_json(client, ada, doc)
    assert r.status_code == 422 and r.json["error"] == "import_invalid"
    assert list(r.json["errors"]) == ["templates.1.title"]
    assert library_counts(client, ada) == (0, 0)


@pytest.mark.parametrize("bad,field", [
    ({"title": "Broken", "body": "Hello {{name"}, "body"),  # found by the use case
    ({"title": "t" * 201, "body": "fine"}, "title"),  # found by the documented schema
    ({"title": "Extra", "body": "fine", "owner_id": 1}, "owner_id"),
])
def test_one_bad_item_among_500_good_ones_writes_nothing(api, bad, field):
    client, container = api
    ada = signup(client, container)
    templates = [{"title": f"Template {i}", "body": f"Body {i} about {{{{topic}}}}", "tags": ["bulk"]}
                 for i in range(420)]
    templates.insert(200, bad)
    styles = [{"title": f"Style {i}", "instructions": f"Rule {i}."} for i in range(80)]
    doc = {"schema_version": 1, "kind": "promptcore.library", "templates": templates, "styles": styles}
    r = import_json(client, ada, doc)
    assert r.status_code == 422 and r.json["error"] == "import_invalid", r.json
    assert list(r.json["errors"]) == [f"templates.200.{field}"], r.json["errors"]
    assert library_counts(client, ada) == (0, 0)
    templates.pop(200)
    r = import_json(client, ada, doc)
    assert r.status_code == 200 and r.json["counts"]["created"] == 500
    assert len(client.get(f"{API}/custom-styles", headers=ada).json) == 80
    assert client.get(f"{API}/templates/tags", headers=ada).json["tags"] == [{"tag": "bulk", "count": 420}]


def test_the_library_limit_holds_for_imports(api):
    client, container = api
    ada = signup(client, container)
    new_template(client, ada, title="Already here")
    doc = {"schema_version": 1, "templates": [{"title": f"T{i}", "body": "x"} for i in range(500)], "styles": []}
    for query in ("?dry_run=true", ""):
        r = import_json(client, ada, doc, query)
        assert r.status_code == 409 and r.json["error"] == "limit_reached", r.json
    assert library_counts(client, ada) == (1, 0)


# -- history --------------------------------------------------------------------------------------

def test_history_export_imports_into_another_account_once(api):
    client, container = api
    ada = signup(client, container, limit=10)
    first = client.post(f"{API}/prompts", json={"prompt": "a haiku about tea", "style": "creative"}, headers=ada).json
    client.post(f"{API}/prompts", json={"style": "creative", "parent_id": first["id"], "feedback": "shorter"},
                headers=ada)
    client.post(f"{API}/prompts", json={"prompt": "=cmd|' /C calc'!A0 report", "style": "technical"}, headers=ada)
    exported_json = client.get(f"{API}/prompts/export?format=json", headers=ada).data
    exported_csv = client.get(f"{API}/prompts/export?format=csv", headers=ada).data
    originals = json.loads(exported_json)

    bob = signup(client, container, "bob@example.com")
    stats_before = client.get(f"{API}/stats", headers=bob).json
    r = client.post(f"{API}/prompts/import?dry_run=true", data=exported_json, content_type="application/json",
                    headers=bob)
    assert r.status_code == 200 and r.json == {"dry_run": True, "added": 3, "skipped": 0}
    assert client.get(f"{API}/prompts", headers=bob).json["items"] == []

    r = client.post(f"{API}/prompts/import", data=exported_json, content_type="application/json", headers=bob)
    assert r.status_code == 200 and r.json == {"dry_run": False, "added": 3, "skipped": 0}, r.json
    imported = client.get(f"{API}/prompts", headers=bob).json["items"]
    assert [rec["source"] for rec in imported] == ["import"] * 3
    keep = ("created_at", "style", "model", "original_prompt", "generated_prompt", "feedback", "status")
    assert [{k: rec[k] for k in keep} for rec in imported] == [{k: rec[k] for k in keep} for rec in originals]
    child = next(rec for rec in imported if rec["feedback"] == "shorter")
    parent = next(rec for rec in imported if rec["id"] == child["parent_id"])
    assert parent["original_prompt"] == "a haiku about tea" and parent["source"] == "import"

    again = client.post(f"{API}/prompts/import", data=exported_json, content_type="application/json", headers=bob)
    assert again.json == {"dry_run": False, "added": 0, "skipped": 3}
    as_csv = import_file(client, bob, exported_csv, "history.csv", path="/prompts/import")
    assert as_csv.status_code == 200 and as_csv.json == {"dry_run": False, "added": 0, "skipped": 3}, as_csv.json
    assert len(client.get(f"{API}/prompts", headers=bob).json["items"]) == 3
    stats = client.get(f"{API}/stats", headers=bob).json
    assert stats["total"] == stats_before["total"] == 0 and stats["by_style"] == {}
    assert stats["quota"] == stats_before["quota"], "imports spend no quota"

    carol = signup(client, container, "carol@example.com")
    r = import_file(client, carol, exported_csv, "history.csv", path="/prompts/import")
    assert r.json == {"dry_run": False, "added": 3, "skipped": 0}
    assert {rec["original_prompt"] for rec in client.get(f"{API}/prompts", headers=carol).json["items"]} == {
        rec["original_prompt"] for rec in originals}
    assert quota_used(client, carol) == 0


def _rows(n, start):
    return [{"id": i + 1, "created_at": (start + timedelta(minutes=i)).isoformat(), "style": "general",
             "model": "offline", "original_prompt": f"prompt {i}", "generated_prompt": f"better prompt {i}",
             "parent_id": None, "feedback": None, "status": "succeeded", "latency_ms": 5, "usage": None}
            for i in range(n)]


@pytest.mark.parametrize("change,field", [
    ({"created_at": "yesterday"}, "created_at"),  # found by the use case
    ({"created_at": "2999-01-01T00:00:00+00:00"}, "created_at"),
    ({"status": "failed"}, "status"),
    ({"latency_ms": -1}, "latency_ms"),  # found by the documented schema
    ({"original_prompt": None}, "original_prompt"),
])
def test_one_bad_history_row_among_500_writes_nothing(api, change, field):
    client, container = api
    ada = signup(client, container)
    rows = _rows(501, datetime(2024, 1, 1, tzinfo=timezone.utc))
    rows[250].update(change)
    r = client.post(f"{API}/prompts/import", data=json.dumps(rows), content_type="application/json", headers=ada)
    assert r.status_code == 422 and r.json["error"] == "import_invalid", r.json
    assert list(r.json["errors"]) == [f"rows.250.{field}"], r.json["errors"]
    assert client.get(f"{API}/prompts", headers=ada).json["items"] == []
    del rows[250]
    r = client.post(f"{API}/prompts/import", data=json.dumps(rows), content_type="application/json", headers=ada)
    assert r.json == {"dry_run": False, "added": 500, "skipped": 0}
    assert client.get(f"{API}/stats", headers=ada).json["total"] == 0
