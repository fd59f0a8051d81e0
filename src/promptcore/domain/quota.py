"""Daily quota arithmetic (SPEC §6.5). Pure functions of time; no storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from enum import Enum
from typing import Iterable
from zoneinfo import ZoneInfo

DAY = timedelta(hours=24)


def effective_daily_limit(override: int | None, plan_limit: int | None, default: int) -> int:
    """The one place a user's daily limit is decided (SPEC §6.5): an administrator's per-user
    override when set, else the limit of the user's plan (§12.1; None while there are no plans,
    or when the user has none), else the configured default. Changing the default therefore
    reaches every user without an override."""
    if override is not None:
        return override
    if plan_limit is not None:
        return plan_limit
    return default


class UnitStatus(str, Enum):
    """A unit in the quota ledger: ``pending`` while its spender runs (it counts until it goes
    stale), ``kept`` once the spender succeeded. A released unit no longer exists."""

    PENDING = "pending"
    KEPT = "kept"


class UnitSource(str, Enum):
    """What spent a unit. Only what spends a unit is here: an imported history record never does."""

    GENERATION = "generation"
    COMPARISON = "comparison"  # Try it (SPEC §15.3): one unit for both answers


class QuotaWindow(str, Enum):
    ROLLING = "rolling"
    CALENDAR = "calendar"


@dataclass(frozen=True)
class QuotaStatus:
    used: int
    limit: int
    remaining: int
    resets_at: datetime | None
    window: str

    @property
    def exhausted(self) -> bool:
        return self.remaining <= 0

    @property
    def near_limit(self) -> bool:
        """At least 80 % of the limit used, but not all of it (SPEC §12.7: the page's notice)."""
        return not self.exhausted and self.limit > 0 and self.used * 5 >= self.limit * 4

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the next unit frees up (at least 1)."""
        if self.resets_at is None:
            return int(DAY.total_seconds())
        return max(1, int((self.resets_at - now).total_seconds() + 0.999))

    def to_dict(self) -> dict:
        return {
            "used": self.used,
            "limit": self.limit,
            "remaining": self.remaining,
            "resets_at": self.resets_at,
            "window": self.window,
        }


@dataclass(frozen=True)
class QuotaPolicy:
    """How units are counted: ``rolling`` counts the last 24 hours, ``calendar`` counts
    since midnight in ``timezone``. A pending reservation older than ``reservation_ttl``
    belongs to a call that cannot still be running and stops counting."""

    window: QuotaWindow = QuotaWindow.ROLLING
    timezone: str = "UTC"
    reservation_ttl: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # raises for an unknown zone

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def window_start(self, now: datetime) -> datetime:
        """The earliest moment whose units still count at ``now`` (UTC)."""
        _require_aware(now)
        if self.window is QuotaWindow.ROLLING:
            return now - DAY
        local = now.astimezone(self.zone)
        midnight = datetime.combine(local.date(), time(0), tzinfo=self.zone)
        return midnight.astimezone(timezone.utc)

    def next_midnight(self, now: datetime) -> datetime:
        local = now.astimezone(self.zone)
        nxt = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=self.zone)
        return nxt.astimezone(timezone.utc)

    def stale_before(self, now: datetime) -> datetime:
        """Pending reservations created before this moment no longer count."""
        return now - self.reservation_ttl

    def status(self, limit: int, counted: Iterable[datetime], now: datetime) -> QuotaStatus:
        """Quota at ``now`` given the creation times of the units that count.

        ``counted`` may include times outside the window; they are ignored here so callers
        can pass a superset.
        """
        start = self.window_start(now)
        times = sorted(t for t in counted if start <= t <= now)
        used = len(times)
        remaining = max(0, limit - used)
        if self.window is QuotaWindow.CALENDAR:
            resets_at = self.next_midnight(now) if used else None
        elif not times:
            resets_at = None
        elif used >= limit and limit > 0:
            # The unit that must expire before one is free again.
            resets_at = times[used - limit] + DAY
        else:
            resets_at = times[0] + DAY
        return QuotaStatus(used, limit, remaining, resets_at, self.window.value)

    def status_of(self, limit: int, used: int, oldest: datetime | None, now: datetime) -> QuotaStatus:
        """The same quota from a summary that costs O(1) to keep: ``used`` is the number of
        units in the window counted up to ``limit``, ``oldest`` the oldest of the newest
        ``min(used, limit)`` of them. Below the limit that is the oldest unit, the next to
        free up; at the limit it is the one that must expire before a unit is free again."""
        _require_aware(now)
        used = min(used, max(limit, 0))
        remaining = max(0, limit - used)
        if not used:
            resets_at = None
        elif self.window is QuotaWindow.CALENDAR:
            resets_at = self.next_midnight(now)
        else:
            resets_at = oldest + DAY if oldest is not None else None
        return QuotaStatus(used, limit, remaining, resets_at, self.window.value)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("quota arithmetic needs timezone-aware datetimes")
