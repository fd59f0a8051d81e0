from __future__ import annotations

from datetime import datetime

from promptcore.domain.clock import utcnow
from promptcore.ports import Clock


class SystemClock(Clock):
    def now(self) -> datetime:
        return utcnow()
