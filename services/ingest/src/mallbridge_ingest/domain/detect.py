"""Change detection for one snapshot against the last known state of its order.

The first snapshot of an order becomes OrderFirstSeen (the whole snapshot). Later snapshots become one
event per real change, in this order: MdpFlagSet, TrackingAssigned, DeliveryDateSet, OrderStatusChanged.
Data events come before the status change so a consumer that reacts to the status (e.g. "settled" →
MALL `shipped`, which needs tracking) already has the data that arrived with it.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from mallbridge_ingest.domain.state import OrderFacts, OrderState, facts_from_snapshot
from mallbridge_schema.events import (
    DeliveryDateSet,
    MdpFlagSet,
    OrderEventBase,
    OrderFirstSeen,
    OrderStatusChanged,
    TrackingAssigned,
)
from mallbridge_schema.mall_format import parse_delivery_value
from mallbridge_schema.snapshot import OrderSnapshot

# Event ids are derived from what the event says, so the domain needs no random source and a retried
# write of the very same event carries the very same id.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c0a52-7c1e-4b8e-9a57-3c3f0d4f9e21")
_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes
_VERSION_VARIANT_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_5_VARIANT_RFC = (5 << 76) | (0x8000 << 48)


class SnapshotConflictError(ValueError):
    """A snapshot that contradicts what is known about its order in a way no event can express."""

    def __init__(self, field: str, problem: str, allowed: str) -> None:
        super().__init__(f"{field}: {problem}; allowed: {allowed}")
        self.field = field
        self.problem = problem
        self.allowed = allowed


def event_id_for(tenant_id: str, order_number: str, seq: int, kind: str, payload: dict[str, object]) -> str:
    """A name-based (v5) UUID of everything the event says except its times, as 32 hex digits (the
    event model parses it natively, cheaper than building a `uuid.UUID` here: this runs once per event).
    Payload values are plain str, None or bool, whose repr keeps None, "None", True and "True" apart."""
    text = f"{tenant_id}\x1f{order_number}\x1f{seq}\x1f{kind}\x1f{tuple(payload.values())!r}"
    # uuid.uuid5 spelled out (RFC 4122: SHA-1 of namespace + name, version and variant bits set).
    digest = hashlib.sha1(_NAMESPACE_BYTES + text.encode(), usedforsecurity=False).digest()
    number = int.from_bytes(digest[:16]) & _VERSION_VARIANT_CLEAR | _VERSION_5_VARIANT_RFC
    return f"{number:032x}"


def same_delivery(a: str | None, b: str | None) -> bool:
    """Equal as delivery moments: `2026-11-20T14:00:00+01:00` and `2026-11-20T13:00:00Z` are one moment."""
    if a is None or b is None:
        return a is b
    return a == b or parse_delivery_value(a) == parse_delivery_value(b)


def _changes(old: OrderFacts, new: OrderFacts) -> list[tuple[str, dict[str, object]]]:
    found: list[tuple[str, dict[str, object]]] = []
    if old.mdp != new.mdp:
        found.append(("MdpFlagSet", {"mdp": new.mdp}))
    if (old.tracking_number, old.tracking_url) != (new.tracking_number, new.tracking_url):
        found.append(("TrackingAssigned", {"tracking_number": new.tracking_number, "tracking_url": new.tracking_url}))
    if not same_delivery(old.delivered_at, new.delivered_at):
        found.append(("DeliveryDateSet", {"delivered_at": new.delivered_at}))
    if old.status != new.status:
        found.append(
            (
                "OrderStatusChanged",
                {"from_status": old.status.value, "to_status": new.status.value, "status_label": new.status_label},
            )
        )
    return found


def _as_events_record(old: OrderFacts, new: OrderFacts) -> OrderFacts:
    """`new`, except where the difference is one no event records (the same delivery moment written
    otherwise, another label of the same status): there the old text stays, so the state always equals
    the fold of the events written."""
    return new._replace(
        delivered_at=old.delivered_at if same_delivery(old.delivered_at, new.delivered_at) else new.delivered_at,
        status_label=old.status_label if old.status == new.status else new.status_label,
    )


_EVENT_CLASSES: dict[str, type[OrderEventBase]] = {
    "OrderFirstSeen": OrderFirstSeen,
    "OrderStatusChanged": OrderStatusChanged,
    "DeliveryDateSet": DeliveryDateSet,
    "TrackingAssigned": TrackingAssigned,
    "MdpFlagSet": MdpFlagSet,
}


def _first_seen_payload(facts: OrderFacts) -> dict[str, object]:
    return {
        "status": facts.status.value,
        "status_label": facts.status_label,
        "delivered_at": facts.delivered_at,
        "tracking_number": facts.tracking_number,
        "tracking_url": facts.tracking_url,
        "mdp": facts.mdp,
    }


def detect_changes(
    state: OrderState,
    snapshot: OrderSnapshot,
    *,
    tenant_id: str,
    occurred_at: datetime,
    recorded_at: datetime,
) -> tuple[list[OrderEventBase], OrderState]:
    """The events that bring `state` to `snapshot`, numbered from `state.seq + 1`, and the new state.

    Raises SnapshotConflictError when the snapshot names another MALL order than the one on record.
    """
    new = facts_from_snapshot(snapshot)
    old = state.facts
    if old is not None and old.mall_order_id != new.mall_order_id:
        raise SnapshotConflictError(
            "mall_order_id",
            f"{new.mall_order_id!r} differs from {old.mall_order_id!r} already recorded for this order",
            f"{old.mall_order_id!r}",
        )
    if old is not None:
        new = _as_events_record(old, new)
    planned = [("OrderFirstSeen", _first_seen_payload(new))] if old is None else _changes(old, new)
    events: list[OrderEventBase] = []
    seq = state.seq
    for kind, payload in planned:
        seq += 1
        events.append(
            # The validator itself: same validation as model_validate, without its per-call Python wrapper.
            _EVENT_CLASSES[kind].__pydantic_validator__.validate_python(
                {
                    "event_id": event_id_for(tenant_id, snapshot.order_number, seq, kind, payload),
                    "tenant_id": tenant_id,
                    "order_number": snapshot.order_number,
                    "mall_order_id": new.mall_order_id,
                    "occurred_at": occurred_at,
                    "recorded_at": recorded_at,
                    "seq": seq,
                    **payload,
                }
            )
        )
    if not events:
        return [], state
    return events, OrderState(seq=seq, facts=new)
