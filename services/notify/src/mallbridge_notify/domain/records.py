"""Reading sync-events and operator-events tolerantly (ARCHITECTURE.md §3): every record is a known event
or an `UnreadableRecord`.

The notifier reads topics other services write, so a type it does not know (a newer publisher or balance)
or a record it cannot decode must neither crash it nor hold back the records behind it: such a record
reads as `UnreadableRecord` and is counted and skipped. A known event that calls for no alert (most of
them) is no such record: it is read, and `alerts.alert_for` says None. Decoding goes through the schema's
own decoders, so upcasters of older `schema_version`s apply exactly as in every other reader.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, PlainValidator

from mallbridge_schema.events import OPERATOR_EVENT_TYPES, SYNC_EVENT_TYPES, OperatorEvent, SyncEvent
from mallbridge_schema.serde import EventDecodeError, decode_operator_event, decode_sync_event

KNOWN_SYNC_TYPES = frozenset(cls.model_fields["type"].default for cls in SYNC_EVENT_TYPES)
KNOWN_OPERATOR_TYPES = frozenset(cls.model_fields["type"].default for cls in OPERATOR_EVENT_TYPES)

E = TypeVar("E")


class UnreadableRecord(BaseModel):
    """A record this build cannot use: an unknown event type, or not a valid event."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["unknown_type", "malformed"]
    problem: str


def _type_named(raw: bytes) -> object:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data.get("type") if isinstance(data, dict) else None


def _read(raw: object, decode: Callable[[bytes], E], known_types: frozenset[str]) -> E | UnreadableRecord:
    if isinstance(raw, str):
        raw = raw.encode()
    if not isinstance(raw, bytes | bytearray | memoryview):
        return UnreadableRecord(kind="malformed", problem=f"a record value must be bytes, got {type(raw).__name__}")
    value = bytes(raw)
    try:
        return decode(value)
    except EventDecodeError as exc:
        named = _type_named(value)
        kind: Literal["unknown_type", "malformed"] = (
            "unknown_type" if isinstance(named, str) and named not in known_types else "malformed"
        )
        return UnreadableRecord(kind=kind, problem=str(exc)[:500])


def read_sync_record(raw: object) -> SyncEvent | UnreadableRecord:
    """The bytes of one sync-events record -> its event, or what made it unreadable."""
    return _read(raw, decode_sync_event, KNOWN_SYNC_TYPES)


def read_operator_record(raw: object) -> OperatorEvent | UnreadableRecord:
    """The bytes of one operator-events record -> its event, or what made it unreadable.

    Every operator event type is known here, the ones that call for no alert (a person's action, balance's
    per-order `MallStateObserved`) included: only a type missing from the schema's union is `unknown_type`.
    """
    return _read(raw, decode_operator_event, KNOWN_OPERATOR_TYPES)


SyncRecord = Annotated[
    SyncEvent | UnreadableRecord,
    # The wire schema is the sync-event union (what AsyncAPI shows); reading never fails.
    PlainValidator(read_sync_record, json_schema_input_type=SyncEvent),
]
"""The type a sync-events handler is called with, one per record: pydantic reads it through `read_sync_record`."""

OperatorRecord = Annotated[
    OperatorEvent | UnreadableRecord,
    PlainValidator(read_operator_record, json_schema_input_type=OperatorEvent),
]
"""The type an operator-events handler is called with, one per record (through `read_operator_record`)."""
