"""MALL's SLA figures of one tenant: the pure rules, one source for the audit and the publisher's console.

The definitions (services/audit/README.md, "Figures"), over the orders in scope. What counts is what MALL
has *now* and who set it (`MallSide.status_by`: "us" = our accepted PUT, or a read showing our PUT in
doubt landed; "mall" = MALL's side, seen in a read):
- **cancel rate**: partner cancellations ÷ orders. A partner cancellation is an order MALL has `cancelled`
  because mallbridge sent `cancelled` for the merchant. A cancel MALL made itself (the customer, MALL, an
  unpaid blocked order) is not one. MALL's limit: 1.5 %.
- **tracking rate**: orders MALL has as shipped, delivered or returned (however they got there: our PUT,
  MALL Delivery, a return set in the portal or by an operator) that carry a tracking number and URL (the
  values last known: our accepted PUT's or MALL's read) ÷ all such orders. An order shipped and then lost
  or cancelled is not in it (MALL counts those three statuses). MALL Delivery orders count as tracked
  (MALL's own carrier supplies it). The `own` figure leaves them out: what the merchant itself sent. MALL
  publishes no target.
- **on-time delivery**: orders MALL has `delivered` whose delivered we sent (on time when MALL accepted it
  ≤ 24 h after the delivery moment it carried; a `delivered` whose answer was lost, which a read showed
  landed, is measured from when it was sent) or MALL Delivery set itself (on time: MALL set it from its
  carrier's data) ÷ all such orders. A `delivered` MALL shows on an order of the merchant's own carrier that
  we did not send (set by hand in the portal) is not in it: no moment to measure is known. Target: ≥ 90 %.

A day's figures (the console's 30-day charts) are the same ratios over the orders that reached `open`
that day (Prague date of the order's first order event), the cohort `mallbridge audit --since/--until`
uses. Pure: no clock, no I/O; "today" comes in as an argument.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from mallbridge_core.domain.mall_side import StatusBy
from mallbridge_core.domain.projection import OrderState
from mallbridge_core.domain.reconciler import effective_mdp
from mallbridge_schema.mall_format import PRAGUE, delivered_instant
from mallbridge_schema.statuses import MallStatus

CANCEL_RATE_LIMIT = 0.015
"""MALL's limit on partner cancellations: above it the tenant is in breach."""
ON_TIME_TARGET = 0.90
"""MALL's On-Time Delivery SLA: below it the tenant is flagged."""
ON_TIME_LIMIT_S = 24 * 3600.0
"""A `delivered` update is on time when MALL accepted it at most this long after the delivery moment."""
TRACKING_STATUSES = frozenset({MallStatus.SHIPPED, MallStatus.DELIVERED, MallStatus.RETURNED})
"""The statuses whose orders are in the tracking figure."""


def rate(part: int, whole: int) -> float | None:
    """part ÷ whole; None when there is nothing to divide by (no figure, not 0 %)."""
    return part / whole if whole else None


def carries_tracking(number: str | None, url: str | None) -> bool:
    """A tracking number and a tracking URL, both."""
    return bool(number) and bool(url)


def delivered_lag_s(sent_delivered_at: str | None, *, accepted_at: datetime) -> float | None:
    """How long after the delivery moment it sent MALL accepted a `delivered` (None: no readable moment)."""
    if not sent_delivered_at:
        return None
    try:
        moment = delivered_instant(sent_delivered_at, recorded_at=accepted_at)
    except ValueError:
        return None
    if moment.tzinfo is accepted_at.tzinfo:  # one zone object: Python subtracts wall times, wrong across DST
        return (accepted_at.astimezone(UTC) - moment.astimezone(UTC)).total_seconds()
    return (accepted_at - moment).total_seconds()  # two zones: subtracted as instants, exactly


def is_on_time(lag_s: float | None) -> bool:
    return lag_s is not None and lag_s <= ON_TIME_LIMIT_S


