"""History export (issue 10, item 3a/3b): read in batches, each in a short read-only transaction,
so a download in progress does not lock writers out of SQLite; one format for the API and the page.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest
from dependency_injector import providers

from adapters.sql.uow import SqlUnitOfWork
from promptcore.domain.prompts import PromptRecord, RecordStatus
from promptcore.services.accounts import CONFIRM
from promptcore.services.exports import EXPORT_FIELDS, HistoryExport, read_export
from tests.conftest import build_test_app, make_settings
from tests.fakes import FakeClock

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
START = datetime(2031, 3, 4, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def app_and_container(tmp_path, database_url):
    app, container = build_test_app(make_settings(tmp_path, PROMPTCORE_DATABASE_URL=database_url))
    container.clock.override(providers.Object(FakeClock(START)))
    yield app, container
    container.engine().dispose()


def small_batches(container, size: int) -> None:
    container.exports.override(providers.ThreadSafeSingleton(
        HistoryExport, uow=container.read_uow.provider, clock=container.clock, batch_size=size))


def confirmed_user(container, email: str) -> int:
    container.accounts().register_user(email, PASSWORD)
    with container.uow() as uow:
        user = uow.users.get_by_email(email)
    container.accounts().confirm_email(container.signed_tokens().dumps(CONFIRM, {"uid": user.id, "email": email}))
    return user.id


def bearer(client, email: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.json
    return {"Authorization": "Bearer " + r.json["access_token"]}


def signed_in(app, email: str):
    client = app.test_client()
    csrf = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    r = client.post("/login", data={"csrf_token": csrf, "email": email, "password": PASSWORD})
    assert r.status_code == 303
    return client


def seed(container, user_id: int, count: int, **fields) -> list[int]:
    """``count`` succeeded records, two by two with the same creation time (ties broken by id)."""
    ids = []
    with container.uow() as uow:
        for i in range(count):
            record = PromptRecord(
                user_id=user_id, original_prompt=fields.get("prompt", f"prompt {i}"), style="general",
                model="offline", status=RecordStatus.SUCCEEDED, generated_prompt=f"improved {i}",
                latency_ms=10 + i, usage=fields.get("usage"), feedback=fields.get("feedback"),
                created_at=START - timedelta(days=1) + timedelta(minutes=i // 2))
            ids.append(uow.prompts.add(record).id)
        uow.commit()
    return ids


def newest_first(ids: list[int], seeded: list[int]) -> list[int]:
    """``ids`` in export order: by creation time (the seed's position // 2), then id, descending."""
    return sorted(ids, key=lambda i: (seeded.index(i) // 2, i), reverse=True)


def test_a_download_in_progress_does_not_lock_out_a_writer_on_sqlite(tmp_path):
    app, container = build_test_app(make_settings(tmp_path))
    small_batches(container, 2)
    uid = confirmed_user(container, "reader@example.com")
    ids = seed(container, uid, 7)
    client = app.test_client()
    auth = bearer(client, "reader@example.com")

    # The download runs in a thread of its own, as in a server: two chunks (the header with the
    # first batch, then the second batch) and it waits, the rest of the history still to come.
    started, resume, body = threading.Event(), threading.Event(), []

    def download() -> None:
        response = client.get("/api/v1/prompts/export?format=csv", headers=auth, buffered=False)
        chunks = iter(response.response)
        received = [next(chunks), next(chunks)]
        body.append(b"".join(received))
        started.set()
        resume.wait(30)
        body.append(b"".join(chunks))
        response.close()

    reader = threading.Thread(target=download)
    reader.start()
    try:
        assert started.wait(30)
        assert b"prompt 6" in body[0] and b"prompt 0" not in body[0]
        # While the download is open: a writer that would not wait one millisecond for a lock...
        raw = sqlite3.connect(str(tmp_path / "test.db"), timeout=0, isolation_level=None)
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("UPDATE users SET name = 'raw writer' WHERE id = ?", (uid,))
        raw.execute("COMMIT")
        raw.close()
        # ...and another request that writes (it would wait 30 s and fail if the export held a lock).
        writer = app.test_client()
        r = writer.patch("/api/v1/profile", json={"name": "Ada"}, headers=bearer(writer, "reader@example.com"))
        assert r.status_code == 200 and r.json["name"] == "Ada"
    finally:
        resume.set()
        reader.join(30)
    rows = read_export(b"".join(body).decode("utf-8"), "csv")
    assert [row["id"] for row in rows] == newest_first(ids, ids)
    container.engine().dispose()


def test_an_export_longer_than_a_batch_has_every_record_once_newest_first(app_and_container):
    app, container = app_and_container
    small_batches(container, 3)
    uid = confirmed_user(container, "many@example.com")
    other = confirmed_user(container, "other@example.com")
    ids = seed(container, uid, 10)
    seed(container, other, 2)
    with container.uow() as uow:
        uow.prompts.add(PromptRecord(user_id=uid, original_prompt="failed", style="general", model=None,
                                     status=RecordStatus.FAILED, created_at=START))
        assert uow.prompts.soft_delete(uid, ids[4], START)
        uow.commit()
    kept = [i for i in ids if i != ids[4]]
    client = app.test_client()
    auth = bearer(client, "many@example.com")
    for fmt in ("json", "csv"):
        r = client.get(f"/api/v1/prompts/export?format={fmt}", headers=auth)
        assert r.status_code == 200
        rows = read_export(r.get_data(as_text=True), fmt)
        assert [row["id"] for row in rows] == newest_first(kept, ids)
        assert all(row["status"] == "succeeded" for row in rows)


def test_the_api_and_the_page_give_the_same_file(app_and_container):
    app, container = app_and_container
    uid = confirmed_user(container, "same@example.com")
    seed(container, uid, 3, prompt='=HYPERLINK("http://evil.example") «кофе», "quoted"\nsecond line',
         usage={"total_tokens": 42, "cost": 0.0001}, feedback="'shorter")
    api = app.test_client()
    auth = bearer(api, "same@example.com")
    page = signed_in(app, "same@example.com")
    for fmt in ("csv", "json"):
        # buffered: each streamed body is read to its end before the next request starts
        from_api = api.get(f"/api/v1/prompts/export?format={fmt}", headers=auth, buffered=True)
        from_page = page.get(f"/history/export?format={fmt}", buffered=True)
        assert from_api.status_code == from_page.status_code == 200
        assert from_api.data == from_page.data
        for header in ("Content-Type", "Content-Disposition", "Cache-Control"):
            assert from_api.headers[header] == from_page.headers[header], header
        assert from_api.headers["Content-Disposition"] == f'attachment; filename="promptcore-history-20310304.{fmt}"'
    csv_text = api.get("/api/v1/prompts/export?format=csv", headers=auth).get_data(as_text=True)
    header = csv_text.lstrip("\ufeff").splitlines()[0]
    assert header.split(",") == list(EXPORT_FIELDS)
    cells = list(csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff"), newline="")))
    assert cells[0]["original_prompt"].startswith("'=HYPERLINK")  # defused for spreadsheets
    assert cells[0]["feedback"] == "''shorter"  # the apostrophe too, so that reading it back is exact
    json_rows = read_export(api.get("/api/v1/prompts/export?format=json", headers=auth).get_data(as_text=True),
                            "json")
    assert read_export(csv_text, "csv") == json_rows  # the same records either way
    assert json_rows[0]["original_prompt"].startswith("=HYPERLINK") and json_rows[0]["feedback"] == "'shorter"
    assert json_rows[0]["usage"] == {"total_tokens": 42, "cost": 0.0001}


def test_a_read_only_unit_of_work_takes_no_write_lock_and_cannot_write(app_and_container):
    _app, container = app_and_container
    uid = confirmed_user(container, "ro@example.com")
    engine = container.engine()
    with SqlUnitOfWork(engine, read_only=True) as reading:
        assert reading.users.get(uid) is not None  # a transaction is open and has read
        with container.uow() as writing:  # a writer goes ahead meanwhile (SQLite: no BEGIN IMMEDIATE)
            user = writing.users.get(uid)
            user.name = "written while read"
            writing.users.update(user)
            writing.commit()
        with pytest.raises(RuntimeError):
            reading.commit()
    with pytest.raises(Exception):  # noqa: B017 - the backends word it differently
        with SqlUnitOfWork(engine, read_only=True) as reading:
            user = reading.users.get(uid)
            user.name = "never stored"
            reading.users.update(user)
    with container.uow() as uow:
        assert uow.users.get(uid).name == "written while read"
