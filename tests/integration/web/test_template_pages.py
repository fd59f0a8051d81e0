"""The template pages through Flask's test client (SPEC §13.1, §13.2, §8): the list with search,
tags, favourites and paging; the editor with the variables listed by the server and errors next
to their fields; versions with a line diff and restore; Use → fill in → the generator; Improve
keeping the variables; quick templates read-only, copyable and offered in the generator; "Save as
template" from history. In English and Russian. Another person's template is a 404 on every
route, a quick template cannot be changed (403), and a form without its CSRF token is a 400 —
with nothing written in each case."""

from __future__ import annotations

import html
import re

import pytest
from dependency_injector import providers

from promptcore.domain.access import Actor
from promptcore.domain.prompts import Improvement, ImprovementRequest
from promptcore.domain.templates import find_variables
from promptcore.ports import PromptImprover
from tests.conftest import build_test_app, make_settings

from .test_security import confirmed_user, generate, signed_in_client, token

RU = {"Accept-Language": "ru"}
BODY = "Write a post about {{topic}} for {{ audience }}.\nKeep it short."


class ScriptedImprover(PromptImprover):
    """Rewrites a prompt; for a template it keeps the variables, or drops the first one when
    told to (as a careless model would)."""

    name = "scripted"

    def __init__(self) -> None:
        self.drop_variable = False
        self.calls = 0

    def improve(self, request: ImprovementRequest) -> Improvement:
        self.calls += 1
        text = f"## Task\n{request.prompt}\n\n## Output format\nA short post."
        if request.keep_variables and self.drop_variable:
            text = text.replace("{{topic}}", "the topic")
        return Improvement(text=text, model="offline")


@pytest.fixture
def site(tmp_path, database_url):
    """The app on SQLite and on PostgreSQL, with a scripted improver and two confirmed people."""
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DAILY_LIMIT="20",
                                                  PROMPTCORE_DATABASE_URL=database_url))
    improver = ScriptedImprover()
    container.improver.override(providers.Object(improver))
    owner = confirmed_user(container, "owner@example.com")
    stranger = confirmed_user(container, "stranger@example.com")
    # No language of their own: the pages follow the cookie, then Accept-Language.
    container.accounts().update_profile(Actor(owner), settings={"language": None})
    yield app, container, improver, owner, stranger
    container.engine().dispose()


def text(response) -> str:
    return response.get_data(as_text=True)


def csrf(client) -> str:
    return token(client, "/templates")


def create(client, title: str = "Post", body: str = BODY, tags: str = "", description: str = "") -> int:
    r = client.post("/templates/new", data={"csrf_token": csrf(client), "title": title, "body": body, "tags": tags,
                                            "description": description})
    assert r.status_code == 303, text(r)
    match = re.fullmatch(r"/templates/(\d+)", r.headers["Location"])
    assert match, r.headers["Location"]
    return int(match.group(1))


def save(client, template_id: int, **fields):
    data = {"csrf_token": csrf(client), "title": "Post", "description": "", "tags": "", "body": BODY, **fields}
    return client.post(f"/templates/{template_id}", data=data)


def variables_shown(page: str) -> list[str]:
    block = re.search(r'(?s)<ul class="var-chips" id="variables-list">(.*?)</ul>', page)
    assert block, "no list of variables on the page"
    return [html.unescape(name) for name in re.findall(r"<code>(.*?)</code>", block.group(1))]


def field_error(page: str, field: str) -> str:
    match = re.search(r'(?s)id="' + re.escape(field) + r'-error">(.*?)</(?:div|p)>', page)
    assert match, f"no error next to {field}"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


def count_templates(container, user_id: int) -> int:
    with container.uow() as uow:
        return uow.templates.count(user_id)


def quick_id(container, language: str = "en", key: str = "social-post") -> int:
    return next(t.id for t in container.templates().quick(language) if t.builtin == key)


# -- create, edit, list -------------------------------------------------------------------------


