"""Page safety: CSRF on every form (and none on the API), model output shown as text even in
a real browser, and another user's history invisible (404)."""

from __future__ import annotations

import re
import threading

import pytest
from dependency_injector import providers
from werkzeug.serving import make_server

from promptcore.domain.access import Actor
from promptcore.domain.prompts import Improvement, ImprovementRequest
from promptcore.ports import PromptImprover
from promptcore.services.accounts import CONFIRM
from tests.conftest import build_test_app, make_settings

from .conftest import PASSWORD

SCRIPT = "<script>window.pwned=1</script>"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class HostileImprover(PromptImprover):
    """A model whose answer is markup that would run if the page trusted it."""

    name = "hostile"

    def improve(self, request: ImprovementRequest) -> Improvement:
        return Improvement(text=f"{SCRIPT}\n<img src=x onerror=\"window.pwned=2\">\n{request.prompt}",
                           model="offline")


@pytest.fixture
def app_and_container(tmp_path):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DAILY_LIMIT="5"))
    container.improver.override(providers.Object(HostileImprover()))
    return app, container


def confirmed_user(container, email: str) -> int:
    container.accounts().register_user(email, PASSWORD)
    with container.uow() as uow:
        user = uow.users.get_by_email(email)
    container.accounts().confirm_email(container.signed_tokens().dumps(CONFIRM, {"uid": user.id, "email": email}))
    return user.id


def token(client, path: str = "/login") -> str:
    return TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def signed_in_client(app, email: str):
    client = app.test_client()
    r = client.post("/login", data={"csrf_token": token(client), "email": email, "password": PASSWORD})
    assert r.status_code == 303, r.get_data(as_text=True)
    return client


def generate(client, prompt: str) -> int:
    r = client.post("/app", data={"csrf_token": token(client, "/app"), "prompt": prompt, "style": "general"})
    assert r.status_code == 303, r.get_data(as_text=True)
    return int(r.headers["Location"].rsplit("=", 1)[1])


def test_forms_without_or_with_a_wrong_csrf_token_are_refused(app_and_container):
    app, container = app_and_container
    uid = confirmed_user(container, "csrf@example.com")
    client = signed_in_client(app, "csrf@example.com")
    record = generate(client, "keep me")
    attempts = [
        ("/account/profile", {"name": "Mallory"}),
        ("/account/delete", {"password": PASSWORD}),
        (f"/history/{record}/delete", {}),
        ("/app", {"prompt": "spend my quota", "style": "general"}),
        ("/app/stream", {"prompt": "spend my quota", "style": "general"}),
        ("/preferences", {"language": "ru"}),
        ("/logout", {}),
    ]
    for path, data in attempts:
        for bad in (None, "not-a-token", token(app.test_client())):  # missing, forged, another session's
            form = dict(data) if bad is None else {**data, "csrf_token": bad}
            r = client.post(path, data=form)
            assert r.status_code == 400, (path, bad, r.status_code)
            assert "The form has expired" in r.get_data(as_text=True)
    profile = container.accounts().get_profile(Actor(uid))
    assert profile.name is None and profile.settings.language in (None, "en")
    assert container.prompts().get(Actor.of(profile), record).original_prompt == "keep me"
    assert container.prompts().quota(Actor.of(profile)).used == 1
    assert client.get("/app").status_code == 200  # still signed in


def test_login_without_a_csrf_token_is_refused(app_and_container):
    app, container = app_and_container
    confirmed_user(container, "login-csrf@example.com")
    client = app.test_client()
    r = client.post("/login", data={"email": "login-csrf@example.com", "password": PASSWORD})
    assert r.status_code == 400
    assert client.get("/app").status_code == 302


def test_the_api_is_not_csrf_protected(app_and_container):
    app, _container = app_and_container
    r = app.test_client().post("/api/v1/auth/register", json={"email": "api@example.com", "password": PASSWORD})
    assert r.status_code == 202


