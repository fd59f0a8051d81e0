"""The outbox and mail requests: the fake and the SQL repositories agree, leases included."""

from __future__ import annotations

from datetime import timedelta

from promptcore.ports import MailMessage
from tests.contract.support import MOSCOW, T0

LEASE = timedelta(minutes=5)


def message(n: int, to: str = "ann@example.com", kind: str = "confirm_email") -> MailMessage:
    return MailMessage(to=to, subject=f"Subject {n}", text=f"Text {n}", html=f"<p>{n}</p>", kind=kind)


def _queue(backend, *messages: MailMessage, at=T0) -> None:
    with backend.uow() as uow:
        for m in messages:
            uow.outbox.add(m, at)
        uow.commit()


def _claim(backend, now, limit=10):
    with backend.uow() as uow:
        items = uow.outbox.claim(now, LEASE, limit)
        uow.commit()
    return items


# -- the outbox ---------------------------------------------------------------------------------


def test_claim_leases_due_messages_in_order_up_to_the_limit(backend):
    sent = [message(n) for n in range(3)]
    _queue(backend, *sent)
    first = _claim(backend, T0, limit=2)
    assert [(i.message, i.attempts) for i in first] == [(sent[0], 1), (sent[1], 1)]
    assert [(i.message, i.attempts) for i in _claim(backend, T0)] == [(sent[2], 1)]
    # leased until T0 + LEASE: nobody else takes them meanwhile, nor at the very end of the lease
    assert _claim(backend, T0 + LEASE) == []
    again = _claim(backend, T0 + LEASE + timedelta(seconds=1))
    assert [(i.id, i.attempts) for i in again] == [(i.id, 2) for i in first] + [(first[-1].id + 1, 2)]


def test_a_message_keeps_its_kind_through_the_outbox(backend):
    _queue(backend, message(1, kind="reset_password"), message(2, kind=""))
    assert [i.message.kind for i in _claim(backend, T0)] == ["reset_password", ""]
    with backend.uow() as uow:
        assert [m.kind for m, _created, _sent in uow.outbox.recent(10)] == ["", "reset_password"]


def test_a_message_queued_for_later_is_not_due(backend):
    _queue(backend, message(1), at=T0 + timedelta(minutes=1))
    assert _claim(backend, T0) == []
    assert len(_claim(backend, T0 + timedelta(minutes=1))) == 1


def test_a_sent_message_is_done_and_its_last_error_cleared(backend):
    _queue(backend, message(1), message(2))
    item, other = _claim(backend, T0)
    with backend.uow() as uow:
        uow.outbox.mark_failed(item.id, "421 try later", T0 + timedelta(minutes=1))
        uow.outbox.mark_failed(other.id, "x" * 600, T0 + timedelta(minutes=1))
        uow.commit()
    assert backend.outbox_last_error(item.id) == "421 try later"
    assert backend.outbox_last_error(other.id) == "x" * 500  # the column's length
    assert _claim(backend, T0 + timedelta(seconds=30)) == []  # failed: due again only at retry_at
    retried = _claim(backend, T0 + timedelta(minutes=1))
    assert [(i.id, i.attempts) for i in retried] == [(item.id, 2), (other.id, 2)]
    with backend.uow() as uow:
        uow.outbox.mark_sent(item.id, T0 + timedelta(minutes=2))
        uow.commit()
    assert backend.outbox_last_error(item.id) is None
    with backend.uow() as uow:
        assert uow.outbox.pending_count() == 1
        assert [(m.subject, sent_at) for m, _created, sent_at in uow.outbox.recent(10)] == [
            ("Subject 2", None), ("Subject 1", T0 + timedelta(minutes=2))]
    assert [i.id for i in _claim(backend, T0 + timedelta(hours=1))] == [other.id]  # never the sent one


def test_marking_an_unknown_message_changes_nothing(backend):
    _queue(backend, message(1))
    with backend.uow() as uow:
        uow.outbox.mark_sent(987654, T0)
        uow.outbox.mark_failed(987654, "error", T0)
        uow.commit()
    with backend.uow() as uow:
        assert uow.outbox.pending_count() == 1


def test_recent_is_newest_first_with_times_in_utc(backend):
    _queue(backend, message(1), message(2), message(3), at=T0.astimezone(MOSCOW))
    with backend.uow() as uow:
        recent = uow.outbox.recent(2)
        assert uow.outbox.recent(0) == []
    assert [(m, created, sent) for m, created, sent in recent] == [(message(3), T0, None), (message(2), T0, None)]
    assert all(created.utcoffset() == timedelta(0) for _m, created, _sent in recent)


def test_queued_since_matches_address_kind_and_time(backend):
    _queue(backend, message(1, to="ann@example.com", kind="reset_password"), message(2, kind=""))
    with backend.uow() as uow:
        assert uow.outbox.queued_since("ann@example.com", "reset_password", T0) is True  # at ``since``: yes
        assert uow.outbox.queued_since("ann@example.com", "reset_password", T0 + timedelta(seconds=1)) is False
        assert uow.outbox.queued_since("ann@example.com", "confirm_email", T0) is False
        assert uow.outbox.queued_since("bob@example.com", "reset_password", T0) is False
        assert uow.outbox.queued_since("ann@example.com", "", T0) is False  # no kind is no kind at all


# -- mail requests ------------------------------------------------------------------------------


def test_mail_requests_are_leased_in_order_and_done_once(backend):
    with backend.uow() as uow:
        for n in range(3):
            uow.mail_requests.add("reset_password", f"u{n}@example.com", "ru" if n else "en", T0)
        uow.commit()
    with backend.uow() as uow:
        first = uow.mail_requests.claim(T0, LEASE, 2)
        uow.commit()
    assert [(r.kind, r.email, r.language) for r in first] == [
        ("reset_password", "u0@example.com", "en"), ("reset_password", "u1@example.com", "ru")]
    with backend.uow() as uow:
        assert [r.email for r in uow.mail_requests.claim(T0, LEASE, 10)] == ["u2@example.com"]
        assert uow.mail_requests.claim(T0 + LEASE, LEASE, 10) == []  # all leased
        uow.mail_requests.mark_done(first[0].id, T0)
        uow.mail_requests.mark_done(987654, T0)  # unknown: nothing happens
        uow.commit()
    with backend.uow() as uow:
        again = uow.mail_requests.claim(T0 + LEASE + timedelta(seconds=1), LEASE, 10)
    assert [r.email for r in again] == ["u1@example.com", "u2@example.com"]
