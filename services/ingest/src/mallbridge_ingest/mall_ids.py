"""Which order each MALL order id is, and which ids MALL's webhook named before any snapshot did.

Part of the state ingest rebuilds from its own topics (ARCHITECTURE.md §6):
- **the index**: per tenant, MALL order id → order number, for every order an event has named;
- **the pending ids**: per tenant, the ids a `MallWebhookReceived` listed as `unknown_ids`, each with the
  receipt that named it last and that receipt's time. When a snapshot later names such an id, ingest
  writes a `MallOrderChanged` (with that receipt's id) right after the order's events, so the publisher
  reads the order at MALL. An id stays pending until a `MallOrderChanged` of its order carries the receipt
  that named it last: receipts of a tenant share one key, so they replay in the order they were written,
  and the comparison at the end of a rebuild does not depend on how the topics' partitions interleave.

Whoever takes an id out of the pending set (`claim`) writes its `MallOrderChanged`; a failed write puts
it back (`restore`).

- **the shared ids**: per tenant, the MALL ids that more than one FastCentrik order names. The index keeps
  the first order; a later one is not refused (a merchant may split one MALL order into two shop orders),
  but it is told, because both orders' statuses then go to the one MALL order (README, "One MALL order,
  two FastCentrik orders").
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from mallbridge_schema.events import Event, MallOrderChanged, MallWebhookReceived, OrderEventBase


class PendingId(NamedTuple):
    """The receipt that last named an unknown id, and when."""

    receipt_id: UUID
    received_at: datetime


class MallIdBook:
    def __init__(self, new_index: Callable[[], MutableMapping[str, str]] = dict) -> None:
        """`new_index` makes a tenant's MALL id -> order number map (a dict, or one that spills to disk)."""
        self._new_index = new_index
        self._orders: dict[str, MutableMapping[str, str]] = {}
        self._pending: dict[str, dict[str, PendingId]] = {}
        self._answered: set[tuple[str, str, UUID]] = set()  # (tenant, mall id, receipt id), during a rebuild
        self._shared: dict[str, set[str]] = {}  # tenant -> the MALL ids more than one order names

    def order_of(self, tenant_id: str, mall_order_id: str) -> str | None:
        """The order number FastCentrik gave the MALL order (None: no snapshot has named it)."""
        return self._orders.get(tenant_id, {}).get(mall_order_id)

    def has_pending(self, tenant_id: str) -> bool:
        return bool(self._pending.get(tenant_id))

    def pending(self, tenant_id: str) -> dict[str, PendingId]:
        """The tenant's ids no snapshot had named when the webhook named them (a copy)."""
        return dict(self._pending.get(tenant_id, {}))

    def fold(self, event: Event) -> None:
        """Rebuild: take in one event of the tenant's order-events topics (any order of partitions)."""
        if isinstance(event, MallWebhookReceived):
            pending = self._pending.setdefault(event.tenant_id, {})
            for mall_order_id in event.unknown_ids:
                pending[mall_order_id] = PendingId(event.event_id, event.occurred_at)
            return
        if not isinstance(event, OrderEventBase) or not event.mall_order_id:
            return
        self.note_order(event.tenant_id, event.mall_order_id, event.order_number)
        if isinstance(event, MallOrderChanged):
            self._answered.add((event.tenant_id, event.mall_order_id, event.receipt_id))

    def finish_rebuild(self) -> None:
        """Drop the pending ids a `MallOrderChanged` has answered (see the module docstring)."""
        for tenant_id, pending in self._pending.items():
            for mall_order_id, named in list(pending.items()):
                if (tenant_id, mall_order_id, named.receipt_id) in self._answered:
                    del pending[mall_order_id]
        self._answered.clear()

    def note_order(self, tenant_id: str, mall_order_id: str, order_number: str) -> str | None:
        """An event named the order with this MALL id (the first order to claim an id keeps it). Returns the
        order that holds the id when it is another one: the id is then shared (`shared`)."""
        index = self._orders.get(tenant_id)
        if index is None:
            index = self._orders[tenant_id] = self._new_index()
        holder = index.get(mall_order_id)
        if holder is None:
            index[mall_order_id] = order_number
            return None
        if holder == order_number:
            return None
        self._shared.setdefault(tenant_id, set()).add(mall_order_id)
        return holder

    def shared(self, tenant_id: str) -> frozenset[str]:
        """The tenant's MALL ids that more than one FastCentrik order names."""
        return frozenset(self._shared.get(tenant_id, ()))

    def add_pending(self, tenant_id: str, mall_order_ids: tuple[str, ...], named: PendingId) -> None:
        pending = self._pending.setdefault(tenant_id, {})
        for mall_order_id in mall_order_ids:
            pending[mall_order_id] = named

    def claim(self, tenant_id: str, mall_order_id: str) -> PendingId | None:
        """Take the id out of the pending set: the caller writes its `MallOrderChanged` (None: not pending)."""
        pending = self._pending.get(tenant_id)
        return None if pending is None else pending.pop(mall_order_id, None)

    def restore(self, tenant_id: str, claims: dict[str, PendingId]) -> None:
        """Put claimed ids back after their `MallOrderChanged` could not be written (a newer naming wins)."""
        pending = self._pending.setdefault(tenant_id, {})
        for mall_order_id, named in claims.items():
            pending.setdefault(mall_order_id, named)
