"""The audit's fast path agrees with the schema's models, the projection and the SLA rule, on random logs.

The audit does not fold orders with the projection: it decodes values with narrow msgspec views
(views.py) into compact per-order accumulators (order_fold.py), which is what makes a replay of a
million events fast and small. Two rules then live in two places, so this test holds them together (hypothesis).
A random log of the three topics (parity_log.py), written as bytes the way the writers write them (plus what a newer
writer might add: unknown fields, of any name and type, and unknown event types, and a few records that
are not events at all), is read three ways:

1. **fast**: the audit's reader with the default report (msgspec views, the fast path);
2. **full**: the audit's reader with every order's timeline kept, so every value is decoded by the
   schema's pydantic models (the slow path the fast one falls back to);
3. **projection**: the schema's decoders and `mallbridge_core.domain.projection.apply`, per order, in
   the order the audit reads (order events, then operator events, then sync events), the reconciler's
   `desired_status`, `attention_item`, and the SLA rule `order_sla`.

1 and 2 must give the same report, every figure and every order summary. 1 and the projection must
agree, per order, on everything both compute: FastCentrik's status and delivery date, whether the order
is MALL Delivery, the desired MALL status, MALL's status and who set it, the MALL order id, the recorded
attention code and whether a person acknowledged it, the open deferral, and so the audit's state of the
order, and its part in the SLA figures (partner cancellation, tracking, on time: the domain's one rule,
with our accepted `delivered` and its lag computed here from the events as the README defines them).
(The audit's "last rejection" is history; the projection's refusal is the one that still stands, for
planning: not the same thing, not compared.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from hypothesis import given

from mallbridge_audit.model import OrderSummary, Report
from mallbridge_audit.order_summary import order_state
from mallbridge_audit.reader import read_log, take_end_offsets
from mallbridge_audit.report import ReportBuilder
from mallbridge_audit.scope import Scope
from mallbridge_audit.verify import Verifier
from mallbridge_core.domain.projection import OrderState, apply, attention_item
from mallbridge_core.domain.reconciler import desired_status, effective_mdp
from mallbridge_core.domain.sla import delivered_lag_s, order_sla
from mallbridge_schema.events import (
    AttentionNeeded,
    AttentionResolved,
    Event,
    MallStatusUpdated,
    MallUpdateRejected,
    MallUpdateRequested,
    MallWebhookReceived,
    SyncEvent,
    UnknownMallOrdersObserved,
)
from mallbridge_schema.serde import EventDecodeError, decode_operator_event, decode_order_event, decode_sync_event
from mallbridge_schema.statuses import MallStatus

from .parity_log import AS_OF, NUMBERS, SETTINGS, TOPICS, ListLog, Rows, logs


async def _audit(log: ListLog, scope: Scope, verifier: Verifier | None = None) -> Report:
    builder = ReportBuilder(scope)
    await read_log(log, await take_end_offsets(log, [TOPICS]), builder, verifier=verifier)  # type: ignore[arg-type]
    return builder.finish(as_of=AS_OF)


async def _fast_full_and_verified(log: ListLog) -> tuple[Report, Report, Report]:
    # Timelines kept for every order: every value decoded in full by the schema. Verifying: every value
    # decoded in full for the verifier, the report folding the fast facts.
    return (
        await _audit(log, Scope()),
        await _audit(log, Scope(orders=frozenset(NUMBERS))),
        await _audit(log, Scope(), Verifier()),
    )


def _projection(order_rows: Rows, sync_rows: Rows, operator_rows: Rows) -> dict[tuple[str, str], OrderState]:
    states: dict[tuple[str, str], OrderState] = {}
    for rows, decode in (
        (order_rows, decode_order_event),
        (operator_rows, decode_operator_event),
        (sync_rows, decode_sync_event),
    ):
        for _, value in rows:
            try:
                event: Event = decode(value)
            except EventDecodeError:
                continue  # unknown types and non-events: every consumer skips them
            if isinstance(event, MallWebhookReceived | UnknownMallOrdersObserved):
                continue  # tenant-level (a webhook receipt, balance's unknown orders): about no order
            if isinstance(event, AttentionNeeded | AttentionResolved) and event.scope == "tenant":
                continue  # about the tenant: the projection leaves the order as it is, the audit lists it apart
            key = (event.tenant_id, event.order_number)
            states[key] = apply(states.get(key), event)
    return states


def _readable(sync_rows: Rows) -> Iterator[SyncEvent]:
    """The sync events of the rows the schema reads (the others are undecodable for every reader)."""
    for _, value in sync_rows:
        try:
            yield decode_sync_event(value)
        except EventDecodeError:
            continue


def _delivered(sync_rows: Rows) -> dict[tuple[str, str], float | None]:
    """Per order, the lag of our accepted `delivered` as the README defines it: of the outcome counted last,
    an outcome counting once, when its request_no is above every earlier outcome's of the order."""
    settled: dict[tuple[str, str], int] = {}
    lags: dict[tuple[str, str], float | None] = {}
    for event in _readable(sync_rows):
        if not isinstance(event, MallStatusUpdated | MallUpdateRejected):
            continue
        key = (event.tenant_id, event.order_number)
        if event.request_no <= settled.get(key, 0):
            continue
        settled[key] = event.request_no
        if isinstance(event, MallStatusUpdated) and event.status is MallStatus.DELIVERED and "status" in event.request:
            sent = event.request.get("delivered_at")
            lags[key] = delivered_lag_s(sent if isinstance(sent, str) else None, accepted_at=event.recorded_at)
    return lags


