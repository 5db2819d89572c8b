"""The projection fold: both topics into one OrderState, idempotent under redelivery."""

from __future__ import annotations

from datetime import timedelta

from mallbridge_core.domain.projection import (
    Deferral,
    FastCentrikSide,
    MallSide,
    Rejection,
    RequestInDoubt,
    apply,
    fold,
)
from mallbridge_schema.events import Event, OrderFirstSeen, SyncEventBase
from mallbridge_schema.serde import decode_order_event, decode_sync_event, encode_event
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus

from .builders import (
    MALL_ID,
    ORDER,
    T0,
    TENANT,
    attention,
    deferred,
    delivery_set,
    envelope,
    first_seen,
    mdp_set,
    observed,
    rejected,
    requested,
    resolved,
    state_of,
    status_changed,
    tracking_assigned,
    updated,
)


def test_order_facts_fold_into_the_fastcentrik_side() -> None:
    events = [
        first_seen("pending", tracking=("A", "https://a"), mdp=False),
        status_changed(2, "pending", "settled"),
        delivery_set(3, "2026-03-02"),
        tracking_assigned(4, "B", "https://b"),
        mdp_set(5, True),
    ]
    state = state_of(events)
    assert (state.tenant_id, state.order_number, state.mall_order_id) == (TENANT, ORDER, MALL_ID)
    assert state.fc == FastCentrikSide(
        seq=5,
        status=FastCentrikStatus.SETTLED,
        status_label="settled",
        delivered_at="2026-03-02",
        delivery_recorded_at=T0 + timedelta(minutes=3),
        tracking_number="B",
        tracking_url="https://b",
        mdp=True,
        changed_at=T0 + timedelta(minutes=5),
    )
    assert state.mall == MallSide()  # nothing heard from MALL: open, unconfirmed


def test_delivery_date_cleared() -> None:
    state = state_of([first_seen("settled", delivered_at="2026-03-02"), delivery_set(2, None)])
    assert state.fc.delivered_at is None
    assert state.fc.delivery_recorded_at is None


def test_first_seen_with_a_delivery_date_records_when() -> None:
    state = state_of([first_seen("settled", delivered_at="2026-03-02")])
    assert state.fc.delivery_recorded_at == T0 + timedelta(minutes=1)


def test_older_and_duplicate_order_events_change_nothing() -> None:
    newer = [
        first_seen("pending"),
        status_changed(2, "pending", "in_process"),
        status_changed(3, "in_process", "settled"),
    ]
    state = state_of(newer)
    # each alone, after the newest: a redelivered old fact never overwrites a newer one
    for stale in [newer[0], newer[1], newer[2], status_changed(2, "pending", "cancelled")]:
        assert apply(state, stale) == state
    assert state.fc.status is FastCentrikStatus.SETTLED
    assert state.fc.seq == 3


def test_seq_gaps_are_accepted() -> None:
    state = state_of([first_seen("pending"), status_changed(7, "pending", "cancelled")])
    assert state.fc.seq == 7
    assert state.fc.status is FastCentrikStatus.CANCELLED


def test_mall_status_only_moves_forward() -> None:
    body = {"status": "shipped"}
    state = state_of([first_seen("settled"), updated(1, "shipped", body), observed("shipping", confirmed=False)])
    assert state.mall.status is MallStatus.SHIPPED
    assert state.mall.confirmed is False  # the read's confirmation flag is the latest word
    state = apply(state, observed("blocked", confirmed=False))
    assert state.mall.status is MallStatus.SHIPPED
    state = apply(state, observed("delivered", confirmed=False))
    assert state.mall.status is MallStatus.DELIVERED
    state = apply(state, observed("returned", confirmed=False))  # MALL's word: it corrected its final status
    assert (state.mall.status, state.mall.status_by) == (MallStatus.RETURNED, "mall")
    state = apply(state, updated(2, "delivered", {"status": "delivered"}))  # our claim never replaces a final
    assert state.mall.status is MallStatus.RETURNED


def test_requests_and_their_outcomes() -> None:
    events = [first_seen("in_process"), requested(1, "shipping", {})]
    assert state_of(events).request_in_doubt
    settled = state_of([*events, updated(1, "shipping", {})])
    assert not settled.request_in_doubt
    assert (settled.mall.last_request_no, settled.mall.settled_request_no) == (1, 1)
    assert settled.mall.confirmed
    # an outcome recorded without its request (request written by an older publisher) settles too
    assert not state_of([first_seen("in_process"), updated(4, "shipping", {})]).request_in_doubt


