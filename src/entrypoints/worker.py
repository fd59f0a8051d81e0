"""The outbox worker: turns mail requests into mail and delivers queued e-mail until stopped (SPEC §9)."""

from __future__ import annotations

import logging
import threading

from promptcore.services.mail import deliver_outbox

from .container import Container

log = logging.getLogger("promptcore.worker")


def mail_round(container: Container):
    """One round: the mail people asked for (reset, resend) is written to the outbox, then the
    outbox is delivered."""
    container.accounts().process_mail_requests()
    return deliver_outbox(container.uow, container.mailer(), container.clock())


def run_worker(container: Container, stop: threading.Event, poll_seconds: float = 2.0) -> None:
    log.info("outbox worker started")
    while not stop.is_set():
        try:
            report = mail_round(container)
        except Exception:  # a database outage must not kill the worker
            log.exception("outbox delivery round failed")
            stop.wait(poll_seconds * 2)
            continue
        if report.sent or report.failed:
            log.info("outbox: %d sent, %d failed", report.sent, report.failed)
        if not report.sent:
            stop.wait(poll_seconds)
    log.info("outbox worker stopped")


def start_background_worker(container: Container, poll_seconds: float = 1.0) -> threading.Event:
    """Deliver the outbox from a daemon thread of this process (development serving)."""
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(container, stop, poll_seconds),
                              name="outbox-worker", daemon=True)
    thread.start()
    return stop
