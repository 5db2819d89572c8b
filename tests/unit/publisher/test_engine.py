"""The lane engine, composed by `bootstrap()` on fakes of our own ports: an in-memory event log and MALL.

No broker and no HTTP: the whole path from an order event to the recorded outcome in well under a second.
The real broker and the sandbox MALL are in tests/integration/publisher.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

import pytest
from pydantic import SecretStr

from mallbridge_core.eventlog.port import OutgoingRecord
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_publisher.bootstrap import PublisherService
from mallbridge_publisher.config import PublisherSettings
from mallbridge_publisher.ports import MallAnswerInvalid, MallOutcomeUnknown, MallRejected, MallUnauthorized
from mallbridge_schema.events import AttentionNeeded, AttentionResolved, MallStateObserved, SyncEventBase
from mallbridge_schema.serde import decode_sync_event, event_key
from mallbridge_schema.statuses import MallStatus
from tests.support.orders import OrderEventWriter
from tests.unit.publisher.fakes import FakeEventLog, FakeMall, FakeMallOrder
from tests.unit.publisher.running import eventually_on_loop, running_publisher
from tests.unit.publisher.spilled import run_each_test_with_orders_in_memory_and_spilled

PREFIX = "unit."
TOPICS = Topics(prefix=PREFIX)
TENANTS = {"acme": Tenant(tenant_id="acme", mall_client_id=SecretStr("cid"), ingest_secret=None)}
FAST = PublisherSettings(
    hot_orders=0, backoff_base_s=0.001, backoff_max_s=0.01, pause_probe_s=0.05, shutdown_grace_s=1.0
)
orders_kept = run_each_test_with_orders_in_memory_and_spilled(__name__)
TRACK = ("ZX1", "https://t.example/ZX1")


def running(log: FakeEventLog, mall: FakeMall) -> AbstractAsyncContextManager[PublisherService]:
    return running_publisher(log, mall, settings=FAST, tenants=TENANTS, prefix=PREFIX)


def sync_events(log: FakeEventLog) -> list[SyncEventBase]:
    return [decode_sync_event(r.value) for r in log.records(TOPICS.sync_events)]


def sample(service: PublisherService, name: str, **labels: str) -> float | None:
    return service.metrics.registry.get_sample_value(name, labels)


async def test_an_order_event_becomes_one_put_and_its_recorded_outcome() -> None:
    log, mall = FakeEventLog(), FakeMall()
    w = OrderEventWriter(log, TOPICS.order_events)
    async with running(log, mall) as service:
        await w.write(w.first_seen("acme", "A-1", "101", "in_process"))
        await eventually_on_loop(lambda: len(sync_events(log)) == 2)
        assert sample(service, "mallbridge_publisher_updates_sent_total", tenant="acme", status="shipping") == 1
    assert mall.puts() == [{"status": "shipping", "confirmed": True}]
    assert [type(e).__name__ for e in sync_events(log)] == ["MallUpdateRequested", "MallStatusUpdated"]


async def test_an_invalid_read_answer_is_retried_and_no_status_is_made_up(caplog: pytest.LogCaptureFixture) -> None:
    """The PUT's outcome is unknown, so MALL is read; its first two answers have no valid status. Nothing
    is observed from them; the third read is recorded as it is (MALL still open), then the PUT goes out again."""
    log, mall = FakeEventLog(), FakeMall()
    mall.fail("PUT", MallOutcomeUnknown("PUT order 101: no answer within the timeout"))
    invalid = MallAnswerInvalid("GET order 101: 'status' must be one of ... (got 'packed')", field="status")
    mall.fail("GET", invalid, invalid)
    w = OrderEventWriter(log, TOPICS.order_events)
    caplog.set_level(logging.WARNING, logger="mallbridge_publisher")
    async with running(log, mall) as service:
        await w.write(w.first_seen("acme", "A-1", "101", "in_process"))
        await eventually_on_loop(lambda: mall.orders.get("101", FakeMallOrder()).status is MallStatus.SHIPPING)
        await eventually_on_loop(lambda: "MallStatusUpdated" in [type(e).__name__ for e in sync_events(log)])
        retries = sample(service, "mallbridge_publisher_retries_total", tenant="acme", reason="invalid_answer")
    observed = [e for e in sync_events(log) if isinstance(e, MallStateObserved)]
    assert [(e.status, e.request_no) for e in observed] == [(MallStatus.OPEN, 1)]
    assert [m for m, _, _ in mall.calls] == ["PUT", "GET", "GET", "GET", "PUT"]
    assert retries == 2
    warnings = [r for r in caplog.records if "answer is invalid" in r.getMessage()]
    assert len(warnings) == 2
    assert "'status' must be one of" in str(warnings[0].__dict__["error"])


async def test_a_refused_put_is_followed_by_one_read_and_the_refusal_stands() -> None:
    log, mall = FakeEventLog(), FakeMall()
    mall.fail("PUT", MallRejected("PUT order 101: HTTP 400: bad transition", http_status=400))
    w = OrderEventWriter(log, TOPICS.order_events)
    async with running(log, mall) as service:
        await w.write(w.first_seen("acme", "A-1", "101", "in_process"))
        await eventually_on_loop(lambda: any(isinstance(e, AttentionNeeded) for e in sync_events(log)))
        assert sample(service, "mallbridge_publisher_open_attention", tenant="acme", code="mall_rejected") == 1
    events = sync_events(log)
    assert [type(e).__name__ for e in events] == [
        "MallUpdateRequested",
        "MallUpdateRejected",
        "MallStateObserved",
        "AttentionNeeded",
    ]
    observed = events[2]
    assert isinstance(observed, MallStateObserved)
    assert (observed.source, observed.request_no) == ("refusal", 1)
    assert [m for m, _, _ in mall.calls] == ["PUT", "GET"]


async def test_a_401_seen_by_many_orders_pauses_the_tenant_once_and_an_answer_resumes_it() -> None:
    log, mall = FakeEventLog(), FakeMall()
    refused = [MallUnauthorized("PUT: HTTP 401: bad client_id", http_status=401) for _ in range(3)]
    mall.fail("PUT", *refused)
    w = OrderEventWriter(log, TOPICS.order_events)
    async with running(log, mall) as service:
        await w.write(*[w.first_seen("acme", f"A-{i}", str(100 + i), "in_process") for i in range(3)])
        await eventually_on_loop(lambda: all(mall.orders.get(str(100 + i)) for i in range(3)))
        await eventually_on_loop(lambda: sample(service, "mallbridge_publisher_tenant_paused", tenant="acme") == 0)
    tenant_items = [
        (type(e).__name__, e.code)
        for e in sync_events(log)
        if isinstance(e, AttentionNeeded | AttentionResolved) and e.scope == "tenant"
    ]
    assert tenant_items == [("AttentionNeeded", "mall_unauthorized"), ("AttentionResolved", "mall_unauthorized")]
    [raised] = [e for e in sync_events(log) if isinstance(e, AttentionNeeded) and e.scope == "tenant"]
    assert f"retried every {FAST.pause_probe_s:g} s" in raised.reason  # the interval the gate probes at
    assert len(mall.puts()) == 6  # three refused, three accepted: one status per order


async def _with_attention_and_deferral(log: FakeEventLog, w: OrderEventWriter) -> None:
    """A-1 is shipped at MALL, then cancelled in FastCentrik (attention); B-1 waits for tracking (deferred)."""
    mall = FakeMall()
    async with running(log, mall) as service:
        await w.write(
            w.first_seen("acme", "A-1", "101", "settled", tracking_number=TRACK[0], tracking_url=TRACK[1]),
            w.first_seen("acme", "B-1", "102", "settled"),
        )
        await eventually_on_loop(lambda: mall.orders.get("101", FakeMallOrder()).status is MallStatus.SHIPPED)
        await w.write(w.status("acme", "A-1", "101", "cancelled"))
        await eventually_on_loop(lambda: _gauges(service) == (1, 1))


def _gauges(service: PublisherService) -> tuple[float | None, float | None]:
    return (
        sample(service, "mallbridge_publisher_open_attention", tenant="acme", code="cancel_after_shipped"),
        sample(service, "mallbridge_publisher_deferred_open", tenant="acme"),
    )


async def test_the_state_gauges_are_rebuilt_on_restart_from_the_log_alone() -> None:
    log = FakeEventLog()
    w = OrderEventWriter(log, TOPICS.order_events)
    await _with_attention_and_deferral(log, w)
    recorded = len(sync_events(log))
    async with running(log, FakeMall()) as restarted:
        assert _gauges(restarted) == (1, 1)  # ready: the rebuild has counted them
        await w.write(w.tracking("acme", "B-1", "102", *TRACK))  # B-1 can go out now
        await eventually_on_loop(lambda: _gauges(restarted) == (1, 0))
    attention = [e for e in sync_events(log)[recorded:] if isinstance(e, AttentionNeeded)]
    assert attention == []  # counted from the projection, not raised again


async def test_the_state_gauges_follow_the_partitions_this_member_owns() -> None:
    log = FakeEventLog()
    await _with_attention_and_deferral(log, OrderEventWriter(log, TOPICS.order_events))
    a_partition = log.partition_of(event_key("acme", "A-1"))
    b_partition = log.partition_of(event_key("acme", "B-1"))
    everything = frozenset(range(log.partitions))
    async with running(log, FakeMall()) as service:
        member = log.subscriptions[-1]
        await member.rebalance(everything - {a_partition})
        assert _gauges(service) == (0, 0 if b_partition == a_partition else 1)
        await member.rebalance(everything)
        assert _gauges(service) == (1, 1)


class DeadLetterHeld(FakeEventLog):
    """A FakeEventLog whose writes to dead-letter wait until `release` is set (the broker slow to answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = asyncio.Event()
        self.release = asyncio.Event()

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> None:
        if topic == TOPICS.dead_letter:
            self.writing.set()
            await self.release.wait()
        await super().append(topic, records)


async def test_an_undecodable_record_is_not_committed_past_before_it_is_in_dead_letter() -> None:
    log, mall = DeadLetterHeld(), FakeMall()
    key = event_key("acme", "A-1")
    partition = log.partition_of(key)
    async with running(log, mall) as service:
        await log.append(TOPICS.order_events, [OutgoingRecord(key, b"\xff\xfe not an event")])
        await asyncio.wait_for(log.writing.wait(), timeout=5)
        # a rebalance takes the partition away while the dead letter is still being written: it commits
        subscription = log.subscriptions[0]
        try:
            await subscription.rebalance(frozenset(p for p in range(log.partitions) if p != partition))
            assert subscription.committed.get(partition, 0) == 0
        finally:
            log.release.set()
        await eventually_on_loop(lambda: len(log.records(TOPICS.dead_letter)) == 1)
        assert service.engines[0].ready.is_set()
    assert [r.value for r in log.records(TOPICS.dead_letter)] == [b"\xff\xfe not an event"]
