"""`UnknownMallOrdersObserved` as `mallbridge balance` records them (tenant-level, key `{tenant}:`, in the
lane's operator-events), for the tests of what the publisher makes of the MALL orders the shop never got."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from mallbridge_core.eventlog import EventLog, OutgoingRecord
from mallbridge_schema.events import UnknownMallOrder, UnknownMallOrdersObserved
from mallbridge_schema.serde import encode_event, event_key
from mallbridge_schema.statuses import MallStatus

SEEN_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OPENED_AT = "2026-03-02 07:14:03"  # MALL's `open`, Prague time, as MALL writes it


def unknown(mall_order_id: str, status: MallStatus = MallStatus.OPEN, opened_at: str | None = OPENED_AT):
    return UnknownMallOrder(mall_order_id=mall_order_id, status=status, opened_at=opened_at)


def unknown_seen(
    tenant: str, *orders: str | UnknownMallOrder, total: int | None = None, at: datetime = SEEN_AT
) -> UnknownMallOrdersObserved:
    """What one balance run saw: `orders` (ids or whole entries) listed, `total` in all (default: as many)."""
    listed = tuple(unknown(o) if isinstance(o, str) else o for o in orders)
    return UnknownMallOrdersObserved(
        event_id=uuid.uuid4(),
        tenant_id=tenant,
        occurred_at=at,
        recorded_at=at,
        orders=listed,
        total=len(listed) if total is None else total,
    )


async def record_unknown(log: EventLog, topic: str, *events: UnknownMallOrdersObserved) -> None:
    """Append to `topic` (a lane's operator-events) under the tenant's key, as balance does."""
    records = [OutgoingRecord(event_key(e.tenant_id, e.order_number), encode_event(e)) for e in events]
    await log.append(topic, records)
