"""Which events reach a person, and what they are told (pure).

Six kinds of alert. Four from the publisher's attention events on sync-events:
- `attention`: an order needs a person (`AttentionNeeded`, scope "order"), e.g. `cancelled_at_mall`;
- `resolved`: it no longer does (`AttentionResolved`, scope "order");
- `tenant_paused`: MALL refused the tenant's credentials and all its updates wait (`AttentionNeeded`,
  scope "tenant");
- `tenant_resumed`: MALL accepts them again (`AttentionResolved`, scope "tenant").
Two from `mallbridge balance`'s `UnknownMallOrdersObserved` on operator-events (tenant-level, the whole set):
- `unknown_mall_orders`: MALL orders open there for over an hour that FastCentrik never got (the customer
  paid; nothing ships unless a person brings each into FastCentrik or cancels it at MALL);
- `unknown_mall_orders_cleared`: an empty set, none are left.
  Balance records one only when the set changed, so each is news: no state is needed to decide.
Every other event is no alert. An alert's identity is the event it comes from (`event_id`): the same
event read twice is the same alert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from mallbridge_notify.domain.records import UnreadableRecord
from mallbridge_schema.events import (
    AttentionNeeded,
    AttentionResolved,
    OperatorEvent,
    SyncEvent,
    UnknownMallOrdersObserved,
)

AlertKind = Literal[
    "attention", "resolved", "tenant_paused", "tenant_resumed", "unknown_mall_orders", "unknown_mall_orders_cleared"
]
Channel = Literal["webhook", "email"]
CHANNELS: tuple[Channel, ...] = ("webhook", "email")
TENANT_LEVEL_KINDS: frozenset[AlertKind] = frozenset(
    {"tenant_paused", "tenant_resumed", "unknown_mall_orders", "unknown_mall_orders_cleared"}
)
UNKNOWN_TO_FASTCENTRIK = "unknown_to_fastcentrik"
"""The code of the unknown-MALL-orders alerts: balance's name for this drift (the audit's, too)."""
MAX_ORDERS_SHOWN = 10
"""How many of an unknown set an alert names (oldest first); the message says how many more there are.
Only these go into the alert, so a ledger record stays small even for a set of a thousand."""


class ShownMallOrder(BaseModel):
    """One MALL order an alert names: its id, MALL status and MALL's `open` time as MALL wrote it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    mall_order_id: str
    status: str
    opened_at: str | None = None


class Alert(BaseModel):
    """What a person is told about one event (no secret, no rendering: see `messages`)."""

    # Kept in the ledger (`AlertQueued.alert`): every field added here needs a default, so that the records
    # an older notifier wrote still read (`orders` and `total` came with the unknown MALL orders).
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: UUID
    kind: AlertKind
    tenant_id: str
    order_number: str
    mall_order_id: str
    code: str
    reason: str = ""
    recorded_at: AwareDatetime
    orders: tuple[ShownMallOrder, ...] = Field(
        default=(), description=f"`unknown_mall_orders`: the first {MAX_ORDERS_SHOWN} of the set, oldest first"
    )
    total: int = Field(default=0, ge=0, description="`unknown_mall_orders`: how many there are in all")


def alert_for(event: SyncEvent | OperatorEvent | UnreadableRecord) -> Alert | None:
    """The alert an event calls for, or None."""
    match event:
        case AttentionNeeded():
            kind: AlertKind = "tenant_paused" if event.scope == "tenant" else "attention"
            reason = event.reason
        case AttentionResolved():
            kind = "tenant_resumed" if event.scope == "tenant" else "resolved"
            reason = ""
        case UnknownMallOrdersObserved():
            return unknown_orders_alert(event)
        case _:
            return None
    return Alert(
        event_id=event.event_id,
        kind=kind,
        tenant_id=event.tenant_id,
        order_number=event.order_number,
        mall_order_id=event.mall_order_id,
        code=event.code,
        reason=reason,
        recorded_at=event.recorded_at,
    )


def unknown_orders_alert(event: UnknownMallOrdersObserved) -> Alert:
    """The tenant's MALL orders FastCentrik never got: the first few named, all counted; none left if empty."""
    shown = tuple(
        ShownMallOrder(mall_order_id=o.mall_order_id, status=o.status.value, opened_at=o.opened_at)
        for o in event.orders[:MAX_ORDERS_SHOWN]
    )
    return Alert(
        event_id=event.event_id,
        kind="unknown_mall_orders" if event.total else "unknown_mall_orders_cleared",
        tenant_id=event.tenant_id,
        order_number="",
        mall_order_id="",
        code=UNKNOWN_TO_FASTCENTRIK,
        recorded_at=event.recorded_at,
        orders=shown,
        total=event.total,
    )


def is_stale(recorded_at: datetime, *, now: datetime, max_age_s: float) -> bool:
    """An alert about an event written more than `max_age_s` ago is news no more (the console lists it)."""
    return (now - recorded_at).total_seconds() > max_age_s


def alert_id(event_id: UUID, channel: Channel) -> str:
    """One alert goes out once per channel: the ledger key of its delivery on `channel`."""
    return f"{event_id}:{channel}"
