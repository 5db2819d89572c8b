"""The events of `order-events.v1` and `sync-events.v1` (DESIGN §3, contract).

Every event is a frozen pydantic model with a past-tense name, tagged by `type`, carrying the common
envelope. One discriminated union per topic. Readers ignore unknown fields (tolerant reader); a breaking
change bumps `schema_version` and gets an upcaster in `serde.py`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from mallbridge_schema.statuses import FastCentrikStatus, MallStatus

SCHEMA_VERSION = 1


class Event(BaseModel):
    """The envelope every event carries."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: int = SCHEMA_VERSION
    event_id: UUID
    tenant_id: str
    order_number: str
    mall_order_id: str
    occurred_at: AwareDatetime = Field(description="when it happened at the source")
    recorded_at: AwareDatetime = Field(description="when mallbridge wrote it")


# ---- order-events.v1: facts about the FastCentrik side, written by ingest only -------------------------


class OrderEventBase(Event):
    seq: int = Field(ge=1, description="per-order sequence number assigned by ingest; 1 = first seen")


class OrderFirstSeen(OrderEventBase):
    type: Literal["OrderFirstSeen"] = "OrderFirstSeen"
    status: FastCentrikStatus
    status_label: str = Field(description="the status text exactly as FastCentrik sent it")
    delivered_at: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    mdp: bool = False


class OrderStatusChanged(OrderEventBase):
    type: Literal["OrderStatusChanged"] = "OrderStatusChanged"
    from_status: FastCentrikStatus
    to_status: FastCentrikStatus
    status_label: str


class DeliveryDateSet(OrderEventBase):
    """FastCentrik's "Date of delivery" was filled in or changed (None: it was cleared)."""

    type: Literal["DeliveryDateSet"] = "DeliveryDateSet"
    delivered_at: str | None


class TrackingAssigned(OrderEventBase):
    type: Literal["TrackingAssigned"] = "TrackingAssigned"
    tracking_number: str | None
    tracking_url: str | None


class MdpFlagSet(OrderEventBase):
    type: Literal["MdpFlagSet"] = "MdpFlagSet"
    mdp: bool


OrderEvent = Annotated[
    OrderFirstSeen | OrderStatusChanged | DeliveryDateSet | TrackingAssigned | MdpFlagSet,
    Field(discriminator="type"),
]


# ---- sync-events.v1: what the publisher sent to MALL and what MALL answered ----------------------------


class SyncEventBase(Event):
    based_on_seq: int = Field(default=0, ge=0, description="the order-event seq the decision was made on")


class MallUpdateRequested(SyncEventBase):
    """Written before a PUT goes out, so a crash between PUT and outcome is known to be uncertain."""

    type: Literal["MallUpdateRequested"] = "MallUpdateRequested"
    request_no: int = Field(ge=1)
    status: MallStatus
    request: dict[str, Any] = Field(description="the JSON body sent (never the client_id)")


class MallStatusUpdated(SyncEventBase):
    type: Literal["MallStatusUpdated"] = "MallStatusUpdated"
    request_no: int = Field(ge=1)
    status: MallStatus
    request: dict[str, Any]
    http_status: int
    latency_ms: float
    attempts: int = 1


class MallUpdateRejected(SyncEventBase):
    type: Literal["MallUpdateRejected"] = "MallUpdateRejected"
    request_no: int = Field(ge=1)
    status: MallStatus
    request: dict[str, Any]
    http_status: int
    response: dict[str, Any] | str
    message: str


class MallStateObserved(SyncEventBase):
    """MALL's side as read by a GET (after a timeout, an unknown outcome or a rejection)."""

    type: Literal["MallStateObserved"] = "MallStateObserved"
    request_no: int = Field(default=0, ge=0, description="the request this read settles (0: none)")
    status: MallStatus
    confirmed: bool
    tracking_number: str | None = None
    tracking_url: str | None = None
    delivered_at: str | None = None


class StepDeferred(SyncEventBase):
    type: Literal["StepDeferred"] = "StepDeferred"
    status: MallStatus
    reason: str
    until: AwareDatetime | None = None


class AttentionNeeded(SyncEventBase):
    type: Literal["AttentionNeeded"] = "AttentionNeeded"
    code: str
    reason: str
    scope: Literal["order", "tenant"] = "order"


class AttentionResolved(SyncEventBase):
    type: Literal["AttentionResolved"] = "AttentionResolved"
    code: str
    scope: Literal["order", "tenant"] = "order"


SyncEvent = Annotated[
    MallUpdateRequested
    | MallStatusUpdated
    | MallUpdateRejected
    | MallStateObserved
    | StepDeferred
    | AttentionNeeded
    | AttentionResolved,
    Field(discriminator="type"),
]

ORDER_EVENT_TYPES: tuple[type[OrderEventBase], ...] = (
    OrderFirstSeen,
    OrderStatusChanged,
    DeliveryDateSet,
    TrackingAssigned,
    MdpFlagSet,
)
SYNC_EVENT_TYPES: tuple[type[SyncEventBase], ...] = (
    MallUpdateRequested,
    MallStatusUpdated,
    MallUpdateRejected,
    MallStateObserved,
    StepDeferred,
    AttentionNeeded,
    AttentionResolved,
)