def test_create_then_edit_lists_variables_and_makes_versions(site):
    app, container, _improver, owner, _stranger = site
    client = signed_in_client(app, "owner@example.com")
    page = text(client.get("/templates/new"))
    assert "New template" in page and variables_shown(page) == []
    assert 'data-variables="variables-list"' in page and "js/templates.js" in page
    template_id = create(client, body=BODY.replace("\n", "\r\n"), tags="Marketing, social, marketing",
                         description="For launches")
    page = text(client.get(f"/templates/{template_id}"))
    assert variables_shown(page) == ["topic", "audience"]
    assert 'value="marketing, social"' in page and "For launches" in page
    assert "The template is saved." in page
    stored = container.templates().get(Actor(owner), template_id)
    assert stored.body == BODY and stored.version == 1  # the browser's CRLF became LF

    # The same text again (as a browser sends it, CRLF) is not a new version; a new text is.
    r = save(client, template_id, body=BODY.replace("\n", "\r\n"), tags="marketing, social")
    assert r.status_code == 303
    assert container.templates().get(Actor(owner), template_id).version == 1
    r = save(client, template_id, body=BODY + " Add {{hashtags}}.", title="Launch post", tags="marketing, social")
    assert r.status_code == 303 and r.headers["Location"] == f"/templates/{template_id}"
    page = text(client.get(r.headers["Location"]))
    assert "Saved as version 2." in page and "Launch post" in page
    assert variables_shown(page) == ["topic", "audience", "hashtags"]
    # The list shows it with its tags, and the link in the header.
    page = text(client.get("/templates"))
    assert '<a href="/templates" aria-current="page">Templates</a>' in page
    assert "Launch post" in page and "Variables: 3" in page and "Version 2" in page
    assert 'href="/templates?tag=marketing"' in page


def test_the_list_searches_filters_by_tag_and_favourites_and_pages(site):
    app, container, _improver, owner, _stranger = site
    client = signed_in_client(app, "owner@example.com")
    coffee = create(client, "Coffee post", "About {{coffee}}", tags="drinks")
    tea = create(client, "Tea post", "About {{tea}} and {{milk}}", tags="drinks, hot")
    create(client, "Bug report", "Steps: {{steps}}", tags="dev")

    def titles(query: str = "") -> list[str]:
        page = text(client.get("/templates" + query))
        mine = re.search(r'(?s)id="my-templates">(.*?)</ul>\s*<nav', page)
        return re.findall(r'class="h3 tpl-title"><a href="/templates/\d+">(.*?)</a>', mine.group(1)) if mine else []

    assert titles() == ["Bug report", "Tea post", "Coffee post"]
    assert titles("?q=TEA") == ["Tea post"]
    assert titles("?q=milk") == ["Tea post"]  # the text is searched too
    assert titles("?tag=drinks") == ["Tea post", "Coffee post"]
    assert titles("?tag=hot&q=coffee") == []
    assert titles("?tag=no-such-tag") == ["Bug report", "Tea post", "Coffee post"]  # an unknown tag: all
    page = text(client.get("/templates?tag=drinks"))
    assert re.search(r'href="/templates\?tag=drinks" aria-current="page">drinks <span class="chip-count">2', page)

    # The favourite toggle, back to where it was pressed.
    r = client.post(f"/templates/{coffee}/favourite", data={"csrf_token": csrf(client), "favourite": "1",
                                                            "next": "/templates?fav=1"})
    assert r.status_code == 303 and r.headers["Location"] == "/templates?fav=1"
    assert titles("?fav=1") == ["Coffee post"]
    assert 'aria-pressed="true"' in text(client.get(f"/templates/{coffee}"))
    r = client.post(f"/templates/{coffee}/favourite", data={"csrf_token": csrf(client), "favourite": "0",
                                                            "next": "https://evil.example/"})
    assert r.headers["Location"] == "/templates"  # only local paths are followed
    assert titles("?fav=1") == []
    assert container.templates().get(Actor(owner), tea).favourite is False

    # Paging with the cursor; a cursor that is not ours starts again.
    for n in range(20):
        create(client, f"Filler {n:02d}", f"Text {n}")
    page = text(client.get("/templates"))
    assert page.count('class="card tpl-item"') == 20
    cursor = re.search(r'id="next-page" href="/templates\?cursor=([^"]+)"', page).group(1)
    page = text(client.get(f"/templates?cursor={cursor}"))
    assert page.count('class="card tpl-item"') == 3 and "First page" in page and 'id="next-page"' not in page
    r = client.get("/templates?cursor=not-a-cursor")
    assert r.status_code == 200 and text(r).count('class="card tpl-item"') == 20


