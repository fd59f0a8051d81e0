"""The worker's schedule of periodic jobs (entrypoints/schedule.py), driven by a fake clock:
nothing here sleeps."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest

from entrypoints.schedule import Schedule
from entrypoints.worker import run_worker, worker_schedule
from tests.fakes import FakeClock


class Calls:
    def __init__(self, clock: FakeClock, result: object = None, fail: bool = False) -> None:
        self.clock = clock
        self.at: list = []
        self.result = result
        self.fail = fail

    def __call__(self) -> object:
        self.at.append(self.clock.now())
        if self.fail:
            raise RuntimeError("database is down")
        return self.result


def test_jobs_run_exactly_when_due_and_move_on_by_their_interval():
    clock = FakeClock()
    t0 = clock.now()
    mail, renewals = Calls(clock), Calls(clock)
    schedule = Schedule().add("mail", timedelta(seconds=2), mail).add("renewals", timedelta(hours=1), renewals)

    assert schedule.due(t0) == ["mail", "renewals"]  # a new job is due at once
    assert schedule.run_due(t0).ran == ["mail", "renewals"]
    assert schedule.due(t0) == []

    clock.advance(seconds=1.999)
    assert schedule.run_due(clock.now()).ran == []
    clock.advance(seconds=0.001)
    assert schedule.run_due(clock.now()).ran == ["mail"]
    assert mail.at == [t0, t0 + timedelta(seconds=2)]

    # A late round does not shift the cadence: due at t0+4 s, run at t0+4.5 s, next at t0+6 s.
    clock.current = t0 + timedelta(seconds=4.5)
    schedule.run_due(clock.now())
    assert schedule.seconds_until_due(clock.now()) == pytest.approx(1.5)
    clock.current = t0 + timedelta(seconds=5.999)
    assert schedule.due(clock.now()) == []
    clock.current = t0 + timedelta(seconds=6)
    assert schedule.due(clock.now()) == ["mail"]

    # After a long stop a job runs once, not once for every interval it missed.
    clock.current = t0 + timedelta(hours=1, seconds=30)
    assert schedule.run_due(clock.now()).ran == ["mail", "renewals"]
    assert schedule.run_due(clock.now()).ran == []
    assert renewals.at == [t0, t0 + timedelta(hours=1, seconds=30)]
    clock.current = t0 + timedelta(hours=2)
    assert schedule.due(clock.now()) == ["mail", "renewals"]  # the hourly cadence kept its phase


def test_a_failing_job_does_not_stop_the_others_and_is_logged(caplog):
    clock = FakeClock()
    broken, fine = Calls(clock, fail=True), Calls(clock)
    schedule = Schedule().add("sweep", timedelta(minutes=10), broken).add("mail", timedelta(seconds=2), fine)

    with caplog.at_level(logging.ERROR, logger="promptcore.worker"):
        report = schedule.run_due(clock.now())
    assert report.ran == ["sweep", "mail"] and report.failed == ["sweep"]
    assert len(fine.at) == 1
    [record] = [r for r in caplog.records if r.name == "promptcore.worker"]
    assert "sweep" in record.getMessage() and record.exc_info is not None

    # The failed job waits its interval like any other: no retry on every poll.
    clock.advance(seconds=2)
    assert schedule.run_due(clock.now()).ran == ["mail"]
    clock.advance(minutes=10)
    assert schedule.run_due(clock.now()).ran == ["sweep", "mail"]
    assert len(broken.at) == 2


def test_a_job_that_left_work_behind_runs_again_in_the_next_round():
    clock = FakeClock()
    more = iter([True, True, False])
    schedule = Schedule().add("mail", timedelta(seconds=2), lambda: next(more))
    assert schedule.run_due(clock.now()).again == ["mail"]
    assert schedule.due(clock.now()) == ["mail"]
    assert schedule.run_due(clock.now()).again == ["mail"]
    assert schedule.run_due(clock.now()).again == []
    assert schedule.due(clock.now()) == []
    assert schedule.seconds_until_due(clock.now()) == 2


def test_a_clock_set_back_does_not_stall_a_job():
    clock = FakeClock()
    schedule = Schedule().add("mail", timedelta(seconds=2), lambda: None)
    schedule.run_due(clock.now())
    clock.advance(hours=-1)
    assert schedule.due(clock.now()) == ["mail"]
    schedule.run_due(clock.now())
    assert schedule.due(clock.now()) == []


def test_first_run_and_validation():
    clock = FakeClock()
    later = clock.now() + timedelta(minutes=5)
    schedule = Schedule().add("renewals", timedelta(hours=1), lambda: None, first_run=later)
    assert schedule.due(clock.now()) == []
    assert schedule.seconds_until_due(clock.now()) == 300
    assert schedule.due(later) == ["renewals"]
    with pytest.raises(ValueError):
        schedule.add("renewals", timedelta(hours=1), lambda: None)
    with pytest.raises(ValueError):
        schedule.add("zero", timedelta(0), lambda: None)
    assert Schedule().seconds_until_due(clock.now()) == float("inf")


class StubContainer:
    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock

    def clock(self) -> FakeClock:
        return self._clock


def test_the_worker_runs_its_schedule_by_the_containers_clock_until_stopped():
    clock = FakeClock()
    stop = threading.Event()
    seen: list = []

    def tick() -> None:
        seen.append(clock.now())
        clock.advance(seconds=1)  # the job took a second: the next one is due at once
        if len(seen) == 3:
            stop.set()

    def broken() -> None:
        raise RuntimeError("down")

    schedule = Schedule().add("tick", timedelta(seconds=1), tick).add("broken", timedelta(hours=1), broken)
    worker = threading.Thread(target=run_worker, args=(StubContainer(clock), stop, 0.01, schedule))
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    start = seen[0]
    assert seen == [start, start + timedelta(seconds=1), start + timedelta(seconds=2)]


def test_the_mail_job_runs_every_poll():
    schedule = worker_schedule(StubContainer(FakeClock()), poll_seconds=2.0)
    assert [(job.name, job.every) for job in schedule.jobs] == [
        ("mail", timedelta(seconds=2)), ("payments-sweep", timedelta(minutes=2)), ("renewals", timedelta(minutes=15))]
