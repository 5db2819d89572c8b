"""Writing order events the way ingest does (per-order seq), for publisher and audit tests."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from mallbridge_core.eventlog import EventLog, OutgoingRecord
from mallbridge_schema.events import (
    DeliveryDateSet,
    MallOrderChanged,
    MdpFlagSet,
    OrderEventBase,
    OrderFirstSeen,
    OrderStatusChanged,
    TrackingAssigned,
)
from mallbridge_schema.serde import encode_event, event_key
from mallbridge_schema.statuses import CZECH_LABELS, FastCentrikStatus


class OrderEventWriter:
    """Builds consecutive order events per order and appends them to the order-events topic."""

    def __init__(self, log: EventLog, topic: str) -> None:
        self._log = log
        self._topic = topic
        self._seq: dict[tuple[str, str], int] = defaultdict(int)
        self._status: dict[tuple[str, str], FastCentrikStatus] = {}

    def _envelope(self, tenant: str, order: str, mall_id: str) -> dict[str, Any]:
        key = (tenant, order)
        self._seq[key] += 1
        now = datetime.now(UTC)
        return {
            "event_id": uuid.uuid4(),
            "tenant_id": tenant,
            "order_number": order,
            "mall_order_id": mall_id,
            "occurred_at": now,
            "recorded_at": now,
            "seq": self._seq[key],
        }

    def first_seen(
        self, tenant: str, order: str, mall_id: str, status: str = "pending", **fields: Any
    ) -> OrderEventBase:
        st = FastCentrikStatus(status)
        self._status[(tenant, order)] = st
        return OrderFirstSeen(
            **self._envelope(tenant, order, mall_id), status=st, status_label=CZECH_LABELS[st], **fields
        )

    def status(self, tenant: str, order: str, mall_id: str, to: str) -> OrderEventBase:
        st = FastCentrikStatus(to)
        before = self._status[(tenant, order)]
        self._status[(tenant, order)] = st
        return OrderStatusChanged(
            **self._envelope(tenant, order, mall_id), from_status=before, to_status=st, status_label=CZECH_LABELS[st]
        )

    def tracking(self, tenant: str, order: str, mall_id: str, number: str, url: str) -> OrderEventBase:
        return TrackingAssigned(**self._envelope(tenant, order, mall_id), tracking_number=number, tracking_url=url)

    def delivered(self, tenant: str, order: str, mall_id: str, when: str) -> OrderEventBase:
        return DeliveryDateSet(**self._envelope(tenant, order, mall_id), delivered_at=when)

    def mdp(self, tenant: str, order: str, mall_id: str, value: bool) -> OrderEventBase:
        return MdpFlagSet(**self._envelope(tenant, order, mall_id), mdp=value)

    def mall_changed(
        self, tenant: str, order: str, mall_id: str, receipt_id: uuid.UUID | None = None
    ) -> OrderEventBase:
        """MALL's webhook named the order (ingest writes it with the order's next seq)."""
        return MallOrderChanged(**self._envelope(tenant, order, mall_id), receipt_id=receipt_id or uuid.uuid4())

    async def write(self, *events: OrderEventBase) -> None:
        await self._log.append(
            self._topic,
            [OutgoingRecord(event_key(e.tenant_id, e.order_number), encode_event(e)) for e in events],
        )
