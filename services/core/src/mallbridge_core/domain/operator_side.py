"""What people asked for about one order: the fold of operator-events.v1 (ARCHITECTURE.md §7).

Pure, and independent of how operator-events.v1 interleaves with the other two topics: each request is
kept by its event_id (a set: redelivery changes nothing) and answered by what the sync events record,
counted, so no fold depends on which topic was read first.

- `return_requests`: `OrderReturnRequested` ids. A return is pending while there are more requests than
  recorded refusals of `returned` and MALL's status is not final (see `OrderState.return_pending`).
- `read_requests`: ids of `OrderResyncRequested` and of `mallbridge balance`'s observations (a drift
  asks for a fresh read, too). Pending while there are more than observations with source "resync"
  (`MallSide.reads_answered`): the publisher reads the order and records one such observation, even
  when nothing changed, for each read it owes.
- `acks`: per attention code, the latest moment a person acknowledged it (`AttentionAcknowledged`).
  An attention item raised at or before that moment is acknowledged; a newer one is open again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from mallbridge_schema.events import (
    AttentionAcknowledged,
    Event,
    MallStateObserved,
    OrderResyncRequested,
    OrderReturnRequested,
)


@dataclass(frozen=True, slots=True)
class OperatorSide:
    return_requests: frozenset[UUID] = frozenset()
    read_requests: frozenset[UUID] = frozenset()
    acks: tuple[tuple[str, datetime], ...] = ()

    def acknowledged_at(self, code: str) -> datetime | None:
        """When the attention code was last acknowledged (None: never)."""
        for acked, at in self.acks:
            if acked == code:
                return at
        return None


def apply_operator(event: Event, ops: OperatorSide) -> OperatorSide:
    """The new operator side, or `ops` itself when the event changes nothing (unknown types included)."""
    match event:
        case OrderReturnRequested() if event.event_id not in ops.return_requests:
            return OperatorSide(ops.return_requests | {event.event_id}, ops.read_requests, ops.acks)
        case OrderResyncRequested() | MallStateObserved() if event.event_id not in ops.read_requests:
            return OperatorSide(ops.return_requests, ops.read_requests | {event.event_id}, ops.acks)
        case AttentionAcknowledged():
            return _acknowledged(event, ops)
    return ops


def _acknowledged(event: AttentionAcknowledged, ops: OperatorSide) -> OperatorSide:
    before = ops.acknowledged_at(event.code)
    if before is not None and before >= event.occurred_at:
        return ops
    others = tuple(pair for pair in ops.acks if pair[0] != event.code)
    acks = tuple(sorted((*others, (event.code, event.occurred_at))))
    return OperatorSide(ops.return_requests, ops.read_requests, acks)
