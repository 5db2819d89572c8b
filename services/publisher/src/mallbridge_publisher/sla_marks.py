"""What the SLA figures need about an order that its projected state does not keep (for the console).

The moment the order reached `open` (the `occurred_at` of its first order event: the day it counts for)
and the lag of the `delivered` update MALL accepted (on time or not). Noted from every event the
`OrderBook` folds, so a rebuild brings them back like the state itself; the rules themselves are
`mallbridge_core.domain.sla`'s.
"""

from __future__ import annotations

from datetime import date, datetime

from mallbridge_core.domain.projection import OrderState
from mallbridge_core.domain.sla import OrderSla, delivered_lag_s, order_sla, prague_date
from mallbridge_schema.events import Event, MallOrderChanged, MallStatusUpdated, OrderEventBase
from mallbridge_schema.statuses import MallStatus

Key = tuple[str, str]


class SlaMarks:
    def __init__(self) -> None:
        self._opened: dict[Key, tuple[int, datetime]] = {}  # the lowest seq seen, and its occurred_at
        self._delivered: dict[Key, float | None] = {}  # the lag of our accepted `delivered`

    def note(self, key: Key, event: Event) -> None:
        """Take what the figures need from an event just folded for `key` (redelivery changes nothing)."""
        if isinstance(event, OrderEventBase):
            if type(event) is MallOrderChanged:
                return  # MALL's fact on the same topic: the order reached open with FastCentrik's first
            known = self._opened.get(key)
            if known is None or event.seq < known[0]:
                self._opened[key] = (event.seq, event.occurred_at)
        elif type(event) is MallStatusUpdated and event.status is MallStatus.DELIVERED and "status" in event.request:
            sent = event.request.get("delivered_at")
            lag = delivered_lag_s(sent if isinstance(sent, str) else None, accepted_at=event.recorded_at)
            self._delivered[key] = lag

    def forget(self, key: Key) -> None:
        self._opened.pop(key, None)
        self._delivered.pop(key, None)

    def opened_on(self, key: Key) -> date | None:
        """The Prague day the order reached open (None: no order event of it was read)."""
        known = self._opened.get(key)
        return None if known is None else prague_date(known[1])

    def order_sla(self, key: Key, state: OrderState) -> OrderSla:
        sent = key in self._delivered
        return order_sla(state, delivered_lag=self._delivered.get(key), delivered_sent=sent)
