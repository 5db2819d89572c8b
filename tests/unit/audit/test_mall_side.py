"""MALL's side and people's actions in the report: the hand-computed gamma scenario (mall_scenario.py)."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from rich.console import Console

from mallbridge_audit.model import MallChange, Report, UnknownToFastCentrik
from mallbridge_audit.render import write_table
from mallbridge_audit.report import ReportBuilder
from mallbridge_audit.scope import Scope
from mallbridge_audit.views import decode_operator_fact, decode_order_fact, decode_sync_fact
from mallbridge_schema.events import AttentionNeeded
from mallbridge_schema.serde import encode_event

from . import mall_scenario as ms
from .scenario import H, T


def report(orders: list[ms.MallOrder] | None = None, *, full: bool = False, scope: Scope | None = None) -> Report:
    """The report of the gamma log, through the fast views (default) or the full events (timelines kept)."""
    orders = orders if orders is not None else ms.build()
    if full:
        scope = Scope(orders=frozenset(o.number for o in orders))
    builder = ReportBuilder(scope)
    for event in ms.order_events(orders):
        builder.add_order_event(event) if full else builder.add_order_fact(decode_order_fact(encode_event(event)))  # type: ignore[arg-type]
    for event in ms.operator_events(orders):
        builder.add_operator_event(event) if full else builder.add_operator_fact(
            decode_operator_fact(encode_event(event))
        )
    for event in ms.sync_events(orders):
        builder.add_sync_event(event) if full else builder.add_sync_fact(decode_sync_fact(encode_event(event)))  # type: ignore[arg-type]
    return builder.finish(as_of=ms.AS_OF)


@pytest.mark.parametrize("full", [False, True], ids=["fast-views", "full-events"])
def test_tenant_figures_match_the_hand_computed_ones(full: bool) -> None:
    (gamma,) = report(full=full).tenants
    for name, value in ms.EXPECTED.items():
        assert getattr(gamma, name) == (pytest.approx(value) if isinstance(value, float) else value), name
    assert gamma.unknown_to_fastcentrik == UnknownToFastCentrik(*ms.EXPECTED_UNKNOWN)  # balance's later word


def test_each_order_ends_where_mall_and_people_left_it() -> None:
    got = {o.order_number: (o.desired, o.mall_status, o.mall_status_by, o.state) for o in report().orders}
    assert got == ms.EXPECTED_ORDERS


def test_a_mall_side_cancel_is_not_a_partner_cancellation_and_mall_deliverys_delivered_is_on_time() -> None:
    orders = {o.order_number: o for o in report().orders}
    assert [orders[n].partner_cancelled for n in ("G1", "G7")] == [False, False]
    assert orders["G1"].mall_changes == (MallChange("cancelled_at_mall", "webhook"),)
    assert orders["G7"].mall_changes == (MallChange("cancelled_at_mall", "balance"),)
    assert (orders["G2"].on_time, orders["G2"].tracking, orders["G2"].mdp) == (True, True, True)
    assert orders["G2"].mall_changes == (MallChange("delivered_by_mall_delivery", "webhook"),)
    assert (orders["G3"].tracking, orders["G3"].on_time) == (True, None)  # returned in the portal: tracked
    assert orders["G3"].mall_changes == (MallChange("returned_in_portal", "poll"),)
    assert orders["G4"].tracking is True  # returned by the operator: in the tracking figure too
    assert orders["G5"].mall_changes == (
        MallChange("blocked_at_mall", "refusal"),
        MallChange("opened_at_mall", "webhook"),
    )
    assert orders["G6"].mall_changes == (MallChange("changed_at_mall", "webhook"),)


def test_operator_actions_say_who_and_why_and_an_acknowledged_item_is_not_open() -> None:
    orders = {o.order_number: o for o in report().orders}
    (ack,) = orders["G1"].actions
    assert (ack.kind, ack.by, ack.code, ack.reason) == (
        "ack",
        "eva",
        "cancelled_at_mall",
        "told the warehouse; cancelling it in FastCentrik",
    )
    assert orders["G1"].attention == ("cancelled_at_mall", "reason for cancelled_at_mall")
    assert orders["G1"].attention_acknowledged is True
    assert orders["G7"].attention_acknowledged is False
    (back,) = orders["G4"].actions
    assert (back.kind, back.by, back.reason) == ("return", "petr", "parcel came back uncollected")


def test_an_item_raised_again_after_the_acknowledgement_is_open_again() -> None:
    orders = ms.build()
    g1 = orders[0]
    again = g1.sync_events[-1].model_copy(
        update={"event_id": uuid.uuid4(), "occurred_at": T + 5 * H, "recorded_at": T + 5 * H}
    )
    assert isinstance(again, AttentionNeeded)
    g1.sync_events.append(again)
    (gamma,) = report(orders).tenants
    assert (gamma.open_attention, gamma.acknowledged_attention) == (2, 0)


def test_a_redelivered_operator_event_counts_once() -> None:
    orders = ms.build()
    for order in orders:
        order.operator_events = [e for event in order.operator_events for e in (event, event)]
    (gamma,) = report(orders).tenants
    counts = (gamma.returns_requested, gamma.resyncs_requested, gamma.acknowledgements)
    assert counts == tuple(ms.EXPECTED[name] for name in ("returns_requested", "resyncs_requested", "acknowledgements"))


def test_the_timeline_shows_malls_side_with_why_it_was_read_and_people_with_who_and_why() -> None:
    timelines = report(full=True).timelines
    g1 = timelines[("gamma", "G1")]
    assert [(e.side, e.type) for e in g1] == [
        ("fastcentrik", "OrderFirstSeen"),
        ("mall", "MallOrderChanged"),
        ("mall", "MallStateObserved"),
        ("mall", "AttentionNeeded"),
        ("fastcentrik", "OrderStatusChanged"),
        ("operator", "AttentionAcknowledged"),
    ]
    read = g1[2]
    assert (read.why, read.change) == ("webhook", "cancelled_at_mall")
    assert "MALL cancelled the order itself" in read.summary
    ack = g1[-1]
    assert (ack.who, ack.why) == ("eva", "told the warehouse; cancelling it in FastCentrik")
    g4 = timelines[("gamma", "G4")]
    back = next(e for e in g4 if e.side == "operator")
    assert (back.type, back.who, back.why) == ("OrderReturnRequested", "petr", "parcel came back uncollected")
    g7 = timelines[("gamma", "G7")]
    assert [(e.why, e.change) for e in g7 if e.type == "MallStateObserved"] == [
        ("balance", "cancelled_at_mall"),
        ("resync", None),  # the same change, read again: not counted twice
    ]
    g6 = timelines[("gamma", "G6")]
    assert any("confirm-only (MALL at shipped)" in e.summary for e in g6)


def test_webhook_receipts_are_counted_per_tenant_within_the_window() -> None:
    (gamma,) = report(scope=Scope(orders=frozenset({"G1"}))).tenants  # tenant-level: whatever --order says
    assert (gamma.webhook_receipts, gamma.webhook_order_ids, gamma.webhook_unknown_ids) == (4, 5, 1)
    late = report(scope=Scope(since=T + 9 * H))  # G6's delivery (T+10h) and G2's (T+44h) arrived after T+9h
    receipts: dict[str, Any] = {t.tenant_id: t.webhook_receipts for t in late.tenants}
    assert receipts == {"gamma": 2}
    assert report(scope=Scope(tenants=frozenset({"alpha"}))).tenants == ()


def test_the_report_does_not_depend_on_which_topic_is_read_first() -> None:
    orders = ms.build()
    builder = ReportBuilder()
    for event in ms.sync_events(orders):
        builder.add_sync_fact(decode_sync_fact(encode_event(event)))
    for event in ms.operator_events(orders):
        builder.add_operator_fact(decode_operator_fact(encode_event(event)))
    for event in ms.order_events(orders):
        builder.add_order_fact(decode_order_fact(encode_event(event)))
    shuffled = builder.finish(as_of=ms.AS_OF)
    plain = report(orders)
    figures = ("orders", "tracking_with", "delivered_on_time", "open_attention", "acknowledged_attention", "lag_count")
    assert [getattr(shuffled.tenants[0], f) for f in figures] == [getattr(plain.tenants[0], f) for f in figures]
    assert [(o.mall_status, o.mall_status_by, o.state) for o in shuffled.orders] == [
        (o.mall_status, o.mall_status_by, o.state) for o in plain.orders
    ]


def test_the_table_says_how_each_order_ended_who_handled_it_and_the_drift_balance_recorded() -> None:
    out = io.StringIO()
    write_table(report(), Console(file=out, width=250), meta={"source": "log"}, all_orders=True)
    text = out.getvalue()
    assert "balance drift 1, poll 1, refusal 1, resync 2, webhook 4" in text
    assert "eva: ack 1, resync 1; petr: return 1" in text
    assert "4 (5, 1)" in text  # webhook receipts (ids, unknown ids)
    assert "ended at MALL: delivered_by_mall_delivery (read: webhook)" in text  # G2
    assert "ended at MALL: returned_in_portal (read: poll)" in text  # G3
    assert "ended: returned, the operator return by petr (parcel came back uncollected)" in text  # G4
    assert "(acknowledged by eva: told the warehouse; cancelling it in FastCentrik)" in text  # G1
    assert "0 (1 acknowledged)" not in text  # G7's item is still open: 1 open, 1 acknowledged
    assert "1 (1 acknowledged)" in text
    at = "2026-10-07 10:00:00+00:00"  # T + 50 h: balance's later word
    assert f"tenant gamma: 1 MALL order FastCentrik never got (mallbridge balance at {at}): 399999999999" in text
