"""The team invitation e-mail (SPEC §14): through the outbox and the worker to a real SMTP server on
loopback, its link's token accepted by the invited account; in English and Russian; and the team's
name, the inviter's own text, escaped in the HTML part and unable to break the subject line."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email import message_from_bytes
from email.policy import default as default_policy
from urllib.parse import unquote

import pytest

from adapters.mail import JinjaMailTemplates, SmtpMailer
from entrypoints.worker import mail_round
from tests.conftest import build_test_app, make_settings
from tests.integration.smtp_server import text_body
from tests.integration.team_support import API, create_team, invite, login, members, signup

LINK = re.compile(r"http://promptcore\.test/invitations/([A-Za-z0-9_\-%.~]+)")
EXPIRES = datetime(2026, 1, 23, 9, 5, tzinfo=timezone.utc)
HOSTILE = 'Ops <script>alert("x")</script> & {{ link }}'


@pytest.fixture
def stack(tmp_path, database_url, smtp_server):
    settings = make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url, PROMPTCORE_SMTP_URL=smtp_server.url)
    app, container = build_test_app(settings)
    yield app.test_client(), container, smtp_server
    container.engine().dispose()


def html_body(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return part.get_content()
    raise AssertionError("no text/html part")


def token_in(message) -> str:
    text_link = LINK.search(text_body(message))
    html_link = LINK.search(html_body(message))
    assert text_link and html_link, text_body(message)
    assert text_link.group(1) == html_link.group(1)
    return unquote(text_link.group(1))


def test_the_invitation_arrives_by_smtp_and_its_link_makes_a_member(stack):
    client, container, smtp = stack
    ann = signup(client, container, "ann@example.com")
    mail_round(container)  # ann's confirmation mail
    tid = create_team(client, ann, HOSTILE)["id"]
    invitation = invite(client, ann, tid, "Eve@Example.com", "admin")
    assert mail_round(container).sent == 1
    [mail] = smtp.wait_for("eve@example.com")
    assert mail["To"] == "eve@example.com"
    assert mail["Subject"] == f"Invitation to the team “{HOSTILE}” on promptcore"
    text, html = text_body(mail), html_body(mail)
    assert "ann@example.com invited you" in text and f"“{HOSTILE}”" in text and "as an admin" in text
    expires = datetime.fromisoformat(invitation["expires_at"])
    assert f"{expires.day} {expires:%B %Y, %H:%M} UTC" in text
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp;" in html
    assert "{{ link }}" in text, "the name is shown, never read as a template"
    token = token_in(mail)

    # the account with the invited address signs up, confirms it and accepts
    eve = signup(client, container, "eve@example.com")
    mail_round(container)
    r = client.post(f"{API}/invitations/accept", json={"token": token}, headers=eve)
    assert r.status_code == 200, r.json
    assert r.json["team"]["id"] == tid and r.json["role"] == "admin"
    assert members(client, eve, tid)["eve@example.com"]["role"] == "admin"
    r = client.post(f"{API}/invitations/accept", json={"token": token}, headers=eve)
    assert r.status_code == 400 and r.json["error"] == "invalid_token"


def test_a_resent_invitation_carries_a_new_link_in_the_inviters_language(stack):
    client, container, smtp = stack
    ann = signup(client, container, "ann@example.com", language="ru")
    tid = create_team(client, ann, "Поддержка")["id"]
    invitation = invite(client, ann, tid, "eve@example.com")
    mail_round(container)
    [first] = smtp.wait_for("eve@example.com")
    assert first["Subject"] == "Приглашение в команду «Поддержка» в promptcore"
    text = text_body(first)
    assert "ann@example.com приглашает вас в команду «Поддержка»" in text and "с ролью «участник»" in text
    assert "Принять приглашение: http://promptcore.test/invitations/" in text
    assert "Принять приглашение" in html_body(first)
    old = token_in(first)

    from tests.conftest import age_outbox

    age_outbox(container, minutes=2)  # past the minute between two sends to one address
    ann = login(client, "ann@example.com")
    assert client.post(f"{API}/teams/{tid}/invitations/{invitation['id']}/resend", headers=ann).status_code == 200
    mail_round(container)
    second = smtp.wait_for("eve@example.com", 2)[1]
    new = token_in(second)
    assert new != old
    eve = signup(client, container, "eve@example.com")
    r = client.post(f"{API}/invitations/accept", json={"token": old}, headers=eve)
    assert r.status_code == 400 and r.json["error"] == "invalid_token"
    assert client.post(f"{API}/invitations/accept", json={"token": new}, headers=eve).status_code == 200


# -- the template on its own ----------------------------------------------------------------------

CONTEXT = {"link": "https://promptcore.example/invitations/tok_en-123", "inviter": "ann@example.com",
           "role": "member", "expires_at": EXPIRES}


@pytest.mark.parametrize("language, subject, parts, button", [
    ("en", "Invitation to the team “Support desk” on promptcore",
     ["ann@example.com invited you to join the team “Support desk” on promptcore as a member.",
      "valid until 23 January 2026, 09:05 UTC and works once"], "Accept the invitation"),
    ("ru", "Приглашение в команду «Support desk» в promptcore",
     ["ann@example.com приглашает вас в команду «Support desk» в promptcore с ролью «участник».",
      "действует до 23 января 2026, 09:05 UTC и срабатывает один раз"], "Принять приглашение"),
])
def test_the_invitation_says_who_which_team_which_role_until_when(language, subject, parts, button):
    message = JinjaMailTemplates().render("team_invitation", language, "eve@example.com",
                                          {**CONTEXT, "team": "Support desk"})
    assert (message.to, message.kind, message.subject) == ("eve@example.com", "team_invitation", subject)
    for part in parts:
        assert part in message.text, (part, message.text)
    assert f"{button}: {CONTEXT['link']}" in message.text
    assert f'href="{CONTEXT["link"]}"' in message.html and button in message.html


@pytest.mark.parametrize("role, english, russian", [
    ("owner", "as an owner", "с ролью «владелец»"), ("admin", "as an admin", "с ролью «администратор»")])
def test_every_role_is_named_in_both_languages(role, english, russian):
    templates = JinjaMailTemplates()
    context = {**CONTEXT, "team": "T", "role": role}
    assert english in templates.render("team_invitation", "en", "eve@example.com", context).text
    assert russian in templates.render("team_invitation", "ru", "eve@example.com", context).text


@pytest.mark.parametrize("name", [
    "Ops\r\nBcc: mallory@example.com", "Ops\nBcc: mallory@example.com", "Ops\rBcc: mallory@example.com",
    "Ops\u2028Bcc: mallory@example.com", "Ops\x85Bcc: mallory@example.com", "Ops\x00\x1b[31m\r\n\r\nbody"])
def test_a_team_name_cannot_break_the_subject_line(name):
    """Team names are stored on one line (clean_team_name), but the template does not rely on it."""
    message = JinjaMailTemplates().render("team_invitation", "en", "eve@example.com", {**CONTEXT, "team": name})
    assert message.subject.startswith("Invitation to the team “Ops")
    assert not any(ch in message.subject for ch in "\r\n\x00\x1b\x85\u2028")
    built = SmtpMailer("smtp://127.0.0.1:2525", "noreply@promptcore.example")._build(message)
    parsed = message_from_bytes(built.as_bytes(), policy=default_policy)
    assert parsed["Bcc"] is None and parsed["To"] == "eve@example.com"
    assert parsed["Subject"] == message.subject


def test_a_very_long_name_keeps_the_subject_short():
    message = JinjaMailTemplates().render("team_invitation", "en", "eve@example.com", {**CONTEXT, "team": "x" * 500})
    assert len(message.subject) <= 200 and message.subject.endswith("…")
    assert "x" * 500 in message.text