def test_model_output_is_escaped_in_every_page(app_and_container):
    app, container = app_and_container
    confirmed_user(container, "xss@example.com")
    client = signed_in_client(app, "xss@example.com")
    record = generate(client, "<b>bold</b> prompt")
    pages = [f"/app?result={record}", f"/history/{record}", "/history"]
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        assert SCRIPT not in html and "<b>bold</b>" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html, path
    stream = client.post("/app/stream", data={"csrf_token": token(client, "/app"), "prompt": "again",
                                              "style": "general"}).get_data(as_text=True)
    done = stream.split("event: done", 1)[1]
    assert SCRIPT not in done and "&lt;script&gt;" in done


def test_model_output_is_text_in_the_browser(browser, app_and_container):
    app, container = app_and_container
    confirmed_user(container, "xss-browser@example.com")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        context = browser.new_context(base_url=f"http://127.0.0.1:{server.server_port}")
        page = context.new_page()
        page.goto("/login")
        page.locator("#email").fill("xss-browser@example.com")
        page.locator("#password").fill(PASSWORD)
        page.locator("form:not(.prefs) button[type=submit]").last.click()
        page.wait_for_url(re.compile(r"/app"))
        page.get_by_label("Your prompt").fill("hello")
        page.get_by_role("button", name="Generate").click()  # streamed, then the rendered result
        output = page.locator(".result-view:not(.is-streaming) pre.output")
        output.wait_for()
        assert SCRIPT in output.inner_text()
        page.reload()  # the server-rendered page too
        assert SCRIPT in page.locator(".result-view pre.output").inner_text()
        page.goto("/history")
        page.wait_for_timeout(200)
        assert page.evaluate("window.pwned === undefined")
        context.close()
    finally:
        server.shutdown()


def test_another_users_history_is_invisible(app_and_container):
    app, container = app_and_container
    confirmed_user(container, "owner@example.com")
    confirmed_user(container, "other@example.com")
    owner = signed_in_client(app, "owner@example.com")
    record = generate(owner, "my secret plan")
    other = signed_in_client(app, "other@example.com")
    assert other.get(f"/history/{record}").status_code == 404
    assert other.get(f"/app?result={record}").status_code == 404
    r = other.post(f"/history/{record}/delete", data={"csrf_token": token(other, "/history")})
    assert r.status_code == 404
    r = other.post("/app", data={"csrf_token": token(other, "/app"), "parent_id": str(record),
                                 "style": "general", "feedback": "shorter"})
    assert "my secret plan" not in r.get_data(as_text=True)
    assert "my secret plan" not in other.get("/history").get_data(as_text=True)
    assert "my secret plan" not in other.get("/history/export?format=csv").get_data(as_text=True)
    assert "my secret plan" not in other.get("/history/export?format=json").get_data(as_text=True)
    assert "my secret plan" in owner.get(f"/history/{record}").get_data(as_text=True)


def test_every_page_form_refuses_a_missing_csrf_token(app_and_container):
    """Enumerates the routes, so a form added later is covered without editing this test."""
    app, container = app_and_container
    confirmed_user(container, "every-form@example.com")
    client = signed_in_client(app, "every-form@example.com")
    posts = sorted({re.sub(r"<[^>]+>", "1", rule.rule) for rule in app.url_map.iter_rules()
                    if "POST" in rule.methods and not rule.rule.startswith("/api/")})
    assert len(posts) >= 15, posts
    for path in posts:
        r = client.post(path, data={"email": "x@example.com", "password": PASSWORD, "name": "Mallory"})
        assert r.status_code == 400, (path, r.status_code)
    assert container.accounts().get_profile(
        Actor(container.accounts().authenticate("every-form@example.com", PASSWORD).id)).name is None


def test_a_hostile_name_is_shown_as_text(app_and_container):
    app, container = app_and_container
    uid = confirmed_user(container, "name@example.com")
    container.accounts().update_profile(Actor(uid), name=SCRIPT)
    container.accounts().create_admin("boss@example.com", PASSWORD)
    admin = signed_in_client(app, "boss@example.com")
    user = signed_in_client(app, "name@example.com")
    for client, path in ((user, "/account"), (user, "/app"), (admin, "/admin"), (admin, "/admin?q=name")):
        html = client.get(path).get_data(as_text=True)
        assert SCRIPT not in html, path
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in admin.get("/admin?q=name").get_data(as_text=True)
