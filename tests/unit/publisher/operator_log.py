"""A fake event log holding one order's history, for the operator-action and console tests."""

from __future__ import annotations

from datetime import UTC, datetime

from mallbridge_core.eventlog import OutgoingRecord
from mallbridge_core.topics import Topics
from mallbridge_schema.events import Event, OperatorEventBase, OrderEventBase
from mallbridge_schema.serde import decode_operator_event, encode_event, event_key
from tests.unit.publisher.fakes import FakeEventLog

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def topic_for(topics: Topics, event: Event) -> str:
    if isinstance(event, OrderEventBase):
        return topics.order_events
    if isinstance(event, OperatorEventBase):
        return topics.operator_events
    return topics.sync_events  # a sync event (a balance observation is written explicitly)


async def write(log: FakeEventLog, topics: Topics, *events: Event) -> None:
    for event in events:
        record = OutgoingRecord(event_key(event.tenant_id, event.order_number), encode_event(event))
        await log.append(topic_for(topics, event), [record])


def operator_events(log: FakeEventLog, topics: Topics) -> list[OperatorEventBase]:
    """The people's decisions recorded (balance observations are not written by these tests)."""
    events = [decode_operator_event(r.value) for r in log.records(topics.operator_events)]
    return [e for e in events if isinstance(e, OperatorEventBase)]
