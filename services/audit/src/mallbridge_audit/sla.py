"""One tenant's running totals over the orders in scope, and its figures (definitions in the README).

The SLA rules themselves (what an order contributes, limits, targets, ratios, breaches) are the domain's
(`mallbridge_core.domain.sla`), shared with the publisher's console: each order's part is
`order_summary.sla_of`, tallied by the domain's `SlaTally`. This tally adds what only the audit reports:
request counts, lags, open and acknowledged items, reads of MALL and the MALL-side changes they showed,
webhook receipts, people's actions.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter

from mallbridge_audit.mall_fold import read_of
from mallbridge_audit.model import TenantFigures, UnknownToFastCentrik
from mallbridge_audit.order_fold import OrderAcc
from mallbridge_core.domain.sla import OrderSla, SlaTally

SETTLED_STATES = frozenset({"in_sync", "mdp_by_mall", "ended"})
"""The states `orders_in_sync` counts: nothing is due, nor waits on a person."""


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return None
    rank = max(1, math.ceil(q * len(values)))
    return values[rank - 1]


class TenantTally:
    """One tenant's running totals over the orders in scope (mergeable: workers tally disjoint orders)."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.sla = SlaTally()
        self.attention = self.acknowledged = self.deferred = self.in_sync = 0
        self.requests = self.updates = self.rejections = self.deferrals = self.observations = self.raised = 0
        self.receipts = self.receipt_ids = self.receipt_unknown = 0
        self.lags: array[float] = array("d")
        self.reads: Counter[str] = Counter()  # source → reads of MALL
        self.changes: Counter[str] = Counter()  # MALL-side change kind → count
        self.actions: Counter[str] = Counter()  # action kind → count
        self.people: Counter[tuple[str, str]] = Counter()  # (person, action kind) → count

    def add(self, acc: OrderAcc, state: str, sla: OrderSla) -> None:
        self.sla.add(sla)
        self.attention += state == "attention"
        self.acknowledged += state == "acknowledged"
        self.deferred += state == "deferred"
        self.in_sync += state in SETTLED_STATES
        self.requests += acc.n_req
        self.updates += acc.n_upd
        self.rejections += acc.n_rej
        self.deferrals += acc.n_def
        self.observations += acc.n_obs
        self.raised += acc.n_att
        if acc.n_occ < len(acc.vals):
            self.lags.extend(acc.lags())
        for code in acc.said or ():
            source, kind = read_of(code)
            self.reads[source] += 1
            if kind:
                self.changes[kind] += 1
        for kind, _, by, *_ in acc.ops or ():
            self.actions[kind] += 1
            self.people[(by, kind)] += 1

    def add_receipts(self, receipts: int, order_ids: int, unknown_ids: int) -> None:
        """MALL webhook deliveries for the tenant (MallWebhookReceived), and the ids they named."""
        self.receipts += receipts
        self.receipt_ids += order_ids
        self.receipt_unknown += unknown_ids

    def merge(self, other: TenantTally) -> None:
        for name, value in vars(other).items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
        self.sla.merge(other.sla)
        self.lags.extend(other.lags)
        self.reads.update(other.reads)  # Counter.update adds the counts
        self.changes.update(other.changes)
        self.actions.update(other.actions)
        self.people.update(other.people)

    def figures(self, tenant_items: dict[str, str], unknown: UnknownToFastCentrik | None = None) -> TenantFigures:
        """The figures; `tenant_items` (open tenant-scope attention: code → reason) and `unknown` (balance's
        last word on the MALL orders FastCentrik never got) are about the tenant, kept apart from the tally."""
        lags = sorted(self.lags)
        sla = self.sla.figures()
        return TenantFigures(
            tenant_id=self.tenant,
            orders=sla.orders,
            partner_cancellations=sla.partner_cancellations,
            cancel_rate=sla.cancel_rate,
            cancel_breach=sla.cancel_breach,
            tracking_orders=sla.tracking_orders,
            tracking_with=sla.tracking_with,
            tracking_rate=sla.tracking_rate,
            tracking_mdp=self.sla.shipped_mdp,
            tracking_rate_own=sla.tracking_rate_own,
            delivered_orders=sla.delivered_orders,
            delivered_on_time=sla.delivered_on_time,
            on_time_rate=sla.on_time_rate,
            on_time_breach=sla.on_time_breach,
            lag_count=len(lags),
            lag_p50_s=_percentile(lags, 0.50),
            lag_p95_s=_percentile(lags, 0.95),
            lag_max_s=lags[-1] if lags else None,
            open_attention=self.attention,
            acknowledged_attention=self.acknowledged,
            tenant_attention=tuple(sorted(tenant_items.items())),
            orders_deferred=self.deferred,
            orders_in_sync=self.in_sync,
            requests=self.requests,
            updates=self.updates,
            rejections=self.rejections,
            deferrals=self.deferrals,
            observations=self.observations,
            attention_raised=self.raised,
            mall_reads=tuple(sorted(self.reads.items())),
            mall_changes=tuple(sorted(self.changes.items())),
            webhook_receipts=self.receipts,
            webhook_order_ids=self.receipt_ids,
            webhook_unknown_ids=self.receipt_unknown,
            returns_requested=self.actions["return"],
            resyncs_requested=self.actions["resync"],
            acknowledgements=self.actions["ack"],
            operator_people=tuple(sorted((by, kind, n) for (by, kind), n in self.people.items())),
            unknown_to_fastcentrik=unknown,
        )
