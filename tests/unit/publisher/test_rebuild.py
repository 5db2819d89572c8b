"""The rebuild's reading of the three topics: what it folds, and what it says about records it cannot read."""

from __future__ import annotations

import logging

import pytest

from mallbridge_core.eventlog.port import OutgoingRecord
from mallbridge_core.topics import Topics
from mallbridge_publisher.rebuild import fold_partitions
from mallbridge_schema.events import Event
from mallbridge_schema.serde import event_key
from tests.support.orders import OrderEventWriter
from tests.unit.publisher.fakes import FakeEventLog

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
