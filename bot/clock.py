"""The clocks the engine can be given: the real one, or a replay of the campaign's past."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ReplayClock:
    """Starts at a chosen moment and runs on in real time, so a 2022 deadline can be relived."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._origin)


def parse_moment(text: str, tz: ZoneInfo) -> datetime:
    """``2022-05-30 20:00`` (campaign time) or ``2022-05-30T20:00+07:00`` → aware datetime."""
    moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)
