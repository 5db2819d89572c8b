"""Delivering owed alerts: one queue and one worker per (tenant, channel), each retrying with backoff.

A worker sends its queue's alerts one at a time, in the order they were queued, and retries a failed
one (`DeliveryError`) with `mallbridge_core.backoff.Backoff` until the receiver accepts it; only then
does it take the next. So one tenant's dead webhook holds back that tenant's later webhook alerts (in
order: a "resolved" never overtakes its "attention needed") and nothing else: other tenants, and the
same tenant's e-mail, have their own workers, and the consumer never waits for any of them.
Accepted alerts are recorded as `AlertDelivered` in the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
WorkerKey = tuple[str, Channel]


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
    ) -> None:
        self._senders = senders
        self._tenants = tenants
        self._ledger = ledger
        self.state = state
        self._metrics = metrics
        self._console_base_url = console_base_url
        self._backoff = backoff
        self._clock = clock
        self._queues: dict[WorkerKey, asyncio.Queue[AlertQueued]] = {}
        self._workers: dict[WorkerKey, asyncio.Task[None]] = {}
        self._busy: set[WorkerKey] = set()
        self._closing = False
        self.crashed = asyncio.Event()
        self.crash: BaseException | None = None

    def submit(self, queued: AlertQueued) -> None:
        """Owe `queued` (already in the ledger) to its tenant's worker on its channel."""
        key: WorkerKey = (queued.tenant_id, queued.channel)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.Queue()
            self._workers[key] = asyncio.create_task(self._work(key, queue), name=f"notify-{key[0]}-{key[1]}")
        queue.put_nowait(queued)
        self._metrics.pending.labels(*key).inc()

    async def _work(self, key: WorkerKey, queue: asyncio.Queue[AlertQueued]) -> None:
        while not self._closing:
            queued = await queue.get()
            self._busy.add(key)
            try:
                await self._deliver(queued)
            except Exception as exc:  # crash-only: a dead worker must not look healthy (the alert stays owed)
                self.crash = exc
                self.crashed.set()
                raise
            finally:
                self._busy.discard(key)
                self._metrics.pending.labels(*key).dec()

    async def _deliver(self, queued: AlertQueued) -> None:
        tenant = self._tenants.get(queued.tenant_id)
        sender = self._senders.get(queued.channel)
        if tenant is None or sender is None or not sender.configured_for(tenant):
            # the tenants file changed since it was queued: nowhere to send it any more
            self._metrics.skipped.labels("unknown_tenant" if tenant is None else "no_target").inc()
            log.warning(
                "owed alert has no receiver any more", extra={"tenant": queued.tenant_id, "alert": queued.alert_id}
            )
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
                delay = backoff.next_delay()
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
        log.info("alert delivered", extra={"tenant": queued.tenant_id, "channel": queued.channel, "attempts": attempts})

    async def close(self, *, grace_s: float) -> None:
        """Stop taking new work; let deliveries under way finish for up to `grace_s`, then cancel.

        An alert cut off here stays owed in the ledger and goes out after the next start.
        """
        self._closing = True
        busy = [task for key, task in self._workers.items() if key in self._busy]
        for key, task in self._workers.items():
            if key not in self._busy:
                task.cancel()
        if busy and grace_s > 0:
            await asyncio.wait(busy, timeout=grace_s)
        for task in self._workers.values():
            task.cancel()
        for task in self._workers.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sender in self._senders.values():
            await sender.close()
