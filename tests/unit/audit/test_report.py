"""The pure report core against the hand-computed scenario: facts in, figures out."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from mallbridge_audit.report import ReportBuilder
from mallbridge_audit.scope import Scope, parse_moment
from mallbridge_audit.views import (
    decode_operator_fact,
    decode_order_fact,
    decode_sync_fact,
    order_fact_from_event,
    sync_fact_from_event,
)
from mallbridge_schema.serde import encode_event

from . import scenario as sc


def _report(scope: Scope | None = None, *, sync_first: bool = False, fast: bool = True):  # type: ignore[no-untyped-def]
    orders = sc.build()
    builder = ReportBuilder(scope)
    feed_orders = [
        decode_order_fact(encode_event(e)) if fast else order_fact_from_event(e) for e in sc.order_events(orders)
    ]
    feed_syncs = [
        decode_sync_fact(encode_event(e)) if fast else sync_fact_from_event(e) for e in sc.sync_events(orders)
    ]
    if sync_first:
        for sync_fact in feed_syncs:
            builder.add_sync_fact(sync_fact)
        for order_fact in feed_orders:
            builder.add_order_fact(order_fact)
    else:
        for order_fact in feed_orders:
            builder.add_order_fact(order_fact)
        for sync_fact in feed_syncs:
            builder.add_sync_fact(sync_fact)
    return builder.finish(as_of=sc.AS_OF)


def _figures(report) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {t.tenant_id: t for t in report.tenants}


def test_tenant_figures_match_the_hand_computed_ones() -> None:
    report = _report()
    assert report.order_events == sc.EXPECTED_COUNTS["order_events"]
    assert report.sync_events == sc.EXPECTED_COUNTS["sync_events"]
    figures = _figures(report)
    assert set(figures) == {"alpha", "beta"}
    for tenant, expected in sc.EXPECTED.items():
        got = figures[tenant]
        for name, value in expected.items():
            assert getattr(got, name) == pytest.approx(value), f"{tenant}.{name}"
        assert got.tenant_attention == sc.EXPECTED_TENANT_ATTENTION[tenant]


def test_final_statuses_and_states_per_order() -> None:
    report = _report()
    got = {o.order_number: (o.desired, o.mall_status, o.state) for o in report.orders}
    assert got == sc.EXPECTED_ORDERS
    by_number = {o.order_number: o for o in report.orders}
    assert by_number["A1"].lags_s == (11.0, 21.0, 31.0)
    assert by_number["A1"].delivered_lag_s == 30 * 60 + 31
    assert by_number["A1"].on_time is True
    assert by_number["A2"].delivered_lag_s == 47 * 3600 + 51
    assert by_number["A2"].on_time is False
    assert by_number["A3"].partner_cancelled is True
    assert by_number["A4"].deferral == ("shipped", "waiting for the tracking number and tracking URL")
    assert by_number["A5"].attention == ("mall_rejected", "reason for mall_rejected")
    assert by_number["A5"].rejection == ("shipping", 400, "Invalid status transition")
    assert by_number["B1"].tracking is True
    assert by_number["B1"].mdp is True
    assert by_number["B3"].attention is None  # raised, then resolved
    assert by_number["B4"].tracking is None  # never shipped


def test_the_fast_views_and_the_schema_decoder_give_the_same_report() -> None:
    assert _report(fast=True) == _report(fast=False)


def test_the_report_does_not_depend_on_which_topic_is_read_first() -> None:
    assert _report(sync_first=True) == _report()


def test_window_selects_orders_by_when_they_reached_open() -> None:
    # A3 (T+20m), A4 (T+30m), A5 (T+40m), B1 (T+1h) reached open in [T+15m, T+1h).
    since = datetime(2026, 10, 5, 8, 15, tzinfo=UTC)
    until = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
    report = _report(Scope(since=since, until=until))
    assert [o.order_number for o in report.orders] == ["A3", "A4", "A5"]
    alpha = _figures(report)["alpha"]
    assert (alpha.orders, alpha.partner_cancellations, alpha.cancel_rate) == (3, 1, pytest.approx(1 / 3))
    assert alpha.delivered_orders == 0
    assert alpha.on_time_rate is None


def test_tenant_and_order_filters() -> None:
    report = _report(Scope(tenants=frozenset({"beta"})))
    assert {o.order_number for o in report.orders} == {"B1", "B2", "B3", "B4"}
    assert [t.tenant_id for t in report.tenants] == ["beta"]
    only = _report(Scope(orders=frozenset({"A2"})))
    assert [o.order_number for o in only.orders] == ["A2"]


def test_timelines_are_kept_only_for_named_orders_and_merge_both_sides() -> None:
    orders = sc.build()
    builder = ReportBuilder(Scope(orders=frozenset({"A1"})))
    events = sc.all_events(orders)
    random.Random(7).shuffle(events)  # feed order must not matter for the merged timeline
    sync_side_last = lambda e: type(e).__name__.startswith("Mall") or type(e).__name__ == "StepDeferred"  # noqa: E731
    for event in sorted(events, key=sync_side_last):
        if hasattr(event, "seq"):
            builder.add_order_event(event)  # type: ignore[arg-type]
        else:
            builder.add_sync_event(event)  # type: ignore[arg-type]
    report = builder.finish(as_of=sc.AS_OF)
    assert list(report.timelines) == [("alpha", "A1")]
    entries = report.timelines[("alpha", "A1")]
    assert [e.type for e in entries] == [
        "OrderFirstSeen",
        "OrderStatusChanged",
        "MallUpdateRequested",
        "MallStatusUpdated",
        "TrackingAssigned",
        "OrderStatusChanged",
        "MallUpdateRequested",
        "MallStatusUpdated",
        "DeliveryDateSet",
        "MallUpdateRequested",
        "MallStatusUpdated",
    ]
    assert [e.lag_s for e in entries if e.type == "MallStatusUpdated"] == [11.0, 21.0, 31.0]
    assert entries[-1].event["request"] == {"status": "delivered", "delivered_at": "2026-10-06 14:00:00"}


def test_a_redelivered_outcome_is_counted_once() -> None:
    orders = sc.build()
    builder = ReportBuilder()
    for order_event in sc.order_events(orders):
        builder.add_order_fact(order_fact_from_event(order_event))
    for sync_event in sc.sync_events(orders):
        builder.add_sync_fact(sync_fact_from_event(sync_event))
        builder.add_sync_fact(sync_fact_from_event(sync_event))  # at-least-once: every sync event twice
    alpha = _figures(builder.finish(as_of=sc.AS_OF))["alpha"]
    assert (alpha.updates, alpha.requests, alpha.lag_count) == (7, 8, 7)


def test_undecodable_and_unknown_records_are_counted_not_fatal() -> None:
    from mallbridge_audit.views import UnknownEventType

    with pytest.raises(UnknownEventType):
        decode_order_fact(b'{"type": "OrderSplit", "tenant_id": "a", "order_number": "1"}')
    from mallbridge_schema.serde import EventDecodeError

    with pytest.raises(EventDecodeError, match="not UTF-8 JSON"):  # was "not a JSON object", the report's sample
        decode_sync_fact(b"not json")
    with pytest.raises(EventDecodeError, match="not UTF-8 JSON"):
        decode_order_fact(b"\xff\xfe{}")
    with pytest.raises(EventDecodeError, match="not a JSON object"):
        decode_operator_fact(b"[1, 2]")
    with pytest.raises(EventDecodeError):
        decode_sync_fact(b'{"type": "MallStatusUpdated", "tenant_id": "a"}')


@pytest.mark.parametrize("mall_order_id", ["", "10085339302/../../partners", "１２３"])
def test_an_order_event_whose_mall_order_id_is_not_digits_is_undecodable_on_the_fast_path_too(
    mall_order_id: str,
) -> None:
    from mallbridge_schema.serde import EventDecodeError

    event = next(iter(sc.order_events(sc.build())))
    data = {**json.loads(encode_event(event)), "mall_order_id": mall_order_id}
    with pytest.raises(EventDecodeError, match="mall_order_id"):
        decode_order_fact(json.dumps(data).encode())


def test_parse_moment_reads_dates_as_prague_days() -> None:
    assert parse_moment("2026-10-01").isoformat() == "2026-10-01T00:00:00+02:00"
    assert parse_moment("2026-10-31", end_of_day=True).isoformat() == "2026-11-01T00:00:00+01:00"
    assert parse_moment("2026-10-01T08:00:00Z").isoformat() == "2026-10-01T08:00:00+00:00"
    with pytest.raises(ValueError, match="allowed"):
        parse_moment("yesterday")


def test_a_webhook_receipt_changes_no_report() -> None:
    from mallbridge_schema.events import MallWebhookReceived

    receipt = MallWebhookReceived(
        event_id=uuid.uuid4(), tenant_id="alpha", occurred_at=sc.T, recorded_at=sc.T, order_ids=("1", "2")
    )
    builder = ReportBuilder()
    builder.add_order_fact(decode_order_fact(encode_event(receipt)))
    builder.add_order_event(receipt)  # type: ignore[arg-type]  # the reader passes what the schema decoded
    assert builder.order_events == 0
    assert builder.finish(as_of=sc.AS_OF).orders == ()


def test_a_timeline_title_shows_an_order_number_that_looks_like_markup_as_it_is() -> None:
    from rich.console import Console

    from mallbridge_audit.render import _timeline_table

    console = Console(width=120, record=True)
    console.print(_timeline_table(("acme", "Z[/]"), []))  # was: rich.errors.MarkupError
    assert "Timeline of acme:Z[/]" in console.export_text()


def test_a_delivered_whose_answer_was_lost_counts_for_on_time_from_when_it_was_sent() -> None:
    """A `delivered` PUT that timed out but landed (the read after it shows it) is ours: late or on time by
    the moment it was sent, as if MALL had answered."""
    orders = []
    for number, delivered_at, late in (("D1", "2026-10-05 12:00:00", True), ("D2", "2026-10-07 12:00:00", False)):
        order = sc.Order("alpha", number, f"30000000000{number[-1]}")
        order.seen(sc.T, "settled", tracking_number="TRK" + number, tracking_url=sc.URL + number)
        order.put(sc.T + sc.M, 1, {"status": "shipped", **_track(number)}, based_on=1)
        order.delivery(sc.T + 2 * sc.H, delivered_at)  # seq 2
        sent = datetime(2026, 10, 8, 8, 0, tzinfo=UTC)  # 3 days after the 5th's noon, 20 h after the 7th's
        order.put_in_doubt(sent, 2, {"status": "delivered", "delivered_at": delivered_at}, based_on=2)
        order.read_after_doubt(sent + 30 * sc.S, 2, "delivered", based_on=2)
        orders.append((order, late))
    builder = ReportBuilder()
    for order, _ in orders:
        for event in order.order_events:
            builder.add_order_fact(decode_order_fact(encode_event(event)))
    for order, _ in orders:
        for sync_event in order.sync_events:
            builder.add_sync_fact(decode_sync_fact(encode_event(sync_event)))
    report = builder.finish(as_of=sc.AS_OF)
    (alpha,) = report.tenants
    assert (alpha.delivered_orders, alpha.delivered_on_time) == (2, 1)
    by_number = {o.order_number: o for o in report.orders}
    for order, late in orders:
        got = by_number[order.number]
        assert (got.mall_status, got.mall_status_by, got.on_time) == ("delivered", "us", not late)
    assert by_number["D1"].delivered_lag_s == 3 * 24 * 3600 - 2 * 3600  # noon Prague = 10:00 UTC on the 5th


def _track(number: str) -> dict[str, str]:
    return {"tracking_number": "TRK" + number, "tracking_url": sc.URL + number}