def _requested(sync_rows: Rows) -> dict[tuple[str, str], float | None]:
    """Per order, the lag of our last `delivered` request (the highest request_no) when it was recorded:
    what counts when its answer was lost and a read showed it landed."""
    last: dict[tuple[str, str], int] = {}
    lags: dict[tuple[str, str], float | None] = {}
    for event in _readable(sync_rows):
        if not (
            isinstance(event, MallUpdateRequested)
            and event.status is MallStatus.DELIVERED
            and "status" in event.request
        ):
            continue
        key = (event.tenant_id, event.order_number)
        if event.request_no <= last.get(key, 0):
            continue
        last[key] = event.request_no
        sent = event.request.get("delivered_at")
        lags[key] = delivered_lag_s(sent if isinstance(sent, str) else None, accepted_at=event.recorded_at)
    return lags


def _from_projection(
    state: OrderState, delivered: dict[tuple[str, str], float | None], requested: dict[tuple[str, str], float | None]
) -> dict[str, Any]:
    desired = desired_status(state)
    mall = state.mall
    mdp = effective_mdp(state)
    deferral = mall.deferral
    item = attention_item(state)
    classified = order_state(
        desired,
        mall.status,
        by=mall.status_by,
        attention=item is not None,
        acknowledged=item is not None and item.acknowledged,
        deferred=deferral is not None,
        mdp=mdp,
    )
    key = (state.tenant_id, state.order_number)
    sla = order_sla(
        state, delivered_lag=delivered.get(key), delivered_sent=key in delivered, requested_lag=requested.get(key)
    )
    return {
        "fc_status": state.fc.status.value if state.fc.status is not None else None,
        "fc_delivery_date": state.fc.delivered_at is not None,
        "mdp": mdp,
        "desired": desired.value if desired is not None else None,
        "mall_status": mall.status.value,
        "mall_status_by": mall.status_by,
        "mall_order_id": state.mall_order_id,
        "attention": (item.code, item.acknowledged) if item is not None else None,
        # the report names the open deferral only where it is why the order is not in sync
        "deferral": (deferral.status.value, deferral.reason)
        if deferral is not None and classified == "deferred"
        else None,
        "state": classified,
        "sla": (sla.partner_cancelled, sla.tracked, sla.on_time),
    }


def _from_audit(order: OrderSummary) -> dict[str, Any]:
    return {
        "fc_status": order.fc_status,
        "fc_delivery_date": order.fc_delivery_date,
        "mdp": order.mdp,
        "desired": order.desired,
        "mall_status": order.mall_status,
        "mall_status_by": order.mall_status_by,
        "mall_order_id": order.mall_order_id,
        "attention": (order.attention[0], order.attention_acknowledged) if order.attention is not None else None,
        "deferral": order.deferral,
        "state": order.state,
        "sla": (order.partner_cancelled, order.tracking, order.on_time),
    }


@SETTINGS
@given(logs)
def test_the_fast_path_agrees_with_the_full_decode_and_the_projection(log: tuple[Rows, Rows, Rows]) -> None:
    order_rows, sync_rows, operator_rows = log
    topics = ListLog(
        {TOPICS.order_events: order_rows, TOPICS.sync_events: sync_rows, TOPICS.operator_events: operator_rows}
    )
    fast, full, verified = asyncio.run(_fast_full_and_verified(topics))
    counts = ("order_events", "sync_events", "operator_events", "skipped_unknown", "undecodable")
    for other in (full, verified):
        assert [getattr(other, name) for name in counts] == [getattr(fast, name) for name in counts]
        assert other.tenants == fast.tenants
        assert other.orders == fast.orders

    delivered, requested = _delivered(sync_rows), _requested(sync_rows)
    projected = _projection(order_rows, sync_rows, operator_rows)
    expected = {key: _from_projection(state, delivered, requested) for key, state in projected.items()}
    got = {(o.tenant_id, o.order_number): _from_audit(o) for o in fast.orders}
    assert got == expected
