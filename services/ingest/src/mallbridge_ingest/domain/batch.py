"""A batch of snapshots for one tenant → the events to write, applied in order (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mallbridge_ingest.domain.detect import SnapshotConflictError, check_same_mall_order, detect_changes, is_stale
from mallbridge_ingest.domain.state import UNKNOWN, OrderState, with_seq_reserved
from mallbridge_schema.events import OrderEventBase
from mallbridge_schema.snapshot import OrderSnapshot


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one snapshot was refused: where it was (`index`: batch position or file line), the order, the field."""

    index: int
    order_number: str | None
    field: str
    problem: str
    allowed: str

    def describe(self, where: str) -> str:
        order = f"order_number {self.order_number!r}" if self.order_number else "no order_number"
        return f"{where} ({order}): {self.field}: {self.problem}; allowed: {self.allowed}"


@dataclass(frozen=True, slots=True)
class BatchPlan:
    events: tuple[OrderEventBase, ...] = ()
    states: Mapping[str, OrderState] = field(default_factory=dict)
    changed: int = 0
    unchanged: int = 0
    stale: int = 0
    rejections: tuple[Rejection, ...] = ()


def plan_batch(
    known: Mapping[str, OrderState],
    snapshots: Sequence[tuple[int, OrderSnapshot]],
    *,
    tenant_id: str,
    received_at: datetime,
    recorded_at: datetime,
    unacknowledged: Mapping[str, OrderState] | None = None,
) -> BatchPlan:
    """Apply `(index, snapshot)` pairs in order on top of `known` (order_number → state).

    `unacknowledged` holds the states of a write still on its way to the log, which this plan takes as
    durable: they win over `known` (a pipelined import plans a chunk while the one before is written).

    A snapshot that conflicts with its order is rejected and leaves that order's state as it was; the
    others still plan their events (the caller decides whether a rejection voids the whole batch). A
    stale snapshot (older than the newest `changed_at` applied to its order, `detect.is_stale`) changes
    nothing and is counted. `states` holds the new state of every order that got events.
    """
    states: dict[str, OrderState] = {}
    events: list[OrderEventBase] = []
    rejections: list[Rejection] = []
    changed = unchanged = stale = 0
    before = unacknowledged or {}
    for index, snapshot in snapshots:
        order = snapshot.order_number
        current = states.get(order) or before.get(order) or known.get(order, UNKNOWN)
        try:
            check_same_mall_order(current, snapshot)
        except SnapshotConflictError as exc:
            rejections.append(Rejection(index, order, exc.field, exc.problem, exc.allowed))
            continue
        if is_stale(current, snapshot):
            stale += 1
            continue
        new_events, new_state = detect_changes(
            current,
            snapshot,
            tenant_id=tenant_id,
            occurred_at=snapshot.changed_at or received_at,
            recorded_at=recorded_at,
        )
        if new_events:
            changed += 1
            events.extend(new_events)
            states[order] = new_state
        else:
            unchanged += 1
    return BatchPlan(tuple(events), states, changed, unchanged, stale, tuple(rejections))


def after_failed_write(known: Mapping[str, OrderState], plan: BatchPlan) -> dict[str, OrderState]:
    """The states to keep when the write of `plan` failed: facts as before, seq past every planned event.

    A failed write may still have landed in part. Reserving the seq numbers means a later event never
    reuses a seq that might already be in the log with other content; the facts stay, so the same
    snapshots produce the same changes again when they are retried.
    """
    return {order: with_seq_reserved(known.get(order, UNKNOWN), planned.seq) for order, planned in plan.states.items()}
