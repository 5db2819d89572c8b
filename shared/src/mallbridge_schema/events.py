"""The events of `order-events.v1`, `sync-events.v1` and `operator-events.v1` (ARCHITECTURE.md §3, §6, §7; contract).

Every event is a frozen pydantic model with a past-tense name, tagged by `type`, carrying the common
envelope. One discriminated union per topic. Readers ignore unknown fields (tolerant reader); a breaking
change bumps `schema_version` and gets an upcaster in `serde.py`.

Who writes what:
- `order-events.v1`, ingest only: facts about the FastCentrik side (`OrderFirstSeen` ... `MdpFlagSet`),
  each with the order's next `seq`; `MallOrderChanged` (MALL's webhook named the order as changed: it
  takes the order's next seq, because ingest is the order's single writer, and changes nothing on the
  FastCentrik side); and `MallWebhookReceived`, the receipt of one webhook delivery, a tenant-level event
  (`order_number` and `mall_order_id` are "", key `{tenant}:`, no seq) that order folds ignore.
- `sync-events.v1`, the publisher only: what it sent to MALL, what MALL answered, and what it read at
  MALL (`MallStateObserved`, with the `source` of the read).
- `operator-events.v1`, the operator commands (`mallbridge order ...`, `mallbridge balance`), key
  `{tenant}:{order}`: what a person decided (`OrderReturnRequested`, `OrderResyncRequested`,
  `AttentionAcknowledged`, each with who and why) and what `mallbridge balance` saw at MALL
  (`MallStateObserved` with source "balance"; `UnknownMallOrdersObserved`, tenant-level, key `{tenant}:`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

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

MallOrderId = Annotated[str, Field(pattern=r"^[0-9]{1,32}$", description="a MALL order id, as digits")]


class OrderEventBase(Event):
    # Ingest takes only digits (the snapshot's rule), and the publisher puts this id in MALL's URL: a record
    # with anything else is not an order event (dead-lettered, never planned).
    mall_order_id: MallOrderId
    seq: int = Field(ge=1, description="per-order sequence number assigned by ingest; 1 = first seen")
    changed_at: AwareDatetime | None = Field(
        default=None,
        description="the `changed_at` of the snapshot this event came from, by FastCentrik's clock (None: "
        "the snapshot had none, and `occurred_at` is its receipt time); the newest one per order makes an "
        "older snapshot stale (ARCHITECTURE.md §3)",
    )


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


class MallOrderChanged(OrderEventBase):
    """MALL's webhook named this order as changed: a fact about MALL's side that ingest received.

    It takes the order's next `seq` (ingest is the order's single writer) and changes nothing on the
    FastCentrik side: a fold only moves the seq. The publisher reads the order at MALL (GET) when it
    consumes one; what it reads is recorded as a `MallStateObserved` with source "webhook".
    """

    type: Literal["MallOrderChanged"] = "MallOrderChanged"
    receipt_id: UUID = Field(description="the event_id of the MallWebhookReceived this came with")


MAX_WEBHOOK_IDS = 1000


class MallWebhookReceived(Event):
    """The receipt of one MALL webhook delivery, durable before ingest answers 202.

    Tenant-level, not an order's event: `order_number` and `mall_order_id` are "" (Kafka key
    `{tenant}:`) and there is no seq; order folds ignore it.
    """

    type: Literal["MallWebhookReceived"] = "MallWebhookReceived"
    order_number: Literal[""] = ""
    mall_order_id: Literal[""] = ""
    order_ids: tuple[MallOrderId, ...] = Field(
        max_length=MAX_WEBHOOK_IDS, description="every id of the delivery, coalesced, in arrival order"
    )
    unknown_ids: tuple[MallOrderId, ...] = Field(
        default=(), max_length=MAX_WEBHOOK_IDS, description="the ids no FastCentrik snapshot has named yet"
    )

    @model_validator(mode="after")
    def _ids_are_coalesced(self) -> MallWebhookReceived:
        if len(set(self.order_ids)) != len(self.order_ids):
            raise ValueError("order_ids must be coalesced: each id once")
        stray = sorted(set(self.unknown_ids) - set(self.order_ids))
        if stray:
            raise ValueError(f"unknown_ids must be among order_ids; not there: {', '.join(stray)}")
        return self


OrderEvent = Annotated[
    OrderFirstSeen
    | OrderStatusChanged
    | DeliveryDateSet
    | TrackingAssigned
    | MdpFlagSet
    | MallOrderChanged
    | MallWebhookReceived,
    Field(discriminator="type"),
]


# ---- sync-events.v1: what the publisher sent to MALL and what MALL answered ----------------------------


class SyncEventBase(Event):
    based_on_seq: int = Field(default=0, ge=0, description="the order-event seq the decision was made on")


# The three PUT events share `status` and `request`. `status` is the MALL status the order has after
# this request; for a confirm-only request (`PUT {"confirmed": true}`) that is the status it already has
# (unchanged), and `request` is `{"confirmed": true}`.


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


ObservationSource = Literal["outcome_unknown", "refusal", "webhook", "poll", "resync", "balance"]
ObservedField = Literal["status", "confirmed", "tracking", "delivered_at"]


class MallStateObserved(SyncEventBase):
    """What MALL said about the order when it was read (ARCHITECTURE.md §6).

    `source` says why it was read: "outcome_unknown" (a PUT whose outcome is unknown; the default, so
    events written before the field existed read as they always did), "refusal" (the read after a
    refused PUT, `request_no` = the refused request), "webhook" (MALL's webhook named the order),
    "poll" (the unconfirmed queue listed it), "resync" (an operator asked for it: `mallbridge order
    resync`, or a drift `mallbridge balance` recorded), "balance" (what `mallbridge balance` saw; these
    are written to operator-events.v1). `changed` names which of status, confirmed, tracking and
    delivered_at differ from what the log last said. `confirmed` is None when the source did not say
    (the fold keeps what it knew); `mdp` likewise.
    """

    type: Literal["MallStateObserved"] = "MallStateObserved"
    request_no: int = Field(default=0, ge=0, description="the request this read settles (0: none)")
    source: ObservationSource = "outcome_unknown"
    changed: tuple[ObservedField, ...] = ()
    status: MallStatus
    confirmed: bool | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    delivered_at: str | None = None
    mdp: bool | None = None


class MallReadRefused(SyncEventBase):
    """MALL refused a read of the order for good (`GET /orders/{id}` answered 4xx, e.g. 404: MALL does not
    know the order), when the read was owed for a reason that only an answer ends: `source` "resync" (a
    person or a balance drift asked for it) or "refusal" (the read after refused request `request_no`).
    It answers that read, so the order is not read again until something new asks for it; what MALL's
    side is stays as the log knew it. (A read on MALL's notice records nothing when refused; a read of a
    PUT in doubt answered 404 records that PUT as refused.)"""

    type: Literal["MallReadRefused"] = "MallReadRefused"
    request_no: int = Field(default=0, ge=0, description="the refused request this read was for (0: none)")
    source: ObservationSource
    http_status: int
    message: str


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
    | MallReadRefused
    | StepDeferred
    | AttentionNeeded
    | AttentionResolved,
    Field(discriminator="type"),
]

# ---- operator-events.v1: what a person decided, and what `mallbridge balance` saw ----------------------


class OperatorEventBase(Event):
    """A person's decision about one order (ARCHITECTURE.md §7): who made it and why."""

    by: str = Field(min_length=1, pattern=r"\S", description="who: --by, default the OS user")
    reason: str = Field(default="", description="why, or the note")


class OrderReturnRequested(OperatorEventBase):
    """The manual "Returned": the parcel came back uncollected; the publisher sends `returned` once."""

    type: Literal["OrderReturnRequested"] = "OrderReturnRequested"


class OrderResyncRequested(OperatorEventBase):
    """Read MALL's state of the order now and plan again."""

    type: Literal["OrderResyncRequested"] = "OrderResyncRequested"


class AttentionAcknowledged(OperatorEventBase):
    """A person handled the attention item with this code; it leaves the open list until a new one."""

    type: Literal["AttentionAcknowledged"] = "AttentionAcknowledged"
    code: str = Field(min_length=1, description="the attention code that was handled")


MAX_UNKNOWN_LISTED = 1000


class UnknownMallOrder(BaseModel):
    """One MALL order that no FastCentrik snapshot has named, as `mallbridge balance` saw it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    mall_order_id: MallOrderId
    status: MallStatus
    opened_at: str | None = Field(
        default=None, description="MALL's `open` timestamp as MALL wrote it (None: MALL's detail had none)"
    )


class UnknownMallOrdersObserved(Event):
    """What `mallbridge balance` saw at MALL: the tenant's orders open there for over an hour that no
    FastCentrik snapshot has named (its drift `unknown_to_fastcentrik`): orders the shop never got, which a
    person must either bring into FastCentrik or cancel at MALL (ARCHITECTURE.md §6).

    Tenant-level, like `MallWebhookReceived`: `order_number` and `mall_order_id` are "" (Kafka key
    `{tenant}:`). It carries the whole set: the latest one replaces every earlier one, and an empty
    `orders` says there are none any more. Balance records one only when the set of ids differs from the
    last one recorded. `orders` lists at most MAX_UNKNOWN_LISTED of them (oldest first); `total` counts all.
    """

    type: Literal["UnknownMallOrdersObserved"] = "UnknownMallOrdersObserved"
    order_number: Literal[""] = ""
    mall_order_id: Literal[""] = ""
    orders: tuple[UnknownMallOrder, ...] = Field(default=(), max_length=MAX_UNKNOWN_LISTED)
    total: int = Field(default=0, ge=0, description="how many there are (`orders` lists the first of them)")

    @model_validator(mode="after")
    def _total_covers_the_list(self) -> UnknownMallOrdersObserved:
        if self.total < len(self.orders):
            raise ValueError(f"total must be at least the number of orders listed ({len(self.orders)})")
        ids = [o.mall_order_id for o in self.orders]
        if len(set(ids)) != len(ids):
            raise ValueError("orders must name each MALL order once")
        return self


OperatorEvent = Annotated[
    OrderReturnRequested | OrderResyncRequested | AttentionAcknowledged | MallStateObserved | UnknownMallOrdersObserved,
    Field(discriminator="type"),
]

ORDER_EVENT_TYPES: tuple[type[Event], ...] = (
    OrderFirstSeen,
    OrderStatusChanged,
    DeliveryDateSet,
    TrackingAssigned,
    MdpFlagSet,
    MallOrderChanged,
    MallWebhookReceived,
)
SYNC_EVENT_TYPES: tuple[type[SyncEventBase], ...] = (
    MallUpdateRequested,
    MallStatusUpdated,
    MallUpdateRejected,
    MallStateObserved,
    MallReadRefused,
    StepDeferred,
    AttentionNeeded,
    AttentionResolved,
)
OPERATOR_EVENT_TYPES: tuple[type[Event], ...] = (
    OrderReturnRequested,
    OrderResyncRequested,
    AttentionAcknowledged,
    MallStateObserved,
    UnknownMallOrdersObserved,
)
