"""Notifications sent: the record that keeps a user from getting the same notification twice in
a period (SPEC §12.7; the period key is domain.notifications.next_period_key)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from ..domain.notifications import SentNotification


class NotificationRepository(ABC):
    @abstractmethod
    def latest(self, user_id: int, kind: str) -> SentNotification | None:
        """The user's newest notification of this kind (by creation time, then id), or None."""
    @abstractmethod
    def add_once(self, user_id: int, kind: str, period_key: str, now: datetime) -> bool:
        """Record a notification unless one with this (user, kind, period key) exists already
        (``INSERT ... ON CONFLICT DO NOTHING``): True when this call recorded it, so the caller
        sends the notification exactly when it gets True. Concurrent callers with the same key:
        exactly one gets True (the others wait for its transaction, and get True only if it
        rolled back)."""