def test_errors_show_next_to_their_fields_and_nothing_is_written(site):
    app, container, _improver, owner, _stranger = site
    client = signed_in_client(app, "owner@example.com")
    cases = [
        ({"body": "Hello {{name"}, "body", "'{{' at character 7 is never closed with '}}'."),
        ({"body": "Hello name}} and {{}}"}, "body", "'}}' at character 11 closes no '{{'."),
        ({"body": "Empty {{ }} here"}, "body", "'{{ }}' at character 7 has no variable name."),
        ({"body": "{{" + "n" * 65 + "}}"}, "body", "is 65 characters long; use at most 64."),
        ({"body": "{{first name}}"}, "body", "The variable name 'first name' at character 1 contains ' '"),
        ({"body": "   "}, "body", "Enter the template text."),
        ({"body": "x" * 16_001}, "body", "Use at most 16000 characters (got 16001)."),
        ({"title": ""}, "title", "Enter a title."),
        ({"title": "t" * 201}, "title", "Use at most 200 characters (got 201)."),
        ({"tags": "x" * 33}, "tags", "A tag has at most 32 characters."),
        ({"tags": ", ".join(f"t{n}" for n in range(21))}, "tags", "Use at most 20 tags."),
    ]
    for fields, field, message in cases:
        data = {"csrf_token": csrf(client), "title": "Fine", "body": "Fine {{x}}", "tags": "", **fields}
        r = client.post("/templates/new", data=data)
        assert r.status_code == 422, (fields, r.status_code)
        page = text(r)
        assert message in field_error(page, field), (fields, field_error(page, field))
        assert re.search(r'<(?:input|textarea)(?=[^>]*aria-invalid="true")(?=[^>]* id="' + field + '")', page)
    # Both problems of one text are listed; the variables the server can read are still shown.
    page = text(client.post("/templates/new", data={"csrf_token": csrf(client), "title": "Two",
                                                    "body": "{{ok}} then {{bad!}} and {{open"}))
    assert "contains '!'" in field_error(page, "body") and "is never closed" in field_error(page, "body")
    assert variables_shown(page) == ["ok"]
    assert count_templates(container, owner) == 0

    # The title is unique per person, whatever the case.
    create(client, "Weekly report", "Report on {{week}}")
    r = client.post("/templates/new", data={"csrf_token": csrf(client), "title": "weekly REPORT", "body": "x"})
    assert r.status_code == 409
    assert "You already have one with this title" in field_error(text(r), "title")
    # In Russian the reasons are Russian.
    r = client.post("/templates/new", data={"csrf_token": csrf(client), "title": "Ру", "body": "Привет {{имя"},
                    headers=RU)
    assert r.status_code == 422 and "«{{» в позиции 8 не закрыта" in field_error(text(r), "body")
    r = client.post("/templates/new", data={"csrf_token": csrf(client), "title": "", "body": "x"}, headers=RU)
    assert r.status_code == 422 and "Введите название." in field_error(text(r), "title")
    # An edit with a bad text keeps the version as it was.
    template_id = create(client, "Editable", "Hello {{who}}")
    r = save(client, template_id, title="Editable", body="Hello {{who")
    assert r.status_code == 422 and "never closed" in field_error(text(r), "body")
    assert container.templates().get(Actor(owner), template_id).version == 1
    r = save(client, template_id, title="weekly report", body="Hello {{who}}")
    assert r.status_code == 409
    assert container.templates().get(Actor(owner), template_id).title == "Editable"
    assert count_templates(container, owner) == 2


# -- versions --------------------------------------------------------------------------------------


