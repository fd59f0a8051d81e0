from promptcore.ports import MailMessage
from promptcore.services.mail import deliver_outbox, retry_delay
from tests.fakes import FakeMailer, FakeUnitOfWork


def queue(store, clock, n):
    with FakeUnitOfWork(store) as uow:
        for i in range(n):
            uow.outbox.add(MailMessage(f"u{i}@example.com", "s", "t", "<p>t</p>"), clock.now())
        uow.commit()


def test_messages_are_sent_once_and_marked(store, clock):
    queue(store, clock, 3)
    mailer = FakeMailer()
    report = deliver_outbox(lambda: FakeUnitOfWork(store), mailer, clock)
    assert (report.sent, report.failed) == (3, 0)
    assert deliver_outbox(lambda: FakeUnitOfWork(store), mailer, clock).sent == 0
    assert [m.to for m in mailer.sent] == ["u0@example.com", "u1@example.com", "u2@example.com"]


def test_a_down_server_keeps_messages_and_retries_with_backoff(store, clock):
    queue(store, clock, 2)
    mailer = FakeMailer()
    mailer.down = True
    assert deliver_outbox(lambda: FakeUnitOfWork(store), mailer, clock).failed == 2
    mailer.down = False
    assert deliver_outbox(lambda: FakeUnitOfWork(store), mailer, clock).sent == 0  # not due yet
    clock.advance(seconds=retry_delay(1).total_seconds())
    assert deliver_outbox(lambda: FakeUnitOfWork(store), mailer, clock).sent == 2
    assert len(mailer.sent) == 2


def test_backoff_grows_and_is_capped():
    delays = [retry_delay(n).total_seconds() for n in range(1, 15)]
    assert delays == sorted(delays)
    assert delays[0] == 5 and max(delays) == 60 and delays[-1] == 60
