"""One lane's publisher: consume order events, keep the projection, reconcile each order with MALL.

Correctness does not hang on consumer offsets: the pending work of an order is "desired MALL status ≠
MALL status as recorded in sync-events", which `_on_assigned` rebuilds from both topics (offset 0) for
every partition this member receives (`rebuild.py`). Offsets are committed only up to the lowest order
event whose order has not settled yet (`offsets.py`).

The parts: `OrderBook` (the projection, and the state gauges that follow it), `OffsetBook`,
`OrderScheduler` (one task per order), `OrderPass` (what that task runs: one reconciliation pass),
`MallCalls` (the MALL calls, around the pure `outcomes`), `OperatorTail` (operator-events, followed
live), `UnconfirmedPoll` (MALL's unconfirmed queue), `UnknownOrdersBook` (the MALL orders the shop never
got, as `mallbridge balance` last saw them). This module composes them: the consumer loop and the
rebalance callbacks.

MALL's notices (ARCHITECTURE.md §6): a `MallOrderChanged` (MALL's webhook named the order) or the poll asks for a
read of the order (`request_read`). Several notices before the read are one read; any read of the order
answers the notices that came before it started. A read on a notice records what MALL says only when it
differs from what the log last said. The notice's offset stays unsettled until the read is done, so a
restart before it reads again (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from mallbridge_core.backoff import Backoff
from mallbridge_core.domain.plans import ReadSource
from mallbridge_core.eventlog import EventLog, LogRecord, LogUnavailableError, Subscription
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_publisher.gauges import StateGauges
from mallbridge_publisher.mall_calls import MallCalls
from mallbridge_publisher.metrics import PublisherMetrics, count_recorded
from mallbridge_publisher.offsets import OffsetBook
from mallbridge_publisher.operator_tail import OperatorTail
from mallbridge_publisher.order_pass import OrderPass
from mallbridge_publisher.orders import Key, OrderBook
from mallbridge_publisher.ports import MallClient
from mallbridge_publisher.rebuild import NoticesSeen, TenantItemsSeen, fold_partitions
from mallbridge_publisher.recorder import SyncRecorder, dead_letter
from mallbridge_publisher.scheduler import OrderScheduler
from mallbridge_publisher.tenant_effects import UNAUTHORIZED
from mallbridge_publisher.tenant_gate import TenantGate
from mallbridge_publisher.unconfirmed_poll import UnconfirmedPoll
from mallbridge_publisher.unknown_orders import UnknownOrdersBook
from mallbridge_schema.events import Event, MallOrderChanged, SyncEventBase
from mallbridge_schema.serde import EventDecodeError, decode_order_event

log = logging.getLogger(__name__)

YIELD_EVERY = 50
"""Records consumed between two turns of the event loop: a batch holds up to 500 records, and 50 of them
take a few ms, so the answers of the requests in flight are not held up longer than that."""


DOUBT_MARGIN_S = 1.0
"""A PUT with no answer in time is read this long after the client's read timeout has passed (its request
may still be in MALL's hands for about as long as we waited)."""


