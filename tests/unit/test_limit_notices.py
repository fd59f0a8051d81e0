"""The limit e-mail (SPEC §12.7), against fakes: queued with the reservation that spends the last
unit — not before, not again within 24 hours, again after; never when the user turned it off;
in the user's language."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptcore.domain.access import Actor
from promptcore.domain.errors import LlmUnavailable, QuotaExceeded
from promptcore.domain.notifications import LIMIT_REACHED, SentNotification, next_period_key
from promptcore.domain.quota import QuotaPolicy, QuotaStatus, QuotaWindow, UnitSource
from promptcore.domain.users import User, UserSettings
from promptcore.services.improvement import Prompts
from promptcore.services.notifications import LimitNotices
from promptcore.services.quota import Quota
from promptcore.services.styles import StyleCatalogue
from tests.fakes import (
    FakeClock,
    FakeImprover,
    FakeMailTemplates,
    FakeStore,
    FakeUnitOfWork,
    outbox_messages,
    sample_style,
)

UPGRADE = "http://test.local/pricing"


class Env:
    def __init__(self, language: str | None = "en", notify: bool = True, limit: int = 3,
                 window: QuotaWindow = QuotaWindow.ROLLING) -> None:
        self.store, self.clock, self.mail = FakeStore(), FakeClock(), FakeMailTemplates()
        self.store.styles["general"] = sample_style()
        with FakeUnitOfWork(self.store) as uow:
            self.user = uow.users.add(User(
                email="ada@example.com", password_hash="x", name="Ada", is_email_confirmed=True,
                settings=UserSettings(language=language, notify_limit=notify),
                created_at=self.clock.now(), updated_at=self.clock.now()))
            uow.commit()
        self.uow = lambda: FakeUnitOfWork(self.store)
        self.quota = Quota(self.uow, self.clock, QuotaPolicy(window, "Europe/Moscow"), limit,
                           notices=LimitNotices(self.mail, UPGRADE))
        self.actor = Actor.of(self.user)

    def spend(self, n: int = 1, minutes_apart: float = 1) -> None:
        for _ in range(n):
            self.quota.keep(self.quota.reserve(self.actor, UnitSource.GENERATION))
            self.clock.advance(minutes=minutes_apart)

    def mails(self) -> list[str]:
        return [m.subject for m in outbox_messages(self.store) if m.kind == LIMIT_REACHED]


def test_the_mail_goes_with_the_last_unit_and_not_before():
    env = Env()
    start = env.clock.now()
    env.spend(2)
    assert env.mails() == []
    reservation = env.quota.reserve(env.actor, UnitSource.GENERATION)  # the last unit
    assert reservation.quota.exhausted
    assert env.mails() == ["limit_reached:en"]
    (kind, language, to, context), = env.mail.rendered
    assert (kind, language, to) == (LIMIT_REACHED, "en", "ada@example.com")
    assert context == {"name": "Ada", "limit": 3, "resets_at": start + timedelta(days=1),
                       "upgrade_url": UPGRADE, "link": UPGRADE}
    assert context["resets_at"] == reservation.quota.resets_at
    # over the limit: a refusal sends nothing more
    with pytest.raises(QuotaExceeded):
        env.quota.reserve(env.actor, UnitSource.GENERATION)
    assert env.mails() == ["limit_reached:en"]


def test_not_again_within_24_hours_and_again_after():
    env = Env()
    start = env.clock.now()
    env.spend(2)
    last = env.quota.reserve(env.actor, UnitSource.GENERATION)
    assert len(env.mails()) == 1
    # the call failed and the last unit went back; hours later it is spent again: no second mail
    env.quota.release(last)
    env.clock.current = start + timedelta(hours=23, minutes=59)
    env.spend(1)
    assert len(env.mails()) == 1
    # a day after the mail: two units have freed up; spending them reaches the limit and mails again
    env.clock.current = start + timedelta(days=1, minutes=2)
    env.spend(2)
    assert len(env.mails()) == 2
    sent = sorted(env.store.notifications_sent.values(), key=lambda n: n.id)
    assert [n.period_key for n in sent] == ["first", f"after:{sent[0].id}"]
    assert sent[1].created_at - sent[0].created_at >= timedelta(hours=24)


def test_a_failed_last_call_then_a_retry_sends_one_mail():
    """Through the generation use case: the unit of a failed call goes back; the mail was queued
    with the reservation and is not queued again by the retry."""
    env = Env()
    improver = FakeImprover()
    prompts = Prompts(env.uow, improver, StyleCatalogue(env.uow, env.clock), env.clock, env.quota, ("m1",), 500)
    for _ in range(2):
        prompts.improve(env.actor, "write a poem", "general")
    improver.fail_with = LlmUnavailable()
    with pytest.raises(LlmUnavailable):
        prompts.improve(env.actor, "write a poem", "general")
    assert env.mails() == ["limit_reached:en"]
    improver.fail_with = None
    assert prompts.improve(env.actor, "write a poem", "general").quota.exhausted
    assert env.mails() == ["limit_reached:en"]


def test_a_raised_limit_reached_again_the_same_day_sends_nothing():
    env = Env()
    env.spend(3)
    env.store.users[env.user.id].daily_limit = 5  # an administrator raises it
    env.spend(2)
    with pytest.raises(QuotaExceeded):
        env.spend(1)
    assert len(env.mails()) == 1


def test_nothing_when_the_user_turned_it_off():
    env = Env(notify=False)
    env.spend(3)
    assert env.mails() == [] and env.store.notifications_sent == {}
    # turned on again later the same day: the next time the limit is reached, it comes
    env.store.users[env.user.id].settings = UserSettings(language="en", notify_limit=True)
    env.clock.advance(days=1)
    env.spend(3)
    assert env.mails() == ["limit_reached:en"]


@pytest.mark.parametrize("language, expected", [("ru", "ru"), ("en", "en"), (None, "en")])
def test_the_language_is_the_users(language, expected):
    env = Env(language=language)
    env.spend(3)
    assert env.mails() == [f"limit_reached:{expected}"]


def test_the_calendar_window_says_midnight_in_the_quota_zone():
    env = Env(window=QuotaWindow.CALENDAR)
    env.spend(3)
    (_kind, _lang, _to, context), = env.mail.rendered
    # FakeClock starts at 12:00 UTC = 15:00 in Moscow; the next midnight there is 21:00 UTC
    assert context["resets_at"] == datetime(2026, 1, 15, 21, 0, tzinfo=timezone.utc)


def test_a_limit_of_one_mails_on_the_first_unit_and_a_zero_limit_never():
    one = Env(limit=1)
    one.spend(1)
    assert len(one.mails()) == 1
    zero = Env(limit=0)
    with pytest.raises(QuotaExceeded):
        zero.spend(1)
    assert zero.mails() == []


def test_without_notices_the_quota_sends_nothing():
    env = Env()
    quota = Quota(env.uow, env.clock, QuotaPolicy(), 3)
    for _ in range(3):
        quota.reserve(env.actor, UnitSource.GENERATION)
    assert env.mails() == []


def test_the_mail_is_not_queued_when_the_reservation_rolls_back():
    env = Env()
    env.spend(2)

    def failing_spender(uow, now):
        raise RuntimeError("the spender's own row could not be written")

    with pytest.raises(RuntimeError):
        env.quota.reserve(env.actor, UnitSource.GENERATION, failing_spender)
    assert env.mails() == [] and env.store.notifications_sent == {}
    env.spend(1)
    assert env.mails() == ["limit_reached:en"]


def test_the_notices_check_the_setting_and_the_record_themselves():
    env = Env()
    notices = LimitNotices(env.mail, UPGRADE)
    status = QuotaStatus(3, 3, 0, env.clock.now() + timedelta(hours=24), "rolling")
    with FakeUnitOfWork(env.store) as uow:
        assert notices.last_unit_spent(uow, env.user, status, env.clock.now()) is True
        assert notices.last_unit_spent(uow, env.user, status, env.clock.now()) is False
        uow.commit()
    assert len(env.mails()) == 1


# -- the period key --------------------------------------------------------------------------

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


@given(st.lists(st.integers(min_value=0, max_value=10 * 24 * 60), max_size=40))
def test_keys_chained_to_the_previous_one_keep_notifications_24_hours_apart(minutes):
    sent: list[SentNotification] = []
    for n, minute in enumerate(sorted(minutes)):
        now = T0 + timedelta(minutes=minute)
        key = next_period_key(sent[-1] if sent else None, now)
        if key is not None and all(s.period_key != key for s in sent):
            sent.append(SentNotification(n + 1, 1, LIMIT_REACHED, key, now))
    gaps = [b.created_at - a.created_at for a, b in zip(sent, sent[1:], strict=False)]
    assert all(gap >= timedelta(hours=24) for gap in gaps)
    # and none is held back for longer: an attempt that sent nothing had one in the 24 hours before
    for minute in minutes:
        now = T0 + timedelta(minutes=minute)
        assert any(timedelta(0) <= now - s.created_at < timedelta(hours=24) for s in sent)


def test_racers_that_read_the_same_previous_one_compute_the_same_key():
    previous = SentNotification(7, 1, LIMIT_REACHED, "first", T0)
    later = T0 + timedelta(hours=30)
    assert next_period_key(previous, later) == next_period_key(previous, later + timedelta(seconds=1)) == "after:7"
    assert next_period_key(None, T0) == "first"
    assert next_period_key(previous, T0 + timedelta(hours=23, minutes=59)) is None
    assert next_period_key(previous, T0 + timedelta(hours=24)) == "after:7"