def test_rejection_deferral_and_attention_are_recorded() -> None:
    events = [first_seen("settled"), rejected(1, "shipped", seq=1, http_status=400)]
    state = state_of(events)
    assert state.mall.rejection == Rejection(
        MallStatus.SHIPPED, 1, 400, "Invalid status transition", request_no=1, body={"status": "shipped"}
    )
    assert state.mall.status is MallStatus.OPEN

    until = T0 + timedelta(days=1)
    state = apply(state, deferred("delivered", "in the future", until=until))
    assert state.mall.deferral == Deferral(MallStatus.DELIVERED, "in the future", until)
    state = apply(state, updated(2, "shipped", {}))
    assert state.mall.deferral is None  # a successful update ends the wait it was part of

    state = apply(state, attention("mall_final"))
    assert state.mall.attention_code == "mall_final"
    state = apply(state, resolved("backwards"))  # another code: stays
    assert state.mall.attention_code == "mall_final"
    state = apply(state, resolved("mall_final", scope="tenant"))  # tenant scope: not this order's
    assert state.mall.attention_code == "mall_final"
    state = apply(state, resolved("mall_final"))
    assert state.mall.attention_code is None
    state = apply(state, attention("quota", scope="tenant"))
    assert state.mall.attention_code is None


def test_fold_keeps_orders_apart() -> None:
    other = OrderFirstSeen(**{**envelope(), "order_number": "FC-2"}, seq=1, status="cancelled", status_label="x")
    states = fold([first_seen("pending"), other, status_changed(2, "pending", "in_process")])
    assert set(states) == {(TENANT, ORDER), (TENANT, "FC-2")}
    assert states[(TENANT, ORDER)].fc.status is FastCentrikStatus.IN_PROCESS
    assert states[(TENANT, "FC-2")].fc.status is FastCentrikStatus.CANCELLED


def test_apply_never_mutates() -> None:
    before = state_of([first_seen("pending")])
    snapshot = (before.fc, before.mall)
    apply(before, status_changed(2, "pending", "in_process"))
    apply(before, updated(1, "shipping", {}))
    assert (before.fc, before.mall) == snapshot


def test_the_request_in_doubt_is_kept_until_an_outcome_settles_it() -> None:
    body = {"status": "shipping", "confirmed": True}
    start = [first_seen("in_process"), requested(1, "shipping", body, seq=1)]
    doubt = state_of(start).mall.in_doubt
    assert doubt == RequestInDoubt(MallStatus.SHIPPING, body, 1, start[1].recorded_at)  # when it went out
    # Deferrals and attention items leave it in doubt; a stale outcome of an older request does too.
    assert state_of([*start, deferred("shipped", "no tracking"), attention("x")]).mall.in_doubt == doubt
    assert state_of([*start, observed("open", confirmed=False, request_no=0)]).mall.in_doubt == doubt
    # Any outcome of that request settles it.
    for outcome in (
        updated(1, "shipping", body),
        rejected(1, "shipping", seq=1, http_status=404),
        observed("shipping", confirmed=True, request_no=1),
    ):
        settled = state_of([*start, outcome])
        assert settled.mall.in_doubt is None
        assert not settled.request_in_doubt
    # A newer request replaces it; the outcome of the older one does not settle the newer.
    newer = [*start, updated(1, "shipping", body), requested(2, "shipped", {"status": "shipped"}, seq=2)]
    assert state_of(newer).mall.in_doubt == RequestInDoubt(
        MallStatus.SHIPPED, {"status": "shipped"}, 2, newer[-1].recorded_at
    )
    assert state_of([*newer, rejected(1, "shipping", seq=1)]).mall.in_doubt is not None


def _as_read(event: Event) -> Event:
    """The event as a service reads it from the log: decoded from bytes, every string its own object."""
    raw = encode_event(event)
    return decode_sync_event(raw) if isinstance(event, SyncEventBase) else decode_order_event(raw)


def test_an_order_keeps_one_copy_of_texts_both_sides_agree_on() -> None:
    body = {"status": "shipped", "tracking_number": "DR1", "tracking_url": "https://t.example/DR1"}
    events = [
        first_seen("pending"),
        tracking_assigned(2, "DR1", "https://t.example/DR1"),
        status_changed(3, "pending", "settled"),
        updated(1, "shipped", body, seq=3),
    ]
    state = state_of([_as_read(e) for e in events])
    assert state.mall.tracking_number == state.fc.tracking_number == "DR1"
    assert state.mall.tracking_number is state.fc.tracking_number
    assert state.mall.tracking_url is state.fc.tracking_url


def test_a_differing_mall_text_is_kept_as_mall_has_it() -> None:
    body = {"status": "shipped", "tracking_number": "OTHER", "tracking_url": "https://t.example/DR1"}
    events = [first_seen("settled", tracking=("DR1", "https://t.example/DR1")), updated(1, "shipped", body)]
    state = state_of([_as_read(e) for e in events])
    assert (state.fc.tracking_number, state.mall.tracking_number) == ("DR1", "OTHER")
    assert state.mall.tracking_url is state.fc.tracking_url


def test_orders_share_the_tenant_id_and_status_labels() -> None:
    one = state_of([_as_read(first_seen("in_process"))])
    other = apply(None, _as_read(first_seen("in_process").model_copy(update={"order_number": "FC-2"})))
    assert one.order_number != other.order_number
    assert one.tenant_id is other.tenant_id
    assert one.fc.status_label is other.fc.status_label
