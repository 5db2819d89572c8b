"""The verifier against the hand-written scenario: clean on the honest log, and each tampering is named."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from mallbridge_audit.model import VerifyResult
from mallbridge_audit.scope import Scope
from mallbridge_audit.verify import Verifier
from mallbridge_schema.events import MallStatusUpdated, MallUpdateRequested, SyncEventBase

from . import scenario as sc

Tamper = Callable[[list[sc.Order]], None]


def _verify(tamper: Tamper | None = None, *, as_of=sc.AS_OF, grace_s: float = 600.0) -> VerifyResult:  # type: ignore[no-untyped-def]
    orders = sc.build()
    if tamper is not None:
        tamper(orders)
    verifier = Verifier()
    for event in sc.order_events(orders):
        verifier.add_order_event(event)
    for sync_event in sc.sync_events(orders):
        verifier.add_sync_event(sync_event)
    return verifier.finish(as_of=as_of, grace_s=grace_s)


def _order(orders: list[sc.Order], number: str) -> sc.Order:
    return next(o for o in orders if o.number == number)


def _kinds(result: VerifyResult) -> set[tuple[str, str]]:
    return {(f.order_number, f.kind) for f in result.differences}


def test_the_honest_log_is_clean() -> None:
    result = _verify()
    assert result.differences == ()
    assert result.warnings == ()
    assert result.clean
    assert result.orders_checked == 9
    assert result.puts_checked == 13  # every MallUpdateRequested of the scenario


def test_a_removed_outcome_is_named() -> None:
    def drop_a1_shipped_answer(orders: list[sc.Order]) -> None:
        a1 = _order(orders, "A1")
        a1.sync_events = [e for e in a1.sync_events if not (isinstance(e, MallStatusUpdated) and e.request_no == 2)]

    result = _verify(drop_a1_shipped_answer)
    assert _kinds(result) == {("A1", "unexpected_put")}
    (finding,) = result.differences
    requested_3 = next(
        e for e in _order(sc.build(), "A1").sync_events if isinstance(e, MallUpdateRequested) and e.request_no == 3
    )
    assert str(requested_3.event_id) in finding.event_ids
    assert "in doubt" in finding.message


def test_an_altered_body_is_named() -> None:
    def alter_b2_tracking(orders: list[sc.Order]) -> None:
        b2 = _order(orders, "B2")
        b2.sync_events = [
            e.model_copy(update={"request": {**e.request, "tracking_number": "OTHER"}})
            if isinstance(e, MallUpdateRequested | MallStatusUpdated)
            else e
            for e in b2.sync_events
        ]

    result = _verify(alter_b2_tracking)
    assert _kinds(result) == {("B2", "different_put")}
    assert "OTHER" in result.differences[0].message
    assert "TRKB2" in result.differences[0].message


def test_an_altered_answer_differs_from_its_request() -> None:
    def alter_answer(orders: list[sc.Order]) -> None:
        a2 = _order(orders, "A2")
        a2.sync_events = [
            e.model_copy(update={"request": {**e.request, "delivered_at": "2026-10-08 12:00:00"}})
            if isinstance(e, MallStatusUpdated) and e.request_no == 3
            else e
            for e in a2.sync_events
        ]

    assert _kinds(_verify(alter_answer)) == {("A2", "outcome_differs_from_request")}


def test_a_put_never_sent_is_missing() -> None:
    def drop_a3_sync(orders: list[sc.Order]) -> None:
        _order(orders, "A3").sync_events = []

    result = _verify(drop_a3_sync)
    assert _kinds(result) == {("A3", "missing_put")}
    a3_cancel_fact = _order(sc.build(), "A3").order_events[-1]
    assert str(a3_cancel_fact.event_id) in result.differences[0].event_ids
    assert '"status":"cancelled"' in result.differences[0].message


def test_a_missing_put_within_grace_is_only_a_warning() -> None:
    def drop_a3_sync(orders: list[sc.Order]) -> None:
        _order(orders, "A3").sync_events = []

    a3_cancel_recorded = _order(sc.build(), "A3").order_events[-1].recorded_at
    result = _verify(drop_a3_sync, as_of=a3_cancel_recorded + timedelta(seconds=30), grace_s=600)
    assert ("A3", "missing_put") not in _kinds(result)
    assert ("A3", "missing_put") in {(f.order_number, f.kind) for f in result.warnings}


def test_a_request_without_its_recorded_request_event() -> None:
    def drop_requested(orders: list[sc.Order]) -> None:
        a3 = _order(orders, "A3")
        a3.sync_events = [e for e in a3.sync_events if not isinstance(e, MallUpdateRequested)]

    assert _kinds(_verify(drop_requested)) == {("A3", "request_not_recorded")}


def test_a_request_with_no_outcome_is_named_at_the_end() -> None:
    def drop_last_answer(orders: list[sc.Order]) -> None:
        a3 = _order(orders, "A3")
        a3.sync_events = [e for e in a3.sync_events if not isinstance(e, MallStatusUpdated)]

    assert _kinds(_verify(drop_last_answer)) == {("A3", "request_without_outcome")}


def test_sync_events_must_refer_to_recorded_order_events() -> None:
    def drop_a1_delivery_fact(orders: list[sc.Order]) -> None:
        a1 = _order(orders, "A1")
        a1.order_events = a1.order_events[:-1]

    kinds = _kinds(_verify(drop_a1_delivery_fact))
    assert ("A1", "unknown_order_event") in kinds


def test_orphan_sync_events_are_named() -> None:
    def drop_b3_facts(orders: list[sc.Order]) -> None:
        _order(orders, "B3").order_events = []

    assert _kinds(_verify(drop_b3_facts)) == {("B3", "orphan_sync_events")}


def test_redelivered_sync_events_are_skipped() -> None:
    def duplicate(orders: list[sc.Order]) -> None:
        for order in orders:
            order.sync_events = [e for event in order.sync_events for e in (event, event)]

    assert _verify(duplicate).clean


def test_scope_limits_what_is_verified() -> None:
    orders = sc.build()
    _order(orders, "A3").sync_events = []
    verifier = Verifier(Scope(tenants=frozenset({"beta"})))
    for event in sc.order_events(orders):
        verifier.add_order_event(event)
    for sync in sc.sync_events(orders):
        assert isinstance(sync, SyncEventBase)
        verifier.add_sync_event(sync)
    result = verifier.finish(as_of=sc.AS_OF)
    assert result.clean
    assert result.orders_checked == 4
