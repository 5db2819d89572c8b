"""An acknowledgement recorded through the operator actions leaves the open-attention gauge at 0, on the
running publisher and after a restart (the gauge is state rebuilt from the log, operator-events included)."""

from __future__ import annotations

from datetime import UTC, datetime

from mallbridge_publisher.operator_actions import OperatorActions, Recorded, action_request
from mallbridge_schema.events import AttentionNeeded, AttentionResolved
from mallbridge_schema.statuses import MallStatus
from tests.support.orders import OrderEventWriter
from tests.unit.publisher.fakes import FakeEventLog, FakeMall, FakeMallOrder
from tests.unit.publisher.running import eventually_on_loop
from tests.unit.publisher.test_engine import (
    PREFIX,
    TENANTS,
    TOPICS,
    TRACK,
    running,
    sample,
    sync_events,
)


def _open(service) -> float | None:
    return sample(service, "mallbridge_publisher_open_attention", tenant="acme", code="cancel_after_shipped")


def _actions(log: FakeEventLog) -> OperatorActions:
    return OperatorActions(log=log, tenants=TENANTS, topic_prefix=PREFIX, clock=lambda: datetime.now(UTC))


async def test_an_ack_leaves_the_gauge_at_0_and_a_restart_keeps_it_there() -> None:
    log, mall = FakeEventLog(), FakeMall()
    w = OrderEventWriter(log, TOPICS.order_events)
    async with running(log, mall) as service:
        await w.write(w.first_seen("acme", "A-1", "101", "settled", tracking_number=TRACK[0], tracking_url=TRACK[1]))
        await eventually_on_loop(lambda: mall.orders.get("101", FakeMallOrder()).status is MallStatus.SHIPPED)
        await w.write(w.status("acme", "A-1", "101", "cancelled"))
        await eventually_on_loop(lambda: _open(service) == 1)
        ack = action_request("ack", tenant_id="acme", order_number="A-1", by="jana", reason="called MALL")
        assert isinstance(await _actions(log).perform(ack), Recorded)
        await eventually_on_loop(lambda: _open(service) == 0)
    async with running(log, FakeMall()) as restarted:
        assert _open(restarted) in (0, None)  # ready: the rebuild folded the ack too
        # a marker order going out proves the restarted member is live past the ack
        await w.write(w.first_seen("acme", "M-1", "109", "in_process"))
        await eventually_on_loop(lambda: any(e.order_number == "M-1" for e in sync_events(log)))
        assert _open(restarted) in (0, None)
    raised = [e for e in sync_events(log) if isinstance(e, AttentionNeeded)]
    assert len(raised) == 1  # the item stays recorded; it is just no longer open


async def test_a_new_attention_item_after_the_ack_is_open_again() -> None:
    log, mall = FakeEventLog(), FakeMall()
    w = OrderEventWriter(log, TOPICS.order_events)
    async with running(log, mall) as service:
        await w.write(w.first_seen("acme", "A-1", "101", "settled", tracking_number=TRACK[0], tracking_url=TRACK[1]))
        await eventually_on_loop(lambda: mall.orders.get("101", FakeMallOrder()).status is MallStatus.SHIPPED)
        await w.write(w.status("acme", "A-1", "101", "cancelled"))
        await eventually_on_loop(lambda: _open(service) == 1)
        ack = action_request("ack", tenant_id="acme", order_number="A-1", by="jana")
        await _actions(log).perform(ack)
        await eventually_on_loop(lambda: _open(service) == 0)
        # FastCentrik changes the order again: settled, then cancelled once more raises the item anew
        await w.write(w.status("acme", "A-1", "101", "settled"))
        await eventually_on_loop(lambda: any(isinstance(e, AttentionResolved) for e in sync_events(log)))
        await w.write(w.status("acme", "A-1", "101", "cancelled"))
        await eventually_on_loop(lambda: len([e for e in sync_events(log) if isinstance(e, AttentionNeeded)]) == 2)
        await eventually_on_loop(lambda: _open(service) == 1)
