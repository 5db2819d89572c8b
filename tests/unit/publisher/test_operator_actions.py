"""The one code path of `mallbridge order ...` and the console: decide on the log, record one operator event."""

from __future__ import annotations

import uuid

import pytest

from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_publisher.operator_actions import (
    ActionInputError,
    OperatorActions,
    Recorded,
    Refused,
    action_request,
)
from mallbridge_schema.events import AttentionAcknowledged, OrderResyncRequested, OrderReturnRequested
from tests.unit.domain.builders import (
    MALL_ID,
    ORDER,
    T0,
    TENANT,
    acknowledged,
    first_seen,
    observed,
    updated,
)
from tests.unit.domain.builders import (
    attention as attention_needed,
)
from tests.unit.publisher.fakes import FakeEventLog
from tests.unit.publisher.operator_log import NOW, operator_events, write

TRACK = ("ZX1-CZ", "https://t.example/ZX1-CZ")
SHIPPED_BODY = {"status": "shipped", "confirmed": True, "tracking_number": TRACK[0], "tracking_url": TRACK[1]}
TOPICS = Topics(prefix="t.")


def _actions(log: FakeEventLog, lane: str = "default") -> OperatorActions:
    tenants = {TENANT: Tenant(tenant_id=TENANT, mall_client_id=None, ingest_secret=None, lane=lane)}
    return OperatorActions(
        log=log, tenants=tenants, topic_prefix="t.", clock=lambda: NOW, new_id=lambda: uuid.UUID(int=99)
    )


def _request(kind: str, **fields: str):
    return action_request(kind, tenant_id=fields.get("tenant", TENANT), order_number=ORDER, by="jana", reason="why")


async def _shipped(log: FakeEventLog, *, mdp: bool = False) -> None:
    await write(log, TOPICS, first_seen("settled", tracking=TRACK, mdp=mdp), updated(1, "shipped", SHIPPED_BODY))


async def test_return_of_a_shipped_order_is_recorded_with_who_why_and_the_mall_id() -> None:
    log = FakeEventLog()
    await _shipped(log)
    outcome = await _actions(log).perform(_request("return"))
    assert isinstance(outcome, Recorded)
    [event] = operator_events(log, TOPICS)
    assert isinstance(event, OrderReturnRequested)
    assert (event.by, event.reason, event.mall_order_id, event.occurred_at) == ("jana", "why", MALL_ID, NOW)
    assert event.event_id == uuid.UUID(int=99)
    assert outcome.topic == TOPICS.operator_events
    assert "returned" in outcome.next


@pytest.mark.parametrize(
    ("history", "why"),
    [
        ("open", "not shipped"),
        ("shipping", "not shipped"),
        ("mdp", "MALL Delivery"),
        ("delivered", "final status"),
        ("unknown", "unknown order"),
    ],
)
async def test_return_is_refused_and_nothing_recorded(history: str, why: str) -> None:
    log = FakeEventLog()
    if history == "open":
        await write(log, TOPICS, first_seen("pending"))
    elif history == "shipping":
        await write(log, TOPICS, first_seen("in_process"), updated(1, "shipping", {"status": "shipping"}))
    elif history == "mdp":
        await write(log, TOPICS, first_seen("settled", mdp=True), updated(1, "shipped", {"status": "shipped"}))
    elif history == "delivered":
        await _shipped(log)
        await write(log, TOPICS, updated(2, "delivered", {"status": "delivered", "delivered_at": "2026-03-01"}))
    outcome = await _actions(log).perform(_request("return"))
    assert isinstance(outcome, Refused)
    assert why in outcome.reason
    assert operator_events(log, TOPICS) == []


async def test_a_second_return_is_refused_while_the_first_is_pending() -> None:
    log = FakeEventLog()
    await _shipped(log)
    assert isinstance(await _actions(log).perform(_request("return")), Recorded)
    again = await _actions(log).perform(_request("return"))
    assert isinstance(again, Refused)
    assert "already requested" in again.reason
    assert len(operator_events(log, TOPICS)) == 1


