"""One report from the shares of report builders that each read whole orders (disjoint partitions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mallbridge_audit.model import OrderSummary, Report, TimelineEntry, Undecodable, UnknownToFastCentrik, VerifyResult
from mallbridge_audit.scope import Scope
from mallbridge_audit.sla import TenantTally

MAX_UNDECODABLE_SAMPLES = 20

TenantItems = dict[str, dict[str, tuple[float, str | None]]]
"""tenant → attention code → (recorded_at, reason; None once resolved)."""

UnknownOrders = dict[str, UnknownToFastCentrik]
"""tenant → the MALL orders FastCentrik never got, as `mallbridge balance` last recorded them."""


@dataclass(slots=True)
class Partial:
    """A builder's share of a report (picklable): merged by `assemble`."""

    order_events: int
    sync_events: int
    operator_events: int
    skipped_unknown: int
    undecodable: int
    undecodable_samples: list[Undecodable]
    tallies: dict[str, TenantTally]
    tenant_items: TenantItems
    listed: list[OrderSummary]
    timelines: dict[tuple[str, str], tuple[TimelineEntry, ...]]
    sync_only_orders: int  # orders with sync events and no order event (orphans, or an order split across shares)
    unknown_orders: UnknownOrders  # each tenant's latest UnknownMallOrdersObserved in this share
    verify: VerifyResult | None = None  # this share's `--verify` result (its orders are whole: see parallel.py)


def merge_tenant_item(items: dict[str, tuple[float, str | None]], code: str, at: float, reason: str | None) -> None:
    """The latest item of a code by recorded_at wins: whichever partition, and so whichever worker's share,
    an item came in, and in whatever order the shares are merged."""
    if code not in items or items[code][0] <= at:
        items[code] = (at, reason)


def merge_unknown_orders(latest: UnknownOrders, tenant: str, seen: UnknownToFastCentrik) -> None:
    """Balance's latest word by recorded_at (`seen_at`) replaces every earlier one, as `merge_tenant_item`:
    whichever partition (a tenant's key `{tenant}:` has one per lane it wrote in) and so whichever worker's
    share it came in, and in whatever order the shares are merged. A tie: the one merged last wins."""
    before = latest.get(tenant)
    if before is None or before.seen_at <= seen.seen_at:
        latest[tenant] = seen


def _merged(parts: list[Partial]) -> tuple[dict[str, TenantTally], TenantItems, UnknownOrders]:
    tallies: dict[str, TenantTally] = {}
    items: TenantItems = {}
    unknown: UnknownOrders = {}
    for part in parts:
        for tenant, tally in part.tallies.items():
            if tenant in tallies:
                tallies[tenant].merge(tally)
            else:
                tallies[tenant] = tally
        for tenant, codes in part.tenant_items.items():
            mine = items.setdefault(tenant, {})
            for code, (at, reason) in codes.items():
                merge_tenant_item(mine, code, at, reason)
        for tenant, seen in part.unknown_orders.items():
            merge_unknown_orders(unknown, tenant, seen)
    for tenant in (*items, *unknown):  # a tenant known only by what is about the tenant still has its row
        tallies.setdefault(tenant, TenantTally(tenant))
    return tallies, items, unknown


def assemble(parts: list[Partial], *, scope: Scope, as_of: datetime, verify: VerifyResult | None = None) -> Report:
    """The report of all the shares together."""
    tallies, items, unknown = _merged(parts)
    listed = sorted((o for p in parts for o in p.listed), key=lambda o: (o.tenant_id, o.order_number))
    open_items = {t: {c: r for c, (_, r) in codes.items() if r is not None} for t, codes in items.items()}
    return Report(
        as_of=as_of,
        since=scope.since,
        until=scope.until,
        order_events=sum(p.order_events for p in parts),
        sync_events=sum(p.sync_events for p in parts),
        operator_events=sum(p.operator_events for p in parts),
        skipped_unknown=sum(p.skipped_unknown for p in parts),
        undecodable=sum(p.undecodable for p in parts),
        undecodable_samples=tuple(u for p in parts for u in p.undecodable_samples)[:MAX_UNDECODABLE_SAMPLES],
        tenants=tuple(tallies[t].figures(open_items.get(t, {}), unknown.get(t)) for t in sorted(tallies)),
        orders=tuple(listed),
        timelines=dict(sorted(kv for p in parts for kv in p.timelines.items())),
        verify=verify,
    )
