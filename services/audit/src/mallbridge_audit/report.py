"""The pure report core: events of both topics in, the audit report out. No I/O, no clock.

Feed order facts and sync facts in any interleaving (each topic in its log order); `finish(as_of=…)`
gives the report. Memory: one compact `_Acc` per order (a few hundred bytes: statuses, counters, the
occurred_at of each order-event seq for the lag, the lags); whole timelines only for the orders
`Scope.orders` names.

Definitions (also in the README):
- orders: every order mallbridge saw (each reached `open`: FastCentrik only gets MALL orders then);
- partner cancellation: an accepted MallStatusUpdated with status `cancelled`;
- tracking: orders MALL has as shipped/delivered/returned (an accepted update or an observed state);
  tracked when the accepted `shipped` PUT carried tracking number AND URL (or MALL showed both), and
  MALL Delivery orders always (MALL's carrier supplies the tracking; MALL counts them as carrying it);
  `tracking_rate_own` leaves MDP orders out;
- on time: an accepted `delivered` whose recorded_at − the delivered_at it sent is ≤ 24 h;
- lag: MallStatusUpdated.recorded_at − occurred_at of the order event of seq `based_on_seq`.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from datetime import UTC, datetime

from mallbridge_audit.model import (
    CANCEL_RATE_LIMIT,
    ON_TIME_LIMIT_S,
    ON_TIME_TARGET,
    OrderSummary,
    Report,
    TenantFigures,
    TimelineEntry,
    Undecodable,
    VerifyResult,
)
from mallbridge_audit.scope import Scope
from mallbridge_audit.timeline import timeline_entry, with_lags
from mallbridge_audit.views import OrderFact, SyncFact, order_fact_from_event, sync_fact_from_event
from mallbridge_core.domain.projection import mall_rank
from mallbridge_schema.events import OrderEventBase, SyncEventBase
from mallbridge_schema.mall_format import delivered_moment
from mallbridge_schema.mapping import desired_mall_status
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus

_S = MallStatus
_SHIPPED_LIKE = frozenset({_S.SHIPPED, _S.DELIVERED, _S.RETURNED})
_MAX_UNDECODABLE_SAMPLES = 20
_NAN = math.nan


def _compact_id(mall_order_id: str) -> str | int:
    """MALL ids are digits: kept as an int (32 bytes, not 61); anything else (leading zero…) as given."""
    if mall_order_id.isdigit() and mall_order_id[0] != "0" and mall_order_id.isascii():
        return int(mall_order_id)
    return mall_order_id


# _Acc.flags bits (one int instead of six slots: the state of 100,000s of orders adds up)
DELIVERY, MDP, TRACKED, SHIPPED, CANCELLED, DELIVERED_SENT = 1, 2, 4, 8, 16, 32


class _Acc:
    """One order's compact running state (mutable inside the builder only).

    `vals` holds, first, the occurred_at of each order-event seq (`n_occ` of them, NaN where a seq was not
    seen), then the order's lags: one array instead of two.
    """

    __slots__ = (
        "attention",
        "deferral",
        "dlv_lag",
        "fc_status",
        "flags",
        "mall",
        "mall_id",
        "n_att",
        "n_def",
        "n_obs",
        "n_occ",
        "n_rej",
        "n_req",
        "n_upd",
        "number",
        "pending",
        "rejection",
        "req_no",
        "seq",
        "settled_no",
        "tenant",
        "vals",
    )

    def __init__(self, tenant: str, number: str, mall_id: str) -> None:
        self.tenant = tenant
        self.number = number
        self.mall_id: str | int = _compact_id(mall_id)
        self.seq = self.n_occ = self.flags = 0
        self.fc_status: FastCentrikStatus | None = None
        self.vals: array[float] = array("d")
        self.mall = _S.OPEN
        self.n_req = self.n_upd = self.n_rej = self.n_def = self.n_obs = self.n_att = 0
        self.req_no = self.settled_no = 0
        self.pending: list[tuple[int, float]] | None = None
        self.dlv_lag: float | None = None
        self.deferral: tuple[str, str] | None = None
        self.attention: tuple[str, str] | None = None
        self.rejection: tuple[str, int, str] | None = None

    def first_seen(self) -> float:
        """The earliest occurred_at of its order events (when it reached open); inf without any."""
        seen = [v for v in self.vals[: self.n_occ] if v == v]
        return min(seen) if seen else math.inf

    def occurred(self, seq: int) -> float:
        """occurred_at of order event `seq` (NaN when not seen)."""
        return self.vals[seq - 1] if 0 < seq <= self.n_occ else _NAN

    def lags(self) -> array[float]:
        return self.vals[self.n_occ :]

    def set_flag(self, bit: int, on: bool) -> None:
        self.flags = self.flags | bit if on else self.flags & ~bit


class ReportBuilder:
    """Folds facts into per-order accumulators; `finish` computes the figures."""

    def __init__(self, scope: Scope | None = None) -> None:
        self.scope = scope or Scope()
        self._filtering = self.scope.filters_keys
        self._orders: dict[str, dict[str, _Acc]] = {}  # tenant → order number → state (no key tuples)
        self._tenant_ids: dict[str, str] = {}
        self._sync_first: dict[tuple[str, str], float] = {}  # orders with no order event yet
        # tenant → code → (recorded_at, reason; None once resolved): the latest by recorded_at wins, because
        # a tenant's items ride on the keys of different orders, so no log order relates them
        self._tenant_attention: dict[str, dict[str, tuple[float, str | None]]] = {}
        self._timelines: dict[tuple[str, str], list[TimelineEntry]] = {}
        self.order_events = 0
        self.sync_events = 0
        self.skipped_unknown = 0
        self.undecodable = 0
        self._undecodable_samples: list[Undecodable] = []

    # ---- input ---------------------------------------------------------------------------------------

    def wants_timeline(self, tenant_id: str, order_number: str) -> bool:
        """Timelines are kept only for the orders named with `--order`."""
        return bool(self.scope.orders) and self.scope.wants(tenant_id, order_number)

    def _acc(self, tenant: str, number: str, mall_id: str) -> _Acc:
        tenant = self._tenant_ids.setdefault(tenant, tenant)
        acc = _Acc(tenant, number, mall_id)
        self._orders.setdefault(tenant, {})[number] = acc
        return acc

    def _get(self, tenant: str, number: str) -> _Acc | None:
        accs = self._orders.get(tenant)
        return accs.get(number) if accs is not None else None

    def add_order_fact(self, fact: OrderFact) -> None:
        if not fact.order_number:
            return  # a tenant-level receipt (MallWebhookReceived): about no single order
        if self._filtering and not self.scope.wants(fact.tenant_id, fact.order_number):
            return
        self.order_events += 1
        acc = self._get(fact.tenant_id, fact.order_number)
        if acc is None:
            acc = self._acc(fact.tenant_id, fact.order_number, fact.mall_order_id)
        at = fact.occurred_at.timestamp()
        seq = fact.seq
        vals = acc.vals
        n_occ = acc.n_occ
        if seq == n_occ + 1 and len(vals) == n_occ:
            vals.append(at)  # the usual case: the next seq, no lag recorded yet
            acc.n_occ = seq
        elif seq > n_occ:
            vals[n_occ:n_occ] = array("d", [_NAN] * (seq - n_occ))  # before the lags
            vals[seq - 1] = at
            acc.n_occ = seq
        elif vals[seq - 1] != vals[seq - 1]:  # NaN: not seen yet
            vals[seq - 1] = at
        if acc.pending:
            self._resolve_pending(acc, seq, at)
        if seq <= acc.seq:
            return  # redelivered, or older than what was applied (the projection's rule)
        acc.seq = seq
        kind = fact.type
        if kind == "OrderStatusChanged":
            acc.fc_status = fact.to_status
        elif kind == "OrderFirstSeen":
            acc.fc_status = fact.status
            acc.set_flag(DELIVERY, fact.delivered_at is not None)
            acc.set_flag(MDP, bool(fact.mdp))
        elif kind == "DeliveryDateSet":
            acc.set_flag(DELIVERY, fact.delivered_at is not None)
        elif kind == "MdpFlagSet":
            acc.set_flag(MDP, bool(fact.mdp))
        if fact.mall_order_id and fact.mall_order_id != str(acc.mall_id):
            acc.mall_id = _compact_id(fact.mall_order_id)

    @staticmethod
    def _resolve_pending(acc: _Acc, seq: int, at: float) -> None:
        assert acc.pending is not None
        still: list[tuple[int, float]] = []
        for based_on, recorded in acc.pending:
            if based_on == seq:
                acc.vals.append(recorded - at)
            else:
                still.append((based_on, recorded))
        acc.pending = still or None

    def add_sync_fact(self, fact: SyncFact) -> None:
        if self._filtering and not self.scope.wants(fact.tenant_id, fact.order_number):
            return
        self.sync_events += 1
        if fact.scope != "order":
            self._tenant_item(fact)
            return
        acc = self._get(fact.tenant_id, fact.order_number)
        if acc is None:
            acc = self._acc(fact.tenant_id, fact.order_number, fact.mall_order_id)
        if acc.seq == 0:  # no order event (yet): remember when the order was first heard of
            key = (acc.tenant, acc.number)
            at = fact.occurred_at.timestamp()
            self._sync_first[key] = min(self._sync_first.get(key, math.inf), at)
        kind = fact.type
        status = fact.status
        if kind == "MallStatusUpdated":
            if fact.request_no <= acc.settled_no:
                return  # a duplicate of an outcome already counted
            acc.settled_no = fact.request_no
            acc.n_upd += 1
            assert status is not None
            self._accepted(acc, fact, status)
        elif kind == "MallUpdateRequested":
            if fact.request_no > acc.req_no:
                acc.req_no = fact.request_no
                acc.n_req += 1
        elif kind == "MallUpdateRejected":
            if fact.request_no <= acc.settled_no:
                return
            acc.settled_no = fact.request_no
            acc.n_rej += 1
            acc.rejection = (str(status), fact.http_status, fact.message or "")
        elif kind == "MallStateObserved":
            acc.n_obs += 1
            assert status is not None
            self._forward(acc, status)
            if status in _SHIPPED_LIKE and fact.tracking_number and fact.tracking_url:
                acc.flags |= TRACKED
        elif kind == "StepDeferred":
            acc.n_def += 1
            acc.deferral = (str(status), fact.reason or "")
        elif kind == "AttentionNeeded":
            acc.n_att += 1
            acc.attention = (fact.code or "", fact.reason or "")
        elif kind == "AttentionResolved" and acc.attention is not None and acc.attention[0] == fact.code:
            acc.attention = None

    def _accepted(self, acc: _Acc, fact: SyncFact, status: MallStatus) -> None:
        recorded = fact.recorded_at.timestamp()
        self._forward(acc, status)
        acc.deferral = None  # as in the projection: an accepted update ends the deferral
        based_on = fact.based_on_seq
        occurred = acc.occurred(based_on)
        if occurred == occurred:  # not NaN
            acc.vals.append(recorded - occurred)
        elif based_on > 0:
            acc.pending = [*(acc.pending or ()), (based_on, recorded)]
        body = fact.request
        if status is _S.SHIPPED and body is not None and body.tracking_number and body.tracking_url:
            acc.flags |= TRACKED
        elif status is _S.CANCELLED:
            acc.flags |= CANCELLED
        elif status is _S.DELIVERED:
            acc.flags |= DELIVERED_SENT
            raw = body.delivered_at if body is not None else None
            acc.dlv_lag = _delivered_lag(raw, fact.recorded_at)

    @staticmethod
    def _forward(acc: _Acc, status: MallStatus) -> None:
        if status in _SHIPPED_LIKE:
            acc.flags |= SHIPPED
        if mall_rank(status) > mall_rank(acc.mall):
            acc.mall = status

    def _tenant_item(self, fact: SyncFact) -> None:
        if fact.type not in ("AttentionNeeded", "AttentionResolved") or not fact.code:
            return
        items = self._tenant_attention.setdefault(self._tenant_ids.setdefault(fact.tenant_id, fact.tenant_id), {})
        at = fact.recorded_at.timestamp()
        if fact.code not in items or items[fact.code][0] <= at:
            items[fact.code] = (at, (fact.reason or "") if fact.type == "AttentionNeeded" else None)

    def add_order_event(self, event: OrderEventBase) -> None:
        """A fully decoded order event: folded, and kept in the order's timeline when one is kept."""
        self.add_order_fact(order_fact_from_event(event))
        self._keep(event)

    def add_sync_event(self, event: SyncEventBase) -> None:
        self.add_sync_fact(sync_fact_from_event(event))
        self._keep(event)

    def _keep(self, event: OrderEventBase | SyncEventBase) -> None:
        if self.wants_timeline(event.tenant_id, event.order_number):
            self._timelines.setdefault((event.tenant_id, event.order_number), []).append(timeline_entry(event))

    def skip_unknown(self) -> None:
        self.skipped_unknown += 1

    def note_undecodable(self, topic: str, partition: int, offset: int, error: str) -> None:
        self.undecodable += 1
        if len(self._undecodable_samples) < _MAX_UNDECODABLE_SAMPLES:
            self._undecodable_samples.append(Undecodable(topic, partition, offset, error[:300]))

    # ---- output --------------------------------------------------------------------------------------

    def finish(self, *, as_of: datetime, verify: VerifyResult | None = None, orders: str = "all") -> Report:
        """The report. `orders`: which per-order summaries it lists: "all", "flagged" (those not in sync,
        with an open item, or orphaned: what the table shows) or "none". The tenant figures always
        cover every order in scope."""
        return assemble([self.partial(orders=orders)], scope=self.scope, as_of=as_of, verify=verify)

    def partial(self, *, orders: str = "all") -> Partial:
        """This builder's share of a report, to be merged with others read from disjoint partitions."""
        tallies: dict[str, _Tally] = {}
        listed: list[OrderSummary] = []
        since = self.scope.since.timestamp() if self.scope.since is not None else -math.inf
        until = self.scope.until.timestamp() if self.scope.until is not None else math.inf
        sync_only = 0
        for acc in (acc for accs in self._orders.values() for acc in accs.values()):
            sync_only += acc.seq == 0
            first = acc.first_seen() if acc.seq else self._sync_first.get((acc.tenant, acc.number), math.inf)
            if not since <= first < until:
                continue
            desired = (
                desired_mall_status(acc.fc_status, has_delivery_date=bool(acc.flags & DELIVERY))
                if acc.fc_status is not None
                else None
            )
            state = _state(acc, desired)
            tally = tallies.get(acc.tenant)
            if tally is None:
                tally = tallies[acc.tenant] = _Tally(acc.tenant)
            tally.add(acc, state)
            if orders == "all" or (orders == "flagged" and (state not in _QUIET or acc.seq == 0)):
                listed.append(_summary(acc, desired, state, first))
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

    @property
    def order_count(self) -> int:
        return sum(len(accs) for accs in self._orders.values())