def test_versions_compare_and_restore(site):
    app, container, _improver, owner, _stranger = site
    client = signed_in_client(app, "owner@example.com")
    template_id = create(client, body="Line one\nLine {{two}}\nLine three")
    assert save(client, template_id, body="Line one\nLine {{two}} changed\nLine three\nLine four").status_code == 303
    page = text(client.get(f"/templates/{template_id}/versions"))
    assert page.index('id="version-2"') < page.index('id="version-1"')  # newest first
    assert re.search(r'form="compare-form" name="from" value="1" checked', page)
    assert re.search(r'form="compare-form" name="to" value="2" checked', page)
    assert 'id="diff"' not in page

    page = text(client.get(f"/templates/{template_id}/versions?from=1&to=2"))
    assert "Changes from version 1 to version 2" in page
    deleted = re.findall(r'(?s)<div class="dl dl-del">.*?<span class="dl-text">(.*?)</span>\s*</div>', page)
    added = re.findall(r'(?s)<div class="dl dl-ins">.*?<span class="dl-text">(.*?)</span>\s*</div>', page)
    strip = [re.sub(r"<span class=\"sr-only\">.*?</span>", "", x) for x in deleted + added]
    assert [html.unescape(x) for x in strip] == ["Line {{two}}", "Line {{two}} changed", "Line four"]

    # Restore version 1: a new version 3 with its text; nothing is rewritten.
    r = client.post(f"/templates/{template_id}/versions/1/restore", data={"csrf_token": csrf(client)})
    assert r.status_code == 303 and r.headers["Location"] == f"/templates/{template_id}/versions"
    page = text(client.get(r.headers["Location"]))
    assert "Version 1 is restored as version 3." in page and "restored from version 1" in page
    versions = container.templates().versions(Actor(owner), template_id)
    assert [v.number for v in versions] == [3, 2, 1] and versions[0].body == versions[2].body
    page = text(client.get(f"/templates/{template_id}/versions", headers=RU))
    assert "Версии" in page and "восстановлена из версии 1" in page and "Восстановить эту версию" in page

    # Bad choices get the page with the reason, never a server error.
    for query, status, message in [
        ("?from=abc&to=2", 422, "Give a version number (1 or more)."),
        ("?from=1", 422, "Give a version number (1 or more)."),
        ("?from=99999999999999999999999&to=1", 422, "Give a version number (1 or more)."),
        ("?from=1&to=9", 404, "Version 9 of this template was not found."),
    ]:
        r = client.get(f"/templates/{template_id}/versions{query}")
        assert r.status_code == status and message in text(r), (query, r.status_code)
    r = client.post(f"/templates/{template_id}/versions/7/restore", data={"csrf_token": csrf(client)})
    assert r.status_code == 303
    assert "Version 7 of this template was not found." in text(client.get(r.headers["Location"]))
    assert client.post(f"/templates/{template_id}/versions/99999999999999999999/restore",
                       data={"csrf_token": csrf(client)}).status_code == 404
    assert len(container.templates().versions(Actor(owner), template_id)) == 3


# -- use -----------------------------------------------------------------------------------------


def test_use_fills_in_the_variables_then_opens_the_generator(site):
    app, container, improver, owner, _stranger = site
    client = signed_in_client(app, "owner@example.com")
    template_id = create(client)
    page = text(client.get(f"/templates/{template_id}/use"))
    assert '<label for="var-1">topic</label>' in page and '<label for="var-2">audience</label>' in page
    assert 'name="values.topic"' in page

    # A missing value is named next to its field; a value with braces is refused.
    r = client.post(f"/templates/{template_id}/use", data={"csrf_token": csrf(client), "values.topic": "tea",
                                                           "values.audience": "  "})
    assert r.status_code == 422
    assert "Fill in this variable." in field_error(text(r), "var-2") and 'id="var-1-error"' not in text(r)
    assert ">tea</textarea>" in text(r)  # what was typed stays
    r = client.post(f"/templates/{template_id}/use", data={"csrf_token": csrf(client), "values.topic": "{{x}}",
                                                           "values.audience": "devs"})
    assert r.status_code == 422 and "values are plain text" in field_error(text(r), "var-1")
    r = client.post(f"/templates/{template_id}/use", data={"csrf_token": csrf(client), "values.audience": "devs"},
                    headers=RU)
    assert r.status_code == 422 and "Заполните эту переменную." in field_error(text(r), "var-1")

    # Filled in: the generator, its prompt box holding the text (not in any URL).
    r = client.post(f"/templates/{template_id}/use", data={"csrf_token": csrf(client), "values.topic": "green tea",
                                                           "values.audience": "busy people\r\nat work"})
    assert r.status_code == 200 and "Location" not in r.headers
    page = text(r)
    rendered = "Write a post about green tea for busy people\nat work.\nKeep it short."
    prompt = re.search(r'(?s)<textarea class="input prompt-input" id="prompt"[^>]*>(.*?)</textarea>', page)
    assert html.unescape(prompt.group(1)) == rendered
    assert "is filled in. Check the text, choose a style and press Generate." in page
    assert '<a href="/app" aria-current="page">Generator</a>' in page  # the generator's page, as shown
    assert 'id="generate-form"' in page and re.search(r'name="style" value="general" checked', page)
    assert improver.calls == 0  # nothing is generated until Generate
    # Generate from there, as the page's form does.
    r = client.post("/app", data={"csrf_token": csrf(client), "prompt": rendered, "style": "general"})
    assert r.status_code == 303
    assert "green tea" in text(client.get(r.headers["Location"]))

    # A template without variables goes to the generator as it is.
    plain = create(client, "Plain", "Just a plain prompt")
    assert "This template has no variables" in text(client.get(f"/templates/{plain}/use"))
    r = client.post(f"/templates/{plain}/use", data={"csrf_token": csrf(client)})
    assert r.status_code == 200 and ">Just a plain prompt</textarea>" in text(r)


