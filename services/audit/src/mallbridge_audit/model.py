"""The audit report as plain frozen values: what the renderers print and `--format json` writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

QUIET_STATES = ("in_sync", "mdp_by_mall", "ended", "acknowledged")
"""Order states that need no look: the table lists only the other orders (and orphans) by default."""


@dataclass(frozen=True, slots=True)
class MallChange:
    """A change on MALL's side that a read of the order showed, and why MALL was read."""

    kind: str  # mall_fold.CHANGES
    source: str  # MallStateObserved.source: outcome_unknown | refusal | webhook | poll | resync | balance

    def __str__(self) -> str:
        return f"{self.kind} ({self.source})"


@dataclass(frozen=True, slots=True)
class OperatorAction:
    """What a person did about an order (operator-events.v1), who and why."""

    kind: str  # return | resync | ack
    by: str
    reason: str  # why, or the note of an acknowledgement
    code: str | None  # the attention code acknowledged
    at: datetime  # recorded_at

    def __str__(self) -> str:
        what = f"{self.kind} [{self.code}]" if self.code else self.kind
        return f"{what} by {self.by}" + (f": {self.reason}" if self.reason else "")


@dataclass(frozen=True, slots=True)
class UnknownToFastCentrik:
    """The MALL orders FastCentrik never got, as the last `mallbridge balance` run saw them: its latest
    UnknownMallOrdersObserved for the tenant (open at MALL for over an hour, named by no FastCentrik
    snapshot). Information for a person, who brings each into FastCentrik or cancels it at MALL."""

    total: int  # how many there are (0: none any more)
    mall_order_ids: tuple[str, ...]  # the ones balance listed (at most MAX_UNKNOWN_LISTED, oldest first)
    seen_at: datetime  # when balance recorded it (recorded_at)


@dataclass(frozen=True, slots=True)
class TenantFigures:
    """One tenant's figures over the orders in scope. Rates are None when their denominator is 0."""

    tenant_id: str
    orders: int
    # cancel rate: orders MALL accepted `cancelled` for (sent by us = by the partner) ÷ orders (all reached open)
    partner_cancellations: int
    cancel_rate: float | None
    cancel_breach: bool
    # tracking rate: orders MALL has as shipped/delivered/returned; tracked = the accepted `shipped` carried
    # tracking number AND URL, or MALL Delivery (MALL's own tracking, counted as tracked, see README)
    tracking_orders: int
    tracking_with: int
    tracking_rate: float | None
    tracking_mdp: int
    tracking_rate_own: float | None  # the same over non-MDP orders only: what the partner itself sent
    # on-time delivery: accepted `delivered` PUTs whose recorded_at − delivered_at sent ≤ 24 h
    delivered_orders: int
    delivered_on_time: int
    on_time_rate: float | None
    on_time_breach: bool
    # lag: MallStatusUpdated.recorded_at − occurred_at of the order event it was based on (seconds)
    lag_count: int
    lag_p50_s: float | None
    lag_p95_s: float | None
    lag_max_s: float | None
    open_attention: int  # orders whose last order-scope attention item is not resolved nor acknowledged
    acknowledged_attention: int  # orders whose attention item a person acknowledged (not resolved)
    tenant_attention: tuple[tuple[str, str], ...]  # open tenant-scope items: (code, reason)
    orders_deferred: int  # orders whose last deferral is not yet followed by an accepted update
    orders_in_sync: int
    requests: int
    updates: int
    rejections: int
    deferrals: int
    observations: int
    attention_raised: int
    # MALL's side: reads of MALL by why they were made, the MALL-side changes they showed by kind
    mall_reads: tuple[tuple[str, int], ...] = ()
    mall_changes: tuple[tuple[str, int], ...] = ()
    # MALL's webhook deliveries for the tenant (MallWebhookReceived): receipts, ids, ids no snapshot named
    webhook_receipts: int = 0
    webhook_order_ids: int = 0
    webhook_unknown_ids: int = 0
    # what people decided (operator-events.v1, `mallbridge order ...`): each action once, and per person
    returns_requested: int = 0
    resyncs_requested: int = 0
    acknowledgements: int = 0
    operator_people: tuple[tuple[str, str, int], ...] = ()  # (person, kind: return | resync | ack, count)
    # MALL orders FastCentrik never got, as the last `mallbridge balance` saw them (None: it never recorded any)
    unknown_to_fastcentrik: UnknownToFastCentrik | None = None