_QUIET = ("in_sync", "mdp_by_mall")


@dataclass(slots=True)
class Partial:
    """A builder's share of a report (picklable): merged by `assemble`."""

    order_events: int
    sync_events: int
    skipped_unknown: int
    undecodable: int
    undecodable_samples: list[Undecodable]
    tallies: dict[str, _Tally]
    tenant_items: dict[str, dict[str, tuple[float, str | None]]]
    listed: list[OrderSummary]
    timelines: dict[tuple[str, str], tuple[TimelineEntry, ...]]
    sync_only_orders: int  # orders with sync events and no order event (orphans, or an order split across shares)


def assemble(parts: list[Partial], *, scope: Scope, as_of: datetime, verify: VerifyResult | None = None) -> Report:
    """One report from the shares of builders that each read whole orders (disjoint partitions)."""
    tallies: dict[str, _Tally] = {}
    items: dict[str, dict[str, tuple[float, str | None]]] = {}
    for part in parts:
        for tenant, tally in part.tallies.items():
            if tenant in tallies:
                tallies[tenant].merge(tally)
            else:
                tallies[tenant] = tally
        for tenant, codes in part.tenant_items.items():
            mine = items.setdefault(tenant, {})
            for code, (at, reason) in codes.items():
                if code not in mine or mine[code][0] <= at:
                    mine[code] = (at, reason)
    for tenant in items:
        tallies.setdefault(tenant, _Tally(tenant))
    listed = sorted((o for p in parts for o in p.listed), key=lambda o: (o.tenant_id, o.order_number))
    open_items = {t: {c: r for c, (_, r) in codes.items() if r is not None} for t, codes in items.items()}
    return Report(
        as_of=as_of,
        since=scope.since,
        until=scope.until,
        order_events=sum(p.order_events for p in parts),
        sync_events=sum(p.sync_events for p in parts),
        skipped_unknown=sum(p.skipped_unknown for p in parts),
        undecodable=sum(p.undecodable for p in parts),
        undecodable_samples=tuple(u for p in parts for u in p.undecodable_samples)[:_MAX_UNDECODABLE_SAMPLES],
        tenants=tuple(tallies[t].figures(open_items.get(t, {})) for t in sorted(tallies)),
        orders=tuple(listed),
        timelines=dict(sorted(kv for p in parts for kv in p.timelines.items())),
        verify=verify,
    )


