"""A tenant's turns: how many of its orders the engine works on at once (requests recorded, waiting for a
slot, answers recorded), so a burst keeps the slots busy without preparing every order at once."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Any

from pydantic import SecretStr

from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_publisher.bootstrap import PublisherService
from mallbridge_publisher.config import PublisherSettings
from mallbridge_publisher.metrics import PublisherMetrics
from mallbridge_publisher.ports import MallAnswer, MallOutcomeUnknown
from mallbridge_publisher.tenant_gate import TURNS_PER_SLOT, TenantGate
from mallbridge_schema.events import MallStatusUpdated, MallUpdateRequested, SyncEventBase
from mallbridge_schema.serde import decode_sync_event
from mallbridge_schema.statuses import MallStatus
from tests.support.orders import OrderEventWriter
from tests.unit.publisher.fakes import FakeEventLog, FakeMall
from tests.unit.publisher.running import eventually_on_loop, running_publisher
from tests.unit.publisher.spilled import run_each_test_with_orders_in_memory_and_spilled

PREFIX = "unit."
TOPICS = Topics(prefix=PREFIX)
TENANTS = {
    name: Tenant(tenant_id=name, mall_client_id=SecretStr(f"cid-{name}"), ingest_secret=None)
    for name in ("acme", "other")
}
SLOTS = 2
TURNS = SLOTS * TURNS_PER_SLOT
FAST = PublisherSettings(
    hot_orders=0,
    tenant_concurrency=SLOTS,
    backoff_base_s=0.001,
    backoff_max_s=0.01,
    pause_probe_s=0.05,
    shutdown_grace_s=1.0,
)
orders_kept = run_each_test_with_orders_in_memory_and_spilled(__name__)


class HeldMall(FakeMall):
    """A FakeMall whose answers to acme's PUTs wait until `release()` (MALL slow to answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.released = asyncio.Event()
        self.waiting = 0

    def release(self) -> None:
        self.released.set()

    async def put_order(self, tenant: Tenant, mall_order_id: str, body: dict[str, Any]) -> MallAnswer:
        if tenant.tenant_id == "acme":
            self.waiting += 1
            await self.released.wait()
        return await super().put_order(tenant, mall_order_id, body)


def running(
    log: FakeEventLog, mall: FakeMall, settings: PublisherSettings
) -> AbstractAsyncContextManager[PublisherService]:
    return running_publisher(log, mall, settings=settings, tenants=TENANTS, prefix=PREFIX)


def sync_events(log: FakeEventLog, tenant: str = "acme") -> list[SyncEventBase]:
    events = [decode_sync_event(r.value) for r in log.records(TOPICS.sync_events)]
    return [e for e in events if e.tenant_id == tenant]


def most_in_progress(events: list[SyncEventBase]) -> int:
    """The most requests recorded and not yet answered at any point of the log."""
    open_, most = 0, 0
    for event in events:
        if isinstance(event, MallUpdateRequested):
            open_ += 1
            most = max(most, open_)
        elif isinstance(event, MallStatusUpdated):
            open_ -= 1
    return most


async def burst_held_at_mall(w: OrderEventWriter, mall: HeldMall) -> int:
    """Six turns' worth of acme's orders, once MALL holds the answers to as many requests as there are slots;
    returns how many orders."""
    burst = 6 * TURNS
    await w.write(*(w.first_seen("acme", f"B-{i}", str(1000 + i), "in_process") for i in range(burst)))
    await eventually_on_loop(lambda: mall.waiting == SLOTS)
    return burst


async def test_a_gate_has_its_slots_times_turns_per_slot_turns() -> None:
    gate = TenantGate("acme", concurrency=3, metrics=PublisherMetrics())
    for _ in range(3 * TURNS_PER_SLOT - 1):
        await gate.take_turn()
    assert not gate.turns_taken
    await gate.take_turn()
    assert gate.turns_taken
    gate.end_turn()
    assert not gate.turns_taken


async def test_a_burst_is_worked_on_a_few_turns_at_a_time_and_every_order_goes_out_once() -> None:
    log, mall = FakeEventLog(), HeldMall()
    w = OrderEventWriter(log, TOPICS.order_events)
    async with running(log, mall, FAST) as service:
        burst = await burst_held_at_mall(w, mall)
        # A later order of another tenant goes through: the engine consumed the whole burst and ran on.
        await w.write(w.first_seen("other", "O-1", "9001", "in_process"))
        await eventually_on_loop(lambda: [type(e) for e in sync_events(log, "other")][-1:] == [MallStatusUpdated])
        assert all(("acme", f"B-{i}") in service.engines[0].orders for i in range(burst))
        requested = [e for e in sync_events(log) if isinstance(e, MallUpdateRequested)]
        assert len(requested) == TURNS  # the rest wait for a turn before they record anything
        mall.release()
        await eventually_on_loop(
            lambda: sum(isinstance(e, MallStatusUpdated) for e in sync_events(log)) == burst, timeout=10
        )
    events = sync_events(log)
    assert sum(isinstance(e, MallUpdateRequested) for e in events) == burst
    assert most_in_progress(events) == TURNS
    assert {mall_id for method, mall_id, _ in mall.calls if method == "PUT"} >= {str(1000 + i) for i in range(burst)}
    assert all(mall.orders[str(1000 + i)].status is MallStatus.SHIPPING for i in range(burst))


async def test_an_order_waiting_out_its_backoff_holds_no_turn() -> None:
    """Every turn's order gets no answer and backs off for a minute (before it reads MALL); a later order
    is still sent meanwhile."""
    log, mall = FakeEventLog(), FakeMall()
    settings = FAST.model_copy(update={"backoff_base_s": 60.0, "backoff_max_s": 60.0})
    mall.fail("PUT", *(MallOutcomeUnknown("PUT: no answer within the timeout") for _ in range(TURNS)))
    w = OrderEventWriter(log, TOPICS.order_events)
    async with running(log, mall, settings):
        await w.write(*(w.first_seen("acme", f"S-{i}", str(2000 + i), "in_process") for i in range(TURNS)))
        await eventually_on_loop(lambda: not mall.failures["PUT"])
        await w.write(w.first_seen("acme", "L-1", "3000", "in_process"))
        await eventually_on_loop(
            lambda: any(isinstance(e, MallStatusUpdated) and e.order_number == "L-1" for e in sync_events(log))
        )
    assert not any(isinstance(e, MallStatusUpdated) and e.order_number.startswith("S-") for e in sync_events(log))


async def test_orders_stopped_while_waiting_for_a_turn_send_nothing_when_they_get_one() -> None:
    """A stop (a revoke, a shutdown) during a burst: the orders holding turns finish their requests; those
    that get a turn afterwards see they were stopped and send nothing."""
    log, mall = FakeEventLog(), HeldMall()
    w = OrderEventWriter(log, TOPICS.order_events)
    async with running(log, mall, FAST) as service:
        burst = await burst_held_at_mall(w, mall)
        scheduler = service.engines[0]._scheduler
        service.stop()
        await eventually_on_loop(lambda: scheduler.stopping(("acme", f"B-{burst - 1}")))
        mall.release()
    requested = [e for e in sync_events(log) if isinstance(e, MallUpdateRequested)]
    assert len(requested) == TURNS
    assert len([call for call in mall.calls if call[0] == "PUT"]) <= TURNS