def cancel_breach(cancel_rate: float | None) -> bool:
    return cancel_rate is not None and cancel_rate > CANCEL_RATE_LIMIT


def on_time_breach(on_time_rate: float | None) -> bool:
    return on_time_rate is not None and on_time_rate < ON_TIME_TARGET


def prague_date(moment: datetime) -> date:
    """The Prague calendar day of an aware moment (MALL counts its periods in Prague time)."""
    return moment.astimezone(PRAGUE).date()


@dataclass(frozen=True, slots=True)
class OrderSla:
    """What one order adds to its tenant's figures."""

    partner_cancelled: bool = False
    tracked: bool | None = None  # None: MALL does not have it shipped (not in the tracking figure)
    mdp: bool = False
    on_time: bool | None = None  # None: not in the on-time figure (see the module docstring)


def order_sla(
    state: OrderState, *, delivered_lag: float | None, delivered_sent: bool, requested_lag: float | None = None
) -> OrderSla:
    """The order's part in the figures, from its projected state.

    `delivered_sent`: MALL accepted a `delivered` update of ours; `delivered_lag`: that update's lag
    (`delivered_lag_s`); `requested_lag`: the lag of our last `delivered` request at the moment it was
    recorded (for one whose answer was lost). They come from the sync events, which the state does not keep.
    """
    mall = state.mall
    return order_contribution(
        status=mall.status,
        status_by=mall.status_by,
        mdp=effective_mdp(state),
        tracking=carries_tracking(mall.tracking_number, mall.tracking_url),
        delivered_sent=delivered_sent,
        delivered_lag=delivered_lag,
        requested_lag=requested_lag,
    )


def order_contribution(
    *,
    status: MallStatus,
    status_by: StatusBy,
    mdp: bool,
    tracking: bool,
    delivered_sent: bool,
    delivered_lag: float | None,
    requested_lag: float | None = None,
) -> OrderSla:
    """The one rule (the module docstring) from plain values: what MALL has and who set it, whether it is a
    MALL Delivery order, whether the order carries a tracking number and URL, our accepted `delivered` and
    the lag of our last `delivered` request when it was sent (`order_sla` gives them from a projected state,
    the audit from its compact fold)."""
    tracked = (mdp or tracking) if status in TRACKING_STATUSES else None
    on_time: bool | None = None
    if status is MallStatus.DELIVERED:
        if delivered_sent:
            on_time = is_on_time(delivered_lag)
        elif status_by == "us" and requested_lag is not None:
            on_time = is_on_time(requested_lag)  # our `delivered` whose answer was lost; a read showed it landed
        elif status_by == "mall" and mdp:
            on_time = True  # MALL Delivery set it from its carrier's data: no partner delay in it
    partner_cancelled = status is MallStatus.CANCELLED and status_by == "us"
    key = (partner_cancelled, tracked, mdp, on_time)
    shared = _CONTRIBUTIONS.get(key)
    if shared is None:
        shared = _CONTRIBUTIONS[key] = OrderSla(*key)
    return shared


# One frozen value per combination (36 at most), shared by the orders that have it: the audit asks for
# every order's part at the end of a replay, and building one costs ten times the lookup.
_CONTRIBUTIONS: dict[tuple[bool, bool | None, bool, bool | None], OrderSla] = {}


@dataclass(frozen=True, slots=True)
class SlaFigures:
    orders: int
    partner_cancellations: int
    cancel_rate: float | None
    cancel_breach: bool
    tracking_orders: int
    tracking_with: int
    tracking_rate: float | None
    tracking_rate_own: float | None
    delivered_orders: int
    delivered_on_time: int
    on_time_rate: float | None
    on_time_breach: bool


