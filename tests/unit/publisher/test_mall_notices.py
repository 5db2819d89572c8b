"""MALL's side reaching the lane engine (on fakes of our own ports): a MallOrderChanged or the unconfirmed
poll makes one read of the order, recorded only when MALL says something new; operator-events is folded
on rebuild and followed live (a resync reads, a balance observation asks for a read)."""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from mallbridge_core.eventlog import OutgoingRecord
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_publisher.bootstrap import PublisherService
from mallbridge_publisher.config import PublisherSettings
from mallbridge_publisher.ports import MallOutcomeUnknown, MallRejected
from mallbridge_schema.events import (
    AttentionNeeded,
    MallReadRefused,
    MallStateObserved,
    MallStatusUpdated,
    OrderResyncRequested,
    SyncEventBase,
)
from mallbridge_schema.serde import decode_sync_event, encode_event, event_key
from mallbridge_schema.statuses import MallStatus
from tests.support.orders import OrderEventWriter
from tests.unit.publisher.fakes import FakeEventLog, FakeMall, FakeMallOrder
from tests.unit.publisher.running import eventually_on_loop, running_publisher
from tests.unit.publisher.spilled import run_each_test_with_orders_in_memory_and_spilled

PREFIX = "unit."
TOPICS = Topics(prefix=PREFIX)
FAST = PublisherSettings(
    hot_orders=0,
    backoff_base_s=0.001,
    backoff_max_s=0.01,
    pause_probe_s=0.05,
    shutdown_grace_s=1.0,
    operator_tail_interval_s=0.01,
)
orders_kept = run_each_test_with_orders_in_memory_and_spilled(__name__)


def tenants(poll_s: float = 0) -> dict[str, Tenant]:
    return {
        "acme": Tenant(
            tenant_id="acme", mall_client_id=SecretStr("cid"), ingest_secret=None, mall_poll_interval_s=poll_s
        )
    }


def running(log: FakeEventLog, mall: FakeMall, *, poll_s: float = 0) -> AbstractAsyncContextManager[PublisherService]:
    return running_publisher(log, mall, settings=FAST, tenants=tenants(poll_s), prefix=PREFIX)


def sync_events(log: FakeEventLog) -> list[SyncEventBase]:
    return [decode_sync_event(r.value) for r in log.records(TOPICS.sync_events)]


def observed(log: FakeEventLog, order: str | None = None) -> list[MallStateObserved]:
    events = sync_events(log)
    return [e for e in events if isinstance(e, MallStateObserved) and order in (None, e.order_number)]


def kinds(log: FakeEventLog, order: str) -> list[str]:
    return [type(e).__name__ for e in sync_events(log) if e.order_number == order]


async def write_operator(log: FakeEventLog, event: Any) -> None:
    await log.append(
        TOPICS.operator_events, [OutgoingRecord(event_key(event.tenant_id, event.order_number), encode_event(event))]
    )


def resync(order: str, mall_id: str) -> OrderResyncRequested:
    now = datetime.now(UTC)
    return OrderResyncRequested(
        event_id=uuid.uuid4(),
        tenant_id="acme",
        order_number=order,
        mall_order_id=mall_id,
        occurred_at=now,
        recorded_at=now,
        by="tester",
    )


async def confirmed_open(log: FakeEventLog, mall: FakeMall, w: OrderEventWriter, order: str, mall_id: str) -> None:
    """An order FastCentrik has pending, MALL has open and confirmed, and the log knows both."""
    mall.orders[mall_id] = FakeMallOrder(MallStatus.OPEN, confirmed=False)
    await w.write(w.first_seen("acme", order, mall_id, "pending"), w.mall_changed("acme", order, mall_id))


async def test_a_mall_change_is_read_once_and_recorded_only_when_something_is_new() -> None:
    log, mall = FakeEventLog(), FakeMall()
    w = OrderEventWriter(log, TOPICS.order_events)
    async with running(log, mall):
        await confirmed_open(log, mall, w, "A-1", "101")
        await eventually_on_loop(lambda: mall.puts("101") == [{"confirmed": True}])  # MALL had it unconfirmed
        await w.write(w.mall_changed("acme", "A-1", "101"), w.mall_changed("acme", "A-1", "101"))
        await w.write(w.mall_changed("acme", "A-1", "101"))
        await eventually_on_loop(lambda: mall.gets("101") >= 2)
        # a later marker order, processed, proves the engine went past A-1's notices
        await w.write(w.first_seen("acme", "M-1", "199", "in_process"))
        await eventually_on_loop(lambda: mall.puts("199"))
    reads = [(e.source, e.changed) for e in observed(log, "A-1")]
    assert reads == [("webhook", ("confirmed",))]  # later reads found nothing new: nothing recorded
    assert mall.gets("101") <= 3
    assert len(mall.puts("101")) == 1  # confirmed once, never twice for one MALL change


