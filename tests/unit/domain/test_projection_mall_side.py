"""The projection of MALL's side and of people's requests (ARCHITECTURE.md §6, §7): one test per new event and rule."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from mallbridge_core.domain.mall_side import MallSide, observation_changes
from mallbridge_core.domain.projection import AttentionItem, apply, attention_item, fold, mall_side_after
from mallbridge_schema.statuses import MallStatus

from .builders import (
    T0,
    acknowledged,
    attention,
    balance_seen,
    first_seen,
    mall_changed,
    observed,
    receipt,
    rejected,
    requested,
    resolved,
    resync_requested,
    return_requested,
    state_of,
    updated,
)

SHIPPED = {"status": "shipped", "confirmed": True, "tracking_number": "DR-1", "tracking_url": "https://t/1"}


# ---- order-events.v1: MALL's facts that ingest received ------------------------------------------------


def test_mall_order_changed_changes_nothing_in_the_projection() -> None:
    before = state_of([first_seen("settled"), rejected(1, "shipped", seq=1)])
    after = apply(before, mall_changed(2))
    assert after is before  # fc.seq stays the last FastCentrik fact's: a refusal based on it still stands
    assert after.fc.seq == 1


def test_a_webhook_receipt_makes_no_state() -> None:
    assert fold([receipt("10085339302", "1")]) == {}
    state = state_of([first_seen("pending")])
    assert apply(state, receipt()) is state


# ---- observations ---------------------------------------------------------------------------------------


def test_an_observation_records_what_mall_said() -> None:
    state = state_of(
        [
            first_seen("settled"),
            observed(
                "shipped",
                confirmed=False,
                source="webhook",
                changed=("status", "confirmed", "tracking"),
                mdp=True,
                tracking=("MDP-1", "https://mall/1"),
            ),
        ]
    )
    mall = state.mall
    assert (mall.status, mall.status_by, mall.confirmed, mall.mdp) == (MallStatus.SHIPPED, "mall", False, True)
    assert (mall.tracking_number, mall.tracking_url) == ("MDP-1", "https://mall/1")
    state = apply(state, observed("delivered", confirmed=None, source="poll", delivered_at="2026-03-02 10:00:00"))
    assert state.mall.confirmed is False  # None: the source did not say; what was known stays
    assert state.mall.delivered_at == "2026-03-02 10:00:00"
    assert (state.mall.tracking_number, state.mall.mdp) == ("MDP-1", True)


def test_who_set_the_status() -> None:
    ours = state_of([first_seen("in_process"), updated(1, "shipping", {"status": "shipping", "confirmed": True})])
    assert (ours.mall.status, ours.mall.status_by) == (MallStatus.SHIPPING, "us")
    # the read after our PUT in doubt shows what we asked for: our PUT landed, so the status is ours
    doubt = [first_seen("cancelled"), requested(1, "cancelled", {"status": "cancelled", "confirmed": True})]
    landed = state_of([*doubt, observed("cancelled", confirmed=True, request_no=1)])
    assert (landed.mall.status, landed.mall.status_by) == (MallStatus.CANCELLED, "us")
    # the same status read without a request of ours: MALL set it (a customer cancel)
    theirs = state_of([first_seen("in_process"), observed("cancelled", confirmed=False, source="webhook")])
    assert (theirs.mall.status, theirs.mall.status_by) == (MallStatus.CANCELLED, "mall")
    # for one status claimed by both, ours stays ours
    again = apply(ours, observed("shipping", confirmed=True, source="resync"))
    assert again.mall.status_by == "us"


def test_blocked_replaces_only_the_assumed_open() -> None:
    assert state_of([first_seen("pending")]).mall.status_by == "assumed"
    blocked = state_of([first_seen("pending"), observed("blocked", confirmed=False, source="poll")])
    assert (blocked.mall.status, blocked.mall.status_by) == (MallStatus.BLOCKED, "mall")
    opened = apply(blocked, observed("open", confirmed=False, source="webhook"))
    assert opened.mall.status is MallStatus.OPEN  # blocked → open is forward
    stale = apply(opened, observed("blocked", confirmed=False, source="poll"))
    assert stale.mall.status is MallStatus.OPEN  # MALL never goes back to blocked: a stale read


def test_a_confirm_only_update_confirms_and_leaves_the_status() -> None:
    state = state_of([first_seen("pending"), observed("open", confirmed=False, source="poll")])
    state = apply(state, updated(1, "open", {"confirmed": True}))
    assert (state.mall.status, state.mall.status_by, state.mall.confirmed) == (MallStatus.OPEN, "mall", True)


def test_an_accepted_put_records_what_mall_now_has() -> None:
    state = state_of([first_seen("settled"), updated(1, "shipped", SHIPPED)])
    assert (state.mall.tracking_number, state.mall.tracking_url) == ("DR-1", "https://t/1")
    state = apply(state, updated(2, "delivered", {"status": "delivered", "delivered_at": "2026-03-02 12:00:00"}))
    assert state.mall.delivered_at == "2026-03-02 12:00:00"


def test_observation_changes_names_what_differs_from_the_log() -> None:
    mall = state_of([first_seen("settled"), updated(1, "shipped", SHIPPED)]).mall
    same = {"tracking_number": "DR-1", "tracking_url": "https://t/1"}
    assert observation_changes(mall, status=MallStatus.SHIPPED, confirmed=True, **same) == ()
    assert observation_changes(mall, status=MallStatus.SHIPPED, confirmed=None) == ()  # unsaid is no difference
    assert observation_changes(
        mall, status=MallStatus.DELIVERED, confirmed=False, delivered_at="2026-03-02 10:00:00", **same
    ) == ("status", "confirmed", "delivered_at")
    assert observation_changes(mall, status=MallStatus.SHIPPED, confirmed=True, tracking_number="X") == ("tracking",)
    assert observation_changes(MallSide(), status=MallStatus.OPEN, confirmed=None) == ()  # the assumed open


# ---- a refusal: read once, then it stands until MALL or FastCentrik changes ------------------------------


def test_a_refusal_is_marked_read_by_the_observation_naming_it() -> None:
    events = [first_seen("settled"), requested(1, "shipped", SHIPPED), rejected(1, "shipped", seq=1, body=SHIPPED)]
    refused = state_of(events).mall.rejection
    assert refused is not None
    assert (refused.request_no, refused.body, refused.read) == (1, SHIPPED, False)
    assert state_of([*events, observed("open", confirmed=True, source="webhook")]).mall.rejection == refused
    read = observed("open", confirmed=True, request_no=1, source="refusal", changed=("confirmed",))
    after = state_of([*events, read])
    assert after.mall.rejection is not None
    assert after.mall.rejection.read_by == read.event_id
    assert state_of([*events, read, read]).mall.rejection == after.mall.rejection  # redelivered: the same


def test_mall_changing_after_the_read_lifts_the_refusal() -> None:
    events = [
        first_seen("settled"),
        rejected(1, "shipped", seq=1, body=SHIPPED),
        observed("blocked", confirmed=False, request_no=1, source="refusal", changed=("status",)),
    ]
    nothing_new = observed("blocked", confirmed=False, source="webhook")
    assert state_of([*events, nothing_new]).mall.rejection is not None
    asked = observed("blocked", confirmed=False, source="resync")  # a person asked: may send it once more
    assert state_of([*events, asked]).mall.rejection is None
    assert state_of([*events[:2], asked]).mall.rejection is not None  # not before the refusal was read
    opened = observed("open", confirmed=False, source="webhook", changed=("status",))
    assert state_of([*events, opened]).mall.rejection is None
    later = updated(2, "open", {"confirmed": True})
    assert state_of([*events, later]).mall.rejection is None  # a later request went through


# ---- operator-events.v1 -------------------------------------------------------------------------------------


def test_a_return_request_is_pending_until_mall_returned_or_refused_it() -> None:
    shipped = [first_seen("settled", tracking=("DR-1", "https://t/1")), updated(1, "shipped", SHIPPED)]
    request = return_requested()
    pending = state_of([*shipped, request, request])  # redelivered: one request
    assert pending.return_pending
    assert len(pending.ops.return_requests) == 1
    assert not state_of([*shipped, request, updated(2, "returned", {"status": "returned"})]).return_pending
    assert not state_of([*shipped, request, rejected(2, "returned", seq=1)]).return_pending
    assert state_of([*shipped, request, rejected(2, "returned", seq=1), return_requested()]).return_pending


def test_a_resync_is_pending_until_an_observation_answers_it() -> None:
    events = [first_seen("pending"), resync_requested()]
    assert state_of(events).resync_pending
    answer = observed("open", confirmed=False, source="resync")
    assert not state_of([*events, answer, answer]).resync_pending
    assert state_of([*events, answer, resync_requested()]).resync_pending
    # an observation of another source answers no resync
    assert state_of([*events, observed("open", confirmed=False, source="webhook")]).resync_pending


def test_a_balance_observation_claims_the_status_and_asks_for_a_read() -> None:
    seen = balance_seen("blocked", mdp=True)
    state = state_of([first_seen("pending"), seen])
    assert (state.mall.status, state.mall.status_by, state.mall.mdp) == (MallStatus.BLOCKED, "mall", True)
    assert state.ops.read_requests == frozenset({seen.event_id})
    assert state.resync_pending
    assert state.mall.confirmed is None  # its confirmed is not folded: the publisher's read brings it
    final = state_of([first_seen("cancelled"), observed("cancelled", confirmed=False, source="webhook"), seen])
    assert final.mall.status is MallStatus.CANCELLED  # a claim never replaces a final status
    assert final.mall.mdp is True  # nothing had said it: the claim fills it in


def test_mall_side_after_folds_a_balance_observation_as_a_claim() -> None:
    # the audit's --verify folds MALL's side alone: a balance claim must stay a claim there too (it never
    # overrides what MALL already said about mdp, nor confirms), and nothing else of the state is needed
    state = state_of([first_seen("pending"), observed("open", confirmed=True, source="webhook", mdp=True)])
    claim = balance_seen("shipping", mdp=False)
    after = mall_side_after(claim, state.mall, state.fc)
    assert after == apply(state, claim).mall
    assert (after.status, after.status_by, after.mdp, after.confirmed) == (MallStatus.SHIPPING, "mall", True, True)
    assert mall_side_after(balance_seen("shipping"), after, state.fc) is after  # nothing new: the same object


def test_an_acknowledged_attention_item_is_not_open_until_a_new_one() -> None:
    raised = attention("mall_rejected", at=T0)
    state = state_of([first_seen("settled"), raised])
    assert attention_item(state) == AttentionItem("mall_rejected", "because mall_rejected", acknowledged=False)
    acked = state_of([first_seen("settled"), raised, acknowledged("mall_rejected", at=T0 + timedelta(minutes=5))])
    item = attention_item(acked)
    assert item is not None
    assert item.acknowledged
    assert not item.open
    # another code's acknowledgement does not count
    other = state_of([first_seen("settled"), raised, acknowledged("mall_final", at=T0 + timedelta(minutes=5))])
    assert attention_item(other) == attention_item(state)
    # the item resolved and raised again after the acknowledgement: open again
    again = [
        first_seen("settled"),
        raised,
        acknowledged("mall_rejected", at=T0 + timedelta(minutes=5)),
        resolved("mall_rejected"),
        attention("mall_rejected", at=T0 + timedelta(minutes=9)),
    ]
    reopened = attention_item(state_of(again))
    assert reopened is not None
    assert reopened.open
    # the acknowledgement read before the item it acknowledges (the topics interleave): the same result
    ack = acknowledged("mall_rejected", at=T0 + timedelta(minutes=5))
    assert attention_item(state_of([first_seen("settled"), ack, raised])) == item
    assert attention_item(state_of([first_seen("settled")])) is None


def test_requests_are_kept_by_event_id() -> None:
    request = resync_requested()
    state = state_of([first_seen("pending"), request])
    assert state.ops.read_requests == frozenset({request.event_id})
    assert isinstance(next(iter(state.ops.read_requests)), UUID)
