"""The pure report core: events of both topics in, the audit report out. No I/O, no clock.

Feed order facts and sync facts in any interleaving (each topic in its log order); `finish(as_of=…)`
gives the report. The builder keeps one compact accumulator per order (`order_fold.py`), the
tenant-scope attention items, the counts of what it read, and whole timelines only for the orders
`Scope.orders` names. What it concludes per order is in `order_summary.py`, the per-tenant SLA figures in
`sla.py`, and how shares of workers become one report in `assembly.py`.
"""

from __future__ import annotations

import math
from datetime import datetime

from mallbridge_audit.assembly import MAX_UNDECODABLE_SAMPLES, Partial, TenantItems, assemble, merge_tenant_item
from mallbridge_audit.model import OrderSummary, Report, TimelineEntry, Undecodable, VerifyResult
from mallbridge_audit.order_fold import OrderAcc, fold_operator_event, fold_order_fact, fold_sync_fact
from mallbridge_audit.order_summary import desired_of, is_listed, state_of, summary
from mallbridge_audit.scope import Scope
from mallbridge_audit.sla import TenantTally
from mallbridge_audit.timeline import timeline_entry, with_lags
from mallbridge_audit.views import OrderFact, SyncFact, order_fact_from_event, sync_fact_from_event
from mallbridge_schema.events import Event, OperatorEventBase, OrderEventBase, SyncEventBase

_ATTENTION_TYPES = ("AttentionNeeded", "AttentionResolved")  # the sync events that have a scope


class ReportBuilder:
    """Folds facts into per-order accumulators; `finish` computes the figures."""

    def __init__(self, scope: Scope | None = None) -> None:
        self.scope = scope or Scope()
        self._filtering = self.scope.filters_keys
        self._orders: dict[str, dict[str, OrderAcc]] = {}  # tenant → order number → state (no key tuples)
        self._tenant_ids: dict[str, str] = {}
        self._sync_first: dict[tuple[str, str], float] = {}  # orders with no order event yet
        self._tenant_attention: TenantItems = {}
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

    def _order(self, fact: OrderFact | SyncFact | OperatorEventBase) -> OrderAcc:
        accs = self._orders.get(fact.tenant_id)
        acc = accs.get(fact.order_number) if accs is not None else None
        if acc is None:
            tenant = self._tenant_ids.setdefault(fact.tenant_id, fact.tenant_id)
            acc = OrderAcc(tenant, fact.order_number, fact.mall_order_id)
            self._orders.setdefault(tenant, {})[fact.order_number] = acc
        return acc

    def add_order_fact(self, fact: OrderFact) -> None:
        if not fact.order_number:
            return  # a tenant-level receipt (MallWebhookReceived): about no single order
        if self._filtering and not self.scope.wants(fact.tenant_id, fact.order_number):
            return
        self.order_events += 1
        fold_order_fact(self._order(fact), fact)

    def add_sync_fact(self, fact: SyncFact) -> None:
        if self._filtering and not self.scope.wants(fact.tenant_id, fact.order_number):
            return
        self.sync_events += 1
        if fact.scope != "order" and fact.type in _ATTENTION_TYPES:
            self._tenant_item(fact)
            return
        acc = self._order(fact)
        if acc.n_occ == 0:  # no order event (yet): remember when the order was first heard of
            key = (acc.tenant, acc.number)
            self._sync_first[key] = min(self._sync_first.get(key, math.inf), fact.occurred_at.timestamp())
        fold_sync_fact(acc, fact)

    def _tenant_item(self, fact: SyncFact) -> None:
        if not fact.code:
            return
        items = self._tenant_attention.setdefault(self._tenant_ids.setdefault(fact.tenant_id, fact.tenant_id), {})
        reason = (fact.reason or "") if fact.type == "AttentionNeeded" else None
        merge_tenant_item(items, fact.code, fact.recorded_at.timestamp(), reason)

    def add_order_event(self, event: OrderEventBase) -> None:
        """A fully decoded order event: folded, and kept in the order's timeline when one is kept."""
        self.add_order_fact(order_fact_from_event(event))
        self._keep(event)

    def add_sync_event(self, event: SyncEventBase) -> None:
        self.add_sync_fact(sync_fact_from_event(event))
        self._keep(event)

    def add_operator_event(self, event: Event) -> None:
        """An event of operator-events.v1: a person's decision is folded (counts, acknowledgements); a
        `mallbridge balance` observation only shows in the timeline (the publisher's read of the order,
        in sync-events, is what the audit folds)."""
        if not event.order_number or (self._filtering and not self.scope.wants(event.tenant_id, event.order_number)):
            return
        self.operator_events += 1
        if isinstance(event, OperatorEventBase):
            fold_operator_event(self._order(event), event)
        self._keep(event)

    def _keep(self, event: Event) -> None:
        if self._wants_timeline(event.tenant_id, event.order_number):
            self._timelines.setdefault((event.tenant_id, event.order_number), []).append(timeline_entry(event))

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
            first = acc.first_seen() if acc.n_occ else self._sync_first.get((acc.tenant, acc.number), math.inf)
            if not since <= first < until:
                continue
            desired = desired_of(acc)
            state = state_of(acc, desired)
            tally = tallies.get(acc.tenant)
            if tally is None:
                tally = tallies[acc.tenant] = TenantTally(acc.tenant)
            tally.add(acc, state)
            if is_listed(acc, state, orders):
                listed.append(summary(acc, desired, state, first))
        kept = {(o.tenant_id, o.order_number) for o in listed}
        return Partial(
            order_events=self.order_events,
            sync_events=self.sync_events,
            skipped_unknown=self.skipped_unknown,
            undecodable=self.undecodable,
            undecodable_samples=list(self._undecodable_samples),
            tallies=tallies,
            tenant_items={t: dict(items) for t, items in self._tenant_attention.items()},
            listed=listed,
            timelines={k: with_lags(v) for k, v in self._timelines.items() if k in kept},
            sync_only_orders=sync_only,
        )
