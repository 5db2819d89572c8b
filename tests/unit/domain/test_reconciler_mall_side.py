"""Planning from MALL's side and from people's requests (ARCHITECTURE.md §6, §7), as stories over the log."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from mallbridge_core.domain.projection import OrderState
from mallbridge_core.domain.reconciler import PendingRead, plan, return_refusal
from mallbridge_schema.events import Event
from mallbridge_schema.statuses import MallStatus

from .builders import (
    T0,
    acknowledged,
    attention,
    first_seen,
    mall_changed,
    observed,
    rejected,
    requested,
    resync_requested,
    return_requested,
    state_of,
    status_changed,
    tracking_assigned,
    updated,
    with_mall,
)

NOW = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
TN, TU = "DR-1", "https://t.example/DR-1"
SHIPPED = {"status": "shipped", "confirmed": True, "tracking_number": TN, "tracking_url": TU}


def _plan(events: list[Event]):  # type: ignore[no-untyped-def]
    return plan(state_of(events), now=NOW)


# ---- blocked ------------------------------------------------------------------------------------------------


def test_a_blocked_order_gets_no_put_and_the_update_goes_out_once_mall_opens_it() -> None:
    events: list[Event] = [first_seen("in_process"), observed("blocked", confirmed=False, source="poll")]
    waiting = _plan(events)
    assert waiting.steps == ()
    assert waiting.attention is None
    assert waiting.deferral is not None
    assert waiting.deferral.status is MallStatus.SHIPPING
    assert "waiting for MALL to open the order" in waiting.deferral.reason
    assert "sends shipping by itself" in waiting.deferral.reason
    events.append(observed("open", confirmed=False, source="webhook", changed=("status",)))
    opened = _plan(events)
    assert [step.body for step in opened.steps] == [{"status": "shipping", "confirmed": True}]
    assert (opened.deferral, opened.attention) == (None, None)


def test_the_blocked_deferral_names_the_whole_path_and_what_it_waits_for() -> None:
    facts = first_seen("settled", tracking=(TN, TU), delivered_at="2026-03-10")
    result = plan(with_mall(state_of([facts]), "blocked", confirmed=False, by="mall"), now=NOW)
    assert result.deferral is not None
    assert result.deferral.status is MallStatus.SHIPPED
    assert "sends shipped → delivered by itself" in result.deferral.reason
    no_tracking = plan(with_mall(state_of([first_seen("settled")]), "blocked", confirmed=False, by="mall"), now=NOW)
    assert no_tracking.deferral is not None
    assert "waiting for the tracking number and tracking URL" in no_tracking.deferral.reason


# ---- a cancel at MALL -----------------------------------------------------------------------------------


def test_a_cancel_at_mall_tells_the_warehouse_not_to_ship_until_fastcentrik_cancels() -> None:
    events: list[Event] = [first_seen("pending"), observed("cancelled", confirmed=False, source="webhook")]
    events.append(status_changed(2, "pending", "in_process"))
    result = _plan(events)
    assert result.steps == ()
    assert result.attention is not None
    assert result.attention.code == "cancelled_at_mall"
    assert result.attention.reason.startswith("MALL cancelled this order: do not ship it; cancel it in FastCentrik.")
    assert "FastCentrik says in_process;" in result.attention.reason
    events.append(status_changed(3, "in_process", "cancelled"))
    resolved = _plan(events)
    assert resolved.settled
    assert resolved.attention is None


def test_our_own_cancel_is_not_a_cancel_at_mall() -> None:
    events: list[Event] = [
        first_seen("cancelled"),
        updated(1, "cancelled", {"status": "cancelled", "confirmed": True}),
        status_changed(2, "cancelled", "in_process"),
    ]
    result = _plan(events)
    assert result.attention is not None
    assert result.attention.code == "mall_final"  # the merchant cancelled, then reopened: as today


# ---- finals MALL set itself -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("final", "mdp", "fc"),
    [
        ("delivered", True, "settled"),
        ("returned", True, "settled"),
        ("lost", True, "settled"),
        ("returned", False, "settled"),  # a portal return
        ("delivered", False, "settled"),  # MALL delivered it itself
        ("returned", False, "cancelled"),
    ],
)
def test_a_final_status_mall_set_itself_is_recorded_and_nothing_more_is_sent(final: str, mdp: bool, fc: str) -> None:
    events = [first_seen(fc, tracking=(TN, TU), mdp=mdp), observed(final, confirmed=False, source="webhook")]
    result = _plan(events)
    assert result.settled
    assert result.desired == final


def test_fastcentrik_contradicting_a_final_mall_set_itself_needs_a_person() -> None:
    events = [first_seen("cancelled", mdp=True), observed("delivered", confirmed=False, source="webhook")]
    result = _plan(events)
    assert result.attention is not None
    assert result.attention.code == "mall_final"


# ---- confirmation after a MALL change -------------------------------------------------------------------


def test_after_a_mall_change_the_next_status_put_confirms_and_a_quiet_order_is_confirmed_once() -> None:
    events: list[Event] = [first_seen("in_process"), updated(1, "shipping", {"status": "shipping", "confirmed": True})]
    assert _plan(events).settled
    events.append(observed("shipping", confirmed=False, source="webhook", changed=("confirmed",)))  # MALL edited it
    confirm = _plan(events)
    assert [(s.status, s.body) for s in confirm.steps] == [(MallStatus.SHIPPING, {"confirmed": True})]
    events.append(updated(2, "shipping", {"confirmed": True}))
    assert _plan(events).settled, "never twice for the same MALL change"
    events.append(observed("shipping", confirmed=False, source="poll", changed=("confirmed",)))
    events.append(status_changed(2, "in_process", "settled"))
    events.append(tracking_assigned(3, TN, TU))
    assert [s.body for s in _plan(events).steps] == [SHIPPED]  # the status PUT carries confirmed: true


def test_nothing_is_confirmed_for_an_order_fastcentrik_has_not_named() -> None:
    result = _plan([observed("open", confirmed=False, source="poll")])
    assert result.desired is None
    assert result.settled


# ---- after a refusal: read once, then plan from what MALL has ----------------------------------------------


def _refused(body: Mapping[str, object], *, http_status: int = 400) -> list[Event]:
    facts = first_seen("settled", tracking=(TN, TU))
    sent = dict(body)
    return [facts, requested(1, "shipped", sent), rejected(1, "shipped", seq=1, body=sent, http_status=http_status)]


@pytest.mark.parametrize(
    ("seen", "expect"),
    [
        (observed("cancelled", confirmed=False, request_no=1, source="refusal"), "!cancelled_at_mall"),
        (observed("blocked", confirmed=False, request_no=1, source="refusal"), "~waiting for MALL to open"),
        (observed("open", confirmed=True, request_no=1, source="refusal"), "!mall_rejected"),
        # (with the tracking it has: tracking it lacks is sent as a correction, see test_tracking_corrections)
        (observed("shipped", confirmed=True, request_no=1, source="refusal", tracking=(TN, TU)), "="),
    ],
)
def test_the_read_after_a_refusal_decides(seen: Event, expect: str) -> None:
    events = _refused(SHIPPED)
    assert _plan(events).read == PendingRead("refusal", 1)
    result = _plan([*events, seen])
    assert result.steps == ()
    if expect.startswith("!"):
        assert result.attention is not None
        assert result.attention.code == expect[1:]
    elif expect.startswith("~"):
        assert result.deferral is not None
        assert expect[1:] in result.deferral.reason
    else:
        assert result.settled


def test_a_refusal_for_want_of_confirmation_is_retried_with_it() -> None:
    unconfirmed = {"status": "shipped", "tracking_number": TN, "tracking_url": TU}
    events = [*_refused(unconfirmed), observed("open", confirmed=False, request_no=1, source="refusal")]
    assert [s.body for s in _plan(events).steps] == [SHIPPED]


def test_a_standing_refusal_is_not_lifted_by_a_webhook_alone() -> None:
    events = [*_refused(SHIPPED), observed("open", confirmed=True, request_no=1, source="refusal")]
    events.append(mall_changed(2))  # MALL's webhook named the order; the read finds nothing new
    assert _plan(events).attention is not None
    events.append(observed("open", confirmed=False, source="webhook", changed=("confirmed",)))
    lifted = _plan(events)
    assert lifted.attention is None
    assert [s.body for s in lifted.steps] == [SHIPPED]


def test_a_404_refusal_is_not_read_again() -> None:
    result = _plan(_refused(SHIPPED, http_status=404))
    assert not result.read_first
    assert result.attention is not None
    assert result.attention.code == "mall_rejected"


# ---- people's requests ---------------------------------------------------------------------------------


def _shipped() -> list[Event]:
    return [first_seen("settled", tracking=(TN, TU)), updated(1, "shipped", SHIPPED)]


def test_an_operator_return_sends_returned_once_and_that_is_the_end() -> None:
    events = [*_shipped(), return_requested()]
    first = _plan(events)
    assert [s.body for s in first.steps] == [{"status": "returned"}]
    assert first.desired is MallStatus.RETURNED
    events.append(updated(2, "returned", {"status": "returned"}))
    assert _plan(events).settled
    assert return_refusal(state_of(events)) is not None


def test_a_refused_operator_return_stands_as_attention() -> None:
    events = [*_shipped(), return_requested(), rejected(2, "returned", seq=1, body={"status": "returned"})]
    events.append(observed("shipped", confirmed=True, request_no=2, source="refusal"))
    result = _plan(events)
    assert result.steps == ()
    assert result.attention is not None
    assert result.attention.code == "mall_rejected"


def _return_refused_then_asked_again() -> list[Event]:
    """The case hypothesis found: MALL refused a return for a reason no read shows (it still has the order
    shipped), the refusal stands as attention, and the operator asks for the return again."""
    refused = {"status": "returned"}
    return [
        *_shipped(),
        return_requested(),
        resync_requested(),
        observed("shipped", confirmed=True, source="resync", tracking=(TN, TU), mdp=False),
        requested(2, "returned", refused),
        rejected(2, "returned", seq=1, body=refused),
        observed("shipped", confirmed=True, request_no=2, source="refusal", tracking=(TN, TU), mdp=False),
        attention("mall_rejected"),
        return_requested(at=T0 + timedelta(minutes=5)),
    ]


def test_a_return_asked_again_after_a_refusal_goes_out_once() -> None:
    events = _return_refused_then_asked_again()
    assert return_refusal(state_of(events[:-1])) is None, "the operator may ask again: nothing is pending"
    again = _plan(events)
    assert [s.body for s in again.steps] == [{"status": "returned"}], "the person's new request goes out"
    assert again.attention is None
    returned = {"status": "returned"}
    accepted = [*events, requested(3, "returned", returned), updated(3, "returned", returned)]
    assert _plan(accepted).settled, "returned: the order's end"
    assert return_refusal(state_of(accepted)) is not None
    refused = [
        *events,
        requested(3, "returned", returned),
        rejected(3, "returned", seq=1, body=returned),
        observed("shipped", confirmed=True, request_no=3, source="refusal", tracking=(TN, TU), mdp=False),
    ]
    once = _plan(refused)
    assert once.steps == (), "refused again: not re-sent without a third request"
    assert once.attention is not None
    assert once.attention.code == "mall_rejected"


def _at(status: str, *, mdp: bool = False, by: str = "us") -> OrderState:
    return with_mall(state_of([first_seen("settled", tracking=(TN, TU), mdp=mdp)]), status, confirmed=True, by=by)  # type: ignore[arg-type]


def test_return_refusal_says_why() -> None:
    assert return_refusal(_at("shipped")) is None
    assert "not shipped" in (return_refusal(_at("open")) or "")
    assert "shipping" in (return_refusal(_at("shipping")) or "")
    assert "as far as the log knows" in (return_refusal(_at("open", by="assumed")) or "")
    assert return_refusal(_at("shipped", mdp=True)) is not None
    assert "MALL sets returned itself for MALL Delivery orders" in (return_refusal(_at("shipped", mdp=True)) or "")
    assert "final" in (return_refusal(_at("delivered")) or "")
    assert "unknown order" in (return_refusal(None) or "")
    assert "unknown order" in (return_refusal(state_of([observed("shipped", confirmed=True)])) or "")


def test_a_resync_reads_mall_first_and_plans_from_what_it_finds() -> None:
    events: list[Event] = [first_seen("in_process"), updated(1, "shipping", {"status": "shipping", "confirmed": True})]
    events.append(resync_requested())
    assert _plan(events).read == PendingRead("resync", 0)
    events.append(observed("cancelled", confirmed=False, source="resync", changed=("status", "confirmed")))
    result = _plan(events)
    assert result.attention is not None
    assert result.attention.code == "cancelled_at_mall"


def test_an_acknowledged_item_is_still_reported_but_marked() -> None:
    events: list[Event] = [first_seen("pending"), observed("cancelled", confirmed=False, source="webhook")]
    events.append(status_changed(2, "pending", "in_process"))
    events.append(attention("cancelled_at_mall", at=T0))
    assert _plan(events).attention is not None
    events.append(acknowledged("cancelled_at_mall", at=T0 + timedelta(minutes=1)))
    result = _plan(events)
    assert result.attention is not None
    assert result.attention.code == "cancelled_at_mall"
    assert result.attention.acknowledged


def test_mall_says_mdp_and_that_wins_over_fastcentrik() -> None:
    events = [first_seen("settled", tracking=(TN, TU), mdp=False), observed("open", confirmed=True, mdp=True)]
    assert [s.body for s in _plan(events).steps] == [{"status": "shipping"}, {"status": "shipped"}]
