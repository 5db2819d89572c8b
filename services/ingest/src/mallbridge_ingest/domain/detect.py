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

from mallbridge_core.domain.fastcentrik import FastCentrikSide, apply_fact
from mallbridge_ingest.domain.state import OrderState, order_state
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
_NAMESPACE_HASH = hashlib.sha1(EVENT_ID_NAMESPACE.bytes, usedforsecurity=False)


class SnapshotConflictError(ValueError):
    """A snapshot that contradicts what is known about its order in a way no event can express."""

    def __init__(self, field: str, problem: str, allowed: str) -> None:
        super().__init__(f"{field}: {problem}; allowed: {allowed}")
        self.field = field
        self.problem = problem
        self.allowed = allowed


def event_id_for(tenant_id: str, order_number: str, seq: int, kind: str, payload: dict[str, object]) -> bytes:
    """A name-based (v5) UUID of everything the event says except its times, as its 16 bytes (the event
    model takes them natively, cheaper than building a `uuid.UUID` here: this runs once per event).
    Payload values are plain str, None or bool, whose repr keeps None, "None", True and "True" apart."""
    text = f"{tenant_id}\x1f{order_number}\x1f{seq}\x1f{kind}\x1f{tuple(payload.values())!r}"
    # uuid.uuid5 spelled out (RFC 4122: SHA-1 of namespace + name, version and variant bits set), the
    # namespace hashed once.
    sha1 = _NAMESPACE_HASH.copy()
    sha1.update(text.encode())
    digest = bytearray(sha1.digest())
    digest[6] = digest[6] & 0x0F | 0x50
    digest[8] = digest[8] & 0x3F | 0x80
    return bytes(digest[:16])


def same_delivery(a: str | None, b: str | None) -> bool:
    """Equal as delivery moments: `2026-11-20T14:00:00+01:00` and `2026-11-20T13:00:00Z` are one moment."""
    if a is None or b is None:
        return a is b
    return a == b or parse_delivery_value(a) == parse_delivery_value(b)


def _changes(fc: FastCentrikSide, new: OrderSnapshot) -> list[tuple[str, dict[str, object]]]:
    """What differs between the side the events fold to and the snapshot, one event each. Differences no
    event records (the same delivery moment written otherwise, another label of the same status) are
    not changes, so the state stays exactly the fold of the events written."""
    found: list[tuple[str, dict[str, object]]] = []
    if fc.mdp != new.mdp:
        found.append(("MdpFlagSet", {"mdp": new.mdp}))
    if fc.tracking_number != new.tracking_number or fc.tracking_url != new.tracking_url:
        found.append(("TrackingAssigned", {"tracking_number": new.tracking_number, "tracking_url": new.tracking_url}))
    if not same_delivery(fc.delivered_at, new.delivered_at):
        found.append(("DeliveryDateSet", {"delivered_at": new.delivered_at}))
    if fc.status is not new.status and fc.status is not None:
        found.append(
            (
                "OrderStatusChanged",
                {"from_status": fc.status.value, "to_status": new.status.value, "status_label": new.status_label},
            )
        )
    return found


_EVENT_CLASSES: dict[str, type[OrderEventBase]] = {
    "OrderFirstSeen": OrderFirstSeen,
    "OrderStatusChanged": OrderStatusChanged,
    "DeliveryDateSet": DeliveryDateSet,
    "TrackingAssigned": TrackingAssigned,
    "MdpFlagSet": MdpFlagSet,
}


def _first_seen_payload(snapshot: OrderSnapshot) -> dict[str, object]:
    return {
        "status": snapshot.status.value,
        "status_label": snapshot.status_label,
        "delivered_at": snapshot.delivered_at,
        "tracking_number": snapshot.tracking_number,
        "tracking_url": snapshot.tracking_url,
        "mdp": snapshot.mdp,
    }


def check_same_mall_order(state: OrderState, snapshot: OrderSnapshot) -> None:
    """Raise SnapshotConflictError when the snapshot names another MALL order than the one on record."""
    known = state.mall_order_id
    if known and known != snapshot.mall_order_id:
        raise SnapshotConflictError(
            "mall_order_id",
            f"{snapshot.mall_order_id!r} differs from {known!r} already recorded for this order",
            f"{known!r}",
        )


def is_stale(state: OrderState, snapshot: OrderSnapshot) -> bool:
    """Older than the newest `changed_at` already applied to the order (ARCHITECTURE.md §3, "Out-of-order input").

    A snapshot without `changed_at` is never stale (it is ordered by arrival). An equal `changed_at` is
    not stale either: FastCentrik's clock cannot order two snapshots of the same moment (its exports
    have minute resolution), so arrival decides, as it does without `changed_at`.
    """
    newest = state.fc.newest_changed_at
    return newest is not None and snapshot.changed_at is not None and snapshot.changed_at < newest


def detect_changes(
    state: OrderState,
    snapshot: OrderSnapshot,
    *,
    tenant_id: str,
    occurred_at: datetime,
    recorded_at: datetime,
) -> tuple[list[OrderEventBase], OrderState]:
    """The events that bring `state` to `snapshot`, numbered from `state.seq + 1`, and the new state
    (the state with those events folded in).

    Raises SnapshotConflictError when the snapshot names another MALL order than the one on record.
    Staleness is the caller's to check first (`is_stale`): this compares facts only.
    """
    check_same_mall_order(state, snapshot)
    planned = [("OrderFirstSeen", _first_seen_payload(snapshot))] if not state.seen else _changes(state.fc, snapshot)
    if not planned:
        return [], state
    events: list[OrderEventBase] = []
    seq = state.seq
    fc = state.fc
    for kind, payload in planned:
        seq += 1
        # The validator itself: same validation as model_validate, without its per-call Python wrapper.
        event: OrderEventBase = _EVENT_CLASSES[kind].__pydantic_validator__.validate_python(
            {
                "event_id": event_id_for(tenant_id, snapshot.order_number, seq, kind, payload),
                "tenant_id": tenant_id,
                "order_number": snapshot.order_number,
                "mall_order_id": snapshot.mall_order_id,
                "occurred_at": occurred_at,
                "recorded_at": recorded_at,
                "seq": seq,
                "changed_at": snapshot.changed_at,
                **payload,
            }
        )
        events.append(event)
        fc = apply_fact(fc, event)
    return events, order_state(snapshot.mall_order_id, fc, seq)
