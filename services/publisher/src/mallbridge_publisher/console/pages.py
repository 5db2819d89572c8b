"""What each console page shows, computed from the engine's state (tenants, queue) or an order's history.

Cheap by design: the queue reads only the orders the state gauges count now (`OrderBook.marked`) and the
MALL orders the shop never got as balance last saw them (`UnknownOrdersBook`, each listed id looked up once
in the books' MALL-id index); the tenants page sums what the books keep in step with every change (SLA
cohorts, the marked orders); only the order page reads the log (one order's history). A publisher holds
the orders of the partitions it owns: with several publishers in a group, each console shows its own share
(the audit reads the whole log).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from mallbridge_core.domain.mall_side import Deferral
from mallbridge_core.domain.projection import AttentionItem, OrderState, attention_item
from mallbridge_core.domain.reconciler import plan
from mallbridge_core.domain.sla import (
    CANCEL_RATE_LIMIT,
    ON_TIME_TARGET,
    SlaFigures,
    cohort_daily_figures,
    cohort_tally,
    last_days,
)
from mallbridge_publisher.console.charts import DayValue, Threshold, caption, daily_chart
from mallbridge_publisher.console.labels import STATUS_BY, fastcentrik_label, mall_label
from mallbridge_publisher.console.timeline import TimelineRow, timeline
from mallbridge_publisher.gauges import marks_of
from mallbridge_publisher.operator_actions import ACTIONS, action_refusal, action_request
from mallbridge_publisher.order_history import OrderHistory
from mallbridge_publisher.orders import OrderBook
from mallbridge_publisher.unknown_orders import UnknownOrders
from mallbridge_schema.events import UnknownMallOrder

Key = tuple[str, str]
CHART_DAYS = 30
DEFERRED = "deferred"
"""The queue's code for a deferred step (attention items have their own codes)."""


# ---- tenants ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TenantCard:
    tenant_id: str
    overall: SlaFigures
    recent: SlaFigures
    charts: tuple[tuple[str, str], ...]  # (caption, SVG)
    open_attention: int
    deferred: int


def _charts(series: Sequence[SlaFigures], days: Sequence[date]) -> tuple[tuple[str, str], ...]:
    cancel = [DayValue(d, f.cancel_rate, f.partner_cancellations, f.orders) for d, f in zip(days, series, strict=True)]
    tracking = [
        DayValue(d, f.tracking_rate, f.tracking_with, f.tracking_orders) for d, f in zip(days, series, strict=True)
    ]
    on_time = [
        DayValue(d, f.on_time_rate, f.delivered_on_time, f.delivered_orders) for d, f in zip(days, series, strict=True)
    ]
    limit, target = (
        Threshold(CANCEL_RATE_LIMIT, "max", "MALL's limit"),
        Threshold(ON_TIME_TARGET, "min", "MALL's target"),
    )
    charts = (
        ("Cancel rate per day", cancel, limit, 0.05),
        ("Tracking rate per day", tracking, None, 0.0),
        ("On-time delivery per day", on_time, target, 0.0),
    )
    return tuple(
        (caption(title, line), daily_chart(title, values, threshold=line, floor=floor))
        for title, values, line, floor in charts
    )


def tenant_cards(books: Sequence[OrderBook], tenants: Sequence[str], *, today: date) -> list[TenantCard]:
    """Per tenant: the SLA figures over all its orders and the last 30 days, the charts, the open items.

    From what the books keep in step with every change (the SLA cohorts, the marked orders), so a page
    costs the same whatever the number of orders."""
    days = last_days(today, CHART_DAYS)
    attention: Counter[str] = Counter()
    deferred: Counter[str] = Counter()
    for book in books:
        for key in book.marked():
            state = book.state(key)
            if state is None or state.fc.status is None:
                continue  # not counted until FastCentrik names the order, as in the figures
            code, is_deferred = marks_of(state)
            attention[key[0]] += code is not None
            deferred[key[0]] += is_deferred
    cards = []
    for tenant in tenants:
        counts = [entry for book in books for entry in book.sla_cohorts(tenant)]
        cards.append(
            TenantCard(
                tenant,
                cohort_tally(counts).figures(),
                cohort_tally(counts, since=days[0]).figures(),
                _charts(cohort_daily_figures(counts, days), days),
                attention[tenant],
                deferred[tenant],
            )
        )
    return cards


# ---- the queue ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueRow:
    tenant_id: str
    order_number: str
    mall_order_id: str
    code: str
    reason: str
    fc: str
    mall: str
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Queue:
    attention: list[QueueRow] = field(default_factory=list)
    deferred: list[QueueRow] = field(default_factory=list)
    by_tenant: Counter[str] = field(default_factory=Counter)
    by_code: Counter[str] = field(default_factory=Counter)


def _queue_row(state: OrderState, code: str, reason: str, **when: datetime | None) -> QueueRow:
    return QueueRow(
        state.tenant_id,
        state.order_number,
        state.mall_order_id,
        code,
        reason,
        fastcentrik_label(state.fc.status),
        state.mall.status.value,
        **when,
    )


def _entry(state: OrderState) -> QueueRow | None:
    code, is_deferred = marks_of(state)
    item = attention_item(state)
    if code is not None and item is not None:
        return _queue_row(state, code, item.reason, since=state.mall.attention_at)
    deferral = state.mall.deferral
    if is_deferred and deferral is not None:
        return _queue_row(state, DEFERRED, f"{deferral.status}: {deferral.reason}", until=deferral.until)
    return None


