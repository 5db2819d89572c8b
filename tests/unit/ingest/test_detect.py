"""Change detection for one snapshot: first seen, then only real changes, each with the next seq."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mallbridge_ingest.domain import UNKNOWN, OrderState, SnapshotConflictError, apply_event, detect_changes
from mallbridge_ingest.domain.detect import event_id_for, same_delivery
from mallbridge_ingest.domain.state import with_seq_reserved
from mallbridge_schema.events import (
    DeliveryDateSet,
    MdpFlagSet,
    OrderFirstSeen,
    OrderStatusChanged,
    TrackingAssigned,
)
from mallbridge_schema.statuses import FastCentrikStatus as S
from tests.unit.ingest.support import T0, T1, snap, state_of


def detect(state: OrderState, snapshot: Any, **kw: Any) -> Any:
    return detect_changes(state, snapshot, tenant_id="acme", occurred_at=kw.get("occurred_at", T0), recorded_at=T1)


def known(**fields: Any) -> OrderState:
    seq = fields.pop("seq", 1)
    return state_of(snap(**fields), seq=seq)


def test_first_snapshot_is_first_seen_with_seq_1_and_the_whole_snapshot() -> None:
    s = snap(
        status="vyřízená", tracking_number="DR1", tracking_url="https://t/DR1", delivered_at="2026-11-21", mdp=True
    )
    events, state = detect(UNKNOWN, s)
    assert len(events) == 1
    e = events[0]
    assert isinstance(e, OrderFirstSeen)
    assert (e.seq, e.tenant_id, e.order_number, e.mall_order_id) == (1, "acme", "A-1", "1000000001")
    assert (e.status, e.status_label) == (S.SETTLED, "vyřízená")
    assert (e.tracking_number, e.tracking_url, e.delivered_at, e.mdp) == ("DR1", "https://t/DR1", "2026-11-21", True)
    assert (e.occurred_at, e.recorded_at) == (T0, T1)
    assert state == apply_event(UNKNOWN, e)
    assert (state.mall_order_id, state.fc.seq, state.fc.status, state.fc.tracking_number, state.fc.mdp) == (
        "1000000001",
        1,
        S.SETTLED,
        "DR1",
        True,
    )


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"status": "settled", "tracking_number": "X", "tracking_url": "https://x"},
        {"status": "cancelled", "delivered_at": "2026-11-20", "mdp": True},
    ],
)
def test_same_snapshot_again_emits_nothing_and_keeps_the_state(fields: dict[str, Any]) -> None:
    state = known(**fields, seq=4)
    events, after = detect(state, snap(**fields))
    assert events == []
    assert after is state


def test_status_label_alone_is_not_a_change() -> None:
    state = known(status="settled")
    events, after = detect(state, snap(status="Vyřízená"))
    assert events == []
    assert after is state


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("pending", "in_process"),
        ("in_process", "settled"),
        ("settled", "cancelled"),
        ("settled", "in_process"),  # going backwards is still a fact; the reconciler judges it
        ("pending", "partially_settled"),
    ],
)
def test_status_change_is_reported_from_to(before: str, after: str) -> None:
    events, state = detect(known(status=before, seq=3), snap(status=after))
    assert len(events) == 1
    e = events[0]
    assert isinstance(e, OrderStatusChanged)
    assert (e.seq, e.from_status, e.to_status, e.status_label) == (4, S(before), S(after), after)
    assert state.seq == 4
    assert state.fc.status == S(after)


def test_czech_label_is_kept_as_the_status_label() -> None:
    (e,), _ = detect(known(status="pending"), snap(status="VYŘIZUJE SE"))
    assert isinstance(e, OrderStatusChanged)
    assert (e.to_status, e.status_label) == (S.IN_PROCESS, "VYŘIZUJE SE")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (None, "2026-11-21"),
        ("2026-11-21", "2026-11-22"),
        ("2026-11-21", None),
        ("2026-11-21", "2026-11-21T15:00:00+01:00"),
    ],
)
def test_delivery_date_change_is_reported(before: str | None, after: str | None) -> None:
    (e,), state = detect(known(delivered_at=before), snap(delivered_at=after))
    assert isinstance(e, DeliveryDateSet)
    assert (e.seq, e.delivered_at) == (2, after)
    assert state.fc.delivered_at == after


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("2026-11-21T15:00:00+01:00", "2026-11-21T14:00:00Z"),
        ("2026-11-21T15:00:00+01:00", "2026-11-21 15:00:00+01:00"),
        ("2026-11-21", " 2026-11-21 "),
    ],
)
def test_same_delivery_moment_written_differently_is_no_change(before: str, after: str) -> None:
    events, _ = detect(known(delivered_at=before), snap(delivered_at=after))
    assert events == []


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({}, {"tracking_number": "DR1"}),
        ({}, {"tracking_url": "https://t/1"}),
        (
            {"tracking_number": "DR1", "tracking_url": "https://t/1"},
            {"tracking_number": "DR2", "tracking_url": "https://t/1"},
        ),
        (
            {"tracking_number": "DR1", "tracking_url": "https://t/1"},
            {"tracking_number": "DR1", "tracking_url": "https://t/2"},
        ),
        ({"tracking_number": "DR1"}, {}),
    ],
)
def test_tracking_change_reports_both_current_values(before: dict[str, str], after: dict[str, str]) -> None:
    (e,), _ = detect(known(**before), snap(**after))
    assert isinstance(e, TrackingAssigned)
    assert (e.tracking_number, e.tracking_url) == (after.get("tracking_number"), after.get("tracking_url"))


@pytest.mark.parametrize("mdp", [True, False])
def test_mdp_flag_change_is_reported(mdp: bool) -> None:
    (e,), _ = detect(known(mdp=not mdp), snap(mdp=mdp))
    assert isinstance(e, MdpFlagSet)
    assert e.mdp is mdp


def test_several_changes_come_data_first_then_status_with_consecutive_seqs() -> None:
    events, state = detect(
        known(status="in_process", seq=7),
        snap(status="settled", tracking_number="DR9", tracking_url="https://t/9", delivered_at="2026-11-22", mdp=True),
    )
    assert [type(e).__name__ for e in events] == [
        "MdpFlagSet",
        "TrackingAssigned",
        "DeliveryDateSet",
        "OrderStatusChanged",
    ]
    assert [e.seq for e in events] == [8, 9, 10, 11]
    assert state.seq == 11


def test_occurred_at_is_what_the_caller_passes() -> None:
    changed = datetime(2026, 11, 19, 8, 30, tzinfo=UTC)
    (e,), _ = detect(UNKNOWN, snap(), occurred_at=changed)
    assert e.occurred_at == changed
    assert e.recorded_at == T1


def test_another_mall_order_id_for_a_known_order_is_a_conflict() -> None:
    with pytest.raises(SnapshotConflictError) as caught:
        detect(known(mall_order_id="111"), snap(mall_order_id="222"))
    assert caught.value.field == "mall_order_id"
    assert "'111'" in caught.value.allowed


def test_first_seen_after_an_unreadable_history_continues_the_seq() -> None:
    (e,), state = detect(with_seq_reserved(UNKNOWN, 5), snap())
    assert isinstance(e, OrderFirstSeen)
    assert e.seq == 6
    assert state.seq == 6


def test_event_ids_are_deterministic_and_differ_by_content() -> None:
    a, _ = detect(UNKNOWN, snap(status="pending"))
    b, _ = detect(UNKNOWN, snap(status="pending"))
    c, _ = detect(UNKNOWN, snap(status="settled"))
    assert a[0].event_id == b[0].event_id != c[0].event_id
    assert event_id_for("t", "o", 1, "X", {}) != event_id_for("t", "o", 2, "X", {})
    assert event_id_for("t", "o", 1, "X", {}) != event_id_for("u", "o", 1, "X", {})


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (None, None, True),
        (None, "2026-01-01", False),
        ("2026-01-01", "2026-01-01", True),
        ("2026-01-01", "2026-01-01T00:00:00", False),
        ("2026-01-01T10:00:00", "2026-01-01T10:00:00+01:00", False),
    ],
)
def test_same_delivery(a: str | None, b: str | None, same: bool) -> None:
    assert same_delivery(a, b) is same
    assert same_delivery(b, a) is same


def test_event_id_is_the_standard_uuid5_of_its_text() -> None:
    import uuid

    from mallbridge_ingest.domain.detect import EVENT_ID_NAMESPACE

    got = uuid.UUID(bytes=event_id_for("acme", "A-1", 3, "MdpFlagSet", {"mdp": True}))
    assert got == uuid.uuid5(EVENT_ID_NAMESPACE, "acme\x1fA-1\x1f3\x1fMdpFlagSet\x1f(True,)")
    assert got == uuid.UUID("0dc71445-ca27-5f79-ab99-30adacbb58bc")  # ids already in logs: never a new scheme
    assert got.version == 5


@given(
    tenant=st.text(),
    order=st.text(),
    seq=st.integers(1, 2**40),
    kind=st.sampled_from(["OrderFirstSeen", "TrackingAssigned", "MallOrderChanged"]),
    values=st.lists(st.none() | st.booleans() | st.text(), max_size=6),
)
def test_every_event_id_is_uuid5_of_its_text(
    tenant: str, order: str, seq: int, kind: str, values: list[object]
) -> None:
    import uuid

    from mallbridge_ingest.domain.detect import EVENT_ID_NAMESPACE

    payload = {f"f{i}": v for i, v in enumerate(values)}
    text = f"{tenant}\x1f{order}\x1f{seq}\x1f{kind}\x1f{tuple(values)!r}"
    assert uuid.UUID(bytes=event_id_for(tenant, order, seq, kind, payload)) == uuid.uuid5(EVENT_ID_NAMESPACE, text)
