"""The projection: a fold of both topics' events into per-order state.

`apply(state, event) -> state` returns new frozen values and never mutates. It is idempotent under
redelivery: order events carry a per-order `seq` and are applied only when newer; MALL's status only
moves forward along its own graph, so a replayed or duplicated sync event changes nothing. The two
topics are independent inputs: the result does not depend on how they interleave.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import singledispatch

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
class MallSide:
    """MALL's side as last known from sync events (an order reaches FastCentrik once MALL has it open)."""

    status: MallStatus = MallStatus.OPEN
    confirmed: bool = False
    last_request_no: int = 0
    settled_request_no: int = 0
    rejection: Rejection | None = None
    deferral: Deferral | None = None
    attention_code: str | None = None


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
        fc = _apply_fact(event, replace(current.fc, seq=event.seq, changed_at=event.occurred_at))
        mall_order_id = event.mall_order_id or current.mall_order_id
        return replace(current, fc=fc, mall_order_id=mall_order_id)
    return replace(current, mall=_apply_sync(event, current.mall))


# ---- FastCentrik facts ---------------------------------------------------------------------------------


@singledispatch
def _apply_fact(event: OrderEventBase, fc: FastCentrikSide) -> FastCentrikSide:
    return fc  # an event type this version does not know changes nothing (tolerant reader)


@_apply_fact.register
def _(event: OrderFirstSeen, fc: FastCentrikSide) -> FastCentrikSide:
    return replace(
        fc,
        status=event.status,
        status_label=event.status_label,
        delivered_at=event.delivered_at,
        delivery_recorded_at=event.occurred_at if event.delivered_at else None,
        tracking_number=event.tracking_number,
        tracking_url=event.tracking_url,
        mdp=event.mdp,
    )


@_apply_fact.register
def _(event: OrderStatusChanged, fc: FastCentrikSide) -> FastCentrikSide:
    return replace(fc, status=event.to_status, status_label=event.status_label)


@_apply_fact.register
def _(event: DeliveryDateSet, fc: FastCentrikSide) -> FastCentrikSide:
    recorded = event.occurred_at if event.delivered_at else None
    return replace(fc, delivered_at=event.delivered_at, delivery_recorded_at=recorded)


@_apply_fact.register
def _(event: TrackingAssigned, fc: FastCentrikSide) -> FastCentrikSide:
    return replace(fc, tracking_number=event.tracking_number, tracking_url=event.tracking_url)


@_apply_fact.register
def _(event: MdpFlagSet, fc: FastCentrikSide) -> FastCentrikSide:
    return replace(fc, mdp=event.mdp)


# ---- MALL side ------------------------------------------------------------------------------------------


def _forward(current: MallStatus, seen: MallStatus) -> MallStatus:
    return seen if mall_rank(seen) > mall_rank(current) else current


def _settle(mall: MallSide, request_no: int) -> MallSide:
    return replace(
        mall,
        last_request_no=max(mall.last_request_no, request_no),
        settled_request_no=max(mall.settled_request_no, request_no),
    )


def _apply_sync(event: Event, mall: MallSide) -> MallSide:
    match event:
        case MallUpdateRequested():
            return replace(mall, last_request_no=max(mall.last_request_no, event.request_no))
        case MallStatusUpdated():
            updated = _settle(mall, event.request_no)
            return replace(updated, status=_forward(mall.status, event.status), confirmed=True, deferral=None)
        case MallUpdateRejected():
            rejection = Rejection(event.status, event.based_on_seq, event.http_status, event.message)
            return replace(_settle(mall, event.request_no), rejection=rejection)
        case MallStateObserved():
            observed = _settle(mall, event.request_no)
            return replace(observed, status=_forward(mall.status, event.status), confirmed=event.confirmed)
        case StepDeferred():
            return replace(mall, deferral=Deferral(event.status, event.reason, event.until))
        case AttentionNeeded() if event.scope == "order":
            return replace(mall, attention_code=event.code)
        case AttentionResolved() if event.scope == "order" and event.code == mall.attention_code:
            return replace(mall, attention_code=None)
    return mall


def fold(events: list[Event]) -> dict[tuple[str, str], OrderState]:
    """Fold a sequence of events of both topics into per-order state, keyed (tenant_id, order_number)."""
    states: dict[tuple[str, str], OrderState] = {}
    for event in events:
        key = (event.tenant_id, event.order_number)
        states[key] = apply(states.get(key), event)
    return states
