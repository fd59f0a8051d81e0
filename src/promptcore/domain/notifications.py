"""Notifications sent to a user at most once per period (SPEC §12.7): which period a new one
belongs to, so that a unique key in the database can refuse a second one.

The period key chains each notification to the one before it. A user's first notification of a
kind has the key ``first``; every later one has ``after:<id of the previous one>``, and there is
a later one only when the previous one is at least ``spacing`` old. Two requests that race to
send one both read the same previous notification, so they compute the same key and the unique
(user_id, kind, period_key) lets exactly one of them insert; a request that reads after the
winner committed sees the winner, which is younger than ``spacing``, and sends nothing. So two
notifications of one kind to one user are always at least ``spacing`` apart — unlike a key taken
from a fixed calendar window (the UTC day, say), which would allow one at 23:59 and another at
00:01.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["LIMIT_REACHED", "NOTIFICATION_SPACING", "SentNotification", "next_period_key"]

# The e-mail a user gets when they spend the last unit of their daily limit.
LIMIT_REACHED = "limit_reached"
# At most one notification of a kind to a user in this time.
NOTIFICATION_SPACING = timedelta(hours=24)


@dataclass(frozen=True)
class SentNotification:
    id: int
    user_id: int
    kind: str
    period_key: str
    created_at: datetime


def next_period_key(previous: SentNotification | None, now: datetime,
                    spacing: timedelta = NOTIFICATION_SPACING) -> str | None:
    """The period key of a notification sent at ``now`` after ``previous`` (the user's newest of
    the kind, or None), or None when ``previous`` is younger than ``spacing``: nothing is sent."""
    if previous is None:
        return "first"
    if now - previous.created_at < spacing:
        return None
    return f"after:{previous.id}"