def _delivered_lag(raw: str | None, recorded_at: datetime) -> float | None:
    if not raw:
        return None
    try:
        moment = delivered_moment(raw, recorded_at=recorded_at)
    except ValueError:
        return None
    return (recorded_at - moment).total_seconds()


def _state(acc: _Acc, desired: MallStatus | None) -> str:
    if acc.attention is not None:
        return "attention"
    if desired is None:
        return "unknown"
    if desired == acc.mall:
        return "in_sync"
    if acc.flags & MDP and desired in (_S.DELIVERED, _S.RETURNED) and acc.mall is _S.SHIPPED:
        return "mdp_by_mall"  # MALL sets delivered/returned itself on MALL Delivery orders
    if acc.deferral is not None:
        return "deferred"
    return "behind"


def _on_time(acc: _Acc) -> bool | None:
    """None when no `delivered` of ours was accepted; else whether it reached MALL within 24 h."""
    if acc.mall is not _S.DELIVERED or not acc.flags & DELIVERED_SENT:
        return None
    return acc.dlv_lag is not None and acc.dlv_lag <= ON_TIME_LIMIT_S


def _summary(acc: _Acc, desired: MallStatus | None, state: str, first: float) -> OrderSummary:
    return OrderSummary(
        tenant_id=acc.tenant,
        order_number=acc.number,
        mall_order_id=str(acc.mall_id),
        first_seen=datetime.fromtimestamp(first, UTC) if math.isfinite(first) else None,
        fc_status=acc.fc_status.value if acc.fc_status is not None else None,
        fc_delivery_date=bool(acc.flags & DELIVERY),
        mdp=bool(acc.flags & MDP),
        desired=desired.value if desired is not None else None,
        mall_status=acc.mall.value,
        state=state,
        requests=acc.n_req,
        updates=acc.n_upd,
        rejections=acc.n_rej,
        deferrals=acc.n_def,
        observations=acc.n_obs,
        attention_raised=acc.n_att,
        partner_cancelled=bool(acc.flags & CANCELLED),
        lags_s=tuple(acc.lags()),
        tracking=bool(acc.flags & (TRACKED | MDP)) if acc.flags & SHIPPED else None,
        delivered_lag_s=acc.dlv_lag,
        on_time=_on_time(acc),
        deferral=acc.deferral if state == "deferred" else None,
        attention=acc.attention,
        rejection=acc.rejection,
        orphan=acc.seq == 0,
    )


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return None
    rank = max(1, math.ceil(q * len(values)))
    return values[rank - 1]


