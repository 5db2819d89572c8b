"""One lane's publisher: consume order events, keep the projection, reconcile each order with MALL.

Correctness does not hang on consumer offsets: the pending work of an order is "desired MALL status ≠
MALL status as recorded in sync-events", which `on_assigned` rebuilds from both topics (offset 0) for
every partition this member receives. Offsets are committed only up to the lowest order event whose
order has not settled yet (so they measure lag, and a restart re-reads at most unsettled work).

Concurrency: one task per order (its steps stay in order), any number of orders at once, bounded per
tenant by its TenantGate. An order that waits (backoff, deferral, 429, paused tenant) holds only itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mallbridge_core.domain.projection import OrderState, RequestInDoubt, apply
from mallbridge_core.domain.reconciler import Plan, PutStep, plan
from mallbridge_core.eventlog import EventLog, LogRecord, LogUnavailableError, OutgoingRecord, Subscription
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_publisher.metrics import PublisherMetrics
from mallbridge_publisher.ports import (
    MallClient,
    MallError,
    MallOutcomeUnknown,
    MallRateLimited,
    MallRejected,
    MallUnauthorized,
)
from mallbridge_publisher.recorder import SyncRecorder
from mallbridge_publisher.tenant_gate import TenantGate
from mallbridge_schema.events import (
    AttentionNeeded,
    AttentionResolved,
    Event,
    MallStateObserved,
    MallStatusUpdated,
    MallUpdateRejected,
    MallUpdateRequested,
    StepDeferred,
    SyncEventBase,
)
from mallbridge_schema.serde import EventDecodeError, decode_order_event, decode_sync_event
from mallbridge_schema.statuses import MallStatus

log = logging.getLogger(__name__)
Key = tuple[str, str]


@dataclass(frozen=True)
class EngineOptions:
    group: str = "mallbridge-publisher"
    tenant_concurrency: int = 8
    backoff_base_s: float = 0.2
    backoff_max_s: float = 30.0
    revoke_grace_s: float = 15.0
    commit_interval_s: float = 1.0


class LaneEngine:
    def __init__(
        self,
        *,
        log_: EventLog,
        topics: Topics,
        tenants: Mapping[str, Tenant],
        gates: Mapping[str, TenantGate],
        client: MallClient,
        metrics: PublisherMetrics,
        clock: Callable[[], datetime],
        options: EngineOptions = EngineOptions(),
    ) -> None:
        self._log = log_
        self._topics = topics
        self._tenants = tenants
        self._gates = gates
        self._client = client
        self._metrics = metrics
        self._clock = clock
        self._opt = options
        self._recorder = SyncRecorder(log_, topics.sync_events, clock=clock, on_unavailable=self._log_trouble)
        self._trouble_since: float | None = None
        self.states: dict[Key, OrderState] = {}
        self._partition_of: dict[Key, int] = {}
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._dirty: set[Key] = set()
        self._stopping: set[Key] = set()
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._failures: dict[Key, int] = defaultdict(int)
        self._pending: dict[int, dict[int, Key]] = defaultdict(dict)
        self._offsets_of: dict[Key, list[tuple[int, int]]] = defaultdict(list)
        self._next_offset: dict[int, int] = {}
        self._assigned: frozenset[int] = frozenset()
        self._subscription: Subscription | None = None
        # Held while partitions are rebuilt: records the consumer hands out meanwhile must wait, or an
        # order would be planned before its sync events are folded (and a status sent twice).
        self._rebuilding = asyncio.Lock()
        self.ready = asyncio.Event()

    # ---- lifecycle -------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        topics = [self._topics.order_events, self._topics.sync_events, self._topics.dead_letter]
        await self._log.ensure_topics(topics)
        await self._subscribe()
        loop = asyncio.get_running_loop()
        last_commit = loop.time()
        try:
            while not stop.is_set():
                subscription = self._subscription
                assert subscription is not None
                try:
                    for record in await subscription.poll(timeout_s=0.2):
                        await self._consume(record)
                    self.ready.set()
                    if loop.time() - last_commit >= self._opt.commit_interval_s:
                        last_commit = loop.time()
                        await self._commit()
                        await self._recover_after_trouble()
                except LogUnavailableError as exc:
                    self._log_trouble()
                    # The broker is away: in-flight orders keep retrying their own writes; the consumer
                    # reconnects by itself. Nothing is committed meanwhile, so nothing can be skipped.
                    self.ready.clear()
                    log.warning("event log unavailable; waiting", extra={"error": str(exc)})
                    await asyncio.sleep(1.0)
                    with contextlib.suppress(LogUnavailableError):
                        await self._recover_after_trouble()
        finally:
            await self._drain()
            with contextlib.suppress(Exception):
                await self._commit()
            if self._subscription is not None:
                await self._subscription.close()

    async def _subscribe(self) -> None:
        self._subscription = await self._log.subscribe(
            self._topics.order_events, group=self._opt.group, on_assigned=self._on_assigned, on_revoked=self._on_revoked
        )

    def _log_trouble(self) -> None:
        if self._trouble_since is None:
            self._trouble_since = asyncio.get_running_loop().time()

    async def _recover_after_trouble(self) -> None:
        """After the log was away, join the group afresh once it answers again.

        A consumer that lived through a broker outage can stay a member yet never fetch again (a known
        failure mode of Kafka clients); rejoining rebuilds from the log, which is always safe here.
        """
        if self._trouble_since is None or not await self._log.ping():
            return
        self._trouble_since = None
        log.warning("event log is back; rejoining the consumer group")
        old = self._subscription
        if old is not None:
            await self._on_revoked(self._assigned)
            log.info("orders stopped; closing the old consumer")
            await old.close()
        await self._subscribe()
        log.info("rejoined the consumer group")

    async def _drain(self) -> None:
        """Graceful stop: let in-flight steps finish (bounded), then cancel what still waits."""
        await self._stop_orders(set(self._tasks))

    # ---- partitions ------------------------------------------------------------------------------------

    async def _on_assigned(self, partitions: frozenset[int]) -> Mapping[int, int]:
        self._assigned = self._assigned | partitions
        async with self._rebuilding:
            delay = 0.5
            while True:
                try:
                    await self._rebuild(partitions)  # folding is idempotent, so a retry starts over safely
                    break
                except LogUnavailableError as exc:
                    log.warning("rebuild failed; retrying", extra={"error": str(exc)})
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
        for key, partition in list(self._partition_of.items()):
            if partition in partitions:
                self._schedule(key)
        return {}  # resume at the committed offset; what lies before it is already folded

    async def _on_revoked(self, partitions: frozenset[int]) -> None:
        keys = {k for k, p in self._partition_of.items() if p in partitions}
        await self._stop_orders(keys)
        try:
            await self._commit()
        except LogUnavailableError:
            self._log_trouble()  # correctness never depends on this commit; the next owner rebuilds
        for key in keys:
            self.states.pop(key, None)
            self._partition_of.pop(key, None)
            self._offsets_of.pop(key, None)
            self._failures.pop(key, None)
        for p in partitions:
            self._pending.pop(p, None)
            self._next_offset.pop(p, None)
        self._assigned = self._assigned - partitions

    async def _rebuild(self, partitions: frozenset[int]) -> None:
        """Fold both topics of the assigned partitions from offset 0.

        A lane also folds its tenants' history from the default lane's topics first: a tenant moved to a
        lane keeps what MALL already has (same partition count on both, so the same partition numbers).
        """
        sources: list[tuple[str, Any, bool]] = []
        for lane in self._topics.history():
            history_only = lane != self._topics  # the default lane's topics, read for this lane's tenants
            sources += [
                (lane.sync_events, decode_sync_event, history_only),
                (lane.order_events, decode_order_event, history_only),
            ]
        for topic, decode, only_my_tenants in sources:
            ends = await self._log.end_offsets(topic)
            skip = {p: end for p, end in ends.items() if p not in partitions}
            async for batch in self._log.replay(topic, start=skip):
                for record in batch:
                    try:
                        event: Event = decode(record.value)
                    except EventDecodeError:
                        continue  # dead-lettered when the subscription reaches it
                    if not event.order_number or (only_my_tenants and event.tenant_id not in self._tenants):
                        continue
                    self._fold(event, record.partition)

    def _fold(self, event: Event, partition: int) -> Key:
        key = (event.tenant_id, event.order_number)
        self.states[key] = apply(self.states.get(key), event)
        self._partition_of[key] = partition
        return key

    # ---- consuming -------------------------------------------------------------------------------------

    async def _consume(self, record: LogRecord) -> None:
        async with self._rebuilding:
            await self._consume_one(record)

    async def _consume_one(self, record: LogRecord) -> None:
        p = record.partition
        self._next_offset[p] = record.offset + 1
        try:
            event = decode_order_event(record.value)
        except EventDecodeError as exc:
            await self._dead_letter(record, str(exc))
            return
        if not event.order_number:
            return  # a tenant-level receipt (MallWebhookReceived): no order to fold; its offset is done
        key = self._fold(event, p)
        self._pending[p][record.offset] = key
        self._offsets_of[key].append((p, record.offset))
        self._schedule(key)

    async def _dead_letter(self, record: LogRecord, error: str) -> None:
        headers = (
            ("source-topic", record.topic.encode()),
            ("source-partition", str(record.partition).encode()),
            ("source-offset", str(record.offset).encode()),
            ("error", error[:2000].encode()),
        )
        dead = OutgoingRecord(record.key or b"", record.value, headers)
        await self._recorder.append_until_written(self._topics.dead_letter, dead, what="dead letter")
        self._metrics.dead_letters.inc()
        log.warning(
            "undecodable order event moved to dead-letter",
            extra={"partition": record.partition, "offset": record.offset},
        )

    async def _commit(self) -> None:
        if self._subscription is None:
            return
        offsets: dict[int, int] = {}
        for p in self._assigned:
            pending = self._pending.get(p)
            if pending:
                offsets[p] = min(pending)
            elif p in self._next_offset:
                offsets[p] = self._next_offset[p]
            self._metrics.lag.labels(self._topics.order_events, str(p)).set(len(pending or ()))
        if offsets:
            await self._subscription.commit(offsets)

    # ---- per-order work --------------------------------------------------------------------------------

    def _schedule(self, key: Key) -> None:
        if key in self._stopping:
            return
        task = self._tasks.get(key)
        if task is not None and not task.done():
            self._dirty.add(key)
            return
        self._tasks[key] = asyncio.create_task(self._work(key), name=f"order {key[0]}:{key[1]}")

    async def _work(self, key: Key) -> None:
        try:
            while True:
                self._dirty.discard(key)
                await self._reconcile(key)
                if key not in self._dirty:
                    break
            self._settle_offsets(key)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("order reconciliation failed; retrying", extra={"tenant": key[0], "order": key[1]})
            await self._backoff(key)
            self._tasks.pop(key, None)
            self._schedule(key)

    def _settle_offsets(self, key: Key) -> None:
        for p, offset in self._offsets_of.pop(key, []):
            self._pending.get(p, {}).pop(offset, None)

    async def _stop_orders(self, keys: set[Key]) -> None:
        self._stopping |= keys
        for key in keys:
            timer = self._timers.pop(key, None)
            if timer is not None:
                timer.cancel()
        tasks = [t for k, t in self._tasks.items() if k in keys and not t.done()]
        if tasks:
            _, still = await asyncio.wait(tasks, timeout=self._opt.revoke_grace_s)
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)
        for key in keys:
            self._tasks.pop(key, None)
            self._dirty.discard(key)
        self._stopping -= keys

    async def _reconcile(self, key: Key) -> None:
        while key not in self._stopping:
            state = self.states[key]
            tenant = self._tenants.get(state.tenant_id)
            if tenant is None:
                # A tenant of another lane (moved there, or a stale tenants file): its lane's publishers own it.
                log.debug("order of a tenant this lane does not serve ignored", extra={"tenant": state.tenant_id})
                return
            current = plan(state, now=self._clock())
            if current.read_first:
                await self._read_mall(tenant, state)
            elif current.steps:
                await self._send(tenant, state, current.steps[0])
            else:
                await self._record_notes(state, current)
                return

    # ---- MALL calls ------------------------------------------------------------------------------------

    async def _record(self, event: SyncEventBase) -> None:
        await self._recorder.write(event)
        key = (event.tenant_id, event.order_number)
        if key in self.states:
            self.states[key] = apply(self.states[key], event)

    async def _send(self, tenant: Tenant, state: OrderState, step: PutStep) -> None:
        key = (state.tenant_id, state.order_number)
        gate = self._gates[tenant.tenant_id]
        request_no = state.mall.last_request_no + 1
        envelope = self._recorder.envelope(state)
        await self._record(
            MallUpdateRequested(**envelope, request_no=request_no, status=step.status, request=step.body)
        )
        attempts = 0
        while True:
            attempts += 1
            try:
                async with gate.slot():
                    answer = await self._client.put_order(tenant, state.mall_order_id, step.body)
            except MallRateLimited as exc:
                gate.rate_limited(exc.retry_after_s)
                self._metrics.retries.labels(tenant.tenant_id, "rate_limited").inc()
                continue
            except MallUnauthorized as exc:
                await self._pause_tenant(tenant, state, exc)
                continue
            except MallOutcomeUnknown as exc:
                # The PUT may have landed: leave the request in doubt, so the next pass reads MALL first.
                self._metrics.retries.labels(tenant.tenant_id, "outcome_unknown").inc()
                log.info(
                    "MALL outcome unknown; will read the order",
                    extra={"tenant": tenant.tenant_id, "order": state.order_number, "error": str(exc)},
                )
                await self._backoff(key)
                return
            except MallRejected as exc:
                await self._rejected(state, request_no, step, exc)
                return
            break
        await self._resume_tenant(tenant, state)
        self._failures.pop(key, None)
        self._metrics.updates_sent.labels(tenant.tenant_id, step.status.value).inc()
        self._metrics.put_latency.labels(tenant.tenant_id).observe(answer.latency_ms / 1000)
        await self._record(
            MallStatusUpdated(
                **self._recorder.envelope(state),
                request_no=request_no,
                status=step.status,
                request=step.body,
                http_status=answer.http_status,
                latency_ms=round(answer.latency_ms, 3),
                attempts=attempts,
            )
        )

    async def _rejected(
        self, state: OrderState, request_no: int, step: PutStep, exc: MallError, *, based_on_seq: int | None = None
    ) -> None:
        self._metrics.rejected.labels(state.tenant_id).inc()
        await self._record(
            MallUpdateRejected(
                **self._recorder.envelope(state, based_on_seq=based_on_seq),
                request_no=request_no,
                status=step.status,
                request=step.body,
                http_status=exc.http_status,
                response=exc.body,
                message=str(exc),
            )
        )

    async def _read_mall(self, tenant: Tenant, state: OrderState) -> None:
        key = (state.tenant_id, state.order_number)
        gate = self._gates[tenant.tenant_id]
        self._metrics.reads.labels(tenant.tenant_id).inc()
        try:
            async with gate.slot():
                data = await self._client.get_order(tenant, state.mall_order_id)
        except MallRateLimited as exc:
            gate.rate_limited(exc.retry_after_s)
            return
        except MallUnauthorized as exc:
            await self._pause_tenant(tenant, state, exc)
            return
        except MallRejected as exc:
            # MALL does not know the order (404): the PUT in doubt cannot have landed either, so it is
            # recorded as refused, with what it asked for and the order-event seq it was decided on.
            doubt = state.mall.in_doubt
            if doubt is None:  # never after a fold from the log: every PUT is recorded as requested first
                doubt = RequestInDoubt(MallStatus.OPEN, {}, state.fc.seq)
            step = PutStep(doubt.status, doubt.body)
            await self._rejected(state, state.mall.last_request_no, step, exc, based_on_seq=doubt.based_on_seq)
            return
        except MallError as exc:
            log.info(
                "MALL read failed; retrying",
                extra={"tenant": tenant.tenant_id, "order": state.order_number, "error": str(exc)},
            )
            await self._backoff(key)
            return
        await self._resume_tenant(tenant, state)
        await self._record(_observed(self._recorder.envelope(state), state.mall.last_request_no, data))

    async def _pause_tenant(self, tenant: Tenant, state: OrderState, exc: MallError) -> None:
        gate = self._gates[tenant.tenant_id]
        if not gate.paused:
            reason = (
                f"MALL refused the tenant's client_id (HTTP {exc.http_status}). All of this tenant's updates are "
                "paused and retried every 30 s; check mall_client_id in the tenants file and the Partner account."
            )
            await self._recorder.write(
                AttentionNeeded(
                    **{**self._recorder.envelope(state), "order_number": "", "mall_order_id": ""},
                    code="mall_unauthorized",
                    reason=reason,
                    scope="tenant",
                )
            )
            self._metrics.attention.labels(tenant.tenant_id, "mall_unauthorized").inc()
            log.error(
                "tenant paused: MALL refused its client_id",
                extra={"tenant": tenant.tenant_id, "http_status": exc.http_status},
            )
        gate.pause()

    async def _resume_tenant(self, tenant: Tenant, state: OrderState) -> None:
        gate = self._gates[tenant.tenant_id]
        if gate.paused:
            gate.resume()
            await self._recorder.write(
                AttentionResolved(
                    **{**self._recorder.envelope(state), "order_number": "", "mall_order_id": ""},
                    code="mall_unauthorized",
                    scope="tenant",
                )
            )

    async def _record_notes(self, state: OrderState, current: Plan) -> None:
        """Record a deferral or attention item when it is new; resolve attention that no longer applies."""
        deferral, attention = current.deferral, current.attention
        envelope = self._recorder.envelope(state)
        if deferral is not None and deferral != state.mall.deferral:
            self._metrics.deferred.labels(state.tenant_id).inc()
            await self._record(
                StepDeferred(**envelope, status=deferral.status, reason=deferral.reason, until=deferral.until)
            )
        if attention is not None and attention.code != state.mall.attention_code:
            self._metrics.attention.labels(state.tenant_id, attention.code).inc()
            await self._record(AttentionNeeded(**envelope, code=attention.code, reason=attention.reason))
        elif attention is None and state.mall.attention_code is not None:
            await self._record(AttentionResolved(**envelope, code=state.mall.attention_code))
        if deferral is not None and deferral.until is not None:
            self._wake_at((state.tenant_id, state.order_number), deferral.until)

    def _wake_at(self, key: Key, moment: datetime) -> None:
        delay = max(0.0, (moment - self._clock()).total_seconds()) + 0.05
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        self._timers[key] = asyncio.get_running_loop().call_later(delay, self._schedule, key)

    async def _backoff(self, key: Key) -> None:
        self._failures[key] += 1
        ceiling = min(self._opt.backoff_max_s, self._opt.backoff_base_s * 2 ** min(self._failures[key], 10))
        await asyncio.sleep(random.uniform(ceiling / 2, ceiling))

    def open_attention(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for (tenant, _), state in self.states.items():
            if state.mall.attention_code is not None:
                counts[tenant] += 1
        return counts


def _observed(envelope: dict[str, Any], request_no: int, data: dict[str, Any]) -> MallStateObserved:
    status_text = str(data.get("status", "")).lower()
    status = MallStatus(status_text) if status_text in {s.value for s in MallStatus} else MallStatus.OPEN
    return MallStateObserved(
        **envelope,
        request_no=request_no,
        status=status,
        confirmed=bool(data.get("confirmed", False)),
        tracking_number=data.get("tracking_number") or None,
        tracking_url=data.get("tracking_url") or None,
        delivered_at=str(data["delivered_at"]) if data.get("delivered_at") else None,
    )