# -- quick templates ---------------------------------------------------------------------------------


def test_quick_templates_are_listed_read_only_copyable_and_in_the_generator(site):
    app, container, _improver, owner, _stranger = site
    client = signed_in_client(app, "owner@example.com")
    english = container.templates().quick("en")
    russian = container.templates().quick("ru")
    assert len(english) >= 12 and len(russian) >= 12
    page = text(client.get("/templates"))
    assert all(html.escape(t.title, quote=False) in page for t in english)
    assert "Пост для соцсетей" not in page
    page = text(client.get("/templates", headers=RU))
    assert "Быстрые шаблоны" in page and "Пост для соцсетей" in page and "Social media post" not in page

    post = quick_id(container)
    page = text(client.get(f"/templates/{post}"))
    assert "Quick template" in page and 'id="template-form"' not in page and 'id="copy-template"' in page
    assert variables_shown(page) == ["topic", "network", "audience", "key_point"]
    # Changing it in any way is refused and changes nothing.
    token_ = csrf(client)
    for path, data in [
        (f"/templates/{post}", {"title": "Mine now", "body": "x"}),
        (f"/templates/{post}/favourite", {"favourite": "1"}),
        (f"/templates/{post}/delete", {}),
        (f"/templates/{post}/improve", {"style": "general"}),
        (f"/templates/{post}/improved", {"body": "x"}),
        (f"/templates/{post}/versions/1/restore", {}),
    ]:
        r = client.post(path, data={"csrf_token": token_, **data})
        assert r.status_code == 403, (path, r.status_code)
        assert "Quick templates are read-only" in text(r)
    assert client.get(f"/templates/{post}/delete").status_code == 403
    assert client.get(f"/templates/{post}/versions").status_code == 200
    quick = container.templates().get(Actor(owner), post)
    assert quick.title == "Social media post" and quick.version == 1 and quick.favourite is False

    # Copy to my library: an editable copy; a second copy gets a free title.
    r = client.post(f"/templates/{post}/copy", data={"csrf_token": csrf(client)})
    assert r.status_code == 303
    copy_id = int(r.headers["Location"].rsplit("/", 1)[1])
    page = text(client.get(r.headers["Location"]))
    assert "Copied to your library as “Social media post”." in page and 'id="template-form"' in page
    r = client.post(f"/templates/{post}/copy", data={"csrf_token": csrf(client)})
    assert container.templates().get(Actor(owner), int(r.headers["Location"].rsplit("/", 1)[1])).title \
        == "Social media post (2)"
    assert container.templates().get(Actor(owner), copy_id).body == quick.body

    # The generator offers the quick templates of the page's language.
    page = text(client.get("/app"))
    assert 'id="quick-picker"' in page and "Start from a quick template" in page
    assert f'<option value="{post}">Social media post</option>' in page
    assert re.search(r'data-quick-form="' + str(post) + r'" novalidate hidden', page)  # none picked yet
    assert "Пост для соцсетей" in text(client.get("/app", headers=RU))
    page = text(client.get(f"/app?quick={post}"))  # "Choose" without JavaScript
    assert re.search(r'data-quick-form="' + str(post) + r'" novalidate>', page) and "quick-picker\" open" in page
    assert f'<label for="quick-{post}-1">topic</label>' in page
    assert client.get("/app?quick=nonsense").status_code == 200
    russian_post = quick_id(container, "ru")  # a link to one of another language still picks it
    assert re.search(r'<option value="' + str(russian_post) + r'" selected>Пост для соцсетей</option>',
                     text(client.get(f"/app?quick={russian_post}")))
    others = create(signed_in_client(app, "stranger@example.com"), "Private", "Secret {{plan}}")
    page = text(client.get(f"/app?quick={others}"))  # only quick templates can be picked by id
    assert f'data-quick-form="{others}"' not in page and "Secret" not in page
    # Submitted from the generator: errors come back on the generator, the text goes in the box.
    r = client.post(f"/templates/{post}/use", data={"csrf_token": csrf(client), "origin": "app",
                                                    "values.topic": "our new mug"})
    assert r.status_code == 422 and 'id="generate-form"' in text(r)
    assert "Fill in this variable." in field_error(text(r), f"quick-{post}-2")
    assert re.search(r'data-quick-form="' + str(post) + r'" novalidate>', text(r))
    values = {"values.topic": "our new mug", "values.network": "Instagram", "values.audience": "students",
              "values.key_point": "it keeps tea hot"}
    r = client.post(f"/templates/{post}/use", data={"csrf_token": csrf(client), "origin": "app", **values})
    assert r.status_code == 200
    prompt = re.search(r'(?s)id="prompt"[^>]*>(.*?)</textarea>', text(r)).group(1)
    assert "our new mug" in prompt and "Instagram" in prompt and not find_variables(html.unescape(prompt))


