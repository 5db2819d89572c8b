"""operator-events.v1 reaches a running publisher (both engines, the sandbox MALL over real HTTP): a resync
written while it runs is read and recorded, and one written before a restart is folded, not read again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from mallbridge_core.eventlog import OutgoingRecord
from mallbridge_schema.events import MallStateObserved, OrderResyncRequested
from mallbridge_schema.serde import encode_event, event_key
from tests.integration.publisher.conftest import Harness
from tests.support.eventually import eventually

T = "acme"


def resync(order: str, mall_id: str) -> OrderResyncRequested:
    now = datetime.now(UTC)
    return OrderResyncRequested(
        event_id=uuid.uuid4(),
        tenant_id=T,
        order_number=order,
        mall_order_id=mall_id,
        occurred_at=now,
        recorded_at=now,
        by="operator",
        reason="checking",
    )


async def test_a_resync_is_followed_live_and_an_answered_one_is_not_read_after_a_restart(harness: Harness) -> None:
    h, mid = harness, "10085339501"
    h.create_orders(T, [mid], status="open", confirmed=False)
    w = h.writer
    await w.write(w.first_seen(T, "R-1", mid, "pending"))
    await h.log.ensure_topics([h.topics.operator_events])
    publisher = h.start_publisher(operator_tail_interval_s=0.1)
    try:
        await eventually(lambda: all(e.ready.is_set() for e in publisher.service.engines))
        assert h.requests(order_id=mid) == []  # nothing known about MALL's side: nothing sent or read
        event = resync("R-1", mid)
        await h.log.append(h.topics.operator_events, [OutgoingRecord(event_key(T, "R-1"), encode_event(event))])
        await eventually(lambda: [r["body"] for r in h.puts(mid)] == [{"confirmed": True}])
    finally:
        await publisher.stop()
    observed = [e for e in await h.sync_events() if isinstance(e, MallStateObserved)]
    assert [(e.source, e.changed, e.confirmed) for e in observed] == [("resync", ("confirmed",), False)]

    restarted = h.start_publisher(operator_tail_interval_s=0.1)
    try:
        marker = "10085339502"  # a later order going out proves the restarted publisher is past R-1
        h.create_orders(T, [marker])
        await w.write(w.first_seen(T, "M-1", marker, "in_process"))
        await eventually(lambda: h.mall_status(marker) == "shipping")
    finally:
        await restarted.stop()
    assert [r["method"] for r in h.requests(order_id=mid)] == ["GET", "PUT"]
