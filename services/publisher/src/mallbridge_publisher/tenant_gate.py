"""Per-tenant traffic control: bounded concurrency, pause on 401/403, waits on 429, a daily request budget.

One tenant's trouble only ever makes that tenant's own orders wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from mallbridge_publisher.metrics import PublisherMetrics

DAY_S = 86_400.0


class TenantGate:
    def __init__(
        self,
        tenant_id: str,
        *,
        concurrency: int,
        metrics: PublisherMetrics,
        daily_budget: int | None = None,
        pause_probe_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tenant_id = tenant_id
        self._slots = asyncio.Semaphore(concurrency)
        self._metrics = metrics
        self._not_before = 0.0
        self._paused_until = 0.0
        self._pause_probe_s = pause_probe_s
        self._budget = daily_budget
        self._spent = 0
        self._window_start = monotonic()
        self._monotonic = monotonic
        self.paused = False
        if daily_budget is not None:
            metrics.budget_remaining.labels(tenant_id).set(daily_budget)

    @property
    def pause_probe_s(self) -> float:
        """How long a paused tenant waits before its next request probes MALL again."""
        return self._pause_probe_s

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the tenant's concurrent request slots, once the tenant may send again."""
        async with self._slots:
            await self._wait_until_allowed()
            yield

    async def _wait_until_allowed(self) -> None:
        while True:
            now = self._monotonic()
            wait = max(self._not_before, self._paused_until) - now
            if self._budget is not None:
                if now - self._window_start >= DAY_S:
                    self._window_start, self._spent = now, 0
                if self._spent >= self._budget:
                    wait = max(wait, self._window_start + DAY_S - now)
            if wait <= 0:
                self._spent += 1
                if self._budget is not None:
                    self._metrics.budget_remaining.labels(self.tenant_id).set(self._budget - self._spent)
                return
            await asyncio.sleep(min(wait, 1.0))

    def rate_limited(self, retry_after_s: float) -> None:
        self._not_before = max(self._not_before, self._monotonic() + retry_after_s)

    def pause(self) -> None:
        """401/403: hold the tenant's work, and probe again after a while (a fixed client_id may come back)."""
        self.paused = True
        self._paused_until = self._monotonic() + self._pause_probe_s
        self._metrics.tenant_paused.labels(self.tenant_id).set(1)

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self._paused_until = 0.0
            self._metrics.tenant_paused.labels(self.tenant_id).set(0)
