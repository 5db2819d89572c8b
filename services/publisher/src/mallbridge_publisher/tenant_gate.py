"""Per-tenant traffic control: bounded concurrency, pause on 401/403, waits on 429, a daily request budget.

One tenant's trouble only ever makes that tenant's own orders wait.

A paused tenant (401/403) is probed by one request at a time: when the pause runs out, one request goes
to MALL and the others wait for its answer (`resume`, or `pause` for another round), so a refused
client_id costs one refused request per `pause_probe_s`, not one per slot.

Two bounds: *slots* (`concurrency`) are the requests at MALL at once; *turns* (`TURNS_PER_SLOT` per slot)
are the orders of the tenant being worked on at once: recording a request, waiting for a slot, recording
the answer. An order waits for its turn before it does any of that work, so a burst of thousands of
orders keeps the slots busy with a few dozen orders prepared ahead, instead of preparing every order at
once: that work would run between the answers of the requests in flight and hold them up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from mallbridge_publisher.effects import GateAction, GateChange
from mallbridge_publisher.metrics import PublisherMetrics

DAY_S = 86_400.0
PROBE_WAIT_S = 0.05
"""How often a request waiting for the answer to a paused tenant's probe looks again."""
TURNS_PER_SLOT = 4
"""Orders worked on at once per request slot: enough that a slot never waits for an order to be prepared
(recording its request takes a few ms against MALL's tens), few enough to keep the event loop quick."""


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
        self._turns = asyncio.Semaphore(concurrency * TURNS_PER_SLOT)
        self._metrics = metrics
        self._not_before = 0.0
        self._paused_until = 0.0
        self._pause_probe_s = pause_probe_s
        self._budget = daily_budget
        self._spent = 0
        self._window_start = monotonic()
        self._monotonic = monotonic
        self.paused = False
        self._probing = False  # a request of the paused tenant is at MALL as its probe
        if daily_budget is not None:
            metrics.budget_remaining.labels(tenant_id).set(daily_budget)

    @property
    def pause_probe_s(self) -> float:
        """How long a paused tenant waits before its next request probes MALL again."""
        return self._pause_probe_s

    async def take_turn(self) -> None:
        """Wait until one of the tenant's orders may be worked on; `end_turn` when its pass is done."""
        await self._turns.acquire()

    def end_turn(self) -> None:
        self._turns.release()

    @property
    def turns_taken(self) -> bool:
        """Whether every turn is taken (or promised to an order waiting for one)."""
        return self._turns.locked()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the tenant's concurrent request slots, once the tenant may send again."""
        async with self._slots:
            probe = await self._wait_until_allowed()
            try:
                yield
            finally:
                if probe:
                    self._probing = False

    async def _wait_until_allowed(self) -> bool:
        """Wait until a request may go; True when it goes as the probe of a paused tenant."""
        while True:
            now = self._monotonic()
            wait = max(self._not_before, self._paused_until) - now
            probe = self.paused
            if probe and wait <= 0 and self._probing:
                wait = PROBE_WAIT_S  # another request is probing MALL: wait for its answer
            if self._budget is not None:
                if now - self._window_start >= DAY_S:
                    self._window_start, self._spent = now, 0
                if self._spent >= self._budget:
                    wait = max(wait, self._window_start + DAY_S - now)
            if wait <= 0:
                self._spent += 1
                if self._budget is not None:
                    self._metrics.budget_remaining.labels(self.tenant_id).set(self._budget - self._spent)
                self._probing = probe
                return probe
            await asyncio.sleep(min(wait, 1.0))

    def apply(self, change: GateChange | None) -> None:
        """Take an outcome's gate change (`effects.Effects.gate`); None changes nothing."""
        if change is None:
            return
        if change.action is GateAction.PAUSE:
            self.pause()
        elif change.action is GateAction.RESUME:
            self.resume()
        else:
            self.rate_limited(change.retry_after_s)

    def rate_limited(self, retry_after_s: float) -> None:
        self._not_before = max(self._not_before, self._monotonic() + retry_after_s)

    def pause(self) -> None:
        """401/403: hold the tenant's work, and probe again after a while (a fixed client_id may come back)."""
        self.paused = True
        self._paused_until = self._monotonic() + self._pause_probe_s
        self._metrics.tenant_paused.labels(self.tenant_id).set(1)

    def pause_as_recorded(self) -> None:
        """The log says the tenant's 401/403 item is still open (a rebuild after a restart): paused, with the
        first request going as the probe at once. Its answer resolves the item (`resume`) or keeps the
        tenant paused without raising the item a second time; unpaused, a restart forgot both."""
        if not self.paused:
            self.paused = True
            self._paused_until = self._monotonic()
            self._metrics.tenant_paused.labels(self.tenant_id).set(1)

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self._paused_until = 0.0
            self._metrics.tenant_paused.labels(self.tenant_id).set(0)
