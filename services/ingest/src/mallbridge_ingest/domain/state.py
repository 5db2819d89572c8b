"""The last known FastCentrik side of one order, and the fold that rebuilds it from order events."""

from __future__ import annotations

from typing import NamedTuple

from mallbridge_schema.events import (
    DeliveryDateSet,
    MdpFlagSet,
    OrderEventBase,
    OrderFirstSeen,
    OrderStatusChanged,
    TrackingAssigned,
)
from mallbridge_schema.snapshot import OrderSnapshot
from mallbridge_schema.statuses import FastCentrikStatus


class OrderFacts(NamedTuple):
    """What FastCentrik last said about an order (the fields change detection compares).

    Named tuples (immutable, and cheap to create: one is made per snapshot on the import's hot path).
    """

    mall_order_id: str
    status: FastCentrikStatus
    status_label: str
    delivered_at: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    mdp: bool = False


class OrderState(NamedTuple):
    """Per order: the highest seq written (or reserved after an uncertain write) and the last known facts.

    `facts is None` means no OrderFirstSeen is known yet: the next snapshot is reported as first seen,
    with seq `seq + 1`.
    """

    seq: int = 0
    facts: OrderFacts | None = None


UNKNOWN = OrderState()


def facts_from_snapshot(snapshot: OrderSnapshot | OrderFirstSeen) -> OrderFacts:
    """The facts a snapshot shows, or an OrderFirstSeen recorded (same field names, by contract)."""
    return OrderFacts(
        mall_order_id=snapshot.mall_order_id,
        status=snapshot.status,
        status_label=snapshot.status_label,
        delivered_at=snapshot.delivered_at,
        tracking_number=snapshot.tracking_number,
        tracking_url=snapshot.tracking_url,
        mdp=snapshot.mdp,
    )


def _updated_facts(facts: OrderFacts, event: OrderEventBase) -> OrderFacts:
    if isinstance(event, OrderStatusChanged):
        return facts._replace(status=event.to_status, status_label=event.status_label)
    if isinstance(event, DeliveryDateSet):
        return facts._replace(delivered_at=event.delivered_at)
    if isinstance(event, TrackingAssigned):
        return facts._replace(tracking_number=event.tracking_number, tracking_url=event.tracking_url)
    if isinstance(event, MdpFlagSet):
        return facts._replace(mdp=event.mdp)
    return facts


def apply_event(state: OrderState, event: OrderEventBase) -> OrderState:
    """Fold one order event into the state. Events at or below the known seq are duplicates: no effect."""
    if event.seq <= state.seq:
        return state
    if isinstance(event, OrderFirstSeen):
        return OrderState(seq=event.seq, facts=facts_from_snapshot(event))
    if state.facts is None:
        # The order's first event is not readable (e.g. removed by retention): keep counting seq only,
        # so the next snapshot is reported as first seen without reusing a seq number.
        return OrderState(seq=event.seq)
    return OrderState(seq=event.seq, facts=_updated_facts(state.facts, event))
