"""The poll of MALL's unconfirmed queue: the fallback for webhook deliveries that never arrived (ARCHITECTURE.md §6).

MALL resets an order to unconfirmed whenever it changes it, so `GET /orders/unconfirmed` lists every
order MALL changed that the partner has not confirmed since. Per tenant, every `mall_poll_interval_s`
(tenants file; 0 turns it off), each member lists the queue (`filter=basic`, every page through the
tenant's gate, so each counts against its budget), then compares each listed order of the partitions
it owns with what the log says MALL has: one whose status or `confirmed` differs, or whose basic object
lacks them, gets a read (source "poll"); the rest cost nothing more. An order no FastCentrik snapshot has
named is never read or confirmed. All pages are listed before any read is asked for, so the confirmations
those reads lead to do not shift the pages still to be read.

The first round comes one interval after the member is ready (what MALL's webhook announced while the
publisher was down is read from the redelivered `MallOrderChanged` events; the poll is for deliveries
lost before ingest). A round that fails (429, 401, MALL down, an invalid answer) stops there and is
counted; the next round comes at the next interval.

Each page's outcome tells the tenant's gate what an order's request would (`tenant_effects.after_listing`): a
429 makes it wait, a 401/403 pauses the tenant and raises its attention item (once), an answer resumes
a paused tenant and resolves the item. So a client_id refused, or fixed and restarted, while none of the
tenant's orders has work is known from the poll alone, not only at the next order's request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from mallbridge_core.domain.projection import OrderState
from mallbridge_core.tenants import Tenant
from mallbridge_publisher.effects import Stamp
from mallbridge_publisher.metrics import PublisherMetrics
from mallbridge_publisher.ports import (
    MallAnswerInvalid,
    MallBasicOrder,
    MallClient,
    MallError,
    MallOutcomeUnknown,
    MallRateLimited,
    MallUnauthorized,
)
from mallbridge_publisher.tenant_effects import after_listing
from mallbridge_publisher.tenant_gate import TenantGate
from mallbridge_schema.events import SyncEventBase

log = logging.getLogger(__name__)
FIRST_ROUND_AFTER_S = 30.0
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class PollRound:
    pages: int
    listed: int
    to_read: int


def failure_outcome(error: MallError) -> str:
    """The `outcome` label of a round that failed with `error`."""
    if isinstance(error, MallRateLimited):
        return "rate_limited"
    if isinstance(error, MallUnauthorized):
        return "unauthorized"
    if isinstance(error, MallAnswerInvalid):
        return "invalid_answer"
    return "unavailable" if isinstance(error, MallOutcomeUnknown) else "refused"


class KnownOrders(Protocol):
    """This member's orders, as the poll looks them up (`OrderBook`)."""

    def names_orders_of(self, tenant_id: str) -> bool: ...
    def order_of_mall_id(self, tenant_id: str, mall_order_id: str) -> Key | None: ...
    def state(self, key: Key) -> OrderState | None: ...


def differs(order: MallBasicOrder, state: OrderState) -> bool:
    """MALL's basic object says another status or `confirmed` than the log, or does not say them."""
    if order.status is None or order.confirmed is None:
        return True
    return order.status is not state.mall.status or order.confirmed != state.mall.confirmed