def test_save_as_template_from_history(site):
    app, container, _improver, owner, stranger = site
    client = signed_in_client(app, "owner@example.com")
    record_id = generate(client, "write a summary of {{meeting}} for the team")
    page = text(client.get(f"/history/{record_id}"))
    assert f'action="/history/{record_id}/template"' in page and "Save as template" in page
    r = client.post(f"/history/{record_id}/template", data={"csrf_token": csrf(client)})
    assert r.status_code == 303
    template_id = int(re.fullmatch(r"/templates/(\d+)", r.headers["Location"]).group(1))
    template = container.templates().get(Actor(owner), template_id)
    record = container.prompts().get(Actor(owner), record_id)
    assert template.body == record.generated_prompt.strip()
    assert template.title.startswith("write a summary of")
    assert "Saved as a template." in text(client.get(r.headers["Location"]))
    # Someone else's record, or none: 404, nothing made.
    other = signed_in_client(app, "stranger@example.com")
    assert other.post(f"/history/{record_id}/template", data={"csrf_token": csrf(other)}).status_code == 404
    assert other.post("/history/999999/template", data={"csrf_token": csrf(other)}).status_code == 404
    assert count_templates(container, stranger) == 0


# -- improve keeping the variables ---------------------------------------------------------------


def test_improve_shows_the_result_and_saves_it_as_a_new_version(site):
    app, container, improver, owner, _stranger = site
    client = signed_in_client(app, "owner@example.com")
    template_id = create(client)
    style = container.custom_styles().create(Actor(owner), "Pirate", "Write like a pirate.")
    page = text(client.get(f"/templates/{template_id}"))
    assert '<option value="general" selected>' in page and f'<option value="custom:{style.id}">Pirate</option>' in page

    r = client.post(f"/templates/{template_id}/improve", data={"csrf_token": csrf(client), "style": "technical"})
    assert r.status_code == 200
    page = text(r)
    improved = html.unescape(re.search(r'(?s)<pre class="output" id="improved-text"[^>]*>(.*?)</pre>', page).group(1))
    assert improved.startswith("## Task\nWrite a post about {{topic}}")
    kept = re.search(r'(?s)id="kept-variables">(.*?)</ul>', page).group(1)
    assert re.findall(r"<code>(.*?)</code>", kept) == ["topic", "audience"]
    assert "1 of 20 used today" in page
    assert container.templates().get(Actor(owner), template_id).version == 1  # not saved yet
    hidden = re.search(r'<input type="hidden" name="body" value="([^"]*)">', page).group(1)
    r = client.post(f"/templates/{template_id}/improved", data={"csrf_token": csrf(client),
                                                                "body": html.unescape(hidden)})
    assert r.status_code == 303
    assert "The improved text is saved as version 2." in text(client.get(r.headers["Location"]))
    template = container.templates().get(Actor(owner), template_id)
    assert template.version == 2 and template.body == improved
    assert "improved" in text(client.get(f"/templates/{template_id}/versions"))
    assert "улучшена" in text(client.get(f"/templates/{template_id}/versions", headers=RU))

    # With the person's own style, the same; a saved text that breaks the rules is refused.
    r = client.post(f"/templates/{template_id}/improve", data={"csrf_token": csrf(client),
                                                               "style": f"custom:{style.id}"})
    assert r.status_code == 200
    r = client.post(f"/templates/{template_id}/improved", data={"csrf_token": csrf(client), "body": "{{broken"})
    assert r.status_code == 422 and "is never closed" in text(r)
    assert container.templates().get(Actor(owner), template_id).version == 2


