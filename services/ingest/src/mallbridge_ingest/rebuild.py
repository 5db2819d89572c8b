"""The last known state rebuilt from the log: order-events replayed from offset 0 and folded per order.

Used by `IngestService.rebuild` at startup and by every import worker for its own orders. Records are
told apart by their key (`tenant:order`) before they are decoded, so another tenant's records sharing the
topic, and another import worker's orders, cost no decoding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence

from mallbridge_core.eventlog.port import EventLog
from mallbridge_ingest.domain import OrderState, apply_event
from mallbridge_ingest.domain.state import UNKNOWN
from mallbridge_ingest.mall_ids import MallIdBook
from mallbridge_schema.events import OrderEventBase
from mallbridge_schema.serde import EventDecodeError, decode_order_event

OrderFilter = Callable[[bytes], bool]
"""Given an order number as UTF-8 bytes: whether this process keeps that order's state."""


async def fold_order_events(
    log: EventLog,
    known: Mapping[str, MutableMapping[str, OrderState]],
    mall_ids: MallIdBook,
    topics: Sequence[str],
    owns_order: OrderFilter | None,
) -> tuple[int, int]:
    """Fold the topics' events of the tenants in `known` into it and into `mall_ids`, in log order:
    (events folded, records undecodable). `owns_order` (None: every order) limits the orders kept."""
    prefixes = {t.encode() for t in known}
    folded = undecodable = 0
    for topic in topics:
        async for batch in log.replay(topic):
            for record in batch:
                if record.key is None:
                    continue
                tenant, _, order = record.key.partition(b":")
                if tenant not in prefixes or (owns_order is not None and order and not owns_order(order)):
                    continue  # another tenant sharing the topic, or another worker's order: never decoded
                try:
                    event = decode_order_event(record.value)
                except EventDecodeError:
                    undecodable += 1
                    continue
                orders = known.get(event.tenant_id)
                if orders is None:
                    continue  # another tenant
                mall_ids.fold(event)
                if not isinstance(event, OrderEventBase):
                    continue  # a tenant-level receipt (MallWebhookReceived): no order
                orders[event.order_number] = apply_event(orders.get(event.order_number, UNKNOWN), event)
                folded += 1
    return folded, undecodable
