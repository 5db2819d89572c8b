"""One reconciliation pass over an order (`OrderPass.run`, what the `OrderScheduler` runs per order).

The pass plans from the order's state as the `OrderBook` holds it now, takes one of the tenant's turns
(`TenantGate`) before anything goes to MALL, and sends the plan's first step or the read the plan or a
notice asks for (`MallCalls`), again and again until nothing more can go out now; then it records why (a
deferral or attention item) and asks to be woken when a deferral's moment comes. The notices (`reads_wanted`)
are the engine's: it adds them as MALL's webhook and the poll name orders, the pass takes them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from mallbridge_core.domain.plans import PendingRead, ReadSource
from mallbridge_core.domain.projection import OrderState
from mallbridge_core.domain.reconciler import Plan, plan
from mallbridge_core.tenants import Tenant
from mallbridge_publisher.effects import Effects, Next, Stamp
from mallbridge_publisher.mall_calls import MallCalls
from mallbridge_publisher.orders import Key, OrderBook
from mallbridge_publisher.outcomes import plan_notes, still_as_planned
from mallbridge_publisher.scheduler import OrderScheduler
from mallbridge_publisher.tenant_gate import TenantGate
from mallbridge_schema.events import SyncEventBase

log = logging.getLogger(__name__)

WAKE_MARGIN_S = 0.05
"""A deferred step is planned again this long after its moment, so the plan sees the moment as past."""


class OrderPass:
    def __init__(
        self,
        *,
        orders: OrderBook,
        tenants: Mapping[str, Tenant],
        gates: Mapping[str, TenantGate],
        scheduler: OrderScheduler,
        mall: MallCalls,
        record: Callable[[SyncEventBase], Awaitable[None]],
        stamp: Callable[[], Stamp],
        reads_wanted: dict[Key, ReadSource],
        clock: Callable[[], datetime],
        doubt_settle_s: float,
    ) -> None:
        self._orders = orders
        self._tenants = tenants
        self._gates = gates
        self._scheduler = scheduler
        self._mall = mall
        self._record = record
        self._stamp = stamp
        self._reads_wanted = reads_wanted
        self._clock = clock
        self._doubt_settle_s = doubt_settle_s
        self._unanswered: set[Key] = set()  # orders whose PUT in doubt got no answer in time (see _settles_at)
        self._started_at = clock()

    async def run(self, key: Key) -> None:
        """One pass over an order: send its steps one by one (reading MALL first when a request is in
        doubt) until nothing more can go out now; then record why (a deferral or attention item).

        An order with something to send or read takes one of its tenant's turns first (`TenantGate`), and
        plans again once it has it (the state may have moved on while it waited); a backoff waits without
        one. While the tenant has no turn free (a burst), a pass waits for one before it even plans: its
        plan would be stale by then, and planning thousands of orders at once holds up the requests in
        flight."""
        turn: TenantGate | None = None
        try:
            while not self._scheduler.stopping(key):
                gate = self._gates.get(key[0])
                if turn is None and gate is not None and gate.turns_taken:
                    await gate.take_turn()
                    turn = gate
                    continue  # the order may have been stopped (a revoke) while it waited
                state = self._orders.state(key)
                if state is None:
                    return  # its partition went to another member meanwhile
                tenant = self._tenants.get(state.tenant_id)
                if tenant is None:
                    # A tenant of another lane (moved there, or a stale tenants file): its lane's publishers own it.
                    log.debug("order of a tenant this lane does not serve ignored", extra={"tenant": state.tenant_id})
                    return
                now = self._clock()
                current = plan(state, now=now)
                if (settles_at := self._settles_at(key, state, current)) is not None and settles_at > now:
                    self._scheduler.wake_after(key, (settles_at - now).total_seconds())
                    return
                noticed = key in self._reads_wanted and state.fc.status is not None
                if current.read is None and not noticed and not current.steps:
                    await self._record_notes(key, state, current)
                    return
                if turn is None:
                    gate = self._gates[tenant.tenant_id]
                    await gate.take_turn()
                    turn = gate
                    continue  # plan again on the state as it is now
                effects = await self._call_mall(key, tenant, state, current, noticed)
                if effects.unanswered:
                    self._unanswered.add(key)
                if effects.next is Next.BACKOFF:
                    turn.end_turn()
                    turn = None
                    await self._scheduler.back_off(key)
                elif effects.accepted:
                    self._scheduler.reset_backoff(key)
        finally:
            if turn is not None:
                turn.end_turn()

    async def _call_mall(self, key: Key, tenant: Tenant, state: OrderState, current: Plan, noticed: bool) -> Effects:
        """The read the plan or a notice asks for (any read answers the notices that came before it), else
        the plan's first step."""
        notice = self._reads_wanted.pop(key, None) if noticed else None
        read = current.read or (PendingRead(notice, 0) if notice is not None else None)
        if read is None:
            still_due = functools.partial(self._still_due, key, state)
            return await self._mall.send(tenant, state, current.steps[0], still_due=still_due)
        effects = await self._mall.read(tenant, state, read)
        if effects.read_again and notice is not None:
            self._reads_wanted.setdefault(key, notice)
        return effects

    def _settles_at(self, key: Key, state: OrderState, current: Plan) -> datetime | None:
        """When a PUT in doubt may be read: `doubt_settle_s` after it went out (the client's read timeout and
        a margin), if it got no answer in time or was cut by a crash of an earlier process. MALL may still
        be working on such a PUT; a read before it lands sees the old status, the plan sends the same PUT
        again, and MALL gets the status twice (the late one then taken for MALL's own change). A 5xx or a
        dropped connection ends MALL's part, so those are read at once."""
        doubt = state.mall.in_doubt
        if current.read is None or current.read.source != "outcome_unknown" or doubt is None:
            self._unanswered.discard(key)
            return None
        cut_before_us = doubt.requested_at is not None and doubt.requested_at < self._started_at
        if doubt.requested_at is None or not (key in self._unanswered or cut_before_us):
            return None
        return doubt.requested_at + timedelta(seconds=self._doubt_settle_s)

    def _still_due(self, key: Key, planned: OrderState) -> bool:
        """Whether a planned PUT may go out now: the order is not being stopped (shutdown, revoke) and is
        still as it was planned."""
        return not self._scheduler.stopping(key) and still_as_planned(planned, self._orders.state(key))

    async def _record_notes(self, key: Key, state: OrderState, current: Plan) -> None:
        for note in plan_notes(state, current, self._stamp()):
            await self._record(note)
        deferral = current.deferral
        if deferral is not None and deferral.until is not None:
            delay_s = (deferral.until - self._clock()).total_seconds()
            self._scheduler.wake_after(key, max(0.0, delay_s) + WAKE_MARGIN_S)
