"""The sandbox's notion of now: injected, so tests can move time (quota windows, timestamps, delivered_at).

Also MALL's date-time text, `YYYY-MM-DD HH:MM:SS` (MALL Partner API: order update, `delivered_at`; the
official PHP client formats it as `Y-m-d H:i:s`), read as Europe/Prague local time (MALL does not name a
time zone; Prague is the sandbox's assumption): the sandbox's own, like its status rules (status_rules.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]
"""Returns an aware datetime."""

PRAGUE = ZoneInfo("Europe/Prague")
MALL_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def mall_datetime_text(moment: datetime) -> str:
    """An aware moment as MALL writes it: Prague local time, `YYYY-MM-DD HH:MM:SS`."""
    return moment.astimezone(PRAGUE).strftime(MALL_DATETIME_FORMAT)


def system_clock() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (thread-safe)."""

    def __init__(self, start: datetime | None = None) -> None:
        moment = start or system_clock()
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = moment
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        with self._lock:
            self._now = moment
