"""Shared by the teams API tests: confirmed accounts, teams, and invitations accepted with the
token the invitation e-mail carries (read from the outbox)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from urllib.parse import unquote

PW = "correct horse battery"
API = "/api/v1"
# Far from the wall clock, so anything that reads it instead of the container's clock gets expiry wrong.
T0 = datetime(2031, 3, 4, 9, 30, tzinfo=timezone.utc)
INVITATION_LINK = re.compile(r"http://promptcore\.test/invitations/([A-Za-z0-9_.~%\-]+)")


def login(client, email: str) -> dict[str, str]:
    r = client.post(f"{API}/auth/login", json={"email": email, "password": PW})
    assert r.status_code == 200, r.json
    return {"Authorization": f"Bearer {r.json['access_token']}"}


def signup(client, container, email: str, confirm: bool = True, language: str | None = None) -> dict[str, str]:
    """A (confirmed) account's bearer header."""
    assert client.post(f"{API}/auth/register", json={"email": email, "password": PW}).status_code == 202
    user = container.accounts().authenticate(email, PW)
    if confirm:
        token = container.signed_tokens().dumps("confirm-email", {"uid": user.id, "email": email})
        assert client.post(f"{API}/auth/confirm-email", json={"token": token}).status_code == 200
    auth = login(client, email)
    if language is not None:
        assert client.patch(f"{API}/profile", json={"settings": {"language": language}},
                            headers=auth).status_code == 200
    return auth


def user_id(client, auth) -> int:
    return client.get(f"{API}/profile", headers=auth).json["id"]


def create_team(client, auth, name: str = "Support desk") -> dict:
    r = client.post(f"{API}/teams", json={"name": name}, headers=auth)
    assert r.status_code == 201, r.json
    return r.json


def invite(client, auth, team_id: int, email: str, role: str = "member") -> dict:
    r = client.post(f"{API}/teams/{team_id}/invitations", json={"email": email, "role": role}, headers=auth)
    assert r.status_code == 201, r.json
    return r.json


def invitation_tokens(container, email: str) -> list[str]:
    """The tokens of the invitation e-mails queued for ``email``, newest first."""
    with container.uow() as uow:
        recent = uow.outbox.recent(500)
    found = []
    for message, _created, _sent in recent:
        if message.kind == "team_invitation" and message.to == email:
            match = INVITATION_LINK.search(message.text)
            assert match, message.text
            found.append(unquote(match.group(1)))
    return found


def last_token(container, email: str) -> str:
    tokens = invitation_tokens(container, email)
    assert tokens, f"no invitation mail for {email}"
    return tokens[0]


def join(client, container, owner_auth, team_id: int, email: str, auth, role: str = "member") -> None:
    """Invite ``email`` and accept with its account (``auth``)."""
    invite(client, owner_auth, team_id, email, role)
    r = client.post(f"{API}/invitations/accept", json={"token": last_token(container, email)}, headers=auth)
    assert r.status_code == 200, r.json
    assert r.json["role"] == role


def members(client, auth, team_id: int) -> dict[str, dict]:
    r = client.get(f"{API}/teams/{team_id}/members", headers=auth)
    assert r.status_code == 200, r.json
    return {m["email"]: m for m in r.json}


def share_a_record(client, auth, team_id: int, prompt: str = "Draft a reply to a refund request") -> int:
    """A record of the user's (improved offline), shared with the team; its id."""
    made = client.post(f"{API}/prompts", json={"prompt": prompt, "style": "general"}, headers=auth)
    assert made.status_code == 201, made.json
    record_id = made.json["id"]
    shared = client.put(f"{API}/prompts/{record_id}/share", json={"team_id": team_id}, headers=auth)
    assert shared.status_code == 200 and shared.json["visibility"] == "team", shared.json
    return record_id


def team_state(container, team_id: int) -> tuple:
    """Everything about a team that a request could change, read straight from storage."""
    now = container.clock().now()
    with container.uow() as uow:
        team = uow.teams.get(team_id)
        people = uow.teams.members(team_id)
        pending = uow.invitations.pending(team_id, now)
        feed = uow.shared_records.feed(team_id, 1000)
        library = (uow.templates.titles(None, team_id=team_id),
                   [s.title for s in uow.custom_styles.list(None, team_id)])
    return (team and (team.id, team.name),
            sorted((m.user_id, m.role.value, m.daily_cap) for m in people),
            sorted((s.record_id, s.shared_by) for s in feed), library,
            sorted((i.id, i.email, i.role.value, i.token_hash, i.expires_at, i.revoked_at, i.accepted_at)
                   for i in pending))
