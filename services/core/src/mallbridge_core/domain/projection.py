"""The projection: a fold of both topics' events into per-order state.

`apply(state, event) -> state` returns new frozen values and never mutates. It is idempotent under
redelivery: order events carry a per-order `seq` and are applied only when newer; MALL's status only
moves forward along its own graph, so a replayed or duplicated sync event changes nothing. The two
topics are independent inputs: the result does not depend on how they interleave.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from mallbridge_schema.events import (
    AttentionNeeded,
    AttentionResolved,
    DeliveryDateSet,
    Event,
    MallStateObserved,
    MallStatusUpdated,
    MallUpdateRejected,
    MallUpdateRequested,
    MdpFlagSet,
    OrderEventBase,
    OrderFirstSeen,
    OrderStatusChanged,
    StepDeferred,
    TrackingAssigned,
)
from mallbridge_schema.statuses import FINAL_MALL_STATUSES, FastCentrikStatus, MallStatus

_RANK = {MallStatus.BLOCKED: 0, MallStatus.OPEN: 1, MallStatus.SHIPPING: 2, MallStatus.SHIPPED: 3}


def mall_rank(status: MallStatus) -> int:
    """Position along MALL's one-way order life (finals last)."""
    return 4 if status in FINAL_MALL_STATUSES else _RANK[status]


@dataclass(frozen=True, slots=True)
class FastCentrikSide:
    """What FastCentrik says about the order, as of order-event `seq`."""

    seq: int = 0
    status: FastCentrikStatus | None = None
    status_label: str = ""
    delivered_at: str | None = None
    delivery_recorded_at: datetime | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    mdp: bool = False
    changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    status: MallStatus
    based_on_seq: int
    http_status: int
    message: str


@dataclass(frozen=True, slots=True)
class Deferral:
    status: MallStatus
    reason: str
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class RequestInDoubt:
    """What the last requested PUT asked for, kept until its outcome is recorded (so a 404 on the read
    that settles it can be recorded as the refusal of that very request)."""

    status: MallStatus
    body: dict[str, Any]
    based_on_seq: int


@dataclass(frozen=True, slots=True)
class MallSide:
    """MALL's side as last known from sync events (an order reaches FastCentrik once MALL has it open)."""

    status: MallStatus = MallStatus.OPEN
    confirmed: bool = False
    last_request_no: int = 0
    settled_request_no: int = 0
    rejection: Rejection | None = None
    deferral: Deferral | None = None
    attention_code: str | None = None
    in_doubt: RequestInDoubt | None = None


@dataclass(frozen=True, slots=True)
class OrderState:
    tenant_id: str
    order_number: str
    mall_order_id: str
    fc: FastCentrikSide = FastCentrikSide()
    mall: MallSide = MallSide()

    @property
    def request_in_doubt(self) -> bool:
        """A PUT was requested and its outcome never recorded (crash, timeout): MALL must be read first."""
        return self.mall.last_request_no > self.mall.settled_request_no


def new_state(event: Event) -> OrderState:
    return OrderState(tenant_id=event.tenant_id, order_number=event.order_number, mall_order_id=event.mall_order_id)


def apply(state: OrderState | None, event: Event) -> OrderState:
    """Fold one event (of either topic) into the order's state."""
    current = state if state is not None else new_state(event)
    if isinstance(event, OrderEventBase):
        if event.seq <= current.fc.seq:
            return current  # redelivered or duplicated: already applied
        handler = _FACTS.get(type(event), _unknown_fact)
        fc = handler(event, current.fc)
        mall_order_id = event.mall_order_id or current.mall_order_id
        return OrderState(current.tenant_id, current.order_number, mall_order_id, fc, current.mall)
    mall = _apply_sync(event, current.mall)
    if mall is current.mall:
        return current
    return OrderState(current.tenant_id, current.order_number, current.mall_order_id, current.fc, mall)


# ---- copies with some fields changed ---------------------------------------------------------------------
# Built with the constructors, not dataclasses.replace: this is the publisher's and the audit's hot path.


class _Keep(Enum):
    """Marks a field of `_stamped` or `_mall_side` as unchanged (None is a value several fields take)."""

    KEEP = 0


_KEEP = _Keep.KEEP


# ---- FastCentrik facts: each handler returns the new side, stamped with the event's seq and time ----------


def _stamped(
    event: OrderEventBase,
    fc: FastCentrikSide,
    *,
    status: FastCentrikStatus | _Keep = _KEEP,
    label: str | _Keep = _KEEP,
    delivery: tuple[str | None, datetime | None] | _Keep = _KEEP,
    tracking: tuple[str | None, str | None] | _Keep = _KEEP,
    mdp: bool | _Keep = _KEEP,
) -> FastCentrikSide:
    """`fc` with the given fields changed, stamped with the event's seq and time."""
    delivered_at, recorded_at = (fc.delivered_at, fc.delivery_recorded_at) if delivery is _KEEP else delivery
    number, url = (fc.tracking_number, fc.tracking_url) if tracking is _KEEP else tracking
    return FastCentrikSide(
        event.seq,
        fc.status if status is _KEEP else status,
        fc.status_label if label is _KEEP else label,
        delivered_at,
        recorded_at,
        number,
        url,
        fc.mdp if mdp is _KEEP else mdp,
        event.occurred_at,
    )


def _delivery_of(event: DeliveryDateSet | OrderFirstSeen) -> tuple[str | None, datetime | None]:
    return event.delivered_at, (event.occurred_at if event.delivered_at else None)


