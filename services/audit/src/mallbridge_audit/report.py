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


class _Acc:
    """One order's compact running state (mutable inside the builder only)."""

    __slots__ = (
        "attention",
        "cancelled",
        "deferral",
        "delivered_sent",
        "delivery",
        "dlv_lag",
        "fc_status",
        "first",
        "lags",
        "mall",
        "mall_id",
        "mdp",
        "n_att",
        "n_def",
        "n_obs",
        "n_rej",
        "n_req",
        "n_upd",
        "number",
        "occ",
        "pending",
        "rejection",
        "req_no",
        "seq",
        "settled_no",
        "shipped",
        "tenant",
        "tracked",
    )

    def __init__(self, tenant: str, number: str, mall_id: str) -> None:
        self.tenant = tenant
        self.number = number
        self.mall_id = mall_id
        self.first = math.inf
        self.seq = 0
        self.fc_status: FastCentrikStatus | None = None
        self.delivery = False
        self.mdp = False
        self.occ: array[float] = array("d")
        self.mall = _S.OPEN
        self.n_req = self.n_upd = self.n_rej = self.n_def = self.n_obs = self.n_att = 0
        self.req_no = self.settled_no = 0
        self.lags: array[float] | None = None
        self.pending: list[tuple[int, float]] | None = None
        self.tracked = self.shipped = self.cancelled = self.delivered_sent = False
        self.dlv_lag: float | None = None
        self.deferral: tuple[str, str] | None = None
        self.attention: tuple[str, str] | None = None
        self.rejection: tuple[str, int, str] | None = None

    def add_lag(self, lag: float) -> None:
        if self.lags is None:
            self.lags = array("d")
        self.lags.append(lag)


class ReportBuilder:
    """Folds facts into per-order accumulators; `finish` computes the figures."""

    def __init__(self, scope: Scope | None = None) -> None:
        self.scope = scope or Scope()
        self._filtering = self.scope.filters_keys
        self._orders: dict[tuple[str, str], _Acc] = {}
        self._tenant_ids: dict[str, str] = {}
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
        acc = _Acc(self._tenant_ids.setdefault(tenant, tenant), number, mall_id)
        self._orders[(acc.tenant, number)] = acc
        return acc

    def add_order_fact(self, fact: OrderFact) -> None:
        if self._filtering and not self.scope.wants(fact.tenant_id, fact.order_number):
            return
        self.order_events += 1
        acc = self._orders.get((fact.tenant_id, fact.order_number))
        if acc is None:
            acc = self._acc(fact.tenant_id, fact.order_number, fact.mall_order_id)
        at = fact.occurred_at.timestamp()
        seq = fact.seq
        occ = acc.occ
        if seq > len(occ):
            occ.extend([_NAN] * (seq - len(occ)))
        if occ[seq - 1] != occ[seq - 1]:  # NaN: not seen yet
            occ[seq - 1] = at
        if acc.seq == 0 or at < acc.first:
            acc.first = at
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
            acc.delivery = fact.delivered_at is not None
            acc.mdp = bool(fact.mdp)
        elif kind == "DeliveryDateSet":
            acc.delivery = fact.delivered_at is not None
        elif kind == "MdpFlagSet":
            acc.mdp = bool(fact.mdp)
        if fact.mall_order_id and fact.mall_order_id != acc.mall_id:
            acc.mall_id = fact.mall_order_id

    @staticmethod
    def _resolve_pending(acc: _Acc, seq: int, at: float) -> None:
        assert acc.pending is not None
        still: list[tuple[int, float]] = []
        for based_on, recorded in acc.pending:
            if based_on == seq:
                acc.add_lag(recorded - at)
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
        acc = self._orders.get((fact.tenant_id, fact.order_number))
        if acc is None:
            acc = self._acc(fact.tenant_id, fact.order_number, fact.mall_order_id)
        if acc.seq == 0:
            acc.first = min(acc.first, fact.occurred_at.timestamp())
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
                acc.tracked = True
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
        occ = acc.occ
        if 0 < based_on <= len(occ) and not math.isnan(occ[based_on - 1]):
            acc.add_lag(recorded - occ[based_on - 1])
        elif based_on > 0:
            acc.pending = [*(acc.pending or ()), (based_on, recorded)]
        body = fact.request
        if status is _S.SHIPPED and body is not None and body.tracking_number and body.tracking_url:
            acc.tracked = True
        elif status is _S.CANCELLED:
            acc.cancelled = True
        elif status is _S.DELIVERED:
            acc.delivered_sent = True
            raw = body.delivered_at if body is not None else None
            acc.dlv_lag = _delivered_lag(raw, fact.recorded_at)

    @staticmethod
    def _forward(acc: _Acc, status: MallStatus) -> None:
        if status in _SHIPPED_LIKE:
            acc.shipped = True
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
        for acc in self._orders.values():
            sync_only += acc.seq == 0
            if not since <= acc.first < until:
                continue
            desired = (
                desired_mall_status(acc.fc_status, has_delivery_date=acc.delivery)
                if acc.fc_status is not None
                else None
            )
            state = _state(acc, desired)
            tally = tallies.get(acc.tenant)
            if tally is None:
                tally = tallies[acc.tenant] = _Tally(acc.tenant)
            tally.add(acc, state)
            if orders == "all" or (orders == "flagged" and (state not in _QUIET or acc.seq == 0)):
                listed.append(_summary(acc, desired, state))
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
        return len(self._orders)


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
    if acc.mdp and desired in (_S.DELIVERED, _S.RETURNED) and acc.mall is _S.SHIPPED:
        return "mdp_by_mall"  # MALL sets delivered/returned itself on MALL Delivery orders
    if acc.deferral is not None:
        return "deferred"
    return "behind"


def _on_time(acc: _Acc) -> bool | None:
    """None when no `delivered` of ours was accepted; else whether it reached MALL within 24 h."""
    if acc.mall is not _S.DELIVERED or not acc.delivered_sent:
        return None
    return acc.dlv_lag is not None and acc.dlv_lag <= ON_TIME_LIMIT_S


def _summary(acc: _Acc, desired: MallStatus | None, state: str) -> OrderSummary:
    return OrderSummary(
        tenant_id=acc.tenant,
        order_number=acc.number,
        mall_order_id=acc.mall_id,
        first_seen=datetime.fromtimestamp(acc.first, UTC) if math.isfinite(acc.first) else None,
        fc_status=acc.fc_status.value if acc.fc_status is not None else None,
        fc_delivery_date=acc.delivery,
        mdp=acc.mdp,
        desired=desired.value if desired is not None else None,
        mall_status=acc.mall.value,
        state=state,
        requests=acc.n_req,
        updates=acc.n_upd,
        rejections=acc.n_rej,
        deferrals=acc.n_def,
        observations=acc.n_obs,
        attention_raised=acc.n_att,
        partner_cancelled=acc.cancelled,
        lags_s=tuple(acc.lags or ()),
        tracking=(acc.tracked or acc.mdp) if acc.shipped else None,
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
        self.lags: list[float] = []

    def add(self, acc: _Acc, state: str) -> None:
        self.orders += 1
        self.cancelled += acc.cancelled
        if acc.shipped:
            self.shipped += 1
            if acc.mdp:
                self.mdp += 1
                self.tracked += 1
            elif acc.tracked:
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
        if acc.lags:
            self.lags.extend(acc.lags)

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
