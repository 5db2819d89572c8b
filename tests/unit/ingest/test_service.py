"""The application service on a fake log: writes after planning, state moves only after the log acknowledged."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from mallbridge_core.eventlog.port import LogUnavailableError, OutgoingRecord
from mallbridge_core.tenants import Tenant
from mallbridge_ingest.metrics import IngestMetrics
from mallbridge_ingest.service import BatchRejectedError, IngestService, NotReadyError
from mallbridge_schema.events import MallOrderChanged, MallWebhookReceived
from mallbridge_schema.serde import decode_order_event, encode_event
from tests.support.eventually import eventually
from tests.unit.ingest.fakes import FakeEventLog
from tests.unit.ingest.support import run_each_test_with_states_in_memory_and_spilled, service_on, snap

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TENANTS = {
    "acme": Tenant(tenant_id="acme", mall_client_id=None, ingest_secret=None),
    "big": Tenant(tenant_id="big", mall_client_id=None, ingest_secret=None, lane="big"),
}


_hot_orders = 0

_states_kept = run_each_test_with_states_in_memory_and_spilled(__name__)


def service(log: FakeEventLog, tenants: dict[str, Tenant] = TENANTS) -> IngestService:
    return service_on(log, tenants, now=NOW, hot_orders=_hot_orders)


def decoded(log: FakeEventLog, topic: str = "t.order-events.v1") -> list[tuple[bytes | None, str, int]]:
    return [
        (r.key, type(event).__name__, getattr(event, "seq", 0))
        for r in log.topics.get(topic, [])
        for event in [decode_order_event(r.value)]
    ]


async def test_not_ready_before_prepare() -> None:
    with pytest.raises(NotReadyError):
        await service(FakeEventLog()).ingest("acme", [(0, snap())], source="push")


async def test_events_go_to_the_lane_topic_keyed_by_tenant_and_order() -> None:
    log = FakeEventLog()
    svc = service(log)
    await svc.prepare()
    assert set(log.topics) == {"t.order-events.v1", "t.lane-big.order-events.v1"}
    r1 = await svc.ingest("acme", [(0, snap("A"))], source="push")
    r2 = await svc.ingest("big", [(0, snap("A"))], source="push")
    assert (r1.events, r2.events) == (1, 1)
    assert decoded(log) == [(b"acme:A", "OrderFirstSeen", 1)]
    assert decoded(log, "t.lane-big.order-events.v1") == [(b"big:A", "OrderFirstSeen", 1)]


async def test_unchanged_batch_does_not_touch_the_log() -> None:
    log = FakeEventLog()
    svc = service(log)
    await svc.prepare()
    await svc.ingest("acme", [(0, snap("A")), (1, snap("B"))], source="push")
    result = await svc.ingest("acme", [(0, snap("A")), (1, snap("B"))], source="push")
    assert (result.accepted, result.events, result.unchanged) == (2, 0, 2)
    assert log.appends == 1


async def test_failed_write_keeps_facts_so_the_retry_writes_the_change() -> None:
    log = FakeEventLog()
    svc = service(log)
    await svc.prepare()
    await svc.ingest("acme", [(0, snap("A"))], source="push")
    log.down = True
    with pytest.raises(LogUnavailableError):
        await svc.ingest("acme", [(0, snap("A", "settled"))], source="push")
    log.down = False
    result = await svc.ingest("acme", [(0, snap("A", "settled"))], source="push")
    assert result.events == 1
    # seq 2 was reserved by the failed write (it might have landed); the retry is seq 3.
    assert decoded(log) == [(b"acme:A", "OrderFirstSeen", 1), (b"acme:A", "OrderStatusChanged", 3)]


async def test_all_or_nothing_conflict_writes_nothing_but_import_mode_writes_the_rest() -> None:
    log = FakeEventLog()
    svc = service(log)
    await svc.prepare()
    await svc.ingest("acme", [(0, snap("A", mall_order_id="1"))], source="push")
    batch = [(0, snap("B")), (1, snap("A", mall_order_id="2"))]
    with pytest.raises(BatchRejectedError) as caught:
        await svc.ingest("acme", batch, source="push")
    assert caught.value.rejections[0].index == 1
    assert len(log.topics["t.order-events.v1"]) == 1
    result = await svc.ingest("acme", batch, source="import", all_or_nothing=False)
    assert (result.accepted, result.events, len(result.rejections)) == (1, 1, 1)


async def test_rebuild_from_the_log_continues_seq_and_detects_nothing_new() -> None:
    log = FakeEventLog()
    first = service(log)
    await first.prepare()
    await first.ingest("acme", [(0, snap("A")), (1, snap("A", "settled", tracking_number="X"))], source="push")
    second = service(log)
    report = await second.prepare()
    assert (report.events, report.orders, report.undecodable) == (3, 1, 0)
    assert second.known_state("acme", "A") == first.known_state("acme", "A")
    assert (await second.ingest("acme", [(0, snap("A", "settled", tracking_number="X"))], source="push")).events == 0
    await second.ingest("acme", [(0, snap("A", "cancelled", tracking_number="X"))], source="push")
    assert [seq for *_, seq in decoded(log)] == [1, 2, 3, 4]


async def test_rebuild_skips_other_tenants_and_undecodable_records() -> None:
    log = FakeEventLog()
    await log.append("t.order-events.v1", [OutgoingRecord(b"stranger:A", b"{}"), OutgoingRecord(b"acme:A", b"garbage")])
    svc = service(log)
    report = await svc.prepare()
    assert (report.events, report.undecodable) == (0, 1)


async def test_rebuild_skips_a_webhook_receipt_and_counts_a_mall_change_in_seq() -> None:
    log = FakeEventLog()
    first = service(log)
    await first.prepare()
    await first.ingest("acme", [(0, snap("A"))], source="push")
    receipt = MallWebhookReceived(
        event_id=uuid.uuid4(), tenant_id="acme", occurred_at=NOW, recorded_at=NOW, order_ids=("1000000001",)
    )
    changed = MallOrderChanged(
        event_id=uuid.uuid4(),
        tenant_id="acme",
        order_number="A",
        mall_order_id="1000000001",  # the order's own: the receipt named it
        occurred_at=NOW,
        recorded_at=NOW,
        seq=2,
        receipt_id=receipt.event_id,
    )
    await log.append(
        "t.order-events.v1",
        [OutgoingRecord(b"acme:", encode_event(receipt)), OutgoingRecord(b"acme:A", encode_event(changed))],
    )
    second = service(log)
    report = await second.prepare()
    assert (report.events, report.orders, report.undecodable) == (2, 1, 0)
    assert second.known_state("acme", "A").seq == 2
    await second.ingest("acme", [(0, snap("A", "settled"))], source="push")
    assert [seq for *_, seq in decoded(log)[3:]] == [3]  # the next fact continues after the MALL change


async def test_tenant_moved_to_a_lane_keeps_its_history_from_the_default_topic() -> None:
    log = FakeEventLog()
    before = service(log, {"acme": TENANTS["acme"]})
    await before.prepare()
    await before.ingest("acme", [(0, snap("A"))], source="push")
    moved = service(log, {"acme": Tenant(tenant_id="acme", mall_client_id=None, ingest_secret=None, lane="vip")})
    await moved.prepare()
    result = await moved.ingest("acme", [(0, snap("A", "settled"))], source="push")
    assert result.events == 1
    assert decoded(log, "t.lane-vip.order-events.v1") == [(b"acme:A", "OrderStatusChanged", 2)]


class SlowLog(FakeEventLog):
    async def append(self, topic: str, records: list[OutgoingRecord]) -> None:  # type: ignore[override]
        await asyncio.sleep(0.01)
        await super().append(topic, records)


async def test_concurrent_pushes_of_one_order_keep_seq_consistent() -> None:
    log = SlowLog()
    svc = service(log)
    await svc.prepare()
    statuses = ["pending", "in_process", "settled", "cancelled"] * 5
    await asyncio.gather(*(svc.ingest("acme", [(0, snap("A", s))], source="push") for s in statuses))
    seqs = [seq for *_, seq in decoded(log)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) == len(statuses)  # every push changed the status


class GateLog(FakeEventLog):
    """Holds every append until `release`; counts how many were waiting at once."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = 0
        self.release = asyncio.Event()

    async def append(self, topic: str, records: list[OutgoingRecord]) -> None:  # type: ignore[override]
        self.waiting += 1
        await self.release.wait()
        await super().append(topic, records)


