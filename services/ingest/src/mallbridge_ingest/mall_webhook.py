"""MALL's webhook in ingest: a delivery of changed order ids in, a receipt and order events out (ARCHITECTURE.md §6).

One delivery is written in one append: the tenant-level `MallWebhookReceived` receipt (every id, and the
ids no snapshot has named yet) and one `MallOrderChanged` per known order, each with that order's next seq
(ingest is every order's single writer). The answer waits until the append is durable; a failed append
changes no state (the seqs it used are reserved, as for snapshots) and nothing is acknowledged.

The ids the webhook named before any snapshot did stay pending (`MallIdBook`): the first write of such an
order's events (`IngestService.ingest`) carries its `MallOrderChanged` after them. The index (MALL id →
order) only learns a new order once its first events are durable, so a delivery can name an id while that
order's first snapshot is being written; whichever of the two finishes second finds the other's result
(`late_mall_changes`) and writes the order's `MallOrderChanged` in a second append.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, MutableMapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mallbridge_core.eventlog.port import LogUnavailableError
from mallbridge_ingest.domain import BatchPlan, OrderState
from mallbridge_ingest.domain.mall_webhook import mall_order_changed
from mallbridge_ingest.mall_ids import MallIdBook, PendingId
from mallbridge_schema.events import Event, MallOrderChanged, MallWebhookReceived, OrderEventBase

log = logging.getLogger(__name__)
IdFactory = Callable[[], uuid.UUID]


class OrderWriter(Protocol):
    """What the webhook needs of the ingest service (`IngestService`): its orders, their locks, one write."""

    @property
    def mall_ids(self) -> MallIdBook: ...

    def clock(self) -> datetime: ...

    def check_ready(self) -> None: ...

    def known_orders(self, tenant_id: str) -> MutableMapping[str, OrderState]: ...

    def holding(self, tenant_id: str, orders: Collection[str]) -> AbstractAsyncContextManager[None]: ...

    async def write(self, tenant_id: str, plan: BatchPlan, *, lead: Sequence[Event] = ()) -> None: ...

    def count_events(self, tenant_id: str, events: Sequence[Event]) -> None: ...


@dataclass(frozen=True, slots=True)
class WebhookReceipt:
    """What one delivery was: ids received (coalesced), how many name an order a snapshot named, the rest."""

    received: int
    known: int
    unknown: int


def with_pending_mall_changes(
    book: MallIdBook, tenant_id: str, plan: BatchPlan, *, recorded_at: datetime
) -> tuple[BatchPlan, dict[str, PendingId]]:
    """`plan` with a `MallOrderChanged` right after the events of each order whose MALL id is pending
    (claimed: the caller restores the claims if the write fails). The plan itself when there is none.

    Right after them, not after the whole batch: the publisher plans an order as soon as it has read the
    order's records, so its notice must come with them (the publisher reads MALL first when it has one,
    and a blocked or cancelled order then gets no PUT)."""
    if not book.has_pending(tenant_id):
        return plan, {}
    claims: dict[str, PendingId] = {}
    notices: dict[str, MallOrderChanged] = {}
    states = dict(plan.states)
    for order_number, state in plan.states.items():
        named = book.claim(tenant_id, state.mall_order_id)
        if named is None:
            continue
        claims[state.mall_order_id] = named
        notices[order_number], states[order_number] = mall_order_changed(
            state,
            tenant_id=tenant_id,
            order_number=order_number,
            receipt_id=named.receipt_id,
            occurred_at=named.received_at,
            recorded_at=recorded_at,
        )
    if not claims:
        return plan, claims
    return dataclasses.replace(plan, events=_each_after_its_order(plan.events, notices), states=states), claims


def _each_after_its_order(
    events: Sequence[OrderEventBase], notices: Mapping[str, MallOrderChanged]
) -> tuple[OrderEventBase, ...]:
    """`events` with each notice placed right after the last event of its order (or at the end)."""
    last = {e.order_number: i for i, e in enumerate(events) if e.order_number in notices}
    out: list[OrderEventBase] = []
    for i, event in enumerate(events):
        out.append(event)
        if last.get(event.order_number) == i:
            out.append(notices[event.order_number])
    out.extend(notice for order, notice in notices.items() if order not in last)
    return tuple(out)


async def late_mall_changes(service: OrderWriter, tenant_id: str, orders: Mapping[str, OrderState]) -> int:
    """After a durable write of `orders` (their locks held): the `MallOrderChanged` of those among them
    whose MALL id a delivery named while the write was on its way. Returns how many were written.

    A failure here loses nothing: the ids go back to pending, and the order's next write carries them.
    """
    if not service.mall_ids.has_pending(tenant_id):
        return 0
    known = service.known_orders(tenant_id)
    current = BatchPlan(states={order: known[order] for order in orders if order in known})
    plan, claims = with_pending_mall_changes(service.mall_ids, tenant_id, current, recorded_at=service.clock())
    if not claims:
        return 0
    try:
        await service.write(tenant_id, plan)
    except LogUnavailableError:
        service.mall_ids.restore(tenant_id, claims)
        log.warning("a MALL change could not be written yet; it goes with the order's next write")
        return 0
    service.count_events(tenant_id, plan.events)
    return len(plan.events)


class MallWebhookInbox:
    """Takes MALL's webhook deliveries for the service's tenants (the HTTP adapter authenticates them)."""

    def __init__(self, service: OrderWriter, *, new_id: IdFactory = uuid.uuid4) -> None:
        self._service = service
        self._new_id = new_id

    async def receive(self, tenant_id: str, ids: tuple[str, ...]) -> WebhookReceipt:
        """Write the delivery of coalesced `ids`; returns once durable.

        Raises NotReadyError before the state is rebuilt and LogUnavailableError when the log did not
        acknowledge (nothing may be acknowledged to MALL then).
        """
        service = self._service
        service.check_ready()
        book = service.mall_ids
        known_ids = {i: order for i in ids if (order := book.order_of(tenant_id, i)) is not None}
        async with service.holding(tenant_id, known_ids.values()):
            now = service.clock()
            unknown = tuple(i for i in ids if i not in known_ids)
            receipt = MallWebhookReceived(
                event_id=self._new_id(),
                tenant_id=tenant_id,
                occurred_at=now,
                recorded_at=now,
                order_ids=ids,
                unknown_ids=unknown,
            )
            plan = self._changes(tenant_id, receipt, known_ids.values())
            await service.write(tenant_id, plan, lead=(receipt,))
            book.add_pending(tenant_id, unknown, PendingId(receipt.event_id, now))
        service.count_events(tenant_id, (receipt, *plan.events))
        await self._now_known(tenant_id, unknown)
        return WebhookReceipt(len(ids), len(known_ids), len(unknown))

    def _changes(self, tenant_id: str, receipt: MallWebhookReceived, orders: Iterable[str]) -> BatchPlan:
        known = self._service.known_orders(tenant_id)
        events: list[MallOrderChanged] = []
        states: dict[str, OrderState] = {}
        for order_number in dict.fromkeys(orders):
            event, states[order_number] = mall_order_changed(
                known[order_number],
                tenant_id=tenant_id,
                order_number=order_number,
                receipt_id=receipt.event_id,
                occurred_at=receipt.occurred_at,
                recorded_at=receipt.recorded_at,
            )
            events.append(event)
        return BatchPlan(events=tuple(events), states=states)

    async def _now_known(self, tenant_id: str, unknown: tuple[str, ...]) -> None:
        """Ids that were unknown but whose order's first events became durable while this delivery was
        written: their `MallOrderChanged` now (the write of those first events found nothing pending)."""
        book = self._service.mall_ids
        late = {order for i in unknown if (order := book.order_of(tenant_id, i)) is not None}
        if not late:
            return
        async with self._service.holding(tenant_id, late):
            known = self._service.known_orders(tenant_id)
            await late_mall_changes(self._service, tenant_id, {order: known[order] for order in late})