def _unknown_fact(event: OrderEventBase, fc: FastCentrikSide) -> FastCentrikSide:
    # an event type this version does not know changes nothing but its position (tolerant reader)
    return _stamped(event, fc)


def _first_seen(event: OrderFirstSeen, fc: FastCentrikSide) -> FastCentrikSide:
    return _stamped(
        event,
        fc,
        status=event.status,
        label=event.status_label,
        delivery=_delivery_of(event),
        tracking=(event.tracking_number, event.tracking_url),
        mdp=event.mdp,
    )


def _status_changed(event: OrderStatusChanged, fc: FastCentrikSide) -> FastCentrikSide:
    return _stamped(event, fc, status=event.to_status, label=event.status_label)


def _delivery_date_set(event: DeliveryDateSet, fc: FastCentrikSide) -> FastCentrikSide:
    return _stamped(event, fc, delivery=_delivery_of(event))


def _tracking_assigned(event: TrackingAssigned, fc: FastCentrikSide) -> FastCentrikSide:
    return _stamped(event, fc, tracking=(event.tracking_number, event.tracking_url))


def _mdp_flag_set(event: MdpFlagSet, fc: FastCentrikSide) -> FastCentrikSide:
    return _stamped(event, fc, mdp=event.mdp)


_FACTS: dict[type[OrderEventBase], Callable[[Any, FastCentrikSide], FastCentrikSide]] = {
    OrderFirstSeen: _first_seen,
    OrderStatusChanged: _status_changed,
    DeliveryDateSet: _delivery_date_set,
    TrackingAssigned: _tracking_assigned,
    MdpFlagSet: _mdp_flag_set,
}


# ---- MALL side ------------------------------------------------------------------------------------------


def _forward(current: MallStatus, seen: MallStatus) -> MallStatus:
    return seen if mall_rank(seen) > mall_rank(current) else current


def _mall_side(
    mall: MallSide,
    *,
    status: MallStatus | _Keep = _KEEP,
    confirmed: bool | _Keep = _KEEP,
    last_request_no: int | _Keep = _KEEP,
    settled_request_no: int | _Keep = _KEEP,
    rejection: Rejection | _Keep | None = _KEEP,
    deferral: Deferral | _Keep | None = _KEEP,
    attention_code: str | _Keep | None = _KEEP,
    in_doubt: RequestInDoubt | _Keep | None = _KEEP,
) -> MallSide:
    """`mall` with the given fields changed."""
    return MallSide(
        mall.status if status is _KEEP else status,
        mall.confirmed if confirmed is _KEEP else confirmed,
        mall.last_request_no if last_request_no is _KEEP else last_request_no,
        mall.settled_request_no if settled_request_no is _KEEP else settled_request_no,
        mall.rejection if rejection is _KEEP else rejection,
        mall.deferral if deferral is _KEEP else deferral,
        mall.attention_code if attention_code is _KEEP else attention_code,
        mall.in_doubt if in_doubt is _KEEP else in_doubt,
    )


def _settling(mall: MallSide, request_no: int) -> tuple[int, int, RequestInDoubt | None]:
    """After an outcome of request `request_no` (an answer, or a read): the last and settled request
    numbers, and the request still in doubt (None once every request is settled)."""
    last, settled = max(mall.last_request_no, request_no), max(mall.settled_request_no, request_no)
    return last, settled, (mall.in_doubt if settled < last else None)


def _apply_sync(event: Event, mall: MallSide) -> MallSide:
    """The new MALL side, or `mall` itself (the same object) when the event changes nothing."""
    match event:
        case MallUpdateRequested():
            if event.request_no <= mall.last_request_no:
                return mall
            requested = RequestInDoubt(event.status, event.request, event.based_on_seq)
            return _mall_side(mall, last_request_no=event.request_no, in_doubt=requested)
        case MallStatusUpdated():
            last, settled, doubt = _settling(mall, event.request_no)
            return _mall_side(
                mall,
                status=_forward(mall.status, event.status),
                confirmed=True,
                last_request_no=last,
                settled_request_no=settled,
                deferral=None,
                in_doubt=doubt,
            )
        case MallUpdateRejected():
            last, settled, doubt = _settling(mall, event.request_no)
            return _mall_side(
                mall,
                last_request_no=last,
                settled_request_no=settled,
                rejection=Rejection(event.status, event.based_on_seq, event.http_status, event.message),
                in_doubt=doubt,
            )
        case MallStateObserved():
            last, settled, doubt = _settling(mall, event.request_no)
            return _mall_side(
                mall,
                status=_forward(mall.status, event.status),
                confirmed=mall.confirmed if event.confirmed is None else event.confirmed,
                last_request_no=last,
                settled_request_no=settled,
                in_doubt=doubt,
            )
        case StepDeferred():
            return _mall_side(mall, deferral=Deferral(event.status, event.reason, event.until))
        case AttentionNeeded() if event.scope == "order":
            return _mall_side(mall, attention_code=event.code)
        case AttentionResolved() if event.scope == "order" and event.code == mall.attention_code:
            return _mall_side(mall, attention_code=None)
    return mall


def fold(events: list[Event]) -> dict[tuple[str, str], OrderState]:
    """Fold a sequence of events of both topics into per-order state, keyed (tenant_id, order_number)."""
    states: dict[tuple[str, str], OrderState] = {}
    for event in events:
        key = (event.tenant_id, event.order_number)
        states[key] = apply(states.get(key), event)
    return states
