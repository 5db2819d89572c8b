"""The ingest application service: validated snapshots in, change events durably in the log out.

It keeps the last known state of every order in memory, rebuilt at startup by replaying the service's
own order-events topics from offset 0. A batch is planned by the pure domain, written with one
`EventLog.append`, and only then does the in-memory state move on: a failed write changes no facts,
so the same snapshots produce the same events when retried.

Concurrency: batches that touch the same order are serialized by a lock per order (taken in sorted
order, so two batches never deadlock); batches with no order in common run side by side. Seq numbers
are therefore consistent within one process; several processes writing the same tenant must be avoided
(route a tenant to one writer).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from mallbridge_core.eventlog.port import EventLog, OutgoingRecord
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import DEFAULT_LANE, Topics
from mallbridge_ingest.domain import BatchPlan, OrderState, Rejection, after_failed_write, plan_batch
from mallbridge_ingest.domain.state import UNKNOWN
from mallbridge_ingest.keyed_locks import KeyedLocks
from mallbridge_ingest.mall_ids import MallIdBook, PendingId
from mallbridge_ingest.mall_webhook import late_mall_changes, with_pending_mall_changes
from mallbridge_ingest.metrics import IngestMetrics
from mallbridge_ingest.rebuild import OrderFilter, fold_order_events
from mallbridge_ingest.state_store import StateStore
from mallbridge_schema.events import Event
from mallbridge_schema.serde import encode_event, event_key
from mallbridge_schema.snapshot import OrderSnapshot

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


class NotReadyError(RuntimeError):
    """The last known state is not rebuilt yet; nothing can be compared."""


class BatchRejectedError(ValueError):
    """An all-or-nothing batch with at least one refused snapshot: nothing was written."""

    def __init__(self, rejections: Sequence[Rejection]) -> None:
        super().__init__(f"{len(rejections)} snapshot(s) refused")
        self.rejections = tuple(rejections)


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    events: int
    changed: int
    unchanged: int
    stale: int = 0
    rejections: tuple[Rejection, ...] = ()


@dataclass(frozen=True, slots=True)
class PreparedWrite:
    """A batch planned and encoded but not written yet (`IngestService.prepare_write`)."""

    tenant_id: str
    source: str
    count: int  # snapshots given
    plan: BatchPlan  # what the snapshots call for (what is counted)
    written: BatchPlan  # the plan with MALL's pending changes after it: what is appended
    claims: dict[str, PendingId]  # pending MALL ids the written plan answers
    records: tuple[OutgoingRecord, ...]


@dataclass(frozen=True, slots=True)
class RebuildReport:
    topics: tuple[str, ...]
    events: int
    orders: int
    undecodable: int
    seconds: float


class IngestService:
    def __init__(
        self,
        *,
        log: EventLog,
        tenants: Mapping[str, Tenant],
        topics: Topics,
        metrics: IngestMetrics,
        clock: Clock,
        hot_orders: int = 0,
    ) -> None:
        """`hot_orders`: per tenant, how many last known states stay in memory, the rest spilled to a
        temporary file (`state_store.py`); 0 keeps every one in memory."""
        self._log = log
        self._tenants = tenants
        self._topics = topics
        self._metrics = metrics
        self._clock = clock
        self._store = StateStore(hot_orders)
        self._known: dict[str, MutableMapping[str, OrderState]] = {}
        self._locks = KeyedLocks()
        self._ready = False
        self.mall_ids = MallIdBook()  # MALL order id -> order, and the ids MALL's webhook named first (mall_ids.py)
        metrics.orders_in_memory.set_function(self.orders_in_memory)

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def tenants(self) -> Mapping[str, Tenant]:
        return self._tenants

    def clock(self) -> datetime:
        return self._clock()

    def check_ready(self) -> None:
        """Raise NotReadyError while the last known state is being rebuilt."""
        if not self._ready:
            raise NotReadyError("the last known order state is still being rebuilt")

    def topic_for(self, tenant_id: str) -> str:
        return self._topics.for_lane(self._tenants[tenant_id].lane).order_events

    def topics_to_replay(self, tenant_ids: Collection[str]) -> list[str]:
        """The default lane's topic always comes first: a tenant moved to a lane keeps its earlier history."""
        lanes = {self._topics.for_lane(self._tenants[t].lane) for t in tenant_ids}
        topics = [history.order_events for lane in lanes for history in lane.history()]
        default = self._topics.for_lane(DEFAULT_LANE).order_events
        return [default, *sorted(set(topics) - {default})]

    def known_state(self, tenant_id: str, order_number: str) -> OrderState:
        return self._known.get(tenant_id, {}).get(order_number, UNKNOWN)

    def known_orders(self, tenant_id: str) -> MutableMapping[str, OrderState]:
        """The tenant's last known states (live: change them only while holding the orders' locks)."""
        known = self._known.get(tenant_id)
        if known is None:
            known = self._known[tenant_id] = self._store.orders()
        return known

    def orders_in_memory(self) -> int:
        """Last known states held in memory (all of them when `hot_orders` is 0)."""
        return sum(getattr(orders, "in_memory", len(orders)) for orders in self._known.values())

    def close(self) -> None:
        """Remove the file the states spilled to (the service is not used after this)."""
        self._store.close()

    @contextlib.asynccontextmanager
    async def holding(self, tenant_id: str, orders: Collection[str]) -> AsyncIterator[None]:
        """Hold the per-order locks of the tenant's `orders` (what a write of their events needs)."""
        async with self._locks.hold((tenant_id, order) for order in orders):
            yield

    async def prepare(
        self, tenant_ids: Collection[str] | None = None, *, owns_order: OrderFilter | None = None
    ) -> RebuildReport:
        """Create the topics if needed and rebuild the last known state; then the service is ready."""
        wanted = list(tenant_ids if tenant_ids is not None else self._tenants)
        await self._log.ensure_topics(self.topics_to_replay(wanted))
        return await self.rebuild(wanted, owns_order=owns_order)

    async def rebuild(self, tenant_ids: Collection[str], *, owns_order: OrderFilter | None = None) -> RebuildReport:
        """Replay the tenants' order events into the last known state.

        `owns_order` (given the order number as UTF-8 bytes) limits the state to the orders this process
        writes, e.g. one worker of a parallel import; the others are skipped before they are decoded.
        """
        started = time.perf_counter()
        wanted = set(tenant_ids)
        topics = self.topics_to_replay(wanted)
        store = StateStore(self._store.hot_orders)
        known = {t: store.orders() for t in wanted}
        mall_ids = MallIdBook(store.mall_ids)
        try:
            folded, undecodable = await fold_order_events(self._log, known, mall_ids, topics, owns_order)
        except BaseException:
            store.close()  # the state in place stays as it was
            raise
        mall_ids.finish_rebuild()
        self._store.close()
        self._store = store
        self._known = known
        self.mall_ids = mall_ids
        self._ready = True
        report = RebuildReport(
            tuple(topics), folded, sum(map(len, known.values())), undecodable, time.perf_counter() - started
        )
        self._metrics.known_orders.set(report.orders)
        self._metrics.rebuild_seconds.set(report.seconds)
        self._metrics.rebuild_events.set(report.events)
        self._metrics.ready.set(1)
        for tenant_id in wanted:
            self._count_shared_mall_ids(tenant_id)
        return report

    async def ingest(
        self,
        tenant_id: str,
        snapshots: Sequence[tuple[int, OrderSnapshot]],
        *,
        source: str,
        all_or_nothing: bool = True,
        received_at: datetime | None = None,
    ) -> IngestResult:
        """Plan and write the events of `(index, snapshot)` pairs for a configured tenant.

        Raises NotReadyError before the state is rebuilt, BatchRejectedError (nothing written) when
        `all_or_nothing` and a snapshot conflicts, and LogUnavailableError when the log did not
        acknowledge the write (no facts advance).
        """
        self.check_ready()
        received = received_at or self._clock()
        async with self._locks.hold((tenant_id, s.order_number) for _, s in snapshots):
            prepared = self.prepare_write(
                tenant_id, snapshots, source=source, all_or_nothing=all_or_nothing, received_at=received
            )
            return await self.commit_write(prepared)

    def prepare_write(
        self,
        tenant_id: str,
        snapshots: Sequence[tuple[int, OrderSnapshot]],
        *,
        source: str,
        all_or_nothing: bool,
        received_at: datetime | None = None,
        after: PreparedWrite | None = None,
    ) -> PreparedWrite:
        """The first half of `ingest`, without awaiting anything: plan the snapshots and encode the events.

        `after`, a prepared write not acknowledged yet, is taken as durable: the plan starts from the
        states it leads to (an import plans its next chunk while the log acknowledges the one before). If
        `after` then fails, this one must be dropped (`abandon_write`), never committed. The caller holds
        the orders' locks, or is the only writer of the tenant's orders (an import worker).
        Raises BatchRejectedError (nothing claimed, nothing written) as `ingest` does.
        """
        self.check_ready()
        recorded = self._clock()
        plan = plan_batch(
            self.known_orders(tenant_id),
            snapshots,
            tenant_id=tenant_id,
            received_at=received_at or recorded,
            recorded_at=recorded,
            unacknowledged=None if after is None else after.written.states,
        )
        if plan.rejections and all_or_nothing:
            self._metrics.snapshots_rejected.labels(tenant_id, source).inc(len(plan.rejections))
            raise BatchRejectedError(plan.rejections)
        # An order the webhook named before any snapshot did gets its MallOrderChanged after its events.
        written, claims = with_pending_mall_changes(self.mall_ids, tenant_id, plan, recorded_at=recorded)
        return PreparedWrite(
            tenant_id, source, len(snapshots), plan, written, claims, self._records(tenant_id, written.events)
        )

    async def commit_write(self, prepared: PreparedWrite) -> IngestResult:
        """The second half of `ingest`: append the prepared events, then advance the state and count.

        A failed append keeps the facts, reserves the seqs it used, puts its claims back and raises.
        """
        tenant_id, plan, written = prepared.tenant_id, prepared.plan, prepared.written
        try:
            await self._append(tenant_id, written, prepared.records)
        except BaseException:
            self.mall_ids.restore(tenant_id, prepared.claims)
            raise
        self.count_events(tenant_id, written.events[len(plan.events) :])
        await late_mall_changes(self, tenant_id, plan.states)
        return self._account(tenant_id, prepared.source, prepared.count, plan)

    def abandon_write(self, prepared: PreparedWrite) -> None:
        """A prepared write that will not be committed (the one it was prepared after failed)."""
        self.mall_ids.restore(prepared.tenant_id, prepared.claims)

    async def write(self, tenant_id: str, plan: BatchPlan, *, lead: Sequence[Event] = ()) -> None:
        """Append `lead` (tenant-level events) and the plan's events in one append, then advance the state.

        The caller holds the locks of the plan's orders. A failed write keeps the facts and reserves the
        seqs (`after_failed_write`) and raises.
        """
        if not plan.events and not lead:
            return
        await self._append(tenant_id, plan, self._records(tenant_id, (*lead, *plan.events)))

    def _records(self, tenant_id: str, events: Sequence[Event]) -> tuple[OutgoingRecord, ...]:
        return tuple([OutgoingRecord(event_key(tenant_id, e.order_number), encode_event(e)) for e in events])

    async def _append(self, tenant_id: str, plan: BatchPlan, records: Sequence[OutgoingRecord]) -> None:
        """Append `records` (the plan's events, maybe led by tenant-level ones), then advance the state."""
        if not records:
            return
        known = self.known_orders(tenant_id)
        try:
            await self._log.append(self.topic_for(tenant_id), records)
        except BaseException:
            known.update(after_failed_write(known, plan))
            raise
        new_orders = [order for order in plan.states if (had := known.get(order)) is None or not had.seen]
        known.update(plan.states)
        for order in new_orders:
            mall_order_id = known[order].mall_order_id
            if (holder := self.mall_ids.note_order(tenant_id, mall_order_id, order)) is not None:
                self._shared_mall_id(tenant_id, mall_order_id, order, holder)
        if new_orders:
            self._metrics.known_orders.inc(len(new_orders))

    def _shared_mall_id(self, tenant_id: str, mall_order_id: str, order: str, holder: str) -> None:
        """A new order names a MALL order another order already named: written, and told (not refused)."""
        self._count_shared_mall_ids(tenant_id)
        log.warning(
            "two FastCentrik orders name one MALL order: both orders' statuses go to it",
            extra={"tenant": tenant_id, "mall_order_id": mall_order_id, "order": order, "first_order": holder},
        )

    def _count_shared_mall_ids(self, tenant_id: str) -> None:
        self._metrics.shared_mall_ids.labels(tenant_id).set(len(self.mall_ids.shared(tenant_id)))

    def _account(self, tenant_id: str, source: str, count: int, plan: BatchPlan) -> IngestResult:
        m = self._metrics
        accepted = count - len(plan.rejections)
        m.accepted.labels(tenant_id, source).inc(accepted)
        m.changed.labels(tenant_id, source).inc(plan.changed)
        m.unchanged.labels(tenant_id, source).inc(plan.unchanged)
        if plan.stale:
            m.stale.labels(tenant_id, source).inc(plan.stale)
        if plan.rejections:
            m.snapshots_rejected.labels(tenant_id, source).inc(len(plan.rejections))
        self.count_events(tenant_id, plan.events)
        return IngestResult(accepted, len(plan.events), plan.changed, plan.unchanged, plan.stale, plan.rejections)

    def count_events(self, tenant_id: str, events: Sequence[Event]) -> None:
        """Count durably written events by type (`events_written`)."""
        for kind, n in Counter(type(event).__name__ for event in events).items():
            self._metrics.events.labels(tenant_id, kind).inc(n)
