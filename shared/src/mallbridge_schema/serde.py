"""JSON (de)serialization, Kafka keys and topic names (ARCHITECTURE.md §3, contract).

Values are UTF-8 JSON; keys are `{tenant_id}:{order_number}` (a tenant-level event such as
`MallWebhookReceived` has order_number "": key `{tenant_id}:`). Reading is tolerant: unknown fields are
ignored, and an event of an older `schema_version` is upcast before validation.

Three topics per lane, all with the same partition count (the publisher folds partition p of each):
`order-events.v1` (ingest), `sync-events.v1` (publisher), `operator-events.v1` (the operator commands
and `mallbridge balance`), plus `dead-letter.v1`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timezone
from typing import Any, get_args

import msgspec
from pydantic import AwareDatetime, TypeAdapter
from pydantic_core import TzInfo

from mallbridge_schema.events import (
    OPERATOR_EVENT_TYPES,
    ORDER_EVENT_TYPES,
    SCHEMA_VERSION,
    SYNC_EVENT_TYPES,
    Event,
    OperatorEvent,
    OrderEvent,
    SyncEvent,
)

ORDER_EVENTS_TOPIC = "order-events.v1"
SYNC_EVENTS_TOPIC = "sync-events.v1"
OPERATOR_EVENTS_TOPIC = "operator-events.v1"
DEAD_LETTER_TOPIC = "dead-letter.v1"
NOTIFY_ALERTS_TOPIC = "notify-alerts.v1"  # the notifier's ledger (mallbridge_notify.domain.ledger), one for all lanes
DEFAULT_TOPIC_PREFIX = "mallbridge."

ORDER_EVENT_ADAPTER: TypeAdapter[OrderEvent] = TypeAdapter(OrderEvent)
SYNC_EVENT_ADAPTER: TypeAdapter[SyncEvent] = TypeAdapter(SyncEvent)
OPERATOR_EVENT_ADAPTER: TypeAdapter[OperatorEvent] = TypeAdapter(OperatorEvent)
_ORDER_TYPE_NAMES = tuple(cls.model_fields["type"].default for cls in ORDER_EVENT_TYPES)
_SYNC_TYPE_NAMES = tuple(cls.model_fields["type"].default for cls in SYNC_EVENT_TYPES)
_OPERATOR_TYPE_NAMES = tuple(cls.model_fields["type"].default for cls in OPERATOR_EVENT_TYPES)

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
# (event type, version it upgrades from) -> pure dict-to-dict function producing version + 1
# (the decoder stamps `schema_version` = version + 1 on its result, whatever the function wrote there).
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class EventDecodeError(ValueError):
    """Bytes that are not a valid event of the expected topic."""


def event_key(tenant_id: str, order_number: str) -> bytes:
    return f"{tenant_id}:{order_number}".encode()


def topic_name(prefix: str, topic: str) -> str:
    return f"{prefix}{topic}"


def _datetime_fields(cls: type[Event]) -> tuple[str, ...]:
    kinds = (datetime, AwareDatetime)
    return tuple(
        name for name, f in cls.model_fields.items() if any(t in kinds for t in (f.annotation, *get_args(f.annotation)))
    )


# Order events (ingest writes one per change: its hot path) hold only strings, integers, booleans, UUIDs,
# a string enum, tuples of strings and aware date-times, all of which msgspec writes exactly as pydantic's
# serializer does, in the same field order, at a third of the cost. tests/unit/schema/test_fast_encode.py
# checks the bytes on random events of every type; a type added here without that parity fails it.
_FIELDS_AS_IS: dict[type[Event], tuple[str, ...]] = {cls: _datetime_fields(cls) for cls in ORDER_EVENT_TYPES}
_JSON = msgspec.json.Encoder()
_FIXED_OFFSETS = (TzInfo, timezone)


def _whole_minute_offsets(values: dict[str, Any], fields: tuple[str, ...]) -> bool:
    """The one difference between the two writers: an offset with seconds (say a zone's local mean time
    before 1900) is cut to minutes by pydantic and rounded by msgspec; such a date-time goes pydantic's way."""
    checked = None
    for name in fields:
        moment: datetime | None = values[name]
        if moment is None or moment is checked:  # ingest's occurred_at is often the changed_at itself
            continue
        zone = moment.tzinfo
        if zone is not UTC:  # UTC: the clock's times, nothing to look at
            # A fixed offset (parsed JSON's, or datetime.timezone) answers without the date-time: cheaper.
            offset = zone.utcoffset(None) if isinstance(zone, _FIXED_OFFSETS) else moment.utcoffset()
            if offset is not None and (offset.seconds % 60 or offset.microseconds):
                return False
        checked = moment
    return True


