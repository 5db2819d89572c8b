"""The pure report core: events of the three topics in, the audit report out. No I/O, no clock.

Feed order, operator and sync facts in any interleaving (each topic in its log order); `finish(as_of=…)`
gives the report. The builder keeps one compact accumulator per order (`order_fold.py`), the
tenant-scope attention items, the counts of what it read, and whole timelines only for the orders
`Scope.orders` names, and per tenant the MALL webhook receipts (tenant-level events: counted when they
arrived within the window) and `mallbridge balance`'s latest UnknownMallOrdersObserved (tenant-level: the
latest by recorded_at, whenever it was recorded). What it concludes per order is in `order_summary.py`,
the per-tenant figures in `sla.py`, and how shares of workers become one report in `assembly.py`.
"""

from __future__ import annotations

import math
from datetime import datetime

from mallbridge_audit.assembly import (
    MAX_UNDECODABLE_SAMPLES,
    Partial,
    TenantItems,
    UnknownOrders,
    assemble,
    merge_tenant_item,
    merge_unknown_orders,
)
from mallbridge_audit.mall_fold import NOT_A_READ, fold_sync_fact, read_of
from mallbridge_audit.model import OrderSummary, Report, TimelineEntry, Undecodable, UnknownToFastCentrik, VerifyResult
from mallbridge_audit.operator_fold import fold_operator_fact
from mallbridge_audit.order_fold import OrderAcc, fold_order_fact
from mallbridge_audit.order_summary import desired_of, is_listed, sla_of, state_of, summary
from mallbridge_audit.scope import Scope
from mallbridge_audit.sla import TenantTally
from mallbridge_audit.timeline import timeline_entry, with_lags
from mallbridge_audit.views import (
    OperatorFact,
    OrderFact,
    SyncFact,
    operator_fact_from_event,
    order_fact_from_event,
    sync_fact_from_event,
)
from mallbridge_schema.events import Event, OrderEventBase, SyncEventBase

_ATTENTION_TYPES = ("AttentionNeeded", "AttentionResolved")  # the sync events that have a scope


