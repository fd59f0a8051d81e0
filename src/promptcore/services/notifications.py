"""Limit notifications (SPEC §12.7): the e-mail a user gets when they spend the last unit of their
daily limit — at most one per user per 24 hours, however many requests race for the last unit.

``Quota.reserve`` calls ``LimitNotices.last_unit_spent`` inside the reservation's transaction,
under the user's row lock, so the record in ``notifications_sent``, the e-mail in the outbox and
the unit itself commit together or not at all. The unique (user, kind, period key) of
``notifications_sent`` is what guarantees "one": the row is inserted with ON CONFLICT DO NOTHING
and the e-mail queued only when this transaction inserted it (period keys:
domain/notifications.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..domain.notifications import LIMIT_REACHED, NOTIFICATION_SPACING, next_period_key
from ..domain.quota import QuotaStatus
from ..domain.users import User
from ..ports import MailTemplates, UnitOfWork

__all__ = ["LimitNotices"]


class LimitNotices:
    def __init__(self, mail: MailTemplates, upgrade_url: str,
                 spacing: timedelta = NOTIFICATION_SPACING) -> None:
        self._mail = mail
        self._upgrade_url = upgrade_url
        self._spacing = spacing

    def last_unit_spent(self, uow: UnitOfWork, user: User, quota: QuotaStatus, now: datetime) -> bool:
        """``user`` has just reserved the unit that makes ``quota.used == quota.limit``: queue the
        limit e-mail in ``uow``'s transaction unless they turned it off or had one in the last 24
        hours. True when it was queued."""
        if not user.settings.notify_limit or user.id is None:
            return False
        key = next_period_key(uow.notifications.latest(user.id, LIMIT_REACHED), now, self._spacing)
        if key is None or not uow.notifications.add_once(user.id, LIMIT_REACHED, key, now):
            return False
        message = self._mail.render(LIMIT_REACHED, user.settings.language or "en", user.email, {
            "name": user.name,
            "limit": quota.limit,
            "resets_at": quota.resets_at,
            "upgrade_url": self._upgrade_url,
            "link": self._upgrade_url,
        })
        uow.outbox.add(message, now)
        return True
