"""Nothing in src reads the wall clock but the system Clock adapter: time comes from the Clock port,
so a fake clock moves every expiry, window and date. (Monotonic timers for deadlines and
latencies are not the wall clock and stay allowed.)"""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
WALL_CLOCK = re.compile(r"\b(datetime\.now|datetime\.utcnow|date\.today|time\.time|time\.gmtime|time\.localtime)\s*\(")
# The one place the real time is read: SystemClock (adapters/clock.py) through domain/clock.py.
ALLOWED = {SRC / "promptcore" / "domain" / "clock.py"}


def test_only_the_system_clock_reads_the_wall_clock():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if WALL_CLOCK.search(code):
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert offenders == [], "read the time from the Clock port instead:\n" + "\n".join(offenders)