async def test_ack_records_the_open_items_code_and_is_refused_once_acknowledged() -> None:
    log = FakeEventLog()
    await _shipped(log)
    await write(log, TOPICS, attention_needed("cancel_after_shipped", at=T0))
    first = await _actions(log).perform(_request("ack"))
    assert isinstance(first, Recorded)
    assert isinstance(first.event, AttentionAcknowledged)
    assert first.event.code == "cancel_after_shipped"
    second = await _actions(log).perform(_request("ack"))
    assert isinstance(second, Refused)
    assert "already acknowledged" in second.reason
    assert len(operator_events(log, TOPICS)) == 1


async def test_ack_without_an_attention_item_is_refused() -> None:
    log = FakeEventLog()
    await _shipped(log)
    outcome = await _actions(log).perform(_request("ack"))
    assert isinstance(outcome, Refused)
    assert "no attention item" in outcome.reason
    assert operator_events(log, TOPICS) == []


async def test_a_new_attention_item_after_an_ack_can_be_acknowledged_again() -> None:
    log = FakeEventLog()
    await _shipped(log)
    await write(log, TOPICS, attention_needed("mall_rejected", at=T0), acknowledged("mall_rejected", at=NOW))
    await write(log, TOPICS, attention_needed("mall_rejected", at=NOW.replace(hour=10)))
    assert isinstance(await _actions(log).perform(_request("ack")), Recorded)


async def test_resync_of_a_known_order_is_recorded_and_of_an_unknown_one_refused() -> None:
    log = FakeEventLog()
    unknown = await _actions(log).perform(_request("resync"))
    assert isinstance(unknown, Refused)
    assert "unknown order" in unknown.reason
    await write(log, TOPICS, first_seen("in_process"), observed("open", confirmed=False))
    known = await _actions(log).perform(_request("resync"))
    assert isinstance(known, Recorded)
    assert isinstance(known.event, OrderResyncRequested)


async def test_an_unknown_tenant_is_refused_naming_the_known_ones() -> None:
    log = FakeEventLog()
    outcome = await _actions(log).perform(_request("resync", tenant="nobody"))
    assert isinstance(outcome, Refused)
    assert "unknown tenant 'nobody'" in outcome.reason
    assert TENANT in outcome.reason


async def test_a_lane_tenant_is_decided_on_its_default_lane_history_and_recorded_in_its_lane() -> None:
    log = FakeEventLog()
    lane = TOPICS.for_lane("big")
    await write(log, TOPICS, first_seen("settled", tracking=TRACK))  # written before the move
    await write(log, lane, updated(1, "shipped", SHIPPED_BODY))
    outcome = await _actions(log, lane="big").perform(_request("return"))
    assert isinstance(outcome, Recorded)
    assert outcome.topic == lane.operator_events
    assert len(operator_events(log, lane)) == 1
    assert operator_events(log, TOPICS) == []


@pytest.mark.parametrize(
    ("by", "reason", "message"),
    [
        ("  ", "", "by: must not be empty"),
        ("x" * 101, "", "by: at most 100 characters"),
        ("jana", "r" * 1001, "reason: at most 1000 characters"),
        ("ja\x00na", "", "by: control characters"),
    ],
)
def test_a_request_field_out_of_bounds_is_refused_naming_it(by: str, reason: str, message: str) -> None:
    with pytest.raises(ActionInputError, match=message):
        action_request("return", tenant_id=TENANT, order_number=ORDER, by=by, reason=reason)


def test_whitespace_in_a_reason_is_folded_to_one_line() -> None:
    request = action_request("ack", tenant_id=TENANT, order_number=ORDER, by="jana", reason="called\n  MALL   ops")
    assert request.reason == "called MALL ops"