def encode_event(event: Event) -> bytes:
    """The event as UTF-8 JSON: pydantic's serializer's output (model_dump_json's, as bytes)."""
    fields = _FIELDS_AS_IS.get(type(event))
    if fields is not None and _whole_minute_offsets(values := event.__dict__, fields):
        return _JSON.encode(values)  # the same bytes (see _FIELDS_AS_IS)
    # The model's serializer itself, without its per-call wrapper.
    return event.__pydantic_serializer__.to_json(event)


def _upcast(data: dict[str, Any]) -> dict[str, Any]:
    version = data.get("schema_version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        raise EventDecodeError(f"schema_version must be an integer, got {version!r}")
    while version < SCHEMA_VERSION:
        event_type = str(data.get("type"))  # an upcaster may rename the type: look it up afresh each step
        upcaster = UPCASTERS.get((event_type, version))
        if upcaster is None:
            break
        try:
            upcast = upcaster(dict(data))
        except Exception as exc:  # a malformed old event is a decode error, not a crash of the consumer
            raise EventDecodeError(f"cannot upcast {event_type} v{version}: {exc!r}") from exc
        # One step always means one version up: an upcaster that forgets the field cannot loop forever.
        version += 1
        data = {**upcast, "schema_version": version}
    return data


def _decode(raw: bytes, adapter: TypeAdapter[Any], topic: str, known_types: tuple[str, ...]) -> Any:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventDecodeError(f"not UTF-8 JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EventDecodeError("event is not a JSON object")
    data = _upcast(data)
    if data.get("type") not in known_types:
        raise EventDecodeError(
            f"unknown event type {data.get('type')!r} for topic {topic}; known: {', '.join(known_types)}"
        )
    try:
        return adapter.validate_python(data)
    except ValueError as exc:
        raise EventDecodeError(str(exc)) from exc


def decode_order_event(raw: bytes) -> OrderEvent:
    result: OrderEvent = _decode(raw, ORDER_EVENT_ADAPTER, ORDER_EVENTS_TOPIC, _ORDER_TYPE_NAMES)
    return result


def decode_sync_event(raw: bytes) -> SyncEvent:
    result: SyncEvent = _decode(raw, SYNC_EVENT_ADAPTER, SYNC_EVENTS_TOPIC, _SYNC_TYPE_NAMES)
    return result


def decode_operator_event(raw: bytes) -> OperatorEvent:
    result: OperatorEvent = _decode(raw, OPERATOR_EVENT_ADAPTER, OPERATOR_EVENTS_TOPIC, _OPERATOR_TYPE_NAMES)
    return result


def events_json_schema() -> dict[str, Any]:
    """The JSON Schema of the three unions, as committed in `events.schema.json`."""
    return {
        ORDER_EVENTS_TOPIC: ORDER_EVENT_ADAPTER.json_schema(),
        SYNC_EVENTS_TOPIC: SYNC_EVENT_ADAPTER.json_schema(),
        OPERATOR_EVENTS_TOPIC: OPERATOR_EVENT_ADAPTER.json_schema(),
    }