@dataclass(frozen=True)
class EngineOptions:
    group: str = "mallbridge-publisher"
    backoff_base_s: float = 0.2
    backoff_max_s: float = 30.0
    revoke_grace_s: float = 15.0
    commit_interval_s: float = 1.0
    operator_tail_interval_s: float = 1.0
    mall_page_size: int = 1000
    hot_orders: int = 0  # orders whose record stays in memory, the rest in a temporary file (0: all in memory)
    doubt_settle_s: float = 11.0  # how long after a PUT in doubt went out MALL is read (see OrderPass._settles_at)


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
        self._metrics = metrics
        self._clock = clock
        self._opt = options
        self._recorder = SyncRecorder(log_, topics.sync_events, clock=clock, on_unavailable=self._log_trouble)
        self._trouble_since: float | None = None
        self.orders = OrderBook(StateGauges(metrics, tenants), hot_orders=options.hot_orders)
        metrics.orders.labels(topics.lane).set_function(lambda: len(self.orders))
        metrics.orders_in_memory.labels(topics.lane).set_function(lambda: self.orders.in_memory)
        self._offsets = OffsetBook()
        self._scheduler = OrderScheduler(
            lambda key: self._pass.run(key),
            on_done=self._offsets.settle,
            backoff=lambda: Backoff(base_s=options.backoff_base_s, cap_s=options.backoff_max_s),
            grace_s=options.revoke_grace_s,
        )
        self._mall = MallCalls(
            client=client, gates=gates, metrics=metrics, stamp=self._recorder.stamp, record=self._record
        )
        self.unknown_orders = UnknownOrdersBook(tenants)
        for tenant_id in tenants:  # read at each scrape: 0 for a tenant with no observation held
            metrics.unknown_mall_orders.labels(tenant_id).set_function(
                functools.partial(self.unknown_orders.total, tenant_id)
            )
        self._tail = OperatorTail(
            log_, topics.operator_events, fold=self._fold_operator_event, fold_tenant=self.unknown_orders.fold
        )
        self._reads_wanted: dict[Key, ReadSource] = {}
        self._pass = OrderPass(
            orders=self.orders,
            tenants=tenants,
            gates=gates,
            scheduler=self._scheduler,
            mall=self._mall,
            record=self._record,
            stamp=self._recorder.stamp,
            reads_wanted=self._reads_wanted,
            clock=clock,
            doubt_settle_s=options.doubt_settle_s,
        )
        self._rebuilt_up_to: dict[int, int] = {}  # order-events partition -> the offset its rebuild read up to
        # the tenants' 401 items this instance has seen, rebuilt and written (a rebuild of one more partition
        # must not take an item this instance resolved since for open)
        self._tenant_items = TenantItemsSeen(UNAUTHORIZED)
        self._poll = UnconfirmedPoll(
            client=client,
            gates=gates,
            orders=self.orders,
            request_read=lambda key: self.request_read(key, "poll"),
            metrics=metrics,
            stamp=self._recorder.stamp,
            record=self._record,
            page_size=options.mall_page_size,
        )
        self._subscription: Subscription | None = None
        # Held while partitions are rebuilt: records the consumer hands out meanwhile must wait, or an
        # order would be planned before its sync events are folded (and a status sent twice).
        self._rebuilding = asyncio.Lock()
        self.ready = asyncio.Event()

    @property
    def tenant_ids(self) -> list[str]:
        """The tenants this lane serves."""
        return list(self._tenants)

    # ---- lifecycle -------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        topics = self._topics
        await self._log.ensure_topics(
            [topics.order_events, topics.sync_events, topics.dead_letter, topics.operator_events]
        )
        await self._subscribe()
        poll = asyncio.create_task(self._poll.run(self._tenants, ready=self.ready, stop=stop), name="unconfirmed-poll")
        try:
            await self._consume_until(stop)
        finally:
            poll.cancel()
            await asyncio.gather(poll, return_exceptions=True)
            await self._scheduler.stop_all()
            with contextlib.suppress(Exception):
                await self._commit()
            if self._subscription is not None:
                await self._subscription.close()

    async def _consume_until(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        last_commit = last_tail = loop.time()
        while not stop.is_set():
            subscription = self._subscription
            assert subscription is not None
            try:
                # The orders are planned once the whole batch is folded, not at each order's first record:
                # an order's later records in the batch (a MALL webhook's notice right after a first
                # snapshot, say) must count, or it might get a PUT MALL refuses (a blocked order).
                touched: dict[Key, None] = {}
                try:
                    for n, record in enumerate(await subscription.poll(timeout_s=0.2), 1):
                        key = await self._consume(record)
                        if key is not None:
                            touched[key] = None
                        if n % YIELD_EVERY == 0:
                            await asyncio.sleep(0)  # let the answers of requests in flight through
                finally:  # what was folded is planned, even when a later record could not be handled
                    for key in touched:
                        self._scheduler.schedule(key)
                self.ready.set()
                if loop.time() - last_tail >= self._opt.operator_tail_interval_s:
                    last_tail = loop.time()
                    await self._follow_operator_events()
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
            await self._on_revoked(self._offsets.assigned)
            log.info("orders stopped; closing the old consumer")
            await old.close()
        await self._subscribe()
        log.info("rejoined the consumer group")

    # ---- partitions ------------------------------------------------------------------------------------

    async def _on_assigned(self, partitions: frozenset[int]) -> Mapping[int, int]:
        self._offsets.assign(partitions)
        async with self._rebuilding:
            backoff = Backoff(base_s=0.5, cap_s=10.0)
            while True:
                notices = NoticesSeen(self.orders.fold)
                try:
                    read_up_to = await fold_partitions(
                        self._log,
                        self._topics,
                        partitions,
                        tenants=self._tenants,
                        fold=notices.fold,
                        fold_tenant=self._fold_tenant_event,
                    )
                    break
                except LogUnavailableError as exc:  # folding is idempotent: a retry starts over safely
                    log.warning("rebuild failed; retrying", extra={"error": str(exc)})
                    await backoff.sleep()
            self._tail.assign(partitions, read_up_to.get(self._topics.operator_events, {}))
            rebuilt = read_up_to.get(self._topics.order_events, {})
            self._rebuilt_up_to.update({p: rebuilt.get(p, 0) for p in partitions})
            for key in notices.unanswered():  # read before the first plan, as on the live path
                self._reads_wanted.setdefault(key, "webhook")
            for tenant_id in self._tenant_items.open_for():
                gate = self._gates.get(tenant_id)
                if gate is not None:
                    gate.pause_as_recorded()
        keys = self.orders.keys_in(partitions)
        self.orders.counted(keys)
        for key in keys:
            self._scheduler.schedule(key)
        return {}  # resume at the committed offset; what lies before it is already folded

    async def _on_revoked(self, partitions: frozenset[int]) -> None:
        for partition in partitions:
            self._rebuilt_up_to.pop(partition, None)
        keys = self.orders.keys_in(partitions)
        await self._scheduler.stop(keys)
        try:
            await self._commit()
        except LogUnavailableError:
            self._log_trouble()  # correctness never depends on this commit; the next owner rebuilds
        self.orders.drop(partitions, keys)
        self._offsets.revoke(partitions, keys)
        self._tail.revoke(partitions)
        self.unknown_orders.drop(partitions)
        for key in keys:
            self._reads_wanted.pop(key, None)
        for partition in partitions:
            self._metrics.lag.remove(self._topics.order_events, str(partition))

    # ---- consuming -------------------------------------------------------------------------------------

    async def _consume(self, record: LogRecord) -> Key | None:
        """Fold one order-events record; the order to plan (None: nothing to plan for it)."""
        async with self._rebuilding:
            try:
                event = decode_order_event(record.value)
            except EventDecodeError as exc:
                await self._dead_letter(record, str(exc))
                # passed only once it is in dead-letter: a commit meanwhile (a rebalance) must not skip it
                self._offsets.passed(record.partition, record.offset)
                return None
            if not event.order_number:
                # a tenant-level receipt (MallWebhookReceived): no order to fold; its offset is done
                self._offsets.passed(record.partition, record.offset)
                return None
            key = self.orders.fold_live(event, record.partition)
            self._offsets.consumed(record.partition, record.offset, key)
            if isinstance(event, MallOrderChanged) and record.offset >= self._rebuilt_up_to.get(record.partition, 0):
                # (a notice the rebuild folded is redelivered from the committed offset: the rebuild decided)
                self._reads_wanted.setdefault(key, "webhook")
            return key

    def request_read(self, key: Key, source: ReadSource) -> None:
        """Read `key`'s order at MALL on a notice (`source` "webhook" or "poll"): once, however many come."""
        if key in self.orders:
            self._reads_wanted.setdefault(key, source)
            self._scheduler.schedule(key)

    async def _follow_operator_events(self) -> None:
        news = await self._tail.read_news()
        if not news.events and not news.ranges:
            return
        async with self._rebuilding:
            keys = self._tail.apply(news)
        for key in keys:
            self._scheduler.schedule(key)

    def _fold_tenant_event(self, event: Event, partition: int) -> None:
        """A rebuilt event of no order: a tenant's own attention item (sync-events) or what balance saw of the
        MALL orders the shop never got (operator-events); each fold ignores the other's."""
        self._tenant_items.fold(event)
        self.unknown_orders.fold(event, partition)

    def _fold_operator_event(self, event: Event, partition: int) -> Key | None:
        if event.tenant_id not in self._tenants:
            return None  # another lane's tenant (a tenant moved lanes): its own lane's publishers act on it
        return self.orders.fold_live(event, partition)

    async def _dead_letter(self, record: LogRecord, error: str) -> None:
        await self._recorder.append_until_written(
            self._topics.dead_letter, dead_letter(record, error), what="dead letter"
        )
        self._metrics.dead_letters.inc()
        log.warning(
            "undecodable order event moved to dead-letter",
            extra={"partition": record.partition, "offset": record.offset},
        )

    async def _commit(self) -> None:
        if self._subscription is None:
            return
        for partition in self._offsets.assigned:
            unsettled = self._offsets.unsettled(partition)
            self._metrics.lag.labels(self._topics.order_events, str(partition)).set(unsettled)
        positions = self._offsets.positions()
        if positions:
            await self._subscription.commit(positions)

    async def _record(self, event: SyncEventBase) -> None:
        """Write a sync event durably, count it, then fold it into the projection."""
        await self._recorder.write(event)
        count_recorded(self._metrics, event)
        self.orders.record(event)
        if not event.order_number:
            self._tenant_items.fold(event)