async def test_several_changes_before_the_read_are_one_get() -> None:
    log, mall = FakeEventLog(), FakeMall()
    w = OrderEventWriter(log, TOPICS.order_events)
    mall.orders["101"] = FakeMallOrder(MallStatus.OPEN, confirmed=True)
    await w.write(
        w.first_seen("acme", "A-1", "101", "pending"), *[w.mall_changed("acme", "A-1", "101") for _ in range(5)]
    )
    async with running(log, mall):
        await eventually_on_loop(lambda: mall.gets("101") == 1)
        await w.write(w.first_seen("acme", "M-1", "199", "in_process"))  # the marker
        await eventually_on_loop(lambda: mall.puts("199"))
    assert mall.gets("101") == 1
    assert [(e.source, e.changed) for e in observed(log, "A-1")] == [("webhook", ("confirmed",))]


async def test_a_customer_cancel_at_mall_stops_the_put_and_says_not_to_ship() -> None:
    log, mall = FakeEventLog(), FakeMall()
    w = OrderEventWriter(log, TOPICS.order_events)
    async with running(log, mall):
        await confirmed_open(log, mall, w, "A-1", "101")
        await eventually_on_loop(lambda: mall.puts("101"))
        mall.mall_changes("101", MallStatus.CANCELLED)
        await w.write(w.mall_changed("acme", "A-1", "101"))
        await eventually_on_loop(lambda: any(e.status is MallStatus.CANCELLED for e in observed(log, "A-1")))
        await w.write(w.status("acme", "A-1", "101", "in_process"))
        await eventually_on_loop(lambda: "AttentionNeeded" in kinds(log, "A-1"))
    attention = [e for e in sync_events(log) if isinstance(e, AttentionNeeded)]
    assert [a.code for a in attention] == ["cancelled_at_mall"]
    assert "do not ship it" in attention[0].reason
    assert mall.puts("101") == [{"confirmed": True}]  # no shipping PUT


async def test_the_next_status_put_after_a_mall_change_carries_confirmed() -> None:
    log, mall = FakeEventLog(), FakeMall()
    w = OrderEventWriter(log, TOPICS.order_events)
    mall.orders["101"] = FakeMallOrder(MallStatus.OPEN, confirmed=True)
    async with running(log, mall):
        await w.write(w.first_seen("acme", "A-1", "101", "in_process"))
        await eventually_on_loop(lambda: mall.orders["101"].status is MallStatus.SHIPPING)
        mall.mall_changes("101")  # MALL edits the order: unconfirmed again; FastCentrik cancels meanwhile
        await w.write(w.mall_changed("acme", "A-1", "101"), w.status("acme", "A-1", "101", "cancelled"))
        await eventually_on_loop(lambda: mall.orders["101"].status is MallStatus.CANCELLED)
    assert mall.puts("101") == [{"status": "shipping", "confirmed": True}, {"status": "cancelled", "confirmed": True}]


async def test_a_failed_read_on_a_notice_is_still_owed() -> None:
    log, mall = FakeEventLog(), FakeMall()
    w = OrderEventWriter(log, TOPICS.order_events)
    mall.orders["101"] = FakeMallOrder(MallStatus.OPEN, confirmed=False)
    mall.fail("GET", MallOutcomeUnknown("GET order 101: no answer within the timeout"))
    async with running(log, mall):
        await w.write(w.first_seen("acme", "A-1", "101", "pending"), w.mall_changed("acme", "A-1", "101"))
        await eventually_on_loop(lambda: mall.puts("101") == [{"confirmed": True}])
    assert mall.gets("101") == 2
    assert [e.source for e in observed(log, "A-1")] == ["webhook"]


async def test_the_poll_reads_only_the_orders_whose_state_differs_and_only_known_ones() -> None:
    log, mall = FakeEventLog(), FakeMall()
    w = OrderEventWriter(log, TOPICS.order_events)
    for mall_id in ("101", "102"):
        mall.orders[mall_id] = FakeMallOrder(MallStatus.OPEN, confirmed=True)
    mall.orders["777"] = FakeMallOrder(MallStatus.OPEN, confirmed=False)  # no FastCentrik snapshot names it
    await w.write(w.first_seen("acme", "A-1", "101", "in_process"), w.first_seen("acme", "A-2", "102", "in_process"))
    async with running(log, mall, poll_s=0.05) as service:
        await eventually_on_loop(lambda: all(mall.orders[m].status is MallStatus.SHIPPING for m in ("101", "102")))
        mall.mall_changes("102", MallStatus.CANCELLED)  # no webhook: only the poll can see it
        await eventually_on_loop(lambda: any(e.source == "poll" for e in observed(log, "A-2")))
        polls = service.metrics.registry.get_sample_value(
            "mallbridge_publisher_unconfirmed_polls_total", {"tenant": "acme", "outcome": "ok"}
        )
    assert polls is not None
    assert polls >= 1
    assert [(e.source, e.status) for e in observed(log, "A-2")] == [("poll", MallStatus.CANCELLED)]
    assert observed(log, "A-1") == []
    assert mall.gets("101") == 0
    assert mall.gets("777") == 0
    assert "777" not in {oid for m, oid, _ in mall.calls if m == "PUT"}