async def test_concurrent_pushes_of_different_orders_overlap() -> None:
    log = GateLog()
    svc = service(log)
    await svc.prepare()
    pushes = asyncio.gather(*(svc.ingest("acme", [(0, snap(f"O{i}"))], source="push") for i in range(20)))
    # all 20 appends are in flight together (serialized, only the first would be waiting)
    await eventually(lambda: log.waiting == 20, on_loop=True)
    log.release.set()
    await pushes
    assert len(decoded(log)) == 20


async def test_with_few_states_in_memory_the_rest_waits_on_disk_and_changes_are_still_detected() -> None:
    log = FakeEventLog()
    metrics = IngestMetrics()
    svc = service_on(log, TENANTS, now=NOW, hot_orders=2, metrics=metrics)
    await svc.prepare()
    orders = [f"A-{n}" for n in range(20)]
    for n, order in enumerate(orders):
        await svc.ingest("acme", [(0, snap(order, mall_order_id=str(1_000 + n)))], source="push")
    assert metrics.registry.get_sample_value("mallbridge_ingest_known_orders") == 20
    assert metrics.registry.get_sample_value("mallbridge_ingest_known_orders_in_memory") == 2
    # the first order waited on disk: the same snapshot is no change, a new status is one
    again = await svc.ingest("acme", [(0, snap("A-0", mall_order_id="1000"))], source="push")
    moved = await svc.ingest("acme", [(0, snap("A-1", "settled", mall_order_id="1001"))], source="push")
    assert (again.events, moved.events) == (0, 1)
    assert decoded(log)[-1] == (b"acme:A-1", "OrderStatusChanged", 2)
    assert svc.mall_ids.order_of("acme", "1005") == "A-5"
    svc.close()
