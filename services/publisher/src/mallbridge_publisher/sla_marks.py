"""What the SLA figures need about an order that its projected state does not keep (for the console).

The moment the order reached `open` (the `occurred_at` of its first order event: the day it counts for)
and whether MALL accepted a `delivered` of ours, with that update's lag (on time or not), and the lag of our
last `delivered` request when it was recorded (what counts when its answer was lost and a read showed it
landed). Noted from every
event the `OrderBook` folds, so a rebuild brings them back like the state itself; the rules themselves are
`mallbridge_core.domain.sla`'s. Pure: new values, never mutation.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple

from mallbridge_core.domain.projection import OrderState
from mallbridge_core.domain.sla import Cohort, OrderSla, delivered_lag_s, order_sla, prague_date
from mallbridge_schema.events import Event, MallOrderChanged, MallStatusUpdated, MallUpdateRequested, OrderEventBase
from mallbridge_schema.statuses import MallStatus


class SlaMarks(NamedTuple):
    opened_seq: int = 0  # the lowest order-event seq read (0: none yet), and its occurred_at
    opened_at: datetime | None = None
    delivered_sent: bool = False  # MALL accepted a `delivered` of ours
    delivered_lag: float | None = None  # ... this long after the delivery moment it carried (None: unknown)
    requested_no: int = 0  # our last `delivered` request (0: none), and its lag when it was recorded
    requested_lag: float | None = None


NO_MARKS = SlaMarks()


def noted(marks: SlaMarks, event: Event) -> SlaMarks:
    """`marks` with what `event` tells (`marks` itself when nothing: redelivery changes nothing)."""
    if isinstance(event, OrderEventBase):
        if type(event) is MallOrderChanged:
            return marks  # MALL's fact on the same topic: the order reached open with FastCentrik's first
        if marks.opened_at is not None and event.seq >= marks.opened_seq:
            return marks
        return marks._replace(opened_seq=event.seq, opened_at=event.occurred_at)
    if type(event) is MallStatusUpdated and event.status is MallStatus.DELIVERED and "status" in event.request:
        return marks._replace(delivered_sent=True, delivered_lag=_lag_of(event))
    if (
        type(event) is MallUpdateRequested
        and event.status is MallStatus.DELIVERED
        and "status" in event.request
        and event.request_no > marks.requested_no
    ):
        return marks._replace(requested_no=event.request_no, requested_lag=_lag_of(event))
    return marks


def _lag_of(event: MallStatusUpdated | MallUpdateRequested) -> float | None:
    """The lag of the `delivered` a request carried, as of the moment the event was recorded."""
    sent = event.request.get("delivered_at")
    return delivered_lag_s(sent if isinstance(sent, str) else None, accepted_at=event.recorded_at)


def opened_on(marks: SlaMarks) -> date | None:
    """The Prague day the order reached open (None: no order event of it was read)."""
    return None if marks.opened_at is None else prague_date(marks.opened_at)


def order_part(state: OrderState, marks: SlaMarks) -> OrderSla:
    """What the order adds to its tenant's figures."""
    return order_sla(
        state,
        delivered_lag=marks.delivered_lag,
        delivered_sent=marks.delivered_sent,
        requested_lag=marks.requested_lag,
    )


def cohort_of(state: OrderState, marks: SlaMarks) -> Cohort | None:
    """The order's day and part in the figures; None while FastCentrik has not named the order (not counted)."""
    if state.fc.status is None:
        return None
    return opened_on(marks), order_part(state, marks)
