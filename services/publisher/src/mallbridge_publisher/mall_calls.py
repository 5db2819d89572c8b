"""The MALL calls of one order: send a step, read the order. A thin shell around `outcomes`.

Each call goes through the tenant's gate (its concurrency, 429 waits, pause, daily budget), hands the
answer or the MallError to the pure outcome functions, and applies the `Effects`: the gate change
first (synchronously, so two orders seeing the same 401 raise one attention item), the retry counter
and a log line, then the events, recorded one by one through `record` (durable, then folded).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from mallbridge_core.domain.projection import OrderState
from mallbridge_core.domain.reconciler import PendingRead, PutStep
from mallbridge_core.tenants import Tenant
from mallbridge_publisher.effects import Effects, Next, PutAttempt, Stamp
from mallbridge_publisher.metrics import PublisherMetrics
from mallbridge_publisher.outcomes import after_put, after_read, request_of
from mallbridge_publisher.ports import (
    MallAnswer,
    MallAnswerInvalid,
    MallClient,
    MallError,
    MallOrder,
    MallUnauthorized,
)
from mallbridge_publisher.tenant_gate import TenantGate
from mallbridge_schema.events import SyncEventBase

log = logging.getLogger(__name__)


class MallCalls:
    def __init__(
        self,
        *,
        client: MallClient,
        gates: Mapping[str, TenantGate],
        metrics: PublisherMetrics,
        stamp: Callable[[], Stamp],
        record: Callable[[SyncEventBase], Awaitable[None]],
    ) -> None:
        self._client = client
        self._gates = gates
        self._metrics = metrics
        self._stamp = stamp
        self._record = record

    async def send(
        self, tenant: Tenant, state: OrderState, step: PutStep, *, still_due: Callable[[], bool] = lambda: True
    ) -> Effects:
        """PUT `step` (recorded as requested first); the same request again while MALL answers 429/401. Each
        time only if `still_due()`: the publisher is not stopping and the order is as it was planned.

        A request waiting for a slot when the publisher is told to stop is not sent (it stays in doubt: the
        next start reads the order first), so a stop ends with the calls already at MALL, not new ones.

        A 429 or a paused tenant can hold the request for minutes (until MALL's quota resets, until someone
        fixes the client_id), and meanwhile FastCentrik may cancel the order or correct its delivery date.
        Sending the old body then would put a status FastCentrik no longer wants, maybe one that cannot be
        undone (`shipped` before a cancel, `delivered`). So when the order changed, the request is not sent
        again: the pass plans anew (Next.REPLAN). MALL refused it, but nothing recorded says so, so it stays
        in doubt and the next plan reads the order first, one GET, the safe way the request-in-doubt
        rule already takes."""
        gate = self._gates[tenant.tenant_id]
        requested = request_of(state, step, self._stamp())
        await self._record(requested)
        attempts = 0
        while True:
            attempts += 1
            outcome: MallAnswer | MallError
            try:
                async with gate.slot():
                    if not still_due():
                        self._metrics.withdrawn.labels(tenant.tenant_id).inc()
                        return Effects(next=Next.REPLAN)
                    outcome = await self._client.put_order(tenant, state.mall_order_id, step.body)
            except MallError as exc:
                outcome = exc
            put = PutAttempt(state, step, requested.request_no, attempts)
            effects = after_put(
                put, outcome, tenant_paused=gate.paused, pause_probe_s=gate.pause_probe_s, stamp=self._stamp()
            )
            await self._apply(tenant, state, outcome, effects)
            if effects.next is not Next.RETRY:
                return effects

    async def read(self, tenant: Tenant, state: OrderState, read: PendingRead) -> Effects:
        """GET the order and record what MALL says about it as the answer to `read` (or why it could not
        be read)."""
        gate = self._gates[tenant.tenant_id]
        self._metrics.reads.labels(tenant.tenant_id).inc()
        self._metrics.reads_by_source.labels(tenant.tenant_id, read.source).inc()
        outcome: MallOrder | MallError
        try:
            async with gate.slot():
                outcome = await self._client.get_order(tenant, state.mall_order_id)
        except MallError as exc:
            outcome = exc
        effects = after_read(
            state, read, outcome, tenant_paused=gate.paused, pause_probe_s=gate.pause_probe_s, stamp=self._stamp()
        )
        await self._apply(tenant, state, outcome, effects)
        return effects

    async def _apply(
        self, tenant: Tenant, state: OrderState, outcome: MallAnswer | MallOrder | MallError, effects: Effects
    ) -> None:
        self._gates[tenant.tenant_id].apply(effects.gate)
        if effects.retry_reason is not None:
            self._metrics.retries.labels(tenant.tenant_id, effects.retry_reason).inc()
        if isinstance(outcome, MallError):
            _log_failure(tenant, state, outcome, effects)
        for event in effects.events:
            await self._record(event)


def _log_failure(tenant: Tenant, state: OrderState, error: MallError, effects: Effects) -> None:
    extra = {"tenant": tenant.tenant_id, "order": state.order_number, "error": str(error)}
    if isinstance(error, MallAnswerInvalid):
        log.warning("MALL's answer is invalid; nothing recorded from it, reading again later", extra=extra)
    elif isinstance(error, MallUnauthorized):
        if effects.events:  # the first order to see it: the tenant's attention item is raised
            log.error(
                "tenant paused: MALL refused its client_id",
                extra={"tenant": tenant.tenant_id, "http_status": error.http_status},
            )
    elif effects.next is Next.BACKOFF:
        log.info("MALL call failed; retrying after a backoff", extra=extra)
