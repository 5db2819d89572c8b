"""The rebuild's reading of the three topics: what it folds, and what it says about records it cannot read."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import pytest

from mallbridge_core.eventlog.port import OutgoingRecord
from mallbridge_core.topics import Topics
from mallbridge_publisher.rebuild import TenantItemsSeen, fold_partitions
from mallbridge_publisher.tenant_effects import UNAUTHORIZED
from mallbridge_schema.events import AttentionNeeded, AttentionResolved, Event
from mallbridge_schema.serde import encode_event, event_key
from tests.support.orders import OrderEventWriter
from tests.unit.publisher.fakes import FakeEventLog
from tests.unit.publisher.unknown_seen import record_unknown, unknown_seen

TOPICS = Topics(prefix="unit.")


async def test_an_unreadable_sync_or_operator_record_is_skipped_and_said_an_order_record_is_left_to_the_consumer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = FakeEventLog(partitions=1)
    w = OrderEventWriter(log, TOPICS.order_events)
    await w.write(w.first_seen("acme", "A-1", "101", "in_process"))
    key = event_key("acme", "A-1")
    for topic in (TOPICS.sync_events, TOPICS.operator_events, TOPICS.order_events):
        await log.append(topic, [OutgoingRecord(key, b"\xff\xfe not an event")])
    folded: list[Event] = []

    with caplog.at_level(logging.WARNING, logger="mallbridge_publisher.rebuild"):
        await fold_partitions(log, TOPICS, {0}, tenants={"acme"}, fold=lambda event, _p: folded.append(event))

    assert [(type(e).__name__, e.order_number) for e in folded] == [("OrderFirstSeen", "A-1")]
    skipped = [r for r in caplog.records if r.getMessage() == "record not understood; skipped by the rebuild"]
    assert sorted(r.topic for r in skipped) == sorted([TOPICS.sync_events, TOPICS.operator_events])  # type: ignore[attr-defined]
    assert all(r.offset == 0 and "UTF-8" in r.error for r in skipped)  # type: ignore[attr-defined]


def _tenant_item(
    kind: type[AttentionNeeded] | type[AttentionResolved], tenant: str, minute: int, **fields: object
) -> Event:
    extra = {"reason": "MALL refused the tenant's client_id (HTTP 401)"} if kind is AttentionNeeded else {}
    at = datetime(2026, 12, 7, 10, minute, tzinfo=UTC)
    return kind(  # type: ignore[call-arg]
        event_id=uuid.uuid4(),
        tenant_id=tenant,
        order_number="",
        mall_order_id="",
        occurred_at=at,
        recorded_at=at,
        **{"code": UNAUTHORIZED, "scope": "tenant", **extra, **fields},
    )


def test_the_latest_tenant_item_by_its_recording_moment_says_whether_it_is_open() -> None:
    seen = TenantItemsSeen(UNAUTHORIZED)
    # folded out of time order (the items ride on different orders' keys, so on different partitions)
    for event in (
        _tenant_item(AttentionResolved, "acme", 5),
        _tenant_item(AttentionNeeded, "acme", 1),
        _tenant_item(AttentionNeeded, "beta", 2),
        _tenant_item(AttentionResolved, "gamma", 3),
        _tenant_item(AttentionNeeded, "gamma", 4),
        _tenant_item(AttentionNeeded, "delta", 4, code="mall_quota"),  # another code
        _tenant_item(AttentionNeeded, "epsilon", 4, scope="order"),  # an order's item
    ):
        seen.fold(event)
    assert seen.open_for() == ["beta", "gamma"]


async def test_a_tenants_own_item_goes_to_the_tenant_fold_and_an_orders_events_to_the_order_fold() -> None:
    log = FakeEventLog(partitions=1)
    w = OrderEventWriter(log, TOPICS.order_events)
    await w.write(w.first_seen("acme", "A-1", "101", "in_process"))
    item = _tenant_item(AttentionNeeded, "acme", 1)
    await log.append(TOPICS.sync_events, [OutgoingRecord(event_key("acme", "A-1"), encode_event(item))])
    folded: list[Event] = []
    seen = TenantItemsSeen(UNAUTHORIZED)

    await fold_partitions(
        log,
        TOPICS,
        {0},
        tenants={"acme"},
        fold=lambda event, _p: folded.append(event),
        fold_tenant=lambda event, _p: seen.fold(event),
    )

    assert [type(e).__name__ for e in folded] == ["OrderFirstSeen"]
    assert seen.open_for() == ["acme"]


async def test_balances_unknown_orders_go_to_the_tenant_fold_with_their_partition_when_it_is_rebuilt() -> None:
    log = FakeEventLog(partitions=3)
    observed = unknown_seen("acme", "10085339411", total=3)
    await record_unknown(log, TOPICS.operator_events, observed)
    home = log.partition_of(event_key("acme", ""))
    others = set(range(3)) - {home}
    tenant_folds: list[tuple[Event, int]] = []
    order_folds: list[Event] = []

    def rebuild(partitions: set[int]):
        return fold_partitions(
            log,
            TOPICS,
            partitions,
            tenants={"acme"},
            fold=lambda event, _p: order_folds.append(event),
            fold_tenant=lambda event, p: tenant_folds.append((event, p)),
        )

    await rebuild(others)
    assert tenant_folds == []  # another member's partition
    await rebuild({home})
    assert tenant_folds == [(observed, home)]
    assert order_folds == []
