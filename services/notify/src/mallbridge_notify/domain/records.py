"""Reading sync-events tolerantly (ARCHITECTURE.md §3): every record is a known event or an `UnreadableRecord`.

The notifier reads a topic another service writes, so a type it does not know (a newer publisher) or a
record it cannot decode must neither crash it nor hold back the records behind it: such a record reads
as `UnreadableRecord` and is counted and skipped. Decoding goes through the schema's own decoder, so
upcasters of older `schema_version`s apply exactly as in every other reader.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, PlainValidator

from mallbridge_schema.events import SYNC_EVENT_TYPES, SyncEvent
from mallbridge_schema.serde import EventDecodeError, decode_sync_event

KNOWN_SYNC_TYPES = frozenset(cls.model_fields["type"].default for cls in SYNC_EVENT_TYPES)


class UnreadableRecord(BaseModel):
    """A record of sync-events this build cannot use: an unknown event type, or not a valid event."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["unknown_type", "malformed"]
    problem: str


def _type_named(raw: bytes) -> object:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data.get("type") if isinstance(data, dict) else None


def read_sync_record(raw: object) -> SyncEvent | UnreadableRecord:
    """The bytes of one sync-events record -> its event, or what made it unreadable."""
    if isinstance(raw, str):
        raw = raw.encode()
    if not isinstance(raw, bytes | bytearray | memoryview):
        return UnreadableRecord(kind="malformed", problem=f"a record value must be bytes, got {type(raw).__name__}")
    value = bytes(raw)
    try:
        return decode_sync_event(value)
    except EventDecodeError as exc:
        named = _type_named(value)
        kind: Literal["unknown_type", "malformed"] = (
            "unknown_type" if isinstance(named, str) and named not in KNOWN_SYNC_TYPES else "malformed"
        )
        return UnreadableRecord(kind=kind, problem=str(exc)[:500])


SyncRecord = Annotated[
    SyncEvent | UnreadableRecord,
    # The wire schema is the sync-event union (what AsyncAPI shows); reading never fails.
    PlainValidator(read_sync_record, json_schema_input_type=SyncEvent),
]
"""The type a notifier handler is called with, one per record: pydantic reads it through `read_sync_record`."""
