"""Per-partner request quotas with MALL's `X-RateLimit-*` headers (MALL Partner API: rate limits).

MALL counts order-API requests per partner account in daily windows; the headers are
`X-RateLimit-Limit` (current limit, then the window policy, e.g. `2875, 5750;w=86400;name="partner:..."`),
`X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds until the window resets). The sandbox keeps one
fixed window per partner, aligned to the clock (a daily window resets at 00:00 UTC), length configurable.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime

from mallbridge_sandbox.clock import Clock

DEFAULT_QUOTA = 10_000
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class QuotaState:
    limit: int
    window_seconds: int
    remaining: int
    reset_seconds: int
    allowed: bool = True

    def headers(self) -> dict[str, str]:
        return rate_limit_headers(self.limit, self.window_seconds, self.remaining, self.reset_seconds)


def rate_limit_headers(limit: int, window_seconds: int, remaining: int, reset_seconds: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": f'{limit}, {limit};w={window_seconds};name="partner:orders"',
        "X-RateLimit-Remaining": str(max(remaining, 0)),
        "X-RateLimit-Reset": str(max(reset_seconds, 0)),
    }


@dataclass
class _Bucket:
    limit: int
    window_seconds: int
    window_index: int = -1
    used: int = 0


class Quotas:
    """Thread-safe usage counters, one fixed window per partner."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def configure(self, partner: str, *, limit: int, window_seconds: int = DAY_SECONDS) -> None:
        if limit < 0 or window_seconds <= 0:
            raise ValueError("quota must be >= 0 and window_seconds > 0")
        with self._lock:
            bucket = self._buckets.get(partner)
            if bucket is None:
                self._buckets[partner] = _Bucket(limit, window_seconds)
            else:
                bucket.limit, bucket.window_seconds = limit, window_seconds

    def reset_usage(self, partner: str | None = None) -> None:
        with self._lock:
            for name, bucket in self._buckets.items():
                if partner is None or name == partner:
                    bucket.used = 0

    def _roll(self, bucket: _Bucket, now: datetime) -> int:
        """Move the bucket into the current window; return the seconds until that window ends."""
        epoch = now.timestamp()
        index = math.floor(epoch / bucket.window_seconds)
        if index != bucket.window_index:
            bucket.window_index, bucket.used = index, 0
        return math.ceil((index + 1) * bucket.window_seconds - epoch)

    def _state(self, bucket: _Bucket, reset: int, *, allowed: bool = True) -> QuotaState:
        return QuotaState(bucket.limit, bucket.window_seconds, bucket.limit - bucket.used, reset, allowed)

    def consume(self, partner: str) -> QuotaState:
        """Count one request; `allowed` is False (and nothing is counted) once the window's quota is spent."""
        with self._lock:
            bucket = self._buckets[partner]
            reset = self._roll(bucket, self._clock())
            if bucket.used >= bucket.limit:
                return self._state(bucket, reset, allowed=False)
            bucket.used += 1
            return self._state(bucket, reset)

    def peek(self, partner: str) -> QuotaState:
        with self._lock:
            bucket = self._buckets[partner]
            return self._state(bucket, self._roll(bucket, self._clock()))