@dataclass(slots=True)
class SlaTally:
    """Running totals over orders (mergeable: parts of a tenant's orders can be tallied apart)."""

    orders: int = 0
    cancelled: int = 0
    shipped: int = 0
    tracked: int = 0
    shipped_mdp: int = 0
    own_tracked: int = 0
    delivered: int = 0
    on_time: int = 0

    def add(self, order: OrderSla, times: int = 1) -> None:
        """Count `times` orders with this part (negative: take them out again)."""
        self.orders += times
        self.cancelled += order.partner_cancelled * times
        if order.tracked is not None:
            self.shipped += times
            self.tracked += order.tracked * times
            if order.mdp:
                self.shipped_mdp += times
            else:
                self.own_tracked += order.tracked * times
        if order.on_time is not None:
            self.delivered += times
            self.on_time += order.on_time * times

    def merge(self, other: SlaTally) -> None:
        """Add another tally's totals (of other orders) to this one."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def figures(self) -> SlaFigures:
        cancel_rate = rate(self.cancelled, self.orders)
        on_time_rate = rate(self.on_time, self.delivered)
        return SlaFigures(
            orders=self.orders,
            partner_cancellations=self.cancelled,
            cancel_rate=cancel_rate,
            cancel_breach=cancel_breach(cancel_rate),
            tracking_orders=self.shipped,
            tracking_with=self.tracked,
            tracking_rate=rate(self.tracked, self.shipped),
            tracking_rate_own=rate(self.own_tracked, self.shipped - self.shipped_mdp),
            delivered_orders=self.delivered,
            delivered_on_time=self.on_time,
            on_time_rate=on_time_rate,
            on_time_breach=on_time_breach(on_time_rate),
        )


def last_days(today: date, days: int) -> tuple[date, ...]:
    """The `days` calendar days ending with `today`, oldest first."""
    return tuple(today - timedelta(days=back) for back in range(days - 1, -1, -1))


def daily_figures(orders: Iterable[tuple[date | None, OrderSla]], days: tuple[date, ...]) -> tuple[SlaFigures, ...]:
    """Per day of `days`, the figures over the orders that reached open that day (orders of other days,
    or of no known day, are left out)."""
    tallies = {day: SlaTally() for day in days}
    for opened, order in orders:
        tally = tallies.get(opened) if opened is not None else None
        if tally is not None:
            tally.add(order)
    return tuple(tallies[day].figures() for day in days)


Cohort = tuple[date | None, OrderSla]
"""An order's day (the Prague day it reached open; None: not known) and its part in the figures."""


class SlaCohorts:
    """How many orders of each tenant share each cohort: the figures of `SlaTally` and `daily_figures`
    without going over every order. The holder keeps it in step with its orders (`add` an order's cohort,
    `add(..., -1)` its cohort before a change); the counts stay as small as the days times the 36 parts."""

    def __init__(self) -> None:
        self._counts: dict[str, Counter[Cohort]] = {}

    def add(self, tenant: str, cohort: Cohort, times: int = 1) -> None:
        counts = self._counts.get(tenant)
        if counts is None:
            counts = self._counts[tenant] = Counter()
        counts[cohort] += times
        if not counts[cohort]:
            del counts[cohort]

    def cohorts(self, tenant: str) -> Iterable[tuple[Cohort, int]]:
        return self._counts.get(tenant, Counter()).items()


def cohort_tally(counts: Iterable[tuple[Cohort, int]], *, since: date | None = None) -> SlaTally:
    """The figures' totals over counted cohorts (`since`: only the orders that reached open that day or later)."""
    tally = SlaTally()
    for (opened, order), times in counts:
        if since is None or (opened is not None and opened >= since):
            tally.add(order, times)
    return tally


def cohort_daily_figures(counts: Iterable[tuple[Cohort, int]], days: tuple[date, ...]) -> tuple[SlaFigures, ...]:
    """`daily_figures` over counted cohorts."""
    tallies = {day: SlaTally() for day in days}
    for (opened, order), times in counts:
        tally = tallies.get(opened) if opened is not None else None
        if tally is not None:
            tally.add(order, times)
    return tuple(tallies[day].figures() for day in days)
