"""Mail survives an SMTP outage, and two workers never deliver one message twice."""

from __future__ import annotations

import threading
from datetime import timedelta

from promptcore.ports import MailMessage
from promptcore.services.mail import deliver_outbox
from tests.conftest import build_test_app, make_settings
from tests.fakes import FakeClock
from tests.integration.smtp_server import SmtpSink, free_port

PW = "correct horse battery"


def test_registration_succeeds_while_smtp_is_down_and_mail_arrives_later(tmp_path, postgres_url):
    port = free_port()
    settings = make_settings(tmp_path, PROMPTCORE_DATABASE_URL=postgres_url,
                             PROMPTCORE_SMTP_URL=f"smtp://127.0.0.1:{port}")
    app, container = build_test_app(settings)
    client = app.test_client()
    r = client.post("/api/v1/auth/register", json={"email": "ada@example.com", "password": PW})
    assert r.status_code == 202
    clock = FakeClock(container.clock().now())
    report = deliver_outbox(container.uow, container.mailer(), clock)
    assert (report.sent, report.failed) == (0, 1)
    with container.uow() as uow:
        assert uow.outbox.pending_count() == 1

    sink = SmtpSink(port)
    sink.start()
    try:
        clock.advance(minutes=1)
        assert deliver_outbox(container.uow, container.mailer(), clock).sent == 1
        [mail] = sink.wait_for("ada@example.com")
        assert "Confirm" in mail["Subject"]
        with container.uow() as uow:
            assert uow.outbox.pending_count() == 0
    finally:
        sink.stop()
        container.engine().dispose()


def test_two_workers_deliver_each_message_exactly_once(tmp_path, postgres_url, smtp_server):
    settings = make_settings(tmp_path, PROMPTCORE_DATABASE_URL=postgres_url, PROMPTCORE_SMTP_URL=smtp_server.url)
    _, container = build_test_app(settings)
    clock = container.clock()
    with container.uow() as uow:
        for i in range(60):
            uow.outbox.add(MailMessage(f"user{i}@example.com", f"n{i}", "t", "<p>t</p>"), clock.now())
        uow.commit()

    def work():
        mailer = container.mailer()
        while deliver_outbox(container.uow, mailer, clock, batch=5).sent:
            pass

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    recipients = [r for rcpts, _ in smtp_server.messages for r in rcpts]
    assert len(recipients) == 60
    assert len(set(recipients)) == 60
    with container.uow() as uow:
        assert uow.outbox.pending_count() == 0
    container.engine().dispose()


def test_a_lease_left_by_a_dead_worker_expires(tmp_path, postgres_url):
    settings = make_settings(tmp_path, PROMPTCORE_DATABASE_URL=postgres_url)
    _, container = build_test_app(settings)
    clock = FakeClock(container.clock().now())
    with container.uow() as uow:
        uow.outbox.add(MailMessage("a@example.com", "s", "t", "h"), clock.now())
        uow.commit()
    with container.uow() as uow:
        assert len(uow.outbox.claim(clock.now(), timedelta(minutes=5), 10)) == 1
        uow.commit()  # the worker then dies without marking it
    with container.uow() as uow:
        assert uow.outbox.claim(clock.now(), timedelta(minutes=5), 10) == []
    clock.advance(minutes=6)
    with container.uow() as uow:
        assert len(uow.outbox.claim(clock.now(), timedelta(minutes=5), 10)) == 1
    container.engine().dispose()
