"""The worker: runs a schedule of periodic jobs until stopped (SPEC §9). Today one job: mail requests
become mail and the outbox is delivered; renewals and payment sweeps join as one line each."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from promptcore.services.mail import deliver_outbox

from .container import Container
from .schedule import Schedule

log = logging.getLogger("promptcore.worker")


def mail_round(container: Container):
    """One round: the mail people asked for (reset, resend) is written to the outbox, then the
    outbox is delivered."""
    container.accounts().process_mail_requests()
    return deliver_outbox(container.uow, container.mailer(), container.clock())


def mail_job(container: Container) -> bool:
    """The mail job: one mail round, logged; True (run again at once) while mail went out, so
    a full outbox drains without waiting a poll between batches."""
    report = mail_round(container)
    if report.sent or report.failed:
        log.info("outbox: %d sent, %d failed", report.sent, report.failed)
    return bool(report.sent)


def worker_schedule(container: Container, poll_seconds: float = 2.0) -> Schedule:
    """The jobs the worker runs. Periodic work (renewals, payment sweeps) is one line each."""
    return (Schedule().add("mail", timedelta(seconds=poll_seconds), lambda: mail_job(container))
            .add("payments-sweep", timedelta(minutes=2), lambda: container.billing().sweep())
            .add("renewals", timedelta(minutes=15), lambda: container.billing().renewals()))


def run_worker(container: Container, stop: threading.Event, poll_seconds: float = 2.0,
               schedule: Schedule | None = None) -> None:
    """Run the schedule's due jobs until ``stop`` is set, waiting between rounds until the next
    job is due (at most ``poll_seconds``; twice that after a round in which a job failed, so a
    database outage is not retried in a tight loop)."""
    schedule = schedule or worker_schedule(container, poll_seconds)
    clock = container.clock()
    log.info("worker started: %s", ", ".join(f"{j.name} every {j.every.total_seconds():g}s" for j in schedule.jobs))
    while not stop.is_set():
        report = schedule.run_due(clock.now())
        if report.again and not report.failed:
            continue
        wait = min(poll_seconds, schedule.seconds_until_due(clock.now()))
        if report.failed:
            wait = max(wait, poll_seconds * 2)
        stop.wait(wait)
    log.info("worker stopped")


def start_background_worker(container: Container, poll_seconds: float = 1.0) -> threading.Event:
    """Deliver the outbox from a daemon thread of this process (development serving)."""
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(container, stop, poll_seconds),
                              name="outbox-worker", daemon=True)
    thread.start()
    return stop
