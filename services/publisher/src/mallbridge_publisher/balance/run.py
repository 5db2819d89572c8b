"""One run of `mallbridge balance`: fold the log, read MALL, compare, record the drift (ARCHITECTURE.md §6).

In this order, so that a run that cannot finish records nothing: the log is folded for every tenant in
scope; every tenant's non-final orders are listed at MALL, and the orders FastCentrik has not named are
read (their `open` timestamp); then each status drift is recorded as a `MallStateObserved(source=
"balance")` in the tenant's lane's operator-events.v1, in one append per lane, durable before the run
reports. The publisher follows that topic: it claims the status and reads the order (a resync). In the same
append, a tenant's MALL orders unknown to FastCentrik are recorded as one `UnknownMallOrdersObserved` when
their set differs from the last one recorded (`drift.unknown_observation`): the console lists them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from mallbridge_core.eventlog import EventLog, OutgoingRecord
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_publisher.balance.drift import (
    Drift,
    SharedMallId,
    TenantLog,
    compare,
    observation,
    unknown_drift,
    unknown_observation,
)
from mallbridge_publisher.balance.log_view import read_tenant_logs
from mallbridge_publisher.balance.mall_view import MallReader, Progress, Spent
from mallbridge_publisher.ports import MallBasicOrder, MallClient
from mallbridge_schema.events import Event
from mallbridge_schema.serde import encode_event, event_key


@dataclass(frozen=True, slots=True)
class TenantBalance:
    tenant_id: str
    listed: int  # MALL orders in a non-final status
    drifts: tuple[Drift, ...]
    recorded: int  # status drifts recorded as observations
    shared: tuple[SharedMallId, ...] = ()  # listed MALL orders more than one FastCentrik order names
    unknown_recorded: bool = False  # a new set of MALL orders unknown to FastCentrik was recorded


@dataclass(frozen=True, slots=True)
class BalanceReport:
    tenants: tuple[TenantBalance, ...]
    spent: Spent
    undecodable: int = 0

    @property
    def drifts(self) -> tuple[Drift, ...]:
        return tuple(d for t in self.tenants for d in t.drifts)

    @property
    def shared(self) -> tuple[SharedMallId, ...]:
        return tuple(s for t in self.tenants for s in t.shared)

    @property
    def in_balance(self) -> bool:
        """No drift (a shared MALL id is told, but it is no drift: MALL and the log may agree on it)."""
        return not self.drifts


@dataclass(frozen=True, slots=True)
class ProgressHooks:
    """Where a long run reports how far it is (the CLI's progress bar); each gets (tenant, done, total)."""

    pages: Callable[[str, int, int], None] = lambda tenant, done, total: None
    details: Callable[[str, int, int], None] = lambda tenant, done, total: None


@dataclass
class BalanceRun:
    log: EventLog
    client: MallClient
    topic_prefix: str
    clock: Callable[[], datetime]
    page_size: int = 1000
    new_id: Callable[[], UUID] = uuid.uuid4
    hooks: ProgressHooks = ProgressHooks()
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # how a 429 is waited out

    async def __call__(self, tenants: Sequence[Tenant]) -> BalanceReport:
        """Raises BalanceCannotRun (MALL) or LogUnavailableError (the log); nothing is recorded then."""
        logs, undecodable = await read_tenant_logs(self.log, tenants, topic_prefix=self.topic_prefix)
        reader = MallReader(self.client, page_size=self.page_size, sleep=self.sleep)
        found: list[tuple[Tenant, list[MallBasicOrder], tuple[Drift, ...], tuple[SharedMallId, ...]]] = []
        for tenant in tenants:
            listed, drifts, shared = await self._tenant(reader, tenant, logs[tenant.tenant_id])
            found.append((tenant, listed, drifts, shared))
        recorded, unknown = await self._record(
            [(t, logs[t.tenant_id], listed, drifts) for t, listed, drifts, _ in found]
        )
        results = tuple(
            TenantBalance(
                t.tenant_id, len(listed), drifts, recorded.get(t.tenant_id, 0), shared, t.tenant_id in unknown
            )
            for t, listed, drifts, shared in found
        )
        return BalanceReport(results, reader.spent, undecodable)

    async def _tenant(
        self, reader: MallReader, tenant: Tenant, log: TenantLog
    ) -> tuple[list[MallBasicOrder], tuple[Drift, ...], tuple[SharedMallId, ...]]:
        tid = tenant.tenant_id
        on_page: Progress = lambda done, total: self.hooks.pages(tid, done, total)  # noqa: E731
        listed = await reader.non_final_orders(tenant, on_page)
        comparison = compare(tid, listed, log)
        drifts = list(comparison.drifts)
        for done, order in enumerate(comparison.unknown, start=1):
            detail = await reader.detail(tenant, order.id)
            self.hooks.details(tid, done, len(comparison.unknown))
            drift = unknown_drift(tid, order, detail.opened_at, now=self.clock())
            if drift is not None:
                drifts.append(drift)
        return listed, tuple(drifts), comparison.shared

    async def _record(
        self, found: list[tuple[Tenant, TenantLog, list[MallBasicOrder], tuple[Drift, ...]]]
    ) -> tuple[dict[str, int], set[str]]:
        """Per tenant, how many status drifts were recorded; and the tenants whose unknown orders were."""
        now = self.clock()
        by_topic: dict[str, list[Event]] = {}
        for tenant, log, listed, drifts in found:
            basic = {order.id: order for order in listed}
            events: list[Event] = [
                observation(d, log.by_mall_id[d.mall_order_id], basic[d.mall_order_id], now=now, new_id=self.new_id)
                for d in drifts
                if d.recordable
            ]
            unknown = unknown_observation(tenant.tenant_id, drifts, log.unknown_recorded, now=now, new_id=self.new_id)
            if unknown is not None:
                events.append(unknown)
            if events:
                by_topic.setdefault(Topics(prefix=self.topic_prefix, lane=tenant.lane).operator_events, []).extend(
                    events
                )
        counts: dict[str, int] = {}
        unknown_tenants: set[str] = set()
        for topic, events in by_topic.items():
            await self.log.ensure_topics([topic])
            records = [OutgoingRecord(event_key(e.tenant_id, e.order_number), encode_event(e)) for e in events]
            await self.log.append(topic, records)
            for event in events:
                if event.order_number:
                    counts[event.tenant_id] = counts.get(event.tenant_id, 0) + 1
                else:
                    unknown_tenants.add(event.tenant_id)
        return counts, unknown_tenants
