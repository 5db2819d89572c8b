"""Delivering owed alerts: in order per order, a few at a time per (tenant, channel), retried with backoff.

Each order's alerts on a channel go out one at a time, in the order they were queued (a "resolved" never
overtakes its "attention needed"; a tenant's own alerts, order number "", form one such line too).
Different orders of a tenant go out side by side, at most `concurrency` at once per (tenant, channel).
A failed delivery (`DeliveryError`) is retried with `mallbridge_core.backoff.Backoff` (or after the
receiver's Retry-After, when longer) until the receiver accepts it, and only then is `AlertDelivered`
written to the ledger and the order's next alert taken.

So a dead webhook holds back that tenant's webhook alerts and nothing else: other tenants and the same
tenant's e-mail have their own slots, and the consumer never waits for a delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime

from mallbridge_core.backoff import Backoff
from mallbridge_core.tenants import Tenant
from mallbridge_notify.adapters.ledger_log import LedgerLog
from mallbridge_notify.domain.alerts import Channel
from mallbridge_notify.domain.ledger import AlertDelivered, AlertQueued, LedgerState
from mallbridge_notify.domain.messages import render
from mallbridge_notify.metrics import NotifyMetrics
from mallbridge_notify.ports import DeliveryError, Sender

log = logging.getLogger(__name__)
SlotKey = tuple[str, Channel]  # (tenant, channel): shares `concurrency` deliveries
LineKey = tuple[str, Channel, str]  # (tenant, channel, order number): one delivery at a time, in order


class Deliveries:
    def __init__(
        self,
        *,
        senders: Mapping[Channel, Sender],
        tenants: Mapping[str, Tenant],
        ledger: LedgerLog,
        state: LedgerState,
        metrics: NotifyMetrics,
        console_base_url: str,
        backoff: Callable[[], Backoff],
        clock: Callable[[], datetime],
        concurrency: int = 4,
    ) -> None:
        self._senders = senders
        self._tenants = tenants
        self._ledger = ledger
        self.state = state
        self._metrics = metrics
        self._console_base_url = console_base_url
        self._backoff = backoff
        self._clock = clock
        self._concurrency = concurrency
        self._slots: dict[SlotKey, asyncio.Semaphore] = {}
        self._lines: dict[LineKey, deque[AlertQueued]] = {}
        self._workers: dict[LineKey, asyncio.Task[None]] = {}
        self._busy: set[LineKey] = set()
        self._closing = False
        self.crashed = asyncio.Event()
        self.crash: BaseException | None = None

    def submit(self, queued: AlertQueued) -> None:
        """Owe `queued` (already in the ledger): it goes out after the earlier alerts of its order."""
        line: LineKey = (queued.tenant_id, queued.channel, queued.alert.order_number)
        self._lines.setdefault(line, deque()).append(queued)
        self._metrics.pending.labels(queued.tenant_id, queued.channel).inc()
        if line not in self._workers:
            self._workers[line] = asyncio.create_task(self._work(line), name=f"notify-{line}")

    async def _work(self, line: LineKey) -> None:
        queue = self._lines[line]
        slot = self._slots.setdefault((line[0], line[1]), asyncio.Semaphore(self._concurrency))
        try:
            while queue and not self._closing:
                async with slot:
                    self._busy.add(line)
                    try:
                        await self._deliver(queue[0])
                    finally:
                        self._busy.discard(line)
                queue.popleft()
                self._metrics.pending.labels(line[0], line[1]).dec()
        except Exception as exc:  # crash-only: a dead worker must not look healthy (the alert stays owed)
            self.crash = exc
            self.crashed.set()
            raise
        finally:
            if not queue:
                self._lines.pop(line, None)
            self._workers.pop(line, None)

    async def _deliver(self, queued: AlertQueued) -> None:
        tenant = self._tenants.get(queued.tenant_id)
        sender = self._senders.get(queued.channel)
        if tenant is None or sender is None or not sender.configured_for(tenant):
            # the tenants file changed since it was queued: nowhere to send it any more
            self._metrics.skipped.labels("unknown_tenant" if tenant is None else "no_target").inc()
            log.warning("owed alert has no receiver any more", extra={"tenant": queued.tenant_id})
            return
        message = render(queued.alert, console_base_url=self._console_base_url)
        backoff, attempts = self._backoff(), 0
        while True:
            attempts += 1
            try:
                await sender.send(tenant, message)
                break
            except DeliveryError as exc:
                self._metrics.failures.labels(queued.tenant_id, queued.channel).inc()
                delay = max(backoff.next_delay(), exc.retry_after_s or 0.0)
                log.warning(
                    "alert not delivered; retrying",
                    extra={"tenant": queued.tenant_id, "channel": queued.channel, "error": str(exc), "retry_s": delay},
                )
                await asyncio.sleep(delay)
        await self._record_delivered(queued, attempts)

    async def _record_delivered(self, queued: AlertQueued, attempts: int) -> None:
        now = self._clock()
        delivered = AlertDelivered(
            alert_id=queued.alert_id,
            channel=queued.channel,
            tenant_id=queued.tenant_id,
            delivered_at=now,
            attempts=attempts,
            recorded_at=queued.alert.recorded_at,
        )
        await self._ledger.append([delivered])
        self.state.apply(delivered)
        self._metrics.delivered.labels(queued.tenant_id, queued.channel).inc()
        self._metrics.latency.labels(queued.channel).observe(max(0.0, (now - queued.alert.recorded_at).total_seconds()))

    async def close(self, *, grace_s: float) -> None:
        """Stop taking new work; let deliveries under way finish for up to `grace_s`, then cancel.

        An alert cut off here stays owed in the ledger and goes out after the next start.
        """
        self._closing = True
        workers = dict(self._workers)
        for line, task in workers.items():
            if line not in self._busy:
                task.cancel()
        busy = [task for line, task in workers.items() if line in self._busy]
        if busy and grace_s > 0:
            await asyncio.wait(busy, timeout=grace_s)
        for task in workers.values():
            task.cancel()
        for task in workers.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sender in self._senders.values():
            await sender.close()
