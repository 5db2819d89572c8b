"""Narrow, fast read views of the three topics' events: only the fields the report needs.

Why: a replay of a million events spends most of its time decoding. The full pydantic decode
(`mallbridge_schema.serde`) validates every field of every event; the report needs a dozen. These
msgspec structs decode the same JSON about three times faster and ignore every other field (tolerant
reader, like the schema). They are a *view* of the schema, never a second contract:

- a record the fast path cannot take (invalid JSON, a wrong type, a field its type requires missing, an
  older `schema_version`) goes through the schema's own decoder, upcasters included, and is then
  converted with `order_fact_from_event` / `sync_fact_from_event` / `operator_fact_from_event`; what that
  decoder refuses is reported as undecodable;
- tests/unit/audit/test_fast_path_parity.py checks on random logs (unknown fields and event types
  included) that reports read through these views equal the reports read through the schema's models,
  and agree with the projection on every order.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from mallbridge_schema.events import (
    MAX_UNKNOWN_LISTED,
    MAX_WEBHOOK_IDS,
    OPERATOR_EVENT_TYPES,
    ORDER_EVENT_TYPES,
    SCHEMA_VERSION,
    SYNC_EVENT_TYPES,
    Event,
    MallWebhookReceived,
    ObservationSource,
    ObservedField,
    OperatorEvent,
    OrderEvent,
    OrderEventBase,
    SyncEvent,
    SyncEventBase,
)
from mallbridge_schema.serde import (
    OPERATOR_EVENT_ADAPTER,
    ORDER_EVENT_ADAPTER,
    SYNC_EVENT_ADAPTER,
    UPCASTERS,
    EventDecodeError,
    decode_operator_event,
    decode_order_event,
    decode_sync_event,
)
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]

ORDER_TYPES: frozenset[str] = frozenset(t.model_fields["type"].default for t in ORDER_EVENT_TYPES)
SYNC_TYPES: frozenset[str] = frozenset(t.model_fields["type"].default for t in SYNC_EVENT_TYPES)
OPERATOR_TYPES: frozenset[str] = frozenset(t.model_fields["type"].default for t in OPERATOR_EVENT_TYPES)
_PUT_TYPES = frozenset({"MallUpdateRequested", "MallStatusUpdated", "MallUpdateRejected"})


class OrderFact(msgspec.Struct, frozen=True, gc=False):
    """An order-events.v1 event, reduced to what the report folds."""

    type: str
    tenant_id: str
    order_number: str
    mall_order_id: str
    occurred_at: AwareDatetime
    seq: int = 0  # 0: a tenant-level event without an order (MallWebhookReceived), which the report skips
    schema_version: int = SCHEMA_VERSION
    status: FastCentrikStatus | None = None  # OrderFirstSeen
    to_status: FastCentrikStatus | None = None  # OrderStatusChanged
    delivered_at: str | None = None  # OrderFirstSeen, DeliveryDateSet (None: cleared)
    tracking_number: str | None = None
    tracking_url: str | None = None
    mdp: bool | None = None  # OrderFirstSeen, MdpFlagSet
    order_ids: tuple[str, ...] = ()  # MallWebhookReceived
    unknown_ids: tuple[str, ...] = ()


class RequestBody(msgspec.Struct, frozen=True, gc=False):
    """The fields of a PUT body the SLA figures read."""

    status: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    delivered_at: str | None = None


class SyncFact(msgspec.Struct, frozen=True, gc=False):
    """A sync-events.v1 event, reduced to what the report folds."""

    type: str
    tenant_id: str
    order_number: str
    mall_order_id: str
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    schema_version: int = SCHEMA_VERSION
    based_on_seq: int = 0
    request_no: int = 0
    status: MallStatus | None = None
    request: RequestBody | None = None
    http_status: int = 0
    message: str | None = None  # MallUpdateRejected
    reason: str | None = None  # StepDeferred, AttentionNeeded
    code: str | None = None  # AttentionNeeded, AttentionResolved
    scope: Literal["order", "tenant"] = "order"  # AttentionNeeded, AttentionResolved
    tracking_number: str | None = None  # MallStateObserved
    tracking_url: str | None = None
    mdp: bool | None = None  # MallStateObserved: MALL's word on MALL Delivery (None: it did not say)
    source: ObservationSource = "outcome_unknown"  # MallStateObserved: why MALL was read
    confirmed: bool | None = None
    changed: tuple[ObservedField, ...] = ()


class UnknownOrderView(msgspec.Struct, frozen=True, gc=False):
    """One MALL order of an UnknownMallOrdersObserved (the schema's `UnknownMallOrder`)."""

    mall_order_id: str
    status: MallStatus
    opened_at: str | None = None


class OperatorFact(msgspec.Struct, frozen=True, gc=False):
    """An operator-events.v1 event, reduced to what the report folds: a person's action (who, why), or
    what `mallbridge balance` saw at MALL (a MallStateObserved, with the fields of SyncFact's; or, about
    the tenant with `order_number` "", an UnknownMallOrdersObserved)."""

    type: str
    event_id: uuid.UUID
    tenant_id: str
    order_number: str
    mall_order_id: str
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    schema_version: int = SCHEMA_VERSION
    by: str = ""  # OrderReturnRequested, OrderResyncRequested, AttentionAcknowledged
    reason: str = ""
    code: str | None = None  # AttentionAcknowledged
    based_on_seq: int = 0  # MallStateObserved
    request_no: int = 0
    status: MallStatus | None = None
    source: ObservationSource = "outcome_unknown"
    confirmed: bool | None = None
    changed: tuple[ObservedField, ...] = ()
    tracking_number: str | None = None
    tracking_url: str | None = None
    mdp: bool | None = None
    orders: tuple[UnknownOrderView, ...] = ()  # UnknownMallOrdersObserved
    total: int = 0


F = TypeVar("F", "OrderFact", "SyncFact", "OperatorFact")  # a fact of one of the three topics
_ORDER_DECODER = msgspec.json.Decoder(OrderFact)
_SYNC_DECODER = msgspec.json.Decoder(SyncFact)
_OPERATOR_DECODER = msgspec.json.Decoder(OperatorFact)
_ACTION_TYPES = frozenset({"OrderReturnRequested", "OrderResyncRequested", "AttentionAcknowledged"})


class UnknownEventType(ValueError):
    """A well-formed event of a type this version does not know (a newer writer): skipped, counted."""


def _order_complete(fact: OrderFact) -> bool:
    mall_id = fact.mall_order_id  # the schema's `MallOrderId`: 1 to 32 ASCII digits (isdigit takes others too)
    if not (mall_id.isdigit() and mall_id.isascii() and len(mall_id) <= 32):
        # the schema's decoder refuses it (undecodable on every path), unless it is a webhook receipt
        return fact.type == "MallWebhookReceived" and _receipt_complete(fact)
    if fact.type == "OrderFirstSeen":
        return fact.status is not None
    if fact.type == "OrderStatusChanged":
        return fact.to_status is not None
    if fact.type == "MdpFlagSet":
        return fact.mdp is not None
    return fact.type in ORDER_TYPES and fact.type != "MallWebhookReceived"  # a receipt has no MALL id


def _receipt_complete(fact: OrderFact) -> bool:
    """What the schema's MallWebhookReceived asks beyond the view's types: tenant-level (no order, no MALL
    id), at most MAX_WEBHOOK_IDS ids, each MALL's digits and given once, the unknown ones among them. Rare
    (one per webhook delivery): checking every id costs nothing that matters."""
    ids, unknown = fact.order_ids, fact.unknown_ids
    if fact.order_number or fact.mall_order_id or len(ids) > MAX_WEBHOOK_IDS or len(unknown) > MAX_WEBHOOK_IDS:
        return False
    given = set(ids)
    return len(given) == len(ids) and given.issuperset(unknown) and all(_is_mall_order_id(i) for i in given)


def _sync_complete(fact: SyncFact) -> bool:
    if fact.type in _PUT_TYPES:
        return fact.status is not None and fact.request_no >= 1 and fact.request is not None
    if fact.type in ("StepDeferred", "MallStateObserved"):
        return fact.status is not None
    if fact.type in ("AttentionNeeded", "AttentionResolved"):
        return fact.code is not None
    return fact.type == "MallReadRefused"


def _operator_complete(fact: OperatorFact) -> bool:
    if fact.type in _ACTION_TYPES:  # `by` must name someone (the schema: at least one non-space character)
        return bool(fact.by.strip()) and (fact.type != "AttentionAcknowledged" or bool(fact.code))
    if fact.type == "MallStateObserved":
        return fact.status is not None
    if fact.type == "UnknownMallOrdersObserved":
        return _unknown_orders_complete(fact)
    return False


def _unknown_orders_complete(fact: OperatorFact) -> bool:
    """What the schema's UnknownMallOrdersObserved asks beyond the view's types: tenant-level (no order,
    no MALL id), at most MAX_UNKNOWN_LISTED orders, each named once by MALL's digits, and `total` at least
    as many as listed. Rare (one per change balance saw): checking every id costs nothing that matters."""
    orders = fact.orders
    if fact.order_number or fact.mall_order_id or len(orders) > MAX_UNKNOWN_LISTED or fact.total < len(orders):
        return False
    ids = {order.mall_order_id for order in orders}
    return len(ids) == len(orders) and all(_is_mall_order_id(mall_id) for mall_id in ids)


def _is_mall_order_id(mall_id: str) -> bool:
    """The schema's `MallOrderId`: 1 to 32 ASCII digits (`isdigit` alone takes other digits too; the hot
    `_order_complete` spells the same test out inline)."""
    return mall_id.isdigit() and mall_id.isascii() and len(mall_id) <= 32


def decode_order_fact(raw: bytes) -> OrderFact:
    """Fast path first; the schema's decoder (with upcasters) for anything else.

    Raises EventDecodeError (not an event) or UnknownEventType (an event type this version lacks).
    """
    return _fast_path_first(
        raw, _ORDER_DECODER, _order_complete, order_fact_from_event, decode_order_event, ORDER_TYPES
    )


def decode_sync_fact(raw: bytes) -> SyncFact:
    """Fast path first; the schema's decoder (with upcasters) for anything else."""
    return _fast_path_first(raw, _SYNC_DECODER, _sync_complete, sync_fact_from_event, decode_sync_event, SYNC_TYPES)


def decode_operator_fact(raw: bytes) -> OperatorFact:
    """Fast path first; the schema's decoder (with upcasters) for anything else."""
    return _fast_path_first(
        raw, _OPERATOR_DECODER, _operator_complete, operator_fact_from_event, decode_operator_event, OPERATOR_TYPES
    )


def _fast_path_first(
    raw: bytes,
    fast: msgspec.json.Decoder[F],
    complete: Callable[[F], bool],
    from_event: Callable[[Any], F],
    decode: Callable[[bytes], Any],
    known: frozenset[str],
) -> F:
    """The fast decoder's fact when it decodes whole and of this schema version; else the schema's event
    (`_schema_decode`) converted with `from_event`."""
    try:
        fact = fast.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        fact = None
    if fact is not None and fact.schema_version == SCHEMA_VERSION and complete(fact):
        return fact
    return from_event(_schema_decode(raw, decode, known))


class _Tagged(msgspec.Struct):
    type: Any = None


_TAG_DECODER = msgspec.json.Decoder(_Tagged)


def _schema_decode(raw: bytes, decode: Callable[[bytes], Any], known: frozenset[str]) -> Any:
    """The schema's own decoder; its refusal of an event *type* it does not know becomes UnknownEventType."""
    try:
        return decode(raw)
    except EventDecodeError as exc:
        try:
            kind = _TAG_DECODER.decode(raw).type
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise exc from None  # the schema's own reason: not UTF-8 JSON, or not a JSON object
        upcastable = {t for t, _ in UPCASTERS}
        if isinstance(kind, str) and kind not in known and kind not in upcastable:
            raise UnknownEventType(kind) from None
        raise


def decode_order_event_full(raw: bytes) -> OrderEvent:
    """The whole schema event: pydantic's JSON fast path, else the schema's decoder with upcasters."""
    result: OrderEvent = _decode_full(raw, ORDER_EVENT_ADAPTER, decode_order_event, ORDER_TYPES)
    return result


def decode_sync_event_full(raw: bytes) -> SyncEvent:
    result: SyncEvent = _decode_full(raw, SYNC_EVENT_ADAPTER, decode_sync_event, SYNC_TYPES)
    return result


def decode_operator_event_full(raw: bytes) -> OperatorEvent:
    result: OperatorEvent = _decode_full(raw, OPERATOR_EVENT_ADAPTER, decode_operator_event, OPERATOR_TYPES)
    return result


def _decode_full(raw: bytes, adapter: Any, decode: Callable[[bytes], Any], known: frozenset[str]) -> Any:
    try:
        event = adapter.validate_json(raw)
        if event.schema_version == SCHEMA_VERSION:
            return event
    except ValueError:
        pass
    return _schema_decode(raw, decode, known)


def _convert(event: Any, target: type[Any]) -> Any:
    try:
        return msgspec.convert(event.model_dump(mode="json"), target, strict=False)
    except msgspec.ValidationError as exc:  # a schema event that does not fit the view: a bug, say so
        raise EventDecodeError(f"{type(event).__name__} does not fit the audit view: {exc}") from exc


def order_fact_from_event(event: OrderEventBase | MallWebhookReceived) -> OrderFact:
    fact: OrderFact = _convert(event, OrderFact)
    return fact


def sync_fact_from_event(event: SyncEventBase) -> SyncFact:
    fact: SyncFact = _convert(event, SyncFact)
    return fact


def operator_fact_from_event(event: Event) -> OperatorFact:
    fact: OperatorFact = _convert(event, OperatorFact)
    return fact