class _Tally:
    """One tenant's running totals over the orders in scope."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.orders = self.cancelled = self.shipped = self.tracked = self.mdp = self.own_tracked = 0
        self.delivered = self.on_time = self.attention = self.deferred = self.in_sync = 0
        self.requests = self.updates = self.rejections = self.deferrals = self.observations = self.raised = 0
        self.lags: array[float] = array("d")

    def add(self, acc: _Acc, state: str) -> None:
        self.orders += 1
        flags = acc.flags
        self.cancelled += bool(flags & CANCELLED)
        if flags & SHIPPED:
            self.shipped += 1
            if flags & MDP:
                self.mdp += 1
                self.tracked += 1
            elif flags & TRACKED:
                self.tracked += 1
                self.own_tracked += 1
        on_time = _on_time(acc)
        if on_time is not None:
            self.delivered += 1
            self.on_time += on_time
        self.attention += acc.attention is not None
        self.deferred += state == "deferred"
        self.in_sync += state in _QUIET
        self.requests += acc.n_req
        self.updates += acc.n_upd
        self.rejections += acc.n_rej
        self.deferrals += acc.n_def
        self.observations += acc.n_obs
        self.raised += acc.n_att
        if acc.n_occ < len(acc.vals):
            self.lags.extend(acc.lags())

    def merge(self, other: _Tally) -> None:
        for name, value in vars(other).items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
        self.lags.extend(other.lags)

    def figures(self, tenant_items: dict[str, str]) -> TenantFigures:
        lags = sorted(self.lags)
        cancel_rate = _rate(self.cancelled, self.orders)
        on_time_rate = _rate(self.on_time, self.delivered)
        return TenantFigures(
            tenant_id=self.tenant,
            orders=self.orders,
            partner_cancellations=self.cancelled,
            cancel_rate=cancel_rate,
            cancel_breach=cancel_rate is not None and cancel_rate > CANCEL_RATE_LIMIT,
            tracking_orders=self.shipped,
            tracking_with=self.tracked,
            tracking_rate=_rate(self.tracked, self.shipped),
            tracking_mdp=self.mdp,
            tracking_rate_own=_rate(self.own_tracked, self.shipped - self.mdp),
            delivered_orders=self.delivered,
            delivered_on_time=self.on_time,
            on_time_rate=on_time_rate,
            on_time_breach=on_time_rate is not None and on_time_rate < ON_TIME_TARGET,
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
        )
