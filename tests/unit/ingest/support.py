"""Builders for ingest unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mallbridge_ingest.domain import UNKNOWN, OrderState, apply_event, detect_changes
from mallbridge_ingest.domain.state import with_seq_reserved
from mallbridge_schema.snapshot import OrderSnapshot

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def snap(order: str = "A-1", status: str = "pending", **fields: Any) -> OrderSnapshot:
    data: dict[str, Any] = {
        "order_number": order,
        "mall_order_id": fields.pop("mall_order_id", "1000000001"),
        "status": status,
    }
    data.update(fields)
    return OrderSnapshot.model_validate(data)


def state_of(snapshot: OrderSnapshot, *, seq: int = 1) -> OrderState:
    """The state after `snapshot` was written as the order's OrderFirstSeen, with the seq moved on to `seq`."""
    (first,), _ = detect_changes(UNKNOWN, snapshot, tenant_id="acme", occurred_at=T0, recorded_at=T1)
    return with_seq_reserved(apply_event(UNKNOWN, first), seq)
