from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from promptcore.domain.quota import DAY, QuotaPolicy, QuotaWindow

moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                       timezones=st.just(timezone.utc))
zones = st.sampled_from(["UTC", "Europe/Moscow", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"])


@given(moments, st.lists(st.integers(min_value=0, max_value=48 * 3600), max_size=12), st.integers(0, 10))
def test_rolling_counts_only_the_last_24_hours(now, ages, limit):
    policy = QuotaPolicy(QuotaWindow.ROLLING)
    times = [now - timedelta(seconds=a) for a in ages]
    status = policy.status(limit, times, now)
    in_window = [t for t in times if now - t <= DAY]
    assert status.used == len(in_window)
    assert status.remaining == max(0, limit - status.used)
    assert status.window == "rolling"


@given(moments, st.lists(st.integers(min_value=0, max_value=24 * 3600 - 1), min_size=1, max_size=12),
       st.integers(1, 10))
def test_rolling_resets_at_frees_exactly_one_unit(now, ages, limit):
    policy = QuotaPolicy(QuotaWindow.ROLLING)
    times = [now - timedelta(seconds=a) for a in ages]
    status = policy.status(limit, times, now)
    assert status.resets_at is not None and status.resets_at > now
    if status.exhausted:
        # Just after resets_at, a unit is free; just before, none is.
        after = policy.status(limit, times, status.resets_at + timedelta(microseconds=1))
        before = policy.status(limit, times, status.resets_at - timedelta(seconds=1))
        assert after.remaining >= 1
        assert before.remaining == 0
        assert status.retry_after(now) >= 1


@given(moments, zones)
def test_calendar_window_starts_at_local_midnight(now, zone):
    policy = QuotaPolicy(QuotaWindow.CALENDAR, zone)
    start = policy.window_start(now)
    local = start.astimezone(policy.zone)
    assert start <= now
    assert now - start <= timedelta(hours=25)
    assert (local.hour, local.minute) in {(0, 0), (1, 0)}  # 01:00 only where midnight is skipped by DST
    nxt = policy.next_midnight(now)
    assert nxt > now and nxt - now <= timedelta(hours=25)


@given(moments, zones, st.lists(st.integers(0, 30 * 3600), max_size=8), st.integers(1, 5))
def test_calendar_counts_since_midnight_and_resets_at_next_midnight(now, zone, ages, limit):
    policy = QuotaPolicy(QuotaWindow.CALENDAR, zone)
    times = [now - timedelta(seconds=a) for a in ages]
    status = policy.status(limit, times, now)
    start = policy.window_start(now)
    assert status.used == len([t for t in times if t >= start])
    if status.used:
        assert status.resets_at == policy.next_midnight(now)


@given(moments)
def test_nothing_used_means_full_quota_and_no_reset(now):
    status = QuotaPolicy().status(3, [], now)
    assert (status.used, status.remaining, status.resets_at) == (0, 3, None)


def test_stale_reservations_are_older_than_the_ttl():
    policy = QuotaPolicy(reservation_ttl=timedelta(minutes=3))
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert policy.stale_before(now) == now - timedelta(minutes=3)


def test_unknown_zone_and_naive_times_are_refused():
    with pytest.raises((KeyError, ValueError)):  # ZoneInfoNotFoundError is a KeyError
        QuotaPolicy(QuotaWindow.CALENDAR, "Mars/Olympus")
    with pytest.raises(ValueError):
        QuotaPolicy().window_start(datetime(2026, 1, 1))


@given(moments, st.integers(1, 5))
def test_limit_reached_exactly(now, limit):
    assume(limit > 0)
    times = [now - timedelta(minutes=i + 1) for i in range(limit)]
    status = QuotaPolicy().status(limit, times, now)
    assert status.exhausted and status.used == limit
    assert status.resets_at == min(times) + DAY


@given(moments, zones, st.sampled_from(list(QuotaWindow)),
       st.lists(st.integers(0, 30 * 3600), max_size=15), st.integers(1, 8))
def test_the_constant_cost_summary_gives_the_same_quota(now, zone, window, ages, limit):
    """What the database hands back (the newest `limit` units: their number and the oldest
    of them) is enough: status_of agrees with the full computation whenever the user is
    within the limit, and at the limit on remaining and resets_at."""
    policy = QuotaPolicy(window, zone)
    start = policy.window_start(now)
    times = [now - timedelta(seconds=a) for a in ages]
    in_window = sorted((t for t in times if start <= t <= now), reverse=True)
    newest = in_window[:limit]
    full = policy.status(limit, times, now)
    summary = policy.status_of(limit, len(newest), min(newest) if newest else None, now)
    assert summary.remaining == full.remaining
    assert summary.resets_at == full.resets_at
    assert summary.used == min(full.used, limit)
    assert summary.exhausted == full.exhausted


def test_a_zero_limit_is_always_exhausted_and_never_resets():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    status = QuotaPolicy().status_of(0, 0, None, now)
    assert status.exhausted and status.resets_at is None and status.retry_after(now) == 24 * 3600
