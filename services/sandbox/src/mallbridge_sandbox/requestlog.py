"""The request log of partner traffic (`/v1/...`), readable through `GET /sandbox/requests`.

The `client_id` value never enters it: the query string is stored with every client_id value replaced.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

MASK = "***"
MAX_BODY_CHARS = 10_000


def mask_query(query: str) -> str:
    """The raw query string with each `client_id` value replaced by `***` (other parameters kept as sent)."""
    parts = []
    for part in query.split("&"):
        name, sep, _ = part.partition("=")
        if unquote_plus(name) == "client_id":
            part = f"{name}={MASK}" if sep else name
        parts.append(part)
    return "&".join(parts)


def body_for_log(raw: bytes) -> Any:
    """The JSON body when it parses, else its text (truncated); None when empty."""
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deep for Python's parser
        return text[:MAX_BODY_CHARS]


@dataclass
class LogEntry:
    seq: int
    time: str
    method: str
    path: str
    query: str
    partner: str | None
    order_id: str | None
    body: Any
    status: int | None = None
    fault: str | None = None
    dropped: bool = False
    duration_ms: float | None = None
    applied_status: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "partner": self.partner,
            "order_id": self.order_id,
            "body": self.body,
            "status": self.status,
            "fault": self.fault,
            "dropped": self.dropped,
            "duration_ms": self.duration_ms,
            "applied_status": self.applied_status,
        }


class RequestLog:
    """A bounded, thread-safe list of entries (oldest dropped first)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LogEntry] = deque(maxlen=capacity)
        self._seq = 0

    def open(
        self, *, time: str, method: str, path: str, query: str, partner: str | None, order_id: str | None, body: bytes
    ) -> LogEntry:
        with self._lock:
            self._seq += 1
            entry = LogEntry(self._seq, time, method, path, mask_query(query), partner, order_id, body_for_log(body))
            self._entries.append(entry)
            return entry

    def finish(
        self,
        entry: LogEntry,
        *,
        status: int | None,
        fault: str | None,
        dropped: bool,
        duration_ms: float,
        applied_status: int | None = None,
    ) -> None:
        with self._lock:
            entry.status, entry.fault, entry.dropped = status, fault, dropped
            entry.applied_status = applied_status
            entry.duration_ms = round(duration_ms, 3)

    def clear(self, *, restart_seq: bool = False) -> None:
        """Forget every entry; seq numbers keep counting (so `since` pollers stay right) unless restarted."""
        with self._lock:
            self._entries.clear()
            if restart_seq:
                self._seq = 0

    def select(
        self, *, partner: str | None = None, order_id: str | None = None, method: str | None = None, since: int = 0
    ) -> list[dict[str, Any]]:
        with self._lock:
            return [
                e.as_json()
                for e in self._entries
                if e.seq > since
                and (partner is None or e.partner == partner)
                and (order_id is None or e.order_id == order_id)
                and (method is None or e.method == method.upper())
            ]
