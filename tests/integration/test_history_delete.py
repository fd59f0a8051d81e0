"""Security review, issue 9, Low 8: deleting a history record removes its text from the database,
failed records can be deleted too, and the quota still counts the deleted unit (SQLite and
PostgreSQL)."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from adapters.sql import tables as t
from tests.integration import openrouter_standin as so
from tests.integration import test_prompts_api as prompts_api
from tests.integration.web.test_security import token as csrf

api = prompts_api.api
standin = so.standin
signup = prompts_api.signup
quota_used = prompts_api.quota_used

KEPT = ("user_id", "status", "created_at", "style", "deleted_at")


def row_of(container, record_id: int):
    pr = t.prompt_requests
    with container.engine().connect() as conn:
        return conn.execute(select(pr).where(pr.c.id == record_id)).one()


def assert_blank(row) -> None:
    assert row.deleted_at is not None
    assert row.original_prompt == ""
    for column in ("generated_prompt", "feedback", "usage", "error", "model", "latency_ms", "parent_id"):
        assert getattr(row, column) is None, column


def test_deleting_a_record_blanks_its_texts_and_keeps_the_unit(api):
    client, container, upstream = api
    auth = signup(client, container)
    parent = client.post("/api/v1/prompts", json={"prompt": "my secret plan for the launch", "style": "creative"},
                         headers=auth).json
    child = client.post("/api/v1/prompts", json={"style": "creative", "parent_id": parent["id"],
                                                 "feedback": "mention the secret date"}, headers=auth).json
    assert child["parent_id"] == parent["id"]

    assert client.delete(f"/api/v1/prompts/{parent['id']}", headers=auth).status_code == 204
    row = row_of(container, parent["id"])
    assert_blank(row)
    assert (row.user_id, row.status, row.style) == (row_of(container, child["id"]).user_id, "succeeded", "creative")
    assert client.get(f"/api/v1/prompts/{parent['id']}", headers=auth).status_code == 404
    item = client.get(f"/api/v1/prompts/{child['id']}", headers=auth).json
    assert item.pop("comparison") is None  # one record read alone also carries its Try it comparison
    assert client.get("/api/v1/prompts?q=secret", headers=auth).json["items"] == [item]

    # the child keeps its own texts and its link; iterating on it works, on the deleted parent not
    kept = client.get(f"/api/v1/prompts/{child['id']}", headers=auth).json
    assert kept["original_prompt"] == "my secret plan for the launch"
    assert kept["feedback"] == "mention the secret date" and kept["generated_prompt"]
    assert kept["parent_id"] == parent["id"]
    r = client.post("/api/v1/prompts", json={"style": "creative", "parent_id": child["id"], "feedback": "shorter"},
                    headers=auth)
    assert r.status_code == 201 and r.json["parent_id"] == child["id"]
    r = client.post("/api/v1/prompts", json={"style": "creative", "parent_id": parent["id"], "feedback": "again"},
                    headers=auth)
    assert r.status_code == 404

    assert client.delete(f"/api/v1/prompts/{child['id']}", headers=auth).status_code == 204
    assert_blank(row_of(container, child["id"]))
    assert quota_used(client, auth) == 3, "deleting history gives no units back"
    assert client.get("/api/v1/stats", headers=auth).json["total"] == 3


def test_a_failed_record_can_be_seen_by_id_and_deleted(api):
    client, container, upstream = api
    auth = signup(client, container)
    upstream.enqueue(so.bad_request())
    r = client.post("/api/v1/prompts", json={"prompt": "a failed secret", "style": "general"}, headers=auth)
    assert r.status_code == 503
    pr = t.prompt_requests
    with container.engine().connect() as conn:
        failed_id = conn.execute(select(pr.c.id).where(pr.c.status == "failed")).scalar_one()
    seen = client.get(f"/api/v1/prompts/{failed_id}", headers=auth)
    assert seen.status_code == 200 and seen.json["status"] == "failed"
    assert client.delete(f"/api/v1/prompts/{failed_id}", headers=auth).status_code == 204
    row = row_of(container, failed_id)
    assert_blank(row)
    assert row.status == "failed"
    assert quota_used(client, auth) == 0

    # the page shows a failed record by its id and deletes it as well
    upstream.enqueue(so.bad_request())
    assert client.post("/api/v1/prompts", json={"prompt": "another failed secret", "style": "general"},
                       headers=auth).status_code == 503
    with container.engine().connect() as conn:
        failed_id = conn.execute(select(pr.c.id).where(pr.c.status == "failed", pr.c.deleted_at.is_(None))
                                 ).scalar_one()
    page = client.application.test_client()
    r = page.post("/login", data={"csrf_token": csrf(page, "/login"), "email": "ada@example.com",
                                  "password": prompts_api.PW})
    assert r.status_code == 303
    assert page.get(f"/history/{failed_id}").status_code == 200
    r = page.post(f"/history/{failed_id}/delete", data={"csrf_token": csrf(page, f"/history/{failed_id}")})
    assert r.status_code == 303
    assert_blank(row_of(container, failed_id))


def test_a_record_deleted_while_generating_gets_no_text_back(api):
    client, container, upstream = api
    auth = signup(client, container)
    upstream.enqueue(so.slow(1.5))
    answers = []
    worker = threading.Thread(target=lambda: answers.append(client.application.test_client().post(
        "/api/v1/prompts", json={"prompt": "a secret in flight", "style": "general"}, headers=auth)))
    worker.start()
    pr = t.prompt_requests
    deadline = time.monotonic() + 10
    pending_id = None
    while pending_id is None and time.monotonic() < deadline:
        with container.engine().connect() as conn:
            pending_id = conn.execute(select(pr.c.id).where(pr.c.status == "pending")).scalar()
        time.sleep(0.05)
    assert pending_id is not None
    assert client.delete(f"/api/v1/prompts/{pending_id}", headers=auth).status_code == 204
    worker.join(15)
    assert answers and answers[0].status_code == 201
    row = row_of(container, pending_id)
    assert_blank(row)
    assert row.status == "succeeded"
    assert quota_used(client, auth) == 1
