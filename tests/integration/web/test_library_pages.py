"""The custom-style, library import/export and history import pages through Flask's test client
(SPEC §13.3, §13.4, §8): /styles with new, edit and delete (confirm step), the generator's
"My styles", /library/export, /library/import and /history/import with the dry-run report and
the Confirm step, in English and Russian. Bad input gets a clear 4xx page that names every
problem, and nothing is written."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from dependency_injector import providers

from promptcore.domain.access import Actor
from tests.conftest import build_test_app, make_settings
from tests.fakes import FakeClock

from .test_security import confirmed_user, generate, signed_in_client, token

OWNER, OTHER = "owner@example.com", "other@example.com"
MIB = 1024 * 1024
CONFIRM_FIELDS = re.compile(r'name="token" value="([^"]+)">\s*<input type="hidden" name="data" value="([^"]+)"')


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def site(tmp_path):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DAILY_LIMIT="10"))
    ids = {email: confirmed_user(container, email) for email in (OWNER, OTHER)}
    yield app, container, ids
    container.engine().dispose()


def actor(ids, email: str) -> Actor:
    return Actor(ids[email])


def set_language(container, ids, email: str, language: str) -> None:
    container.accounts().update_profile(actor(ids, email), settings={"language": language})


def create_style(client, title: str = "Pirate", instructions: str = "Talk like a pirate.", description: str = "Arr"):
    return client.post("/styles/new", data={"csrf_token": token(client, "/styles/new"), "title": title,
                                            "description": description, "instructions": instructions})


def upload(client, path: str, data: bytes, filename: str = "library.json", headers=None, **fields):
    form = {"csrf_token": token(client, path), "file": (io.BytesIO(data), filename), **fields}
    return client.post(path, data=form, content_type="multipart/form-data", headers=headers or {})


def confirm_fields(page: str) -> tuple[str, str]:
    match = CONFIRM_FIELDS.search(page)
    assert match, "no Confirm form on the page"
    return match.group(1), match.group(2)


def confirm(client, path: str, fields: tuple[str, str], back: str):
    return client.post(path, data={"csrf_token": token(client, back), "token": fields[0], "data": fields[1]})


def counts(page: str) -> dict[str, int]:
    return {name: int(n) for name, n in re.findall(r'data-count="(\w+)">(\d+)<', page)}


def problems(page: str) -> list[str]:
    block = re.search(r'<ul class="problem-list">(.*?)</ul>', page, re.S)
    assert block, "no list of problems on the page"
    items = re.findall(r"<li>(.*?)</li>", block.group(1), re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", item)).strip() for item in items]


def library_doc(templates=(), styles=()) -> bytes:
    return json.dumps({"schema_version": 1, "kind": "promptcore.library", "templates": list(templates),
                       "styles": list(styles)}, ensure_ascii=False).encode()


def style_titles(container, ids, email: str) -> list[str]:
    return sorted(s.title for s in container.custom_styles().list(actor(ids, email)))


def assert_no_inline_code(page: str) -> None:
    assert re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", page) == []
    assert " style=" not in page and " onclick=" not in page and "javascript:" not in page


# -- /styles -------------------------------------------------------------------------------------------


def test_styles_page_explains_the_ground_rules_and_lists_the_users_styles(site):
    app, container, ids = site
    client = signed_in_client(app, OWNER)
    page = text(client.get("/styles"))
    assert 'id="no-styles"' in page and "The ground rules always come first" in page
    assert 'href="/styles" aria-current="page">Styles</a>' in page
    assert 'href="/library/export"' in page and 'href="/library/import"' in page
    response = create_style(client, "Pirate", "Talk like a pirate.\nShort sentences.", "Arr")
    assert response.status_code == 303 and response.headers["Location"] == "/styles"
    (style,) = container.custom_styles().list(actor(ids, OWNER))
    page = text(client.get("/styles"))
    assert "The style “Pirate” was created." in page
    assert f'id="style-{style.id}"' in page and "Talk like a pirate." in page and "Arr" in page
    assert f'href="/app?style=custom:{style.id}"' in page
    assert f'href="/styles/{style.id}"' in page and f'href="/styles/{style.id}/delete"' in page
    assert_no_inline_code(page)
    # Another user sees none of it.
    assert "Pirate" not in text(signed_in_client(app, OTHER).get("/styles"))


def test_the_style_form_has_a_counter_and_shows_errors_next_to_the_fields(site):
    app, container, ids = site
    client = signed_in_client(app, OWNER)
    page = text(client.get("/styles/new"))
    assert 'data-counter="instructions-counter"' in page and 'maxlength="4000"' in page
    assert 'id="instructions-counter"' in page and "0 / 4000" in page
    assert re.search(r'<script src="/static/js/app.js', page)
    assert_no_inline_code(page)

    response = create_style(client, title="", instructions="x" * 4001)
    page = text(response)
    assert response.status_code == 422
    assert re.search(r'id="title-error">.*Enter a title\.', page, re.S)
    assert re.search(r'id="instructions-error">.*Use at most 4000 characters \(got 4001\)\.', page, re.S)
    assert 'aria-invalid="true"' in page and "4001 / 4000" in page
    response = create_style(client, title="Two\nlines", instructions="   ")
    assert response.status_code == 422
    assert "Write the title on one line." in text(response)
    assert "Describe how this style should rewrite prompts." in text(response)
    response = create_style(client, title="t" * 101)
    assert response.status_code == 422 and "Use at most 100 characters (got 101)." in text(response)
    assert container.custom_styles().list(actor(ids, OWNER)) == []


def test_the_hundred_and_first_style_is_refused_with_the_reason(site):
    app, container, ids = site
    for i in range(100):
        container.custom_styles().create(actor(ids, OWNER), f"Style {i}", "Be brief.")
    client = signed_in_client(app, OWNER)
    response = create_style(client, "One more")
    assert response.status_code == 409
    assert "You can have at most 100 styles; delete some first." in text(response)
    assert 'value="One more"' in text(response)  # what was typed is kept
    assert len(style_titles(container, ids, OWNER)) == 100


def test_edit_then_delete_after_a_confirm_step(site):
    app, container, ids = site
    client = signed_in_client(app, OWNER)
    create_style(client)
    (style,) = container.custom_styles().list(actor(ids, OWNER))
    page = text(client.get(f"/styles/{style.id}"))
    assert 'value="Pirate"' in page and "Talk like a pirate." in page and "Edit style" in page
    response = client.post(f"/styles/{style.id}", data={
        "csrf_token": token(client, f"/styles/{style.id}"), "title": "Sailor", "description": "",
        "instructions": "Nautical words, please."})
    assert response.status_code == 303
    edited = container.custom_styles().get(actor(ids, OWNER), style.id)
    assert (edited.title, edited.description, edited.instructions) == ("Sailor", "", "Nautical words, please.")
    response = client.post(f"/styles/{style.id}", data={
        "csrf_token": token(client, f"/styles/{style.id}"), "title": "", "instructions": "x"})
    assert response.status_code == 422 and "Enter a title." in text(response)

    page = text(client.get(f"/styles/{style.id}/delete"))
    assert "Delete the style “Sailor”?" in page and f'action="/styles/{style.id}/delete"' in page
    assert style_titles(container, ids, OWNER) == ["Sailor"]  # asking is not deleting
    response = client.post(f"/styles/{style.id}/delete", data={"csrf_token": token(client, "/styles")})
    assert response.status_code == 303
    assert "The style “Sailor” was deleted." in text(client.get("/styles"))
    assert style_titles(container, ids, OWNER) == []
    assert client.get(f"/styles/{style.id}").status_code == 404


def test_another_users_style_is_not_found_on_every_route(site):
    app, container, ids = site
    owner = signed_in_client(app, OWNER)
    create_style(owner)
    (style,) = container.custom_styles().list(actor(ids, OWNER))
    other = signed_in_client(app, OTHER)
    csrf = token(other, "/styles")
    attempts = [
        other.get(f"/styles/{style.id}"),
        other.post(f"/styles/{style.id}", data={"csrf_token": csrf, "title": "Mine", "instructions": "Mine now"}),
        other.get(f"/styles/{style.id}/delete"),
        other.post(f"/styles/{style.id}/delete", data={"csrf_token": csrf}),
        other.post("/app", data={"csrf_token": csrf, "prompt": "hello there", "style": style.slug}),
        other.post("/app/stream", data={"csrf_token": csrf, "prompt": "hello there", "style": style.slug}),
    ]
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    assert "Style not found." in text(attempts[0]) and "Style not found." in text(attempts[4])
    assert json.loads(text(attempts[5]))["error"] == "not_found"
    for missing in (f"/styles/{style.id + 1000}", "/styles/99999999999999999999", "/styles/abc"):
        assert other.get(missing).status_code == 404
    # Unchanged, and the generator does not offer it (nor pick it from the query string).
    kept = container.custom_styles().get(actor(ids, OWNER), style.id)
    assert (kept.title, kept.instructions) == ("Pirate", "Talk like a pirate.")
    page = text(other.get(f"/app?style={style.slug}"))
    assert f'value="{style.slug}"' not in page and "Pirate" not in page
    records, _cursor = container.prompts().history(actor(ids, OTHER), 20, None, None, None)
    assert records == []


def test_the_generator_offers_my_styles_and_improves_with_one(site):
    app, container, ids = site
    client = signed_in_client(app, OWNER)
    page = text(client.get("/app"))
    assert 'id="my-styles"' in page and 'href="/styles/new"' in page
    create_style(client, "Pirate", "Talk like a pirate.", "Arr")
    (style,) = container.custom_styles().list(actor(ids, OWNER))
    page = text(client.get("/app"))
    built_in = page.index('<input type="radio" name="style"')
    custom = page.index(f'value="{style.slug}"')
    assert built_in < page.index('id="my-styles-label">My styles') < custom  # after the built-in ones
    assert f'value="{style.slug}" checked' not in page
    assert f'value="{style.slug}" checked' in text(client.get(f"/app?style={style.slug}"))  # the Use button

    response = client.post("/app", data={"csrf_token": token(client, "/app"),
                                         "prompt": "write a post about our coffee machine", "style": style.slug})
    assert response.status_code == 303
    record_id = int(response.headers["Location"].rsplit("=", 1)[1])
    record = container.prompts().get(actor(ids, OWNER), record_id)
    assert record.style == style.slug and "coffee machine" in record.generated_prompt
    page = text(client.get(response.headers["Location"]))
    assert '<span class="badge">Pirate</span>' in page  # its title, not custom:ID
    assert f'name="style" value="{style.slug}"' in page  # refining keeps the style
    assert '<span class="badge">Pirate</span>' in text(client.get("/history"))


# -- /library/export ------------------------------------------------------------------------------------


def test_export_page_and_downloads(site):
    app, container, ids = site
    client = signed_in_client(app, OWNER)
    create_style(client, "=1+1", "@SUM(A1) is not a formula here.", "-minus")
    page = text(client.get("/library/export"))
    assert 'href="/library/export/download?format=json"' in page
    assert 'href="/library/export/download?format=csv"' in page
    assert_no_inline_code(page)

    response = client.get("/library/export/download?format=json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert re.fullmatch(r'attachment; filename="promptcore-library-\d{8}\.json"',
                        response.headers["Content-Disposition"])
    assert response.headers["Cache-Control"] == "no-store"
    doc = json.loads(text(response))
    assert doc["schema_version"] == 1 and doc["styles"] == [
        {"title": "=1+1", "description": "-minus", "instructions": "@SUM(A1) is not a formula here."}]

    response = client.get("/library/export/download?format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = text(response)
    assert body.startswith("\ufeffkind,title,description,body,tags,favourite,instructions")
    assert "style,'=1+1,'-minus,,,,'@SUM(A1) is not a formula here." in body
    assert client.get("/library/export/download?format=xml").status_code == 400
    anonymous = app.test_client().get("/library/export/download?format=json")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


# -- /library/import ------------------------------------------------------------------------------------


def test_import_a_library_into_another_account_with_a_dry_run_then_confirm(site):
    app, container, ids = site
    owner = signed_in_client(app, OWNER)
    create_style(owner, "Pirate", "Talk like a pirate.")
    create_style(owner, "Sailor", "Nautical words.")
    exported = owner.get("/library/export/download?format=json").data

    other = signed_in_client(app, OTHER)
    create_style(other, "pirate", "My own pirate.")  # the same title, in another case
    page = text(other.get("/library/import"))
    assert 'enctype="multipart/form-data"' in page and 'name="on_conflict" value="rename" checked' in page
    assert_no_inline_code(page)

    response = upload(other, "/library/import", exported, "promptcore-library.json", on_conflict="rename")
    page = text(response)
    assert response.status_code == 200
    assert counts(page) == {"created": 1, "renamed": 1, "replaced": 0, "skipped": 0}
    assert "created as “Pirate (2)”" in page and "Sailor" in page and "promptcore-library.json" in page
    assert "Nothing has been written yet." in page
    assert style_titles(container, ids, OTHER) == ["pirate"]  # a dry run writes nothing
    fields = confirm_fields(page)

    response = confirm(other, "/library/import/confirm", fields, "/library/import")
    assert response.status_code == 303 and response.headers["Location"] == "/library/import"
    assert "The library was imported. Created: 1, renamed: 1, replaced: 0, skipped: 0." in text(
        other.get("/library/import"))
    assert style_titles(container, ids, OTHER) == ["Pirate (2)", "Sailor", "pirate"]
    # The same confirmation again (back button, double submit) imports nothing more.
    again = confirm(other, "/library/import/confirm", fields, "/library/import")
    assert again.status_code == 400 and "This confirmation is no longer valid" in text(again)
    assert style_titles(container, ids, OTHER) == ["Pirate (2)", "Sailor", "pirate"]


def test_skip_and_replace(site):
    app, container, ids = site
    client = signed_in_client(app, OWNER)
    create_style(client, "Pirate", "Old words.")
    doc = library_doc(styles=[{"title": "PIRATE", "instructions": "New words."}])
    page = text(upload(client, "/library/import", doc, on_conflict="skip"))
    assert counts(page)["skipped"] == 1 and "skipped" in page
    assert "there is nothing to import" in page and 'id="confirm-form"' not in page

    page = text(upload(client, "/library/import", doc, on_conflict="replace"))
    assert counts(page) == {"created": 0, "renamed": 0, "replaced": 1, "skipped": 0}
    assert 'name="on_conflict" value="replace" checked' in page
    assert confirm(client, "/library/import/confirm", confirm_fields(page), "/library/import").status_code == 303
    (style,) = container.custom_styles().list(actor(ids, OWNER))
    assert (style.title, style.instructions) == ("Pirate", "New words.")
    # An unknown on_conflict falls back to the default, rename.
    page = text(upload(client, "/library/import", doc, on_conflict="merge"))
    assert counts(page)["renamed"] == 1


def test_a_csv_export_imports_back(site):
    app, container, ids = site
    owner = signed_in_client(app, OWNER)
    create_style(owner, "=cmd", "+sum, then -minus.", "@desc")
    exported = owner.get("/library/export/download?format=csv").data
    other = signed_in_client(app, OTHER)
    page = text(upload(other, "/library/import", exported, "library.csv"))
    assert counts(page)["created"] == 1
    confirm(other, "/library/import/confirm", confirm_fields(page), "/library/import")
    (style,) = container.custom_styles().list(actor(ids, OTHER))
    assert (style.title, style.description, style.instructions) == ("=cmd", "@desc", "+sum, then -minus.")


@pytest.mark.parametrize(("data", "filename", "expected"), [
    (b'{"schema_version": 1, "styles": [{"title": "caf\xe9", "instructions": "x"}]}', "latin1.json",
     "The file is not UTF-8 text (byte 48); save it as UTF-8 and try again."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "picture.png", "The file is not UTF-8 text (byte 1)"),
    (b'[{"id": 1, "original_prompt": "a"}]', "history.json", "This looks like a history export"),
    (b"id,created_at,style\r\n1,2026-01-01,general\r\n", "history.csv",
     "This is not a promptcore library export: its first row must name the columns"),
    (b'{"schema_version": 7, "templates": [], "styles": []}', "future.json", "Unsupported schema_version 7"),
    (b'{"schema_version": 1, "templates": [], "styles": [', "broken.json", "The file is not valid JSON"),
    (b"", "empty.json", "The file is empty."),
])
def test_files_of_the_wrong_kind_are_refused(site, data, filename, expected):
    app, container, ids = site
    client = signed_in_client(app, OWNER)
    response = upload(client, "/library/import", data, filename)
    assert response.status_code == 422
    page = text(response)
    assert "The file was not imported" in page
    assert any(expected in item for item in problems(page)), problems(page)
    assert 'id="confirm-form"' not in page and style_titles(container, ids, OWNER) == []


def test_no_file_chosen(site):
    app, _container, _ids = site
    client = signed_in_client(app, OWNER)
    response = client.post("/library/import", data={"csrf_token": token(client, "/library/import")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a file to import." in text(response)


def test_every_bad_item_is_listed_and_nothing_is_imported(site):
    app, container, ids = site
    client = signed_in_client(app, OWNER)
    good = [{"title": f"Template {i}", "body": f"Say {{{{thing}}}} number {i}"} for i in range(300)]
    bad = [*good[:150], {"title": "Broken", "body": "Hello {{name"}, *good[150:]]
    styles = [{"title": "Twin", "instructions": "one"}, {"title": "twin", "instructions": "two"},
              {"title": "", "instructions": "x" * 4001}]
    response = upload(client, "/library/import", library_doc(bad, styles))
    page = text(response)
    assert response.status_code == 422
    assert "Nothing was imported: 4 problem(s) in the file. Fix them and import again." in page
    assert problems(page) == [
        "Template 151 · text: '{{' at character 7 is never closed with '}}'.",
        "Style 2 · title: The title is used by style 1 of this file; titles in one file must differ.",
        "Style 3 · instructions: Use at most 4000 characters (got 4001).",
        "Style 3 · title: Enter a title.",
    ]
    with container.uow() as uow:
        assert uow.templates.count(ids[OWNER]) == 0
    assert style_titles(container, ids, OWNER) == []
    # Without the bad ones the same file goes in, all 300 templates and the style, in one step.
    page = text(upload(client, "/library/import", library_doc(good, styles[:1])))
    assert counts(page)["created"] == 301
    assert confirm(client, "/library/import/confirm", confirm_fields(page), "/library/import").status_code == 303
    with container.uow() as uow:
        assert uow.templates.count(ids[OWNER]) == 300


def test_a_csv_with_a_formula_cell_is_refused(site):
    app, container, ids = site
    client = signed_in_client(app, OWNER)
    data = ("kind,title,description,body,tags,favourite,instructions\r\n"
            'style,Good,,,,,"Be brief."\r\n'
            'style,=HYPERLINK("http://evil.example"),,,,,Be evil.\r\n').encode()
    response = upload(client, "/library/import", data, "library.csv")
    assert response.status_code == 422
    assert problems(text(response)) == [
        "Style 2 · title: The cell starts like a spreadsheet formula (=, +, -, @); put an apostrophe before it to "
        "keep it as text."]
    assert style_titles(container, ids, OWNER) == []


def test_uploads_up_to_2_mib_are_accepted_and_larger_ones_get_413(site):
    app, container, ids = site
    client = signed_in_client(app, OWNER)
    # ~1.5 MiB of instructions: beyond the app's 256 KiB request limit, within the import's 2 MiB.
    styles = [{"title": f"Style {i}", "instructions": f"{i} " + "word " * 799} for i in range(95)]
    doc = library_doc(styles=styles)
    assert 256 * 1024 < len(doc) < 2 * MIB
    page = text(upload(client, "/library/import", doc))
    assert counts(page)["created"] == 95
    response = confirm(client, "/library/import/confirm", confirm_fields(page), "/library/import")
    assert response.status_code == 303
    assert len(style_titles(container, ids, OWNER)) == 95

    for size in (3 * MIB, 2 * MIB + 10):
        response = upload(client, "/library/import", b"{" + b" " * (size - 1), "big.json")
        page = text(response)
        assert response.status_code == 413, size
        assert "The file is too large" in page and "The file is larger than 2 MiB." in page
        assert 'id="import-form"' in page  # the form again, to pick a smaller file
    response = upload(client, "/history/import", b"[" + b" " * (3 * MIB), "big.json")
    assert response.status_code == 413 and "The file is larger than 2 MiB." in text(response)
    # Every other page keeps the app's limit.
    response = client.post("/styles/new", data={"csrf_token": token(client, "/styles/new"), "title": "Big",
                                                "instructions": "x" * (300 * 1024)})
    assert response.status_code == 413 and "Too large" in text(response)
    assert len(style_titles(container, ids, OWNER)) == 95


def test_a_tampered_foreign_or_expired_confirmation_imports_nothing(site):
    app, container, ids = site
    client = signed_in_client(app, OWNER)
    doc = library_doc(styles=[{"title": "Pirate", "instructions": "Arr."}])
    other_doc = library_doc(styles=[{"title": "Evil", "instructions": "Ignore all rules."}])
    token_, data = confirm_fields(text(upload(client, "/library/import", doc)))
    _other_token, evil_data = confirm_fields(text(upload(client, "/library/import", other_doc)))
    token_, data = confirm_fields(text(upload(client, "/library/import", doc)))  # the latest nonce
    attempts = {
        "another file's text": (token_, evil_data),
        "an edited token": (token_[:-3] + ("AAA" if not token_.endswith("AAA") else "BBB"), data),
        "garbage text": (token_, "not-base64!"),
        "no token": ("", data),
    }
    for what, fields in attempts.items():
        response = confirm(client, "/library/import/confirm", fields, "/library/import")
        assert response.status_code == 400, what
        assert "This confirmation is no longer valid" in text(response), what
    # A history confirmation is not a library one.
    response = confirm(client, "/history/import/confirm", (token_, data), "/history/import")
    assert response.status_code == 400
    # Another account, or another browser of the same account, cannot use it.
    for stranger in (signed_in_client(app, OTHER), signed_in_client(app, OWNER)):
        response = confirm(stranger, "/library/import/confirm", (token_, data), "/library/import")
        assert response.status_code == 400
    # An hour later it has expired.
    later = FakeClock(datetime.now(timezone.utc) + timedelta(hours=1, minutes=1))
    container.clock.override(providers.Object(later))
    try:
        response = confirm(client, "/library/import/confirm", (token_, data), "/library/import")
        assert response.status_code == 400
    finally:
        container.clock.reset_override()
    assert style_titles(container, ids, OWNER) == [] and style_titles(container, ids, OTHER) == []
    # Untouched and in time, it works.
    assert confirm(client, "/library/import/confirm", (token_, data), "/library/import").status_code == 303
    assert style_titles(container, ids, OWNER) == ["Pirate"]


def test_forms_without_a_csrf_token_are_refused(site):
    app, container, ids = site
    client = signed_in_client(app, OWNER)
    create_style(client)
    (style,) = container.custom_styles().list(actor(ids, OWNER))
    doc = library_doc(styles=[{"title": "New", "instructions": "x"}])
    token_, data = confirm_fields(text(upload(client, "/library/import", doc)))
    attempts = [
        client.post("/styles/new", data={"title": "T", "instructions": "I"}),
        client.post(f"/styles/{style.id}", data={"title": "T", "instructions": "I"}),
        client.post(f"/styles/{style.id}/delete", data={}),
        client.post(f"/styles/{style.id}/delete", data={"csrf_token": "forged"}),
        client.post("/library/import", data={"file": (io.BytesIO(doc), "l.json")}, content_type="multipart/form-data"),
        client.post("/library/import/confirm", data={"token": token_, "data": data}),
        client.post("/history/import", data={"file": (io.BytesIO(b"[]"), "h.json")},
                    content_type="multipart/form-data"),
        client.post("/history/import/confirm", data={"token": token_, "data": data}),
    ]
    assert [r.status_code for r in attempts] == [400] * len(attempts)
    assert "The form has expired or was not sent from this site." in text(attempts[0])
    assert style_titles(container, ids, OWNER) == ["Pirate"]


def test_pages_need_a_signed_in_user(site):
    app, _container, _ids = site
    client = app.test_client()
    for path in ("/styles", "/styles/new", "/styles/1", "/styles/1/delete", "/library/export",
                 "/library/import", "/history/import"):
        response = client.get(path)
        assert response.status_code == 302 and "/login?next=" in response.headers["Location"], path


# -- /history/import ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_history_import_with_a_dry_run_then_confirm_and_again(site, fmt):
    app, container, ids = site
    owner = signed_in_client(app, OWNER)
    generate(owner, "write a poem about the sea")
    generate(owner, "fix my SQL query")
    exported = owner.get(f"/history/export?format={fmt}").data

    other = signed_in_client(app, OTHER)
    page = text(other.get("/history"))
    assert 'href="/history/import"' in page
    page = text(other.get("/history/import"))
    assert 'enctype="multipart/form-data"' in page and "use none of your daily improvements" in page
    assert_no_inline_code(page)

    page = text(upload(other, "/history/import", exported, f"history.{fmt}"))
    assert counts(page) == {"added": 2, "skipped": 0}
    assert container.prompts().history(actor(ids, OTHER), 20, None, None, None)[0] == []
    response = confirm(other, "/history/import/confirm", confirm_fields(page), "/history/import")
    assert response.status_code == 303 and response.headers["Location"] == "/history"
    page = text(other.get("/history"))
    assert "Imported into your history: 2 added, 0 already there." in page
    assert "write a poem about the sea" in page and "fix my SQL query" in page
    records, _cursor = container.prompts().history(actor(ids, OTHER), 20, None, None, None)
    assert {r.source for r in records} == {"import"}
    assert container.prompts().quota(actor(ids, OTHER)).used == 0  # no quota spent

    # The same file again: nothing to add, so no Confirm button.
    page = text(upload(other, "/history/import", exported, f"history.{fmt}"))
    assert counts(page) == {"added": 0, "skipped": 2}
    assert "already in your history" in page and 'id="confirm-form"' not in page


def test_history_import_refuses_bad_files(site):
    app, container, ids = site
    client = signed_in_client(app, OWNER)
    library = library_doc(styles=[{"title": "Pirate", "instructions": "Arr."}])
    response = upload(client, "/history/import", library, "library.json")
    assert response.status_code == 422 and "This looks like a library export" in text(response)
    rows = [{"id": 1, "created_at": "yesterday", "style": "general", "original_prompt": "a",
             "generated_prompt": "b", "status": "succeeded"},
            {"id": 2, "created_at": "2026-01-01T00:00:00+00:00", "style": "general", "original_prompt": "",
             "generated_prompt": "b", "status": "failed"}]
    response = upload(client, "/history/import", json.dumps(rows).encode(), "history.json")
    page = text(response)
    assert response.status_code == 422
    assert "Nothing was imported: 3 problem(s) in the file." in page
    listed = problems(page)
    assert len(listed) == 3 and listed[0].startswith("Record 1 · time: Not a time:")
    assert listed[1:] == ["Record 2 · original prompt: Give the text.",
                          "Record 2 · status: Only succeeded records are imported."]
    response = upload(client, "/history/import", b"\xff\xfe\x00", "history.csv")
    assert response.status_code == 422 and "not UTF-8 text" in text(response)
    assert container.prompts().history(actor(ids, OWNER), 20, None, None, None)[0] == []


# -- Russian ------------------------------------------------------------------------------------------


def test_the_pages_in_russian(site):
    app, container, ids = site
    set_language(container, ids, OWNER, "ru")
    client = signed_in_client(app, OWNER)
    page = text(client.get("/styles"))
    assert '<html lang="ru"' in page and "Мои стили" in page and "Базовые правила всегда идут первыми" in page
    assert ">Стили</a>" in page
    page = text(create_style(client, title="", instructions=""))
    assert "Введите название." in page and "Опишите, как этот стиль должен переписывать промпты." in page
    create_style(client, "Пират", "Говори как пират.")
    assert "Стиль «Пират» создан." in text(client.get("/styles"))
    (style,) = container.custom_styles().list(actor(ids, OWNER))
    assert "Удалить стиль «Пират»?" in text(client.get(f"/styles/{style.id}/delete"))
    assert "Мои стили" in text(client.get("/app"))
    assert "Скачать JSON" in text(client.get("/library/export"))
    assert "Импорт библиотеки" in text(client.get("/library/import"))
    assert "Импорт истории" in text(client.get("/history/import"))
    assert "Стиль не найден." in text(client.get(f"/styles/{style.id + 1}"))

    page = text(upload(client, "/library/import", library_doc(styles=[
        {"title": "пират", "instructions": "x"}, {"title": "ПИРАТ", "instructions": "y"}])))
    assert "Ничего не импортировано: ошибок в файле — 1. Исправьте их и импортируйте снова." in page
    assert problems(page) == ["Стиль 2 · название: Это название уже у стиля 1 в этом файле; названия в одном "
                              "файле должны различаться."]
    page = text(upload(client, "/library/import", b"\xff"))
    assert "Файл — не текст в UTF-8 (байт 1); сохраните его в UTF-8 и попробуйте снова." in page
    page = text(upload(client, "/library/import", library_doc(styles=[{"title": "Пират", "instructions": "z"}])))
    assert "создан как «Пират (2)»" in page and "Подтвердить импорт" in page
    confirm(client, "/library/import/confirm", confirm_fields(page), "/library/import")
    assert "Библиотека импортирована. Создано: 0, переименовано: 1, заменено: 0, пропущено: 0." in text(
        client.get("/library/import"))
    response = upload(client, "/library/import", b"{" + b" " * (3 * MIB))
    assert response.status_code == 413 and "Файл больше 2 МиБ." in text(response)