def test_improve_that_changes_the_variables_is_a_clear_422(site):
    app, container, improver, owner, _stranger = site
    client = signed_in_client(app, "owner@example.com")
    template_id = create(client)
    improver.drop_variable = True
    r = client.post(f"/templates/{template_id}/improve", data={"csrf_token": csrf(client), "style": "general"})
    assert r.status_code == 422 and improver.calls == 2  # asked once more, then refused
    message = html.unescape(re.search(r'(?s)id="improve-error">.*?<p>(.*?)</p>', text(r)).group(1))
    assert message.startswith("The improved text did not keep the same variables (missing: topic; new: none).")
    assert "no improvement was counted" in message
    assert container.prompts().quota(Actor(owner)).used == 0
    assert container.templates().get(Actor(owner), template_id).version == 1
    r = client.post(f"/templates/{template_id}/improve", data={"csrf_token": csrf(client), "style": "general"},
                    headers=RU)
    assert r.status_code == 422 and "изменился набор переменных (пропали: topic; появились: нет)" in text(r)
    # A style that is not offered, or someone else's: the reason on the page.
    r = client.post(f"/templates/{template_id}/improve", data={"csrf_token": csrf(client), "style": "no-such"})
    assert r.status_code == 422 and "Unknown style" in text(r)
    others = container.custom_styles().create(Actor(_stranger), "Secret", "Whisper.")
    r = client.post(f"/templates/{template_id}/improve", data={"csrf_token": csrf(client),
                                                               "style": f"custom:{others.id}"})
    assert r.status_code == 404 and "Style not found." in text(r)
    assert container.prompts().quota(Actor(owner)).used == 0


# -- delete ------------------------------------------------------------------------------------------


def test_delete_asks_first(site):
    app, container, _improver, owner, _stranger = site
    client = signed_in_client(app, "owner@example.com")
    template_id = create(client, "Doomed")
    page = text(client.get(f"/templates/{template_id}"))
    assert f'href="/templates/{template_id}/delete"' in page
    page = text(client.get(f"/templates/{template_id}/delete"))
    assert "Delete the template?" in page and f'action="/templates/{template_id}/delete"' in page
    assert count_templates(container, owner) == 1  # asking deletes nothing
    r = client.post(f"/templates/{template_id}/delete", data={"csrf_token": csrf(client)})
    assert r.status_code == 303 and r.headers["Location"] == "/templates"
    assert "“Doomed” was deleted with all its versions." in text(client.get("/templates"))
    assert client.get(f"/templates/{template_id}").status_code == 404
    assert count_templates(container, owner) == 0


# -- access, CSRF, languages ----------------------------------------------------------------------------


