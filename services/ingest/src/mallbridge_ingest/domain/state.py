"""The last known state of one order, on the one fold of FastCentrik's side (`mallbridge_core.domain.fastcentrik`).

Ingest compares every snapshot against exactly what the publisher and the audit fold from the events it
wrote: the state is that fold, rebuilt at start from the log and advanced by folding each written event.
"""

from __future__ import annotations

from typing import NamedTuple

from mallbridge_core.domain.fastcentrik import FastCentrikSide, apply_fact
from mallbridge_schema.events import OrderEventBase

_NOTHING_KNOWN = FastCentrikSide()


class OrderState(NamedTuple):
    """Per order: MALL's order id on record ("" before any event), FastCentrik's side as the events fold it,
    and the highest seq written (or reserved after an uncertain write).

    `seq` may be past `fc.seq`: a `MallOrderChanged` (MALL's fact, written by ingest in the order's
    sequence) or a reservation moves the numbering on, not the facts. `fc.status is None` means no event
    has said the status yet: the next snapshot is written as first seen, with seq `seq + 1`. (A named
    tuple: cheap, and one is made per changed snapshot.)
    """

    mall_order_id: str = ""
    fc: FastCentrikSide = _NOTHING_KNOWN
    seq: int = 0

    @property
    def seen(self) -> bool:
        """An event has said the order's status (normally its OrderFirstSeen)."""
        return self.fc.status is not None


UNKNOWN = OrderState()
_new_tuple = tuple.__new__  # a named tuple's own constructor is a Python function: twice the cost


def order_state(mall_order_id: str, fc: FastCentrikSide, seq: int) -> OrderState:
    """`OrderState(mall_order_id, fc, seq)`, built directly (once per event written or rebuilt)."""
    return _new_tuple(OrderState, (mall_order_id, fc, seq))  # type: ignore[no-any-return]


def apply_event(state: OrderState, event: OrderEventBase) -> OrderState:
    """Fold one order event into the state. Events at or below the known seq are duplicates: no effect."""
    if event.seq <= state.seq:
        return state
    return order_state(event.mall_order_id or state.mall_order_id, apply_fact(state.fc, event), event.seq)


def with_seq_reserved(state: OrderState, seq: int) -> OrderState:
    """The same facts, with the seq moved on to `seq` (see `batch.after_failed_write`)."""
    return state if seq <= state.seq else state._replace(seq=seq)