@dataclass(frozen=True, slots=True)
class OrderSummary:
    tenant_id: str
    order_number: str
    mall_order_id: str
    first_seen: datetime | None
    fc_status: str | None
    fc_delivery_date: bool
    mdp: bool
    desired: str | None
    mall_status: str
    mall_status_by: str  # who set MALL's status: assumed (nothing known) | us | mall
    state: str  # in_sync | attention | acknowledged | deferred | mdp_by_mall | ended | behind | unknown
    requests: int
    updates: int
    rejections: int
    deferrals: int
    observations: int
    attention_raised: int
    partner_cancelled: bool  # MALL has it cancelled, and it was our `cancelled` (mallbridge_core.domain.sla)
    lags_s: tuple[float, ...]
    tracking: bool | None  # None: never shipped
    delivered_lag_s: float | None  # None: no delivered sent
    on_time: bool | None  # None: not in the on-time figure
    deferral: tuple[str, str] | None  # (status, reason) still open
    attention: tuple[str, str] | None  # (code, reason) recorded and not resolved (open, or acknowledged)
    attention_acknowledged: bool  # a person acknowledged that attention item (it is not open)
    rejection: tuple[str, int, str] | None  # last rejection: (status, http status, message)
    orphan: bool  # sync events but no order event in the log
    mall_changes: tuple[MallChange, ...] = ()  # in the order MALL's side showed them
    operator_actions: int = 0  # returns, resyncs and acknowledgements people recorded
    actions: tuple[OperatorAction, ...] = ()  # those actions, who and why, in the order they were recorded

    @property
    def max_lag_s(self) -> float | None:
        return max(self.lags_s) if self.lags_s else None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime  # occurred_at for facts of order-events (FastCentrik's, MALL's webhook), else recorded_at
    side: str  # "fastcentrik" | "mall" | "operator"
    type: str
    event_id: str
    seq: int  # the order event's seq, or the sync event's based_on_seq
    summary: str
    lag_s: float | None = None  # for MallStatusUpdated
    who: str = ""  # operator actions: who (--by)
    why: str = ""  # operator actions: the reason or note; reads of MALL: why MALL was read (the source)
    change: str | None = None  # reads of MALL: the MALL-side change it showed (mall_fold.CHANGES), or None
    event: dict[str, Any] = field(default_factory=dict)  # the whole event, as JSON


@dataclass(frozen=True, slots=True)
class Undecodable:
    topic: str
    partition: int
    offset: int
    error: str


@dataclass(frozen=True, slots=True)
class Finding:
    """A verify result about one order."""

    tenant_id: str
    order_number: str
    kind: str
    message: str
    event_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VerifyResult:
    orders_checked: int
    puts_checked: int
    differences: tuple[Finding, ...]
    warnings: tuple[Finding, ...]

    @property
    def clean(self) -> bool:
        return not self.differences


@dataclass(frozen=True, slots=True)
class Report:
    as_of: datetime
    since: datetime | None
    until: datetime | None
    order_events: int
    sync_events: int
    operator_events: int
    skipped_unknown: int
    undecodable: int
    undecodable_samples: tuple[Undecodable, ...]
    tenants: tuple[TenantFigures, ...]
    orders: tuple[OrderSummary, ...]
    timelines: dict[tuple[str, str], tuple[TimelineEntry, ...]]
    verify: VerifyResult | None = None
