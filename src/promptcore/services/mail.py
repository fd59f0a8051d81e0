"""Outbox delivery: hand queued mail to the mailer, with retries and backoff (SPEC §9)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from ..domain.errors import DeliveryFailed
from ..ports import Clock, Mailer, UnitOfWork

LEASE = timedelta(minutes=5)


MAX_RETRY_DELAY = 60


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: 5 s, 10 s, 20 s, 40 s, then every minute. The cap keeps a mail
    from waiting long once the server is back; a retry against a server that is down costs
    one refused connection."""
    return timedelta(seconds=min(MAX_RETRY_DELAY, 5 * 2 ** min(max(0, attempts - 1), 10)))


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    failed: int


def deliver_outbox(uow: Callable[[], UnitOfWork], mailer: Mailer, clock: Clock, batch: int = 20) -> DeliveryReport:
    """Deliver one batch. A message is leased in its own short transaction, so several
    workers never take the same one, and marked sent only after the server accepted it."""
    with uow() as tx:
        items = tx.outbox.claim(clock.now(), LEASE, batch)
        tx.commit()
    sent = failed = 0
    for item in items:
        try:
            mailer.send(item.message)
        except DeliveryFailed as exc:
            failed += 1
            with uow() as tx:
                tx.outbox.mark_failed(item.id, exc.message, clock.now() + retry_delay(item.attempts))
                tx.commit()
            continue
        sent += 1
        with uow() as tx:
            tx.outbox.mark_sent(item.id, clock.now())
            tx.commit()
    return DeliveryReport(sent, failed)
