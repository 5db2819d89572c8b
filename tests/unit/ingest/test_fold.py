"""The fold that rebuilds the last known state from events agrees with change detection."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mallbridge_core.domain import projection
from mallbridge_ingest.domain import UNKNOWN, OrderState, apply_event, detect_changes
from mallbridge_schema.events import DeliveryDateSet, MdpFlagSet, OrderFirstSeen, TrackingAssigned
from mallbridge_schema.snapshot import OrderSnapshot
from mallbridge_schema.statuses import FastCentrikStatus
from tests.unit.ingest.support import T0, T1, snap, state_of

snapshots = st.builds(
    lambda status, delivered, tracking, url, mdp: OrderSnapshot(
        order_number="A-1",
        mall_order_id="42",
        status=status,
        delivered_at=delivered,
        tracking_number=tracking,
        tracking_url=url,
        mdp=mdp,
    ),
    status=st.sampled_from(["pending", "in_process", "partially_settled", "settled", "cancelled", "vyřízená"]),
    delivered=st.sampled_from([None, "2026-11-20", "2026-11-21", "2026-11-21T15:00:00+01:00", "2026-11-21T14:00:00Z"]),
    tracking=st.sampled_from([None, "DR1", "DR2"]),
    url=st.sampled_from([None, "https://t/1"]),
    mdp=st.booleans(),
)


def run(sequence: list[OrderSnapshot]) -> tuple[list[Any], OrderState]:
    state, events = UNKNOWN, []
    for s in sequence:
        new, state = detect_changes(state, s, tenant_id="acme", occurred_at=T0, recorded_at=T1)
        events.extend(new)
    return events, state


def fold(events: list[Any], state: OrderState = UNKNOWN) -> OrderState:
    for e in events:
        state = apply_event(state, e)
    return state


@given(st.lists(snapshots, min_size=1, max_size=12))
def test_folding_the_emitted_events_gives_the_detected_state(sequence: list[OrderSnapshot]) -> None:
    events, state = run(sequence)
    assert fold(events) == state
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


@given(st.lists(snapshots, min_size=1, max_size=8))
def test_the_last_snapshot_again_changes_nothing(sequence: list[OrderSnapshot]) -> None:
    _events, state = run(sequence)
    again, after = detect_changes(state, sequence[-1], tenant_id="acme", occurred_at=T0, recorded_at=T1)
    assert again == []
    assert after == state


@given(st.lists(snapshots, min_size=1, max_size=8))
def test_folding_with_duplicates_gives_the_same_state(sequence: list[OrderSnapshot]) -> None:
    events, state = run(sequence)
    doubled = [e for e in events for _ in range(2)]
    assert fold(doubled) == state
    assert fold(events, fold(events)) == state


def test_older_or_equal_seq_is_ignored() -> None:
    events, state = run([snap(status="pending"), snap(status="settled")])
    assert apply_event(state, events[0]) is state


def test_events_before_first_seen_set_what_they_say_and_the_next_snapshot_is_first_seen() -> None:
    # The order's first event unreadable (e.g. retention): each later event is still a "set to" fact, as
    # the projection folds it; with no status known the next snapshot is written whole, as first seen.
    events, _ = run([snap(status="pending"), snap(tracking_number="X"), snap(tracking_number="X", mdp=True)])
    later = [e for e in events if e.seq > 1]
    assert {type(e) for e in later} == {TrackingAssigned, MdpFlagSet}
    state = fold(later)
    assert (state.seq, state.seen, state.fc.tracking_number, state.fc.mdp) == (3, False, "X", True)
    (first,), after = detect_changes(state, snap(status="settled"), tenant_id="acme", occurred_at=T0, recorded_at=T1)
    assert isinstance(first, OrderFirstSeen)
    assert (first.seq, after.seen, after.fc.status) == (4, True, FastCentrikStatus.SETTLED)


def test_each_event_type_updates_its_field() -> None:
    base = state_of(snap())
    (delivery,), _ = detect_changes(
        base, snap(delivered_at="2026-11-22"), tenant_id="a", occurred_at=T0, recorded_at=T1
    )
    assert isinstance(delivery, DeliveryDateSet)
    after = apply_event(base, delivery)
    assert after.fc.delivered_at == "2026-11-22"
    assert after.seq == 2


@given(st.lists(snapshots, min_size=1, max_size=10), st.randoms(use_true_random=False))
def test_ingest_state_is_the_projections_fastcentrik_side(sequence: list[OrderSnapshot], rnd: Any) -> None:
    """One fold of FastCentrik's side: what ingest compares snapshots against is what the publisher and
    the audit fold from the same events, delivered in order or redelivered out of order."""
    events, state = run(sequence)
    redelivered = events + rnd.sample(events, k=len(events) // 2)
    (projected,) = projection.fold(list(redelivered)).values()
    assert projected.fc == fold(redelivered).fc == state.fc
    assert projected.mall_order_id == state.mall_order_id