class UnconfirmedPoll:
    def __init__(
        self,
        *,
        client: MallClient,
        gates: Mapping[str, TenantGate],
        orders: KnownOrders,
        request_read: Callable[[Key], None],
        metrics: PublisherMetrics,
        stamp: Callable[[], Stamp],
        record: Callable[[SyncEventBase], Awaitable[None]],
        page_size: int = 1000,
    ) -> None:
        """`orders` are this member's (its partitions' orders); `request_read(key)` asks for a read of one of
        them on the poll's notice; `record` writes a tenant's attention events as the engine writes an
        order's (durable, then folded)."""
        self._stamp = stamp
        self._record = record
        self._client = client
        self._gates = gates
        self._orders = orders
        self._request_read = request_read
        self._metrics = metrics
        self._page_size = page_size

    async def run(self, tenants: Mapping[str, Tenant], *, ready: asyncio.Event, stop: asyncio.Event) -> None:
        """Poll each tenant with an interval, from when `ready` is set until `stop` is."""
        polled = [t for t in tenants.values() if t.mall_poll_interval_s > 0 and t.mall_client_id is not None]
        await asyncio.gather(*(self._every_interval(t, ready=ready, stop=stop) for t in polled))

    async def _every_interval(self, tenant: Tenant, *, ready: asyncio.Event, stop: asyncio.Event) -> None:
        await ready.wait()
        # The first round soon after a start, not a whole interval later: the poll is the fallback for
        # webhooks lost while nothing listened, and a publisher restarted more often than the interval
        # (15 minutes by default) would otherwise never run it.
        wait_s = min(tenant.mall_poll_interval_s, FIRST_ROUND_AFTER_S)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait_s)
            wait_s = tenant.mall_poll_interval_s
            if stop.is_set():
                return
            try:
                await self.poll_once(tenant)
            except Exception:  # a bug must not end the polling of a tenant for good
                log.exception("unconfirmed poll failed", extra={"tenant": tenant.tenant_id})

    async def poll_once(self, tenant: Tenant) -> PollRound | None:
        """One round for `tenant`: list the queue, then ask for the reads. None: the round failed.

        A member that holds no order of the tenant lists nothing (no request spent)."""
        if not self._orders.names_orders_of(tenant.tenant_id):
            return PollRound(0, 0, 0)  # no order of the tenant here: nothing the queue could be compared with
        listed = await self._list(tenant)
        if listed is None:
            return None
        orders, pages = listed
        to_read = 0
        for order in orders:
            key = self._orders.order_of_mall_id(tenant.tenant_id, order.id)
            state = None if key is None else self._orders.state(key)
            if key is None or state is None:
                continue  # another member's partition, or an order FastCentrik has not named
            if differs(order, state):
                self._request_read(key)
                to_read += 1
        self._metrics.polls.labels(tenant.tenant_id, "ok").inc()
        log.info(
            "unconfirmed queue polled",
            extra={"tenant": tenant.tenant_id, "pages": pages, "listed": len(orders), "to_read": to_read},
        )
        return PollRound(pages, len(orders), to_read)

    async def _list(self, tenant: Tenant) -> tuple[list[MallBasicOrder], int] | None:
        gate = self._gates[tenant.tenant_id]
        orders: list[MallBasicOrder] = []
        page, pages = 1, 1
        while page <= pages:  # page 1 says how many there are
            try:
                async with gate.slot():
                    answer = await self._client.list_orders(
                        tenant, unconfirmed=True, page=page, page_size=self._page_size
                    )
            except MallError as exc:
                await self._tenant_learns(tenant, gate, exc)
                self._metrics.polls.labels(tenant.tenant_id, failure_outcome(exc)).inc()
                log.warning(
                    "unconfirmed poll stopped; the next round tries again",
                    extra={"tenant": tenant.tenant_id, "page": page, "error": str(exc)},
                )
                return None
            await self._tenant_learns(tenant, gate, None)
            self._metrics.poll_pages.labels(tenant.tenant_id).inc()
            orders.extend(answer.orders)
            pages = answer.pages
            page += 1
        return orders, page - 1

    async def _tenant_learns(self, tenant: Tenant, gate: TenantGate, outcome: MallError | None) -> None:
        """What a page's answer (None) or failure says of the tenant: the gate change first, synchronously
        (an order seeing the same 401 meanwhile raises no second item), then the tenant's events."""
        effects = after_listing(
            tenant.tenant_id, outcome, tenant_paused=gate.paused, pause_probe_s=gate.pause_probe_s, stamp=self._stamp()
        )
        gate.apply(effects.gate)
        if effects.events and isinstance(outcome, MallUnauthorized):
            log.error(
                "tenant paused: MALL refused its client_id",
                extra={"tenant": tenant.tenant_id, "http_status": outcome.http_status},
            )
        for event in effects.events:
            await self._record(event)
