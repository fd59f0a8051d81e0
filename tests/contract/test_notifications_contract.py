"""Notifications sent: the fake and the SQL repository agree on insert-or-skip and the newest one."""

from __future__ import annotations

from datetime import timedelta

from promptcore.domain.notifications import SentNotification, next_period_key
from tests.contract.support import MOSCOW, T0, add_user

KIND = "limit_reached"


def _users(backend, *emails: str) -> list[int]:
    with backend.uow() as uow:
        ids = [add_user(uow, email) for email in emails]
        uow.commit()
    return ids


def test_a_key_is_recorded_once_per_user_and_kind(backend):
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    with backend.uow() as uow:
        assert uow.notifications.add_once(ann, KIND, "first", T0) is True
        assert uow.notifications.add_once(ann, KIND, "first", T0 + timedelta(hours=1)) is False  # same key
        assert uow.notifications.add_once(ann, "other_kind", "first", T0) is True
        assert uow.notifications.add_once(bob, KIND, "first", T0) is True
        uow.commit()
    with backend.uow() as uow:  # and after the commit too
        assert uow.notifications.add_once(ann, KIND, "first", T0 + timedelta(days=2)) is False
        latest = uow.notifications.latest(ann, KIND)
    assert isinstance(latest, SentNotification)
    assert (latest.user_id, latest.kind, latest.period_key, latest.created_at) == (ann, KIND, "first", T0)


def test_an_uncommitted_record_is_gone(backend):
    (ann,) = _users(backend, "ann@example.com")
    with backend.uow() as uow:
        assert uow.notifications.add_once(ann, KIND, "first", T0) is True
    with backend.uow() as uow:
        assert uow.notifications.latest(ann, KIND) is None
        assert uow.notifications.add_once(ann, KIND, "first", T0) is True


def test_latest_is_the_newest_of_the_user_and_kind_in_utc(backend):
    ann, bob = _users(backend, "ann@example.com", "bob@example.com")
    with backend.uow() as uow:
        assert uow.notifications.latest(ann, KIND) is None
        uow.notifications.add_once(ann, KIND, "first", T0.astimezone(MOSCOW))
        first = uow.notifications.latest(ann, KIND)
        uow.notifications.add_once(ann, KIND, f"after:{first.id}", T0 + timedelta(days=1))
        uow.notifications.add_once(ann, "other_kind", "first", T0 + timedelta(days=5))
        uow.notifications.add_once(bob, KIND, "first", T0 + timedelta(days=9))
        uow.commit()
    with backend.uow() as uow:
        newest = uow.notifications.latest(ann, KIND)
    assert (newest.period_key, newest.created_at) == (f"after:{first.id}", T0 + timedelta(days=1))
    assert newest.id > first.id and first.created_at == T0 and first.created_at.utcoffset() == timedelta(0)


def test_the_chain_of_period_keys_spaces_notifications_a_day_apart(backend):
    """The use of the two methods that LimitNotices makes: at most one per 24 hours."""
    (ann,) = _users(backend, "ann@example.com")
    sent = []
    for hours in (0, 1, 23, 24, 30, 47, 48, 72):
        now = T0 + timedelta(hours=hours)
        with backend.uow() as uow:
            key = next_period_key(uow.notifications.latest(ann, KIND), now)
            if key is not None and uow.notifications.add_once(ann, KIND, key, now):
                sent.append(hours)
            uow.commit()
    assert sent == [0, 24, 48, 72]