async def test_a_resync_written_while_running_is_read_and_recorded_even_when_nothing_changed() -> None:
    log, mall = FakeEventLog(), FakeMall()
    w = OrderEventWriter(log, TOPICS.order_events)
    mall.orders["101"] = FakeMallOrder(MallStatus.OPEN, confirmed=True)
    await w.write(w.first_seen("acme", "A-1", "101", "pending"))
    async with running(log, mall):
        await write_operator(log, resync("A-1", "101"))
        await eventually_on_loop(lambda: observed(log, "A-1"))
    assert [(e.source, e.changed) for e in observed(log, "A-1")] == [("resync", ("confirmed",))]
    async with running(log, mall):  # restarted: the answered resync is folded, not read again
        await w.write(w.first_seen("acme", "M-1", "199", "in_process"))
        await eventually_on_loop(lambda: mall.puts("199"))
    assert mall.gets("101") == 1


async def test_a_balance_observation_claims_the_status_and_asks_for_a_read() -> None:
    log, mall = FakeEventLog(), FakeMall()
    w = OrderEventWriter(log, TOPICS.order_events)
    mall.orders["101"] = FakeMallOrder(MallStatus.CANCELLED, confirmed=False)
    async with running(log, mall):
        await w.write(w.first_seen("acme", "A-1", "101", "in_process"))
        now = datetime.now(UTC)
        await eventually_on_loop(lambda: "MallUpdateRequested" in kinds(log, "A-1"))
        balance = MallStateObserved(
            event_id=uuid.uuid4(),
            tenant_id="acme",
            order_number="A-2",
            mall_order_id="102",
            occurred_at=now,
            recorded_at=now,
            source="balance",
            changed=("status",),
            status=MallStatus.CANCELLED,
            confirmed=False,
        )
        mall.orders["102"] = FakeMallOrder(MallStatus.CANCELLED, confirmed=False)
        await w.write(w.first_seen("acme", "A-2", "102", "pending"))
        await write_operator(log, balance)
        await eventually_on_loop(lambda: any(e.source == "resync" for e in observed(log, "A-2")))
    assert [e.status for e in observed(log, "A-2")] == [MallStatus.CANCELLED]
    assert mall.puts("102") == []


async def test_an_update_mall_accepted_is_recorded_as_a_confirm_only_when_it_only_confirms() -> None:
    log, mall = FakeEventLog(), FakeMall()
    w = OrderEventWriter(log, TOPICS.order_events)
    async with running(log, mall):
        await confirmed_open(log, mall, w, "A-1", "101")
        await eventually_on_loop(lambda: "MallStatusUpdated" in kinds(log, "A-1"))
    (updated,) = [e for e in sync_events(log) if isinstance(e, MallStatusUpdated)]
    assert (updated.status, updated.request) == (MallStatus.OPEN, {"confirmed": True})


async def test_a_resync_mall_answers_404_is_recorded_once_and_not_read_again() -> None:
    """MALL does not know the order: the refused read answers the resync (it was read again at every backoff,
    for ever, each GET against the tenant's daily quota)."""
    log, mall = FakeEventLog(), FakeMall()
    w = OrderEventWriter(log, TOPICS.order_events)
    await w.write(w.first_seen("acme", "A-1", "101", "pending"))
    mall.failures["GET"].append(MallRejected("read order 101: HTTP 404: Order not found", http_status=404))
    async with running(log, mall):
        await write_operator(log, resync("A-1", "101"))
        await eventually_on_loop(lambda: "MallReadRefused" in kinds(log, "A-1"))
        # a later order is worked on to its end: the engine got well past A-1's refused read
        await w.write(w.first_seen("acme", "M-1", "199", "in_process"))
        await eventually_on_loop(lambda: "MallStatusUpdated" in kinds(log, "M-1"))
    assert mall.gets("101") == 1
    assert kinds(log, "A-1") == ["MallReadRefused"]
    [refused] = [e for e in sync_events(log) if isinstance(e, MallReadRefused)]
    assert (refused.source, refused.http_status) == ("resync", 404)
    async with running(log, mall):  # restarted: the answered resync is folded, not read again
        await w.write(w.first_seen("acme", "M-2", "299", "in_process"))
        await eventually_on_loop(lambda: "MallStatusUpdated" in kinds(log, "M-2"))
    assert mall.gets("101") == 1
