"""One tenant's running totals over the orders in scope, and its SLA figures (definitions in the README).

The rules themselves (limits, targets, ratios, breaches, on time) are the domain's
(`mallbridge_core.domain.sla`), shared with the publisher's console; this tally adds what only the audit
reports (request counts, lags, open items) and what an order contributes from its history in the log.
"""

from __future__ import annotations

import math
from array import array

from mallbridge_audit.model import QUIET_STATES, TenantFigures
from mallbridge_audit.order_fold import CANCELLED, SHIPPED, TRACKED, OrderAcc
from mallbridge_audit.order_summary import on_time
from mallbridge_core.domain.sla import cancel_breach, on_time_breach, rate


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
        self.orders = self.cancelled = self.shipped = self.tracked = self.mdp = self.own_tracked = 0
        self.delivered = self.on_time = self.attention = self.deferred = self.in_sync = 0
        self.requests = self.updates = self.rejections = self.deferrals = self.observations = self.raised = 0
        self.returns = self.resyncs = self.acks = 0
        self.lags: array[float] = array("d")

    def add(self, acc: OrderAcc, state: str) -> None:
        self.orders += 1
        flags = acc.flags
        self.cancelled += bool(flags & CANCELLED)
        if flags & SHIPPED:
            self.shipped += 1
            if acc.mdp:
                self.mdp += 1
                self.tracked += 1
            elif flags & TRACKED:
                self.tracked += 1
                self.own_tracked += 1
        delivered_on_time = on_time(acc)
        if delivered_on_time is not None:
            self.delivered += 1
            self.on_time += delivered_on_time
        self.attention += acc.attention_open
        if acc.people is not None:
            self.returns += acc.people.count("OrderReturnRequested")
            self.resyncs += acc.people.count("OrderResyncRequested")
            self.acks += acc.people.count("AttentionAcknowledged")
        self.deferred += state == "deferred"
        self.in_sync += state in QUIET_STATES
        self.requests += acc.n_req
        self.updates += acc.n_upd
        self.rejections += acc.n_rej
        self.deferrals += acc.n_def
        self.observations += acc.n_obs
        self.raised += acc.n_att
        if acc.n_occ < len(acc.vals):
            self.lags.extend(acc.lags())

    def merge(self, other: TenantTally) -> None:
        for name, value in vars(other).items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
        self.lags.extend(other.lags)

    def figures(self, tenant_items: dict[str, str]) -> TenantFigures:
        lags = sorted(self.lags)
        cancel_rate = rate(self.cancelled, self.orders)
        on_time_rate = rate(self.on_time, self.delivered)
        return TenantFigures(
            tenant_id=self.tenant,
            orders=self.orders,
            partner_cancellations=self.cancelled,
            cancel_rate=cancel_rate,
            cancel_breach=cancel_breach(cancel_rate),
            tracking_orders=self.shipped,
            tracking_with=self.tracked,
            tracking_rate=rate(self.tracked, self.shipped),
            tracking_mdp=self.mdp,
            tracking_rate_own=rate(self.own_tracked, self.shipped - self.mdp),
            delivered_orders=self.delivered,
            delivered_on_time=self.on_time,
            on_time_rate=on_time_rate,
            on_time_breach=on_time_breach(on_time_rate),
            lag_count=len(lags),
            lag_p50_s=_percentile(lags, 0.50),
            lag_p95_s=_percentile(lags, 0.95),
            lag_max_s=lags[-1] if lags else None,
            open_attention=self.attention,
            tenant_attention=tuple(sorted(tenant_items.items())),
            orders_deferred=self.deferred,
            orders_in_sync=self.in_sync,
            requests=self.requests,
            updates=self.updates,
            rejections=self.rejections,
            deferrals=self.deferrals,
            observations=self.observations,
            attention_raised=self.raised,
            returns_requested=self.returns,
            resyncs_requested=self.resyncs,
            acknowledgements=self.acks,
        )
