"""Which sync events reach a person, and what they are told (pure).

Four kinds of alert, all from the publisher's attention events:
- `attention`: an order needs a person (`AttentionNeeded`, scope "order"), e.g. `cancelled_at_mall`;
- `resolved`: it no longer does (`AttentionResolved`, scope "order");
- `tenant_paused`: MALL refused the tenant's credentials and all its updates wait (`AttentionNeeded`,
  scope "tenant");
- `tenant_resumed`: MALL accepts them again (`AttentionResolved`, scope "tenant").
Every other event is no alert. An alert's identity is the event it comes from (`event_id`): the same
event read twice is the same alert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

from mallbridge_notify.domain.records import UnreadableRecord
from mallbridge_schema.events import AttentionNeeded, AttentionResolved, SyncEvent

AlertKind = Literal["attention", "resolved", "tenant_paused", "tenant_resumed"]
Channel = Literal["webhook", "email"]
CHANNELS: tuple[Channel, ...] = ("webhook", "email")


class Alert(BaseModel):
    """What a person is told about one attention event (no secret, no rendering: see `messages`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: UUID
    kind: AlertKind
    tenant_id: str
    order_number: str
    mall_order_id: str
    code: str
    reason: str = ""
    recorded_at: AwareDatetime


def alert_for(event: SyncEvent | UnreadableRecord) -> Alert | None:
    """The alert an event calls for, or None."""
    match event:
        case AttentionNeeded():
            kind: AlertKind = "tenant_paused" if event.scope == "tenant" else "attention"
            reason = event.reason
        case AttentionResolved():
            kind = "tenant_resumed" if event.scope == "tenant" else "resolved"
            reason = ""
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


def is_stale(recorded_at: datetime, *, now: datetime, max_age_s: float) -> bool:
    """An alert about an event written more than `max_age_s` ago is news no more (the console lists it)."""
    return (now - recorded_at).total_seconds() > max_age_s


def alert_id(event_id: UUID, channel: Channel) -> str:
    """One alert goes out once per channel: the ledger key of its delivery on `channel`."""
    return f"{event_id}:{channel}"
