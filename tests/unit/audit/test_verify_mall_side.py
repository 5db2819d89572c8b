"""`--verify` on MALL's side and people's actions: the gamma log is clean, and each tampering is named in
words that fit it (a read owed after a refusal or a resync, a confirm-only PUT, an operator return)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from mallbridge_audit.model import VerifyResult
from mallbridge_audit.verify import Verifier
from mallbridge_schema.events import (
    MallReadRefused,
    MallStateObserved,
    MallStatusUpdated,
    MallUpdateRequested,
    OrderResyncRequested,
    OrderReturnRequested,
)

from . import mall_scenario as ms
from .scenario import S

Tamper = Callable[[dict[str, ms.MallOrder]], None]


def verify(tamper: Tamper | None = None, *, as_of=ms.AS_OF, grace_s: float = 600.0) -> VerifyResult:  # type: ignore[no-untyped-def]
    orders = ms.build()
    if tamper is not None:
        tamper({o.number: o for o in orders})
    verifier = Verifier()
    for event in ms.order_events(orders):
        verifier.add_order_event(event)  # type: ignore[arg-type]
    for event in ms.operator_events(orders):
        verifier.add_operator_event(event)
    for event in ms.sync_events(orders):
        verifier.add_sync_event(event)
    return verifier.finish(as_of=as_of, grace_s=grace_s)


def kinds(result: VerifyResult) -> set[tuple[str, str]]:
    return {(f.order_number, f.kind) for f in result.differences}


def test_the_honest_log_is_clean() -> None:
    result = verify()
    assert (result.differences, result.warnings) == ((), ())
    assert (result.orders_checked, result.puts_checked) == (7, 9)


def test_a_return_put_without_the_operators_request_is_unexpected() -> None:
    def drop_request(orders: dict[str, ms.MallOrder]) -> None:
        orders["G4"].operator_events = []

    result = verify(drop_request)
    assert kinds(result) == {("G4", "unexpected_put")}
    assert "MALL already has the desired status shipped" in result.differences[0].message


def test_a_return_never_sent_is_missing_and_names_the_operators_return() -> None:
    def drop_put(orders: dict[str, ms.MallOrder]) -> None:
        g4 = orders["G4"]
        g4.sync_events = [e for e in g4.sync_events if getattr(e, "request_no", 0) != 2]

    result = verify(drop_put)
    assert kinds(result) == {("G4", "missing_put")}
    assert "operator's return is due" in result.differences[0].message


def test_a_confirm_only_put_without_a_mall_change_is_unexpected_and_says_so() -> None:
    def drop_read(orders: dict[str, ms.MallOrder]) -> None:
        g6 = orders["G6"]
        g6.sync_events = [e for e in g6.sync_events if not isinstance(e, MallStateObserved)]

    result = verify(drop_read)
    assert kinds(result) == {("G6", "unexpected_put")}
    message = result.differences[0].message
    assert "a confirm-only PUT" in message
    assert "nothing says MALL has it unconfirmed" in message


def test_a_status_put_after_a_mall_change_without_confirmed_true_differs_and_names_the_planned_body() -> None:
    def drop_confirmed(orders: dict[str, ms.MallOrder]) -> None:
        g5 = orders["G5"]  # MALL opened the blocked order: the next PUT must carry confirmed: true
        g5.sync_events = [
            e.model_copy(update={"request": {"status": "shipping"}})
            if isinstance(e, MallUpdateRequested | MallStatusUpdated) and e.request_no == 2
            else e
            for e in g5.sync_events
        ]

    result = verify(drop_confirmed)
    assert kinds(result) == {("G5", "different_put")}
    message = result.differences[0].message
    assert 'sent shipping {"status":"shipping"}' in message
    assert 'planned shipping {"confirmed":true,"status":"shipping"}' in message


def test_a_confirm_only_put_never_sent_is_missing() -> None:
    def drop_confirm(orders: dict[str, ms.MallOrder]) -> None:
        g6 = orders["G6"]
        g6.sync_events = [e for e in g6.sync_events if getattr(e, "request_no", 0) != 2]

    result = verify(drop_confirm)
    assert kinds(result) == {("G6", "missing_put")}
    assert "confirm-only" in result.differences[0].message


def test_a_resync_never_answered_is_named_as_such() -> None:
    def drop_resync_read(orders: dict[str, ms.MallOrder]) -> None:
        g2 = orders["G2"]
        g2.sync_events = [e for e in g2.sync_events if getattr(e, "source", "") != "resync"]

    result = verify(drop_resync_read)
    assert kinds(result) == {("G2", "resync_not_read")}
    assert "the resync asked for by eva" in result.differences[0].message
    assert "request_without_outcome" not in {f.kind for f in result.differences}


def test_a_resync_young_enough_is_a_warning() -> None:
    def drop_resync_read(orders: dict[str, ms.MallOrder]) -> None:
        g2 = orders["G2"]
        g2.sync_events = [e for e in g2.sync_events if getattr(e, "source", "") != "resync"]

    asked = next(e for e in ms.build()[1].operator_events if isinstance(e, OrderResyncRequested)).recorded_at
    result = verify(drop_resync_read, as_of=asked + timedelta(seconds=30))
    assert kinds(result) == set()
    assert {(f.order_number, f.kind) for f in result.warnings} == {("G2", "resync_not_read")}


def test_a_refusal_never_read_is_named_as_such() -> None:
    def keep_only_the_refusal(orders: dict[str, ms.MallOrder]) -> None:
        g5 = orders["G5"]
        g5.order_events = g5.order_events[:1]  # no webhook
        g5.receipts = []
        g5.sync_events = g5.sync_events[:2]  # the refused request and its refusal

    result = verify(keep_only_the_refusal)
    assert kinds(result) == {("G5", "refusal_not_read")}
    assert "MALL refused request #1 (shipping" in result.differences[0].message


def test_a_put_decided_just_before_the_publisher_read_an_action_is_accepted() -> None:
    """The publisher follows operator-events about once a second: a PUT it recorded just after a resync was
    asked may have been decided without it."""

    def resync_just_before_the_put(orders: dict[str, ms.MallOrder]) -> None:
        g6 = orders["G6"]
        put = next(e for e in g6.sync_events if isinstance(e, MallUpdateRequested) and e.request_no == 2)
        g6.resync_by(put.recorded_at - S, "eva")
        g6.read(put.recorded_at + 2 * S, "resync", "shipped", based_on=1)

    assert verify(resync_just_before_the_put).clean


def test_a_put_long_after_an_unanswered_resync_is_a_difference() -> None:
    def resync_long_before_the_put(orders: dict[str, ms.MallOrder]) -> None:
        g6 = orders["G6"]
        put = next(e for e in g6.sync_events if isinstance(e, MallUpdateRequested) and e.request_no == 2)
        g6.resync_by(put.recorded_at - timedelta(minutes=10), "eva")
        g6.read(put.recorded_at + 2 * S, "resync", "shipped", based_on=1)

    result = verify(resync_long_before_the_put)
    assert kinds(result) == {("G6", "unexpected_put")}
    assert "a resync" in result.differences[0].message


def test_an_altered_return_body_differs() -> None:
    def alter(orders: dict[str, ms.MallOrder]) -> None:
        g4 = orders["G4"]
        g4.sync_events = [
            e.model_copy(update={"request": {"status": "returned", "confirmed": True}})
            if isinstance(e, MallUpdateRequested | MallStatusUpdated) and e.request_no == 2
            else e
            for e in g4.sync_events
        ]

    assert kinds(verify(alter)) == {("G4", "different_put")}


def test_operator_events_must_come_before_the_sync_events() -> None:
    orders = ms.build()
    verifier = Verifier()
    verifier.add_sync_event(orders[0].sync_events[0])
    event = next(e for o in orders for e in o.operator_events if isinstance(e, OrderReturnRequested))
    with pytest.raises(RuntimeError, match="before the first sync event"):
        verifier.add_operator_event(event)


def test_a_resync_mall_refused_to_read_is_answered() -> None:
    """MALL answered the resync's read 404 (it does not know the order): `MallReadRefused` answers it."""

    def refuse_resync_read(orders: dict[str, ms.MallOrder]) -> None:
        g2 = orders["G2"]
        g2.sync_events = [
            MallReadRefused(
                **e.model_dump(include={"event_id", "tenant_id", "order_number", "mall_order_id"}),
                occurred_at=e.occurred_at,
                recorded_at=e.recorded_at,
                based_on_seq=e.based_on_seq,
                source="resync",
                http_status=404,
                message="read order: HTTP 404: Order not found",
            )
            if isinstance(e, MallStateObserved) and e.source == "resync"
            else e
            for e in g2.sync_events
        ]

    refused = verify(refuse_resync_read)
    assert (refused.differences, refused.warnings) == ((), ())
