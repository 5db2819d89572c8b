"""Batches: snapshots applied in order, conflicts rejected, and what a failed write leaves behind."""

from __future__ import annotations

from mallbridge_ingest.domain import UNKNOWN, BatchPlan, OrderState, after_failed_write, plan_batch
from mallbridge_ingest.domain.state import with_seq_reserved
from mallbridge_schema.snapshot import OrderSnapshot
from mallbridge_schema.statuses import FastCentrikStatus as S
from tests.unit.ingest.support import T0, T1, snap, state_of


def plan(known: dict[str, OrderState], *snapshots: OrderSnapshot) -> BatchPlan:
    return plan_batch(known, list(enumerate(snapshots)), tenant_id="acme", received_at=T0, recorded_at=T1)


def test_several_snapshots_of_one_order_apply_in_order() -> None:
    p = plan({}, snap(status="pending"), snap(status="in_process"), snap(status="in_process"), snap(status="settled"))
    assert [type(e).__name__ for e in p.events] == ["OrderFirstSeen", "OrderStatusChanged", "OrderStatusChanged"]
    assert [e.seq for e in p.events] == [1, 2, 3]
    assert (p.changed, p.unchanged) == (3, 1)
    assert p.states["A-1"].fc.status == S.SETTLED


def test_orders_are_independent_and_unchanged_ones_count() -> None:
    known = {"B": state_of(snap("B", "settled"), seq=2)}
    p = plan(known, snap("A"), snap("B", "settled"), snap("C", "cancelled"))
    assert [(e.order_number, e.seq) for e in p.events] == [("A", 1), ("C", 1)]
    assert (p.changed, p.unchanged, p.rejections) == (2, 1, ())
    assert set(p.states) == {"A", "C"}


def test_received_at_is_used_unless_the_snapshot_says_when_it_changed() -> None:
    p = plan({}, snap("A"), snap("B", changed_at="2026-11-19T08:00:00+01:00"))
    assert p.events[0].occurred_at == T0
    assert p.events[1].occurred_at.isoformat() == "2026-11-19T08:00:00+01:00"
    assert all(e.recorded_at == T1 for e in p.events)


def test_a_conflict_is_rejected_with_its_index_and_leaves_the_order_alone() -> None:
    known = {"A": state_of(snap("A", mall_order_id="111"))}
    p = plan(known, snap("B"), snap("A", "settled", mall_order_id="222"), snap("A", "settled", mall_order_id="111"))
    (r,) = p.rejections
    assert (r.index, r.order_number, r.field) == (1, "A", "mall_order_id")
    assert "orders[1] (order_number 'A'): mall_order_id:" in r.describe("orders[1]")
    assert [(e.order_number, type(e).__name__) for e in p.events] == [
        ("B", "OrderFirstSeen"),
        ("A", "OrderStatusChanged"),
    ]


def test_empty_batch_plans_nothing() -> None:
    p = plan({})
    assert p.events == ()
    assert p.changed == p.unchanged == 0


def test_after_a_failed_write_facts_stay_and_seq_is_reserved() -> None:
    before = state_of(snap("A", "pending"), seq=3)
    p = plan({"A": before}, snap("A", "settled", tracking_number="X"), snap("N"))
    kept = after_failed_write({"A": before}, p)
    assert kept["A"] == with_seq_reserved(before, 5)
    assert (kept["A"].fc.status, kept["A"].fc.tracking_number) == (S.PENDING, None)
    assert kept["N"] == with_seq_reserved(UNKNOWN, 1)
    assert not kept["N"].seen
    # The same push later produces the same changes, numbered after the reserved seqs.
    retry = plan(kept, snap("A", "settled", tracking_number="X"), snap("N"))
    assert [(e.order_number, type(e).__name__, e.seq) for e in retry.events] == [
        ("A", "TrackingAssigned", 6),
        ("A", "OrderStatusChanged", 7),
        ("N", "OrderFirstSeen", 2),
    ]
