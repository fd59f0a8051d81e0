"""A small schedule of named periodic jobs for the worker (SPEC §9, §12.4).

Each job is a callable with an interval. ``due(now)`` says which jobs are due, ``run_due(now)``
runs them: a failing job is logged and does not stop the others, and each job's next run moves
on by whole intervals from when it was due (a late round does not shift the cadence, a long stop
does not bring a burst of catch-up runs, a clock set back does not stall a job). Time comes from
the caller — the worker passes its ``Clock``'s ``now()``, tests a fake clock — so nothing here
sleeps.

A job may return ``True`` to say it left work behind (the outbox had more mail than one batch):
it then stays due and runs again in the next round instead of after its interval.

It lives in the entrypoints because which periodic work runs in which process, and how often,
is deployment wiring; the work itself is a use case in ``promptcore.services`` that the job calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

log = logging.getLogger("promptcore.worker")

__all__ = ["Job", "RoundReport", "Schedule"]


@dataclass
class Job:
    name: str
    every: timedelta
    run: Callable[[], object]
    next_run: datetime | None = None  # None: due at the first look


@dataclass
class RoundReport:
    ran: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    again: list[str] = field(default_factory=list)  # left work behind: due again at once


class Schedule:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def add(
        self, name: str, every: timedelta, run: Callable[[], object], first_run: datetime | None = None
    ) -> Schedule:
        """Add a job (returns the schedule, so jobs can be chained). Without ``first_run`` it is
        due at once."""
        if name in self._jobs:
            raise ValueError(f"a job named {name!r} is already scheduled")
        if every <= timedelta(0):
            raise ValueError("a job's interval must be positive")
        self._jobs[name] = Job(name, every, run, first_run)
        return self

    @property
    def jobs(self) -> list[Job]:
        return list(self._jobs.values())

    def due(self, now: datetime) -> list[str]:
        """The names of the jobs due at ``now``, in the order they were added."""
        return [job.name for job in self._jobs.values() if _is_due(job, now)]

    def seconds_until_due(self, now: datetime) -> float:
        """How long until the next job is due (0 when one is due now)."""
        if not self._jobs:
            return float("inf")
        soonest = min(now if _is_due(job, now) else job.next_run for job in self._jobs.values())
        return max(0.0, (soonest - now).total_seconds())

    def run_due(self, now: datetime) -> RoundReport:
        report = RoundReport()
        for name in self.due(now):
            job = self._jobs[name]
            report.ran.append(name)
            again = False
            try:
                again = job.run() is True
            except Exception:  # one job's failure (a database outage) must not stop the others
                log.exception("worker job %r failed", name)
                report.failed.append(name)
            if again:
                report.again.append(name)
                job.next_run = now
            else:
                job.next_run = _next_run(job, now)
        return report


def _is_due(job: Job, now: datetime) -> bool:
    # More than one interval away can only mean the clock was set back: run rather than stall.
    return job.next_run is None or job.next_run <= now or job.next_run - now > job.every


def _next_run(job: Job, now: datetime) -> datetime:
    """The first time after ``now`` that is a whole number of intervals after when the job
    was due (``now`` itself for a job that had never run)."""
    start = job.next_run if job.next_run is not None and job.next_run <= now else now
    missed = (now - start) // job.every
    return start + (missed + 1) * job.every
