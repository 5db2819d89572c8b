"""FastCentrik's side of one order: the one fold of the order events (ARCHITECTURE.md §3).

`apply_fact(side, event) -> side` is the only place that says what an order event means for the
FastCentrik side. The projection (publisher, audit) folds it into its order state, and ingest rebuilds and
advances its last known state with it, so what ingest compares a snapshot against is by construction what
the publisher will see. Pure: no I/O, no clock; new frozen values, never mutation.

Idempotent under redelivery: an event at or below the side's `seq` returns the side itself (the same
object), so a caller can tell "nothing changed" by identity. `MallOrderChanged` (MALL's fact on the same
topic) returns the side itself too. An order event of a type this version does not know only moves the
seq (tolerant reader).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from sys import intern
from typing import Any, NamedTuple

from mallbridge_schema.events import (
    DeliveryDateSet,
    MallOrderChanged,
    MdpFlagSet,
    OrderEventBase,
    OrderFirstSeen,
    OrderStatusChanged,
    TrackingAssigned,
)
from mallbridge_schema.statuses import FastCentrikStatus


class FastCentrikSide(NamedTuple):
    """What FastCentrik says about the order, as of order-event `seq`.

    `status is None` until an event says what the status is (normally OrderFirstSeen; if the order's first
    event is unreadable, e.g. removed by retention, the later events still set what they say: each is a
    "set to" fact). `changed_at` is the `occurred_at` of the last event applied; `newest_changed_at` the
    newest FastCentrik `changed_at` any applied event carried (the stale mark: a snapshot older than it
    changes nothing).

    A named tuple, not a frozen dataclass: one is made per order event folded (ingest, publisher and audit
    all fold every event), and a frozen dataclass's constructor costs three to four times as much.
    """

    seq: int = 0
    status: FastCentrikStatus | None = None
    status_label: str = ""
    delivered_at: str | None = None
    delivery_recorded_at: datetime | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    mdp: bool = False
    changed_at: datetime | None = None
    newest_changed_at: datetime | None = None


class _Keep(Enum):
    """Marks a field of `_stamped` as unchanged (None is a value several fields take)."""

    KEEP = 0


_KEEP = _Keep.KEEP
_new_tuple = tuple.__new__  # a named tuple's own constructor is a Python function: twice the cost, per event folded


def _newest(known: datetime | None, given: datetime | None) -> datetime | None:
    if given is None:
        return known
    return given if known is None or given > known else known


def _stamped(
    event: OrderEventBase,
    fc: FastCentrikSide,
    *,
    status: FastCentrikStatus | _Keep = _KEEP,
    label: str | _Keep = _KEEP,
    delivery: tuple[str | None, datetime | None] | _Keep = _KEEP,
    tracking: tuple[str | None, str | None] | _Keep = _KEEP,
    mdp: bool | _Keep = _KEEP,
) -> FastCentrikSide:
    """`fc` with the given fields changed, stamped with the event's seq and times (built with the
    constructor, not `_replace`: this is the publisher's, the audit's and ingest's hot path)."""
    delivered_at, recorded_at = (fc.delivered_at, fc.delivery_recorded_at) if delivery is _KEEP else delivery
    number, url = (fc.tracking_number, fc.tracking_url) if tracking is _KEEP else tracking
    return _new_tuple(
        FastCentrikSide,
        (
            event.seq,
            fc.status if status is _KEEP else status,
            fc.status_label if label is _KEEP else label,
            delivered_at,
            recorded_at,
            number,
            url,
            fc.mdp if mdp is _KEEP else mdp,
            event.occurred_at,
            _newest(fc.newest_changed_at, event.changed_at),
        ),
    )


def _delivery_of(event: DeliveryDateSet | OrderFirstSeen) -> tuple[str | None, datetime | None]:
    return event.delivered_at, (event.occurred_at if event.delivered_at else None)


def _unknown_fact(event: OrderEventBase, fc: FastCentrikSide) -> FastCentrikSide:
    # an event type this version does not know changes nothing but its position (tolerant reader)
    return _stamped(event, fc)


def _mall_order_changed(event: MallOrderChanged, fc: FastCentrikSide) -> FastCentrikSide:
    # MALL's fact, not FastCentrik's: nothing changes here, not even `seq`, which stays the seq of the last
    # FastCentrik fact (what the publisher's decisions are based on). Ingest numbers past it on its own.
    return fc


def _first_seen(event: OrderFirstSeen, fc: FastCentrikSide) -> FastCentrikSide:
    # Every field from the event: spelled out (no keep-markers), it is the import's most frequent fold.
    delivered_at, recorded_at = _delivery_of(event)
    return _new_tuple(
        FastCentrikSide,
        (
            event.seq,
            event.status,
            intern(event.status_label),  # a few labels, kept by every order: one string each, not one per order
            delivered_at,
            recorded_at,
            event.tracking_number,
            event.tracking_url,
            event.mdp,
            event.occurred_at,
            _newest(fc.newest_changed_at, event.changed_at),
        ),
    )


def _status_changed(event: OrderStatusChanged, fc: FastCentrikSide) -> FastCentrikSide:
    return _stamped(event, fc, status=event.to_status, label=intern(event.status_label))


def _delivery_date_set(event: DeliveryDateSet, fc: FastCentrikSide) -> FastCentrikSide:
    return _stamped(event, fc, delivery=_delivery_of(event))


def _tracking_assigned(event: TrackingAssigned, fc: FastCentrikSide) -> FastCentrikSide:
    return _stamped(event, fc, tracking=(event.tracking_number, event.tracking_url))


def _mdp_flag_set(event: MdpFlagSet, fc: FastCentrikSide) -> FastCentrikSide:
    return _stamped(event, fc, mdp=event.mdp)


FACTS: dict[type[OrderEventBase], Callable[[Any, FastCentrikSide], FastCentrikSide]] = {
    OrderFirstSeen: _first_seen,
    OrderStatusChanged: _status_changed,
    DeliveryDateSet: _delivery_date_set,
    TrackingAssigned: _tracking_assigned,
    MdpFlagSet: _mdp_flag_set,
    MallOrderChanged: _mall_order_changed,
}


def apply_fact(fc: FastCentrikSide, event: OrderEventBase) -> FastCentrikSide:
    """The side after `event`; `fc` itself when the event is at or below its seq (already applied)."""
    if event.seq <= fc.seq:
        return fc
    return FACTS.get(type(event), _unknown_fact)(event, fc)