def queue(books: Sequence[OrderBook], *, tenant: str | None = None, code: str | None = None) -> Queue:
    """Open attention items and deferred steps (the counts are over all of them, the rows filtered)."""
    result = Queue()
    for book in books:
        for key in book.marked():
            state = book.state(key)
            row = _entry(state) if state is not None else None
            if row is None:
                continue
            result.by_tenant[row.tenant_id] += 1
            result.by_code[row.code] += 1
            if (tenant and row.tenant_id != tenant) or (code and row.code != code):
                continue
            (result.deferred if row.code == DEFERRED else result.attention).append(row)
    result.attention.sort(
        key=lambda r: (r.since is None, r.since.timestamp() if r.since else 0.0, r.tenant_id, r.order_number)
    )
    result.deferred.sort(key=lambda r: (r.tenant_id, r.order_number))
    return result


# ---- MALL orders the shop never got ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnknownOrdersCard:
    """One tenant's MALL orders the shop never got, as the latest balance run saw them at `seen_at`, less the
    listed ones a FastCentrik snapshot has named since (`named_since`: the books now hold an order with
    that MALL id and a FastCentrik status)."""

    tenant_id: str
    seen_at: datetime
    orders: tuple[UnknownMallOrder, ...]
    count: int  # balance's total, less the listed ones named since
    named_since: int

    @property
    def unlisted(self) -> int:
        """How many more balance counted than it listed (shown as a number: `mallbridge balance` lists them)."""
        return self.count - len(self.orders)


def _named_now(books: Sequence[OrderBook], tenant_id: str, mall_order_id: str) -> bool:
    return any(book.order_of_mall_id(tenant_id, mall_order_id) is not None for book in books)


def unknown_order_cards(
    observations: Sequence[UnknownOrders], books: Sequence[OrderBook], *, tenant: str | None = None
) -> list[UnknownOrdersCard]:
    """One card per tenant (only `tenant`'s, if given), by tenant id: the MALL orders balance found that no
    FastCentrik snapshot had named. A listed order this member's books now hold with a FastCentrik status
    (named after balance ran) is left out at once, at one index lookup per listed id; the rest leave with
    the next balance run. A tenant with none left has no card."""
    cards = []
    for seen in sorted(observations, key=lambda o: o.tenant_id):
        if tenant and seen.tenant_id != tenant:
            continue
        still = tuple(o for o in seen.orders if not _named_now(books, seen.tenant_id, o.mall_order_id))
        named_since = len(seen.orders) - len(still)
        if seen.total - named_since > 0:
            cards.append(UnknownOrdersCard(seen.tenant_id, seen.seen_at, still, seen.total - named_since, named_since))
    return cards


def tenant_chips(found: Queue, unknown: Sequence[UnknownOrdersCard], paused: Sequence[str]) -> list[tuple[str, int]]:
    """The queue's tenant filter: every tenant with something for a person, by tenant id, with how many things
    (its attention items and deferred steps, and the MALL orders its shop never got). A tenant paused on a
    401 is there even with nothing counted: the pause itself is for a person."""
    counts: Counter[str] = Counter(found.by_tenant)
    for card in unknown:
        counts[card.tenant_id] += card.count
    for tenant_id in paused:
        counts.setdefault(tenant_id, 0)
    return sorted(counts.items())


# ---- one order --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderPage:
    tenant_id: str
    order_number: str
    state: OrderState | None
    fc: str
    mall: str
    mall_by: str
    desired: str
    attention: AttentionItem | None
    deferral: Deferral | None
    next_step: str
    rows: list[TimelineRow]
    refusals: Mapping[str, str | None]


def next_step(state: OrderState, *, now: datetime) -> str:
    """What mallbridge does next for the order, in a sentence."""
    current = plan(state, now=now)
    if current.read is not None:
        return f"reads MALL's state of the order first ({current.read.source.replace('_', ' ')})"
    if current.steps:
        return "sends " + ", then ".join(f"PUT {step.body}" for step in current.steps)
    if current.attention is not None:
        done = " (acknowledged)" if current.attention.acknowledged else ""
        return f"nothing: a person must look at it{done}"
    if current.deferral is not None:
        return f"waits: {current.deferral.reason}"
    return "nothing: MALL has what FastCentrik calls for"


def order_page(history: OrderHistory, *, now: datetime) -> OrderPage:
    state = history.state
    refusals: dict[str, str | None] = {
        kind: action_refusal(
            action_request(kind, tenant_id=history.tenant_id, order_number=history.order_number, by="console"),
            state,
        )
        for kind in ACTIONS
    }
    known = state is not None and state.fc.status is not None
    return OrderPage(
        tenant_id=history.tenant_id,
        order_number=history.order_number,
        state=state,
        fc=fastcentrik_label(state.fc.status) if state is not None else "—",
        mall=mall_label(state.mall.status) if known and state is not None else "—",
        mall_by=STATUS_BY[state.mall.status_by] if state is not None else "",
        desired=str(plan(state, now=now).desired or "—") if state is not None else "—",
        attention=attention_item(state) if state is not None else None,
        deferral=state.mall.deferral if state is not None else None,
        next_step=next_step(state, now=now) if known and state is not None else "nothing: mallbridge does not know it",
        rows=timeline(history),
        refusals=refusals,
    )
