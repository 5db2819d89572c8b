"""Per-tenant push rate limits: one token bucket per tenant, so one tenant's flood cannot starve the others.

A push is checked before its body is read (`retry_after`: a tenant over its limit costs the server almost
nothing) and charged only once its signature is verified (`charge`): requests nobody signed cannot spend
a tenant's budget. Concurrent pushes may all pass the check before any is charged; the bucket then goes
into debt and the next ones wait the longer, so the average rate still holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate_per_s: float
    burst: float
    tokens: float = field(init=False)
    updated: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def _refill(self, now: float) -> None:
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate_per_s)
        self.updated = now

    def wait_s(self, now: float) -> float:
        """0 when a push may go ahead now, else the seconds until one may."""
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate_per_s

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1


class PushRateLimits:
    """The buckets of all tenants; a tenant whose rate is 0 is not limited."""

    def __init__(self, rates: Mapping[str, float], *, burst: int, clock: Callable[[], float]) -> None:
        self._buckets = {tenant: TokenBucket(rate, burst) for tenant, rate in rates.items() if rate > 0}
        self._clock = clock

    def describe(self, tenant_id: str) -> str:
        bucket = self._buckets.get(tenant_id)
        if bucket is None:
            return "no limit"
        return f"{bucket.rate_per_s:g} pushes per second for this tenant, up to {bucket.burst:g} at once"

    def retry_after(self, tenant_id: str) -> int:
        """0 when the tenant may push now, else whole seconds to wait (the `Retry-After` value, at least 1)."""
        bucket = self._buckets.get(tenant_id)
        if bucket is None:
            return 0
        wait = bucket.wait_s(self._clock())
        return 0 if wait == 0 else max(1, math.ceil(wait))

    def charge(self, tenant_id: str) -> None:
        bucket = self._buckets.get(tenant_id)
        if bucket is not None:
            bucket.take(self._clock())
