"""The log of changes MALL made (`GET /sandbox/mall-events`): created orders, named actions, mall-update.

The request log holds what partners sent; this one holds MALL's own side, so a test can see which change
happened when, and which webhook id it queued.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class MallEvent:
    seq: int
    time: str
    action: str  # "create", a named action (mall_actions.ACTIONS) or "mall-update"
    partner: str
    order_id: str
    status_before: str | None  # None for a created order
    status: str


class MallEventLog:
    """A bounded, thread-safe list of MALL's changes, oldest dropped first."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._events: deque[MallEvent] = deque(maxlen=capacity)
        self._seq = 0

    def record(
        self, *, time: str, action: str, partner: str, order_id: str, status_before: str | None, status: str
    ) -> MallEvent:
        with self._lock:
            self._seq += 1
            event = MallEvent(self._seq, time, action, partner, order_id, status_before, status)
            self._events.append(event)
            return event

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._seq = 0

    def select(
        self, *, partner: str | None = None, order_id: str | None = None, action: str | None = None, since: int = 0
    ) -> list[dict[str, Any]]:
        with self._lock:
            return [
                asdict(e)
                for e in self._events
                if e.seq > since
                and (partner is None or e.partner == partner)
                and (order_id is None or e.order_id == order_id)
                and (action is None or e.action == action)
            ]
