"""The operator-events tail on its own: it reads past its positions only for owned partitions, folds what it
read, and drops what a rebuild in between has folded already."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from mallbridge_core.eventlog import OutgoingRecord
from mallbridge_publisher.operator_tail import OperatorTail
from mallbridge_schema.events import AttentionAcknowledged, Event
from mallbridge_schema.serde import encode_event, event_key
from tests.unit.publisher.fakes import FakeEventLog
from tests.unit.publisher.unknown_seen import record_unknown, unknown_seen

TOPIC = "unit.operator-events.v1"


def ack(order: str) -> AttentionAcknowledged:
    now = datetime.now(UTC)
    return AttentionAcknowledged(
        event_id=uuid.uuid4(),
        tenant_id="acme",
        order_number=order,
        mall_order_id="1",
        occurred_at=now,
        recorded_at=now,
        by="me",
        code="mall_rejected",
    )


async def write(log: FakeEventLog, *events: AttentionAcknowledged) -> None:
    await log.append(TOPIC, [OutgoingRecord(event_key(e.tenant_id, e.order_number), encode_event(e)) for e in events])


async def test_news_of_owned_partitions_only_each_once_and_undecodable_records_skipped() -> None:
    log = FakeEventLog(partitions=3)
    folded: list[tuple[str, int]] = []

    def fold(event: Event, partition: int) -> tuple[str, str]:
        folded.append((event.order_number, partition))
        return (event.tenant_id, event.order_number)

    tail = OperatorTail(log, TOPIC, fold=fold)
    orders = [f"O-{i}" for i in range(12)]
    mine = log.partition_of(event_key("acme", orders[0]))
    await write(log, ack(orders[0]))
    tail.assign([mine], await log.end_offsets(TOPIC))  # the rebuild folded everything so far
    assert tail.apply(await tail.read_news()) == []
    await write(log, *[ack(o) for o in orders])
    await log.append(TOPIC, [OutgoingRecord(event_key("acme", orders[0]), b"not json")])
    keys = tail.apply(await tail.read_news())
    expected = [o for o in orders if log.partition_of(event_key("acme", o)) == mine]
    assert keys == [("acme", o) for o in expected]
    assert folded == [(o, mine) for o in expected]
    assert tail.apply(await tail.read_news()) == []  # read once


async def test_news_a_rebuild_overtook_are_dropped() -> None:
    log = FakeEventLog(partitions=1)
    tail = OperatorTail(log, TOPIC, fold=lambda event, partition: (event.tenant_id, event.order_number))
    tail.assign([0], {0: 0})
    await write(log, ack("A"))
    news = await tail.read_news()
    tail.revoke([0])
    tail.assign([0], await log.end_offsets(TOPIC))  # revoked and rebuilt meanwhile: it folded "A" itself
    assert tail.apply(news) == []
    assert tail.positions == {0: 1}


async def test_an_event_of_no_order_goes_to_the_tenant_fold_with_its_partition_and_schedules_nothing() -> None:
    log = FakeEventLog(partitions=3)
    order_folds: list[Event] = []
    tenant_folds: list[tuple[Event, int]] = []

    def fold(event: Event, partition: int) -> tuple[str, str]:
        order_folds.append(event)
        return (event.tenant_id, event.order_number)

    tail = OperatorTail(log, TOPIC, fold=fold, fold_tenant=lambda event, p: tenant_folds.append((event, p)))
    home = log.partition_of(event_key("acme", ""))
    tail.assign(range(3), {})
    first, second = unknown_seen("acme", "10085339411"), unknown_seen("acme")
    await record_unknown(log, TOPIC, first)
    assert tail.apply(await tail.read_news()) == []
    tail.revoke([home])
    await record_unknown(log, TOPIC, second)
    assert tail.apply(await tail.read_news()) == []  # no longer owned: not read
    assert (tenant_folds, order_folds) == ([(first, home)], [])