def test_another_persons_template_is_not_found_on_every_route(site):
    app, container, _improver, owner, stranger = site
    owner_client = signed_in_client(app, "owner@example.com")
    template_id = create(owner_client, tags="secret")
    before = container.templates().get(Actor(owner), template_id)
    client = signed_in_client(app, "stranger@example.com")
    token_ = csrf(client)
    for path in ["", "/versions", "/versions?from=1&to=1", "/use", "/delete"]:
        r = client.get(f"/templates/{template_id}{path}")
        assert r.status_code == 404, (path, r.status_code)
        assert "Page not found" in text(r) and BODY[:20] not in text(r)
    for path, data in [
        ("", {"title": "Stolen", "body": "x", "tags": "", "description": ""}),
        ("", {"title": "", "body": "{{bad"}),  # bad fields too: still 404, not 422
        ("/favourite", {"favourite": "1"}),
        ("/delete", {}),
        ("/copy", {}),
        ("/improve", {"style": "general"}),
        ("/improved", {"body": "Stolen {{topic}}"}),
        ("/versions/1/restore", {}),
        ("/use", {"values.topic": "a", "values.audience": "b"}),
        ("/use", {"origin": "app"}),
    ]:
        r = client.post(f"/templates/{template_id}{path}", data={"csrf_token": token_, **data})
        assert r.status_code == 404, (path, r.status_code)
    assert client.get("/templates/999999").status_code == 404
    assert client.get("/templates/99999999999999999999").status_code == 404
    after = container.templates().get(Actor(owner), template_id)
    assert (after.title, after.body, after.version, after.favourite) == (before.title, before.body, 1, False)
    assert count_templates(container, stranger) == 0
    assert "Post" not in re.sub(r"(?s)<section class=\"quick-section\".*", "", text(client.get("/templates")))
    assert container.prompts().quota(Actor(stranger)).used == 0
    # Signed out: to the sign-in page.
    anonymous = app.test_client()
    r = anonymous.get(f"/templates/{template_id}")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_forms_without_a_csrf_token_are_refused(site):
    app, container, improver, owner, _stranger = site
    client = signed_in_client(app, "owner@example.com")
    template_id = create(client)
    record_id = generate(client, "a prompt to keep")
    post = quick_id(container)
    for path, data in [
        ("/templates/new", {"title": "Sneaky", "body": "x"}),
        (f"/templates/{template_id}", {"title": "Sneaky", "body": "x"}),
        (f"/templates/{template_id}/favourite", {"favourite": "1"}),
        (f"/templates/{template_id}/delete", {}),
        (f"/templates/{template_id}/improve", {"style": "general"}),
        (f"/templates/{template_id}/improved", {"body": "Sneaky {{topic}} {{audience}}"}),
        (f"/templates/{template_id}/versions/1/restore", {}),
        (f"/templates/{template_id}/use", {"values.topic": "a", "values.audience": "b"}),
        (f"/templates/{post}/copy", {}),
        (f"/history/{record_id}/template", {}),
    ]:
        for token_ in (None, "forged"):
            sent = dict(data) if token_ is None else {**data, "csrf_token": token_}
            r = client.post(path, data=sent)
            assert r.status_code == 400, (path, token_, r.status_code)
            assert "The form has expired or was not sent from this site." in text(r)
    template = container.templates().get(Actor(owner), template_id)
    assert (template.title, template.version, template.favourite) == ("Post", 1, False)
    assert count_templates(container, owner) == 1 and improver.calls == 1  # the one generation above


@pytest.mark.parametrize(("path", "english", "russian"), [
    ("/templates", "Quick templates", "Быстрые шаблоны"),
    ("/templates/new", "Create the template", "Создать шаблон"),
    ("/templates/{id}", "Each one becomes a field to fill in", "Каждая станет полем"),
    ("/templates/{id}/versions", "Every saved text of", "Все сохранённые тексты"),
    ("/templates/{id}/use", "Open in the generator", "Открыть в генераторе"),
    ("/templates/{id}/delete", "Delete the template?", "Удалить шаблон?"),
    ("/templates/{quick}", "Read-only: copy it to your library", "Только для чтения"),
    ("/app", "Start from a quick template", "Начать с быстрого шаблона"),
])
def test_every_page_renders_in_both_languages(site, path, english, russian):
    app, container, _improver, _owner, _stranger = site
    client = signed_in_client(app, "owner@example.com")
    template_id = create(client)
    path = path.format(id=template_id, quick=quick_id(container))
    page = text(client.get(path))
    assert english in page and '<html lang="en"' in page
    client.set_cookie("promptcore_lang", "ru")
    page = text(client.get(path))
    assert russian in page and '<html lang="ru"' in page and "Шаблоны" in page
    assert "<script>" not in page  # no inline script: the pages run under the CSP
