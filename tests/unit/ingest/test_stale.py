"""Out-of-order input (ARCHITECTURE.md §3): a snapshot older than the newest changed_at applied changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mallbridge_ingest.domain import UNKNOWN, BatchPlan, OrderState, after_failed_write, apply_event, plan_batch
from mallbridge_schema.statuses import FastCentrikStatus as S
from tests.unit.ingest.support import T0, T1, snap

NOON = "2026-11-20T12:00:00+01:00"
TEN = "2026-11-20T10:00:00+01:00"


def plan(known: dict[str, OrderState], *snapshots: Any) -> BatchPlan:
    return plan_batch(known, list(enumerate(snapshots)), tenant_id="acme", received_at=T0, recorded_at=T1)


def after(known: dict[str, OrderState], *snapshots: Any) -> tuple[BatchPlan, dict[str, OrderState]]:
    p = plan(known, *snapshots)
    return p, {**known, **p.states}


def test_an_older_snapshot_after_a_newer_one_is_stale_and_writes_nothing() -> None:
    _, known = after({}, snap(status="settled", changed_at=NOON))
    p = plan(known, snap(status="in_process", changed_at=TEN))
    assert (p.events, p.stale, p.changed, p.unchanged) == ((), 1, 0, 0)
    assert p.states == {}


def test_stale_inside_one_batch_too() -> None:
    p = plan({}, snap(status="settled", changed_at=NOON), snap(status="in_process", changed_at=TEN))
    assert [type(e).__name__ for e in p.events] == ["OrderFirstSeen"]
    assert (p.changed, p.stale) == (1, 1)
    assert p.states["A-1"].fc.status == S.SETTLED


def test_newer_snapshots_apply_and_the_events_carry_changed_at() -> None:
    _, known = after({}, snap(status="in_process", changed_at=TEN))
    p, known = after(known, snap(status="settled", changed_at=NOON))
    (event,) = p.events
    assert event.changed_at == datetime.fromisoformat(NOON)
    assert event.occurred_at == datetime.fromisoformat(NOON)
    assert known["A-1"].fc.newest_changed_at == datetime.fromisoformat(NOON)


def test_an_equal_changed_at_is_ordered_by_arrival() -> None:
    # Two changes in the same minute (FastCentrik's exports have minute resolution): arrival decides.
    _, known = after({}, snap(status="in_process", changed_at=NOON))
    p = plan(known, snap(status="settled", changed_at=NOON))
    assert (p.changed, p.stale) == (1, 0)


def test_without_changed_at_a_snapshot_is_ordered_by_arrival_and_never_stale() -> None:
    _, known = after({}, snap(status="settled", changed_at=NOON))
    p, known = after(known, snap(status="in_process"))
    assert (p.changed, p.stale) == (1, 0)
    assert p.events[0].changed_at is None
    assert p.events[0].occurred_at == T0  # the receipt time
    # the mark stays: an older dated snapshot is still stale after an undated one
    assert known["A-1"].fc.newest_changed_at == datetime.fromisoformat(NOON)
    assert plan(known, snap(status="cancelled", changed_at=TEN)).stale == 1


def test_a_stale_snapshot_naming_another_mall_order_is_still_refused() -> None:
    _, known = after({}, snap(changed_at=NOON))
    p = plan(known, snap(changed_at=TEN, mall_order_id="999"))
    assert [r.field for r in p.rejections] == ["mall_order_id"]
    assert p.stale == 0


def test_the_mark_comes_back_from_the_events_alone() -> None:
    p, known = after({}, snap(status="in_process", changed_at=TEN), snap(status="settled", changed_at=NOON))
    rebuilt = UNKNOWN
    for event in p.events:
        rebuilt = apply_event(rebuilt, event)
    assert rebuilt == known["A-1"]
    assert plan({"A-1": rebuilt}, snap(status="pending", changed_at=TEN)).stale == 1


def test_a_failed_write_moves_no_mark() -> None:
    _, known = after({}, snap(status="in_process", changed_at=TEN))
    failed = plan(known, snap(status="settled", changed_at=NOON))
    kept = {**known, **after_failed_write(known, failed)}
    assert kept["A-1"].fc.newest_changed_at == datetime.fromisoformat(TEN)
    retry = plan(kept, snap(status="settled", changed_at=NOON))
    assert (retry.changed, retry.stale, retry.events[0].seq) == (1, 0, 3)


BASE = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
dated = st.tuples(
    st.sampled_from(["pending", "in_process", "settled", "cancelled"]),
    st.one_of(st.none(), st.integers(0, 20).map(lambda m: BASE + timedelta(minutes=m))),
)


@given(st.lists(dated, min_size=1, max_size=15))
def test_the_state_is_the_newest_snapshot_and_the_mark_the_newest_change(sequence: list[Any]) -> None:
    """Whatever the arrival order, the state holds what the newest snapshot said ("newest" by changed_at,
    ties and undated ones by arrival); stale ones write nothing. The mark is the newest changed_at of a
    snapshot that changed something: an unchanged snapshot writes no event, so it moves no mark."""
    known: dict[str, OrderState] = {}
    newest: datetime | None = None
    status_now: S | None = None
    for status, changed in sequence:
        p, known = after(known, snap(status=status, changed_at=changed.isoformat() if changed else None))
        if changed is not None and newest is not None and changed < newest:
            assert (p.stale, p.events) == (1, ())
            continue
        assert p.stale == 0
        if status_now is not S(status) and changed is not None:
            newest = changed if newest is None or changed > newest else newest
        status_now = S(status)
    assert known["A-1"].fc.status == status_now
    assert known["A-1"].fc.newest_changed_at == newest