class ReportBuilder:
    """Folds facts into per-order accumulators; `finish` computes the figures."""

    def __init__(self, scope: Scope | None = None) -> None:
        self.scope = scope or Scope()
        self._filtering = self.scope.filters_keys
        self._orders: dict[str, dict[str, OrderAcc]] = {}  # tenant → order number → state (no key tuples)
        self._tenant_ids: dict[str, str] = {}
        self._first_heard: dict[tuple[str, str], float] = {}  # orders with no FastCentrik fact (yet)
        self._tenant_attention: TenantItems = {}
        self._receipts: dict[str, list[int]] = {}  # tenant → [receipts, order ids, unknown ids]
        self._unknown_orders: UnknownOrders = {}
        self._timelines: dict[tuple[str, str], list[TimelineEntry]] = {}
        self.order_events = 0
        self.sync_events = 0
        self.operator_events = 0
        self.skipped_unknown = 0
        self.undecodable = 0
        self._undecodable_samples: list[Undecodable] = []

    # ---- input ---------------------------------------------------------------------------------------

    def _wants_timeline(self, tenant_id: str, order_number: str) -> bool:
        """Timelines are kept only for the orders named with `--order`."""
        return bool(self.scope.orders) and self.scope.wants(tenant_id, order_number)

    def _order(self, fact: OrderFact | SyncFact | OperatorFact) -> OrderAcc:
        accs = self._orders.get(fact.tenant_id)
        acc = accs.get(fact.order_number) if accs is not None else None
        if acc is None:
            tenant = self._tenant_ids.setdefault(fact.tenant_id, fact.tenant_id)
            acc = OrderAcc(tenant, fact.order_number, fact.mall_order_id)
            self._orders.setdefault(tenant, {})[fact.order_number] = acc
        return acc

    def _heard(self, acc: OrderAcc, at: float) -> None:
        """An order with no FastCentrik fact (yet): remember when it was first heard of (its window)."""
        key = (acc.tenant, acc.number)
        self._first_heard[key] = min(self._first_heard.get(key, math.inf), at)

    def add_order_fact(self, fact: OrderFact) -> None:
        if not fact.order_number:
            self._receipt(fact)  # a tenant-level receipt (MallWebhookReceived): about no single order
            return
        if self._filtering and not self.scope.wants(fact.tenant_id, fact.order_number):
            return
        self.order_events += 1
        acc = self._order(fact)
        fold_order_fact(acc, fact)
        if acc.n_occ == 0:
            self._heard(acc, fact.occurred_at.timestamp())

    def _receipt(self, fact: OrderFact) -> None:
        if fact.type != "MallWebhookReceived" or (self._filtering and not self.scope.wants(fact.tenant_id, "")):
            return
        if self.scope.in_window(fact.occurred_at.timestamp()):
            counts = self._receipts.setdefault(self._tenant_ids.setdefault(fact.tenant_id, fact.tenant_id), [0, 0, 0])
            counts[0] += 1
            counts[1] += len(fact.order_ids)
            counts[2] += len(fact.unknown_ids)

    def add_sync_fact(self, fact: SyncFact) -> int:
        """Fold one sync fact; returns the read's code (mall_fold.read_code) or NOT_A_READ."""
        if self._filtering and not self.scope.wants(fact.tenant_id, fact.order_number):
            return NOT_A_READ
        self.sync_events += 1
        if fact.scope != "order" and fact.type in _ATTENTION_TYPES:
            self._tenant_item(fact)
            return NOT_A_READ
        acc = self._order(fact)
        if acc.n_occ == 0:
            self._heard(acc, fact.occurred_at.timestamp())
        return fold_sync_fact(acc, fact)

    def add_operator_fact(self, fact: OperatorFact) -> int:
        """Fold one operator fact (a person's action, or what `mallbridge balance` saw); returns a read's code."""
        if self._filtering and not self.scope.wants(fact.tenant_id, fact.order_number):
            return NOT_A_READ
        self.operator_events += 1
        if not fact.order_number:
            self._tenant_fact(fact)  # tenant-level (UnknownMallOrdersObserved): about no single order
            return NOT_A_READ
        acc = self._order(fact)
        if acc.n_occ == 0:
            self._heard(acc, fact.occurred_at.timestamp())
        return fold_operator_fact(acc, fact)

    def _tenant_fact(self, fact: OperatorFact) -> None:
        """An operator fact about the tenant: balance's view of the MALL orders FastCentrik never got (the
        latest replaces every earlier one). Not windowed: it is the state as of the last balance run. Any
        other type without an order number names no order, so no order folds it (nor does --verify)."""
        if fact.type != "UnknownMallOrdersObserved":
            return
        seen = UnknownToFastCentrik(fact.total, tuple(o.mall_order_id for o in fact.orders), fact.recorded_at)
        merge_unknown_orders(self._unknown_orders, self._tenant_ids.setdefault(fact.tenant_id, fact.tenant_id), seen)

    def _tenant_item(self, fact: SyncFact) -> None:
        if not fact.code:
            return
        items = self._tenant_attention.setdefault(self._tenant_ids.setdefault(fact.tenant_id, fact.tenant_id), {})
        reason = (fact.reason or "") if fact.type == "AttentionNeeded" else None
        merge_tenant_item(items, fact.code, fact.recorded_at.timestamp(), reason)

    def add_order_event(self, event: OrderEventBase) -> None:
        """A fully decoded order event: folded, and kept in the order's timeline when one is kept."""
        self.add_order_fact(order_fact_from_event(event))
        self._keep(event, NOT_A_READ)

    def add_sync_event(self, event: SyncEventBase) -> None:
        self._keep(event, self.add_sync_fact(sync_fact_from_event(event)))

    def add_operator_event(self, event: Event) -> None:
        self._keep(event, self.add_operator_fact(operator_fact_from_event(event)))

    def _keep(self, event: Event, read: int) -> None:
        # A tenant-level event (no order number: a webhook receipt, balance's unknown orders) is in no
        # order's timeline: `Scope.wants` lets it through for the tenant, so it is said here.
        if event.order_number and self._wants_timeline(event.tenant_id, event.order_number):
            change = (read_of(read)[1] or None) if read != NOT_A_READ else None
            entry = timeline_entry(event, change=change)
            self._timelines.setdefault((event.tenant_id, event.order_number), []).append(entry)

    def skip_unknown(self) -> None:
        self.skipped_unknown += 1

    def note_undecodable(self, topic: str, partition: int, offset: int, error: str) -> None:
        self.undecodable += 1
        if len(self._undecodable_samples) < MAX_UNDECODABLE_SAMPLES:
            self._undecodable_samples.append(Undecodable(topic, partition, offset, error[:300]))

    # ---- output --------------------------------------------------------------------------------------

    def finish(self, *, as_of: datetime, verify: VerifyResult | None = None, orders: str = "all") -> Report:
        """The report. `orders`: which per-order summaries it lists: "all", "flagged" (those not in sync,
        with an open item, or orphaned: what the table shows) or "none". The tenant figures always
        cover every order in scope."""
        return assemble([self.partial(orders=orders)], scope=self.scope, as_of=as_of, verify=verify)

    def partial(self, *, orders: str = "all") -> Partial:
        """This builder's share of a report, to be merged with others read from disjoint partitions."""
        tallies: dict[str, TenantTally] = {}
        listed: list[OrderSummary] = []
        since = self.scope.since.timestamp() if self.scope.since is not None else -math.inf
        until = self.scope.until.timestamp() if self.scope.until is not None else math.inf
        sync_only = 0
        for acc in (acc for accs in self._orders.values() for acc in accs.values()):
            sync_only += acc.n_occ == 0
            first = acc.first_seen() if acc.n_occ else self._first_heard.get((acc.tenant, acc.number), math.inf)
            if not since <= first < until:
                continue
            desired = desired_of(acc)
            state = state_of(acc, desired)
            sla = sla_of(acc)
            tally = tallies.get(acc.tenant)
            if tally is None:
                tally = tallies[acc.tenant] = TenantTally(acc.tenant)
            tally.add(acc, state, sla)
            if is_listed(acc, state, orders):
                listed.append(summary(acc, desired, state, first, sla))
        for tenant, (receipts, order_ids, unknown_ids) in self._receipts.items():
            tally = tallies.get(tenant)
            if tally is None:
                tally = tallies[tenant] = TenantTally(tenant)
            tally.add_receipts(receipts, order_ids, unknown_ids)
        kept = {(o.tenant_id, o.order_number) for o in listed}
        return Partial(
            order_events=self.order_events,
            sync_events=self.sync_events,
            operator_events=self.operator_events,
            skipped_unknown=self.skipped_unknown,
            undecodable=self.undecodable,
            undecodable_samples=list(self._undecodable_samples),
            tallies=tallies,
            tenant_items={t: dict(items) for t, items in self._tenant_attention.items()},
            listed=listed,
            timelines={k: with_lags(v) for k, v in self._timelines.items() if k in kept},
            sync_only_orders=sync_only,
            unknown_orders=dict(self._unknown_orders),
        )
