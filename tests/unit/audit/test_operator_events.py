"""What people decided (operator-events.v1) in the audit: in the timeline with who and why, counted per
tenant, an acknowledged item off the open list, and an operator's return checked by --verify."""

from __future__ import annotations

from datetime import timedelta

from mallbridge_audit.report import ReportBuilder
from mallbridge_audit.scope import Scope
from mallbridge_audit.verify import Verifier
from mallbridge_schema.events import Event, OrderEventBase
from tests.unit.domain.builders import (
    ORDER,
    T0,
    acknowledged,
    attention,
    first_seen,
    requested,
    return_requested,
    status_changed,
    updated,
)

TRACK = ("ZX1-CZ", "https://t.example/ZX1-CZ")
SHIPPED_BODY = {"status": "shipped", "confirmed": True, "tracking_number": TRACK[0], "tracking_url": TRACK[1]}
LATER = T0 + timedelta(hours=1)


def _at(event: Event, moment) -> Event:  # type: ignore[no-untyped-def]
    return event.model_copy(update={"recorded_at": moment, "occurred_at": moment})


def _report(events: list[Event], *, orders: tuple[str, ...] = (ORDER,)):  # type: ignore[no-untyped-def]
    builder = ReportBuilder(Scope(orders=frozenset(orders)))
    for event in events:
        if isinstance(event, OrderEventBase):
            builder.add_order_event(event)
        elif hasattr(event, "by"):
            builder.add_operator_event(event)
        else:
            builder.add_sync_event(event)  # type: ignore[arg-type]
    return builder.finish(as_of=LATER + timedelta(hours=1))


def _shipped() -> list[Event]:
    return [first_seen("settled", tracking=TRACK), updated(1, "shipped", SHIPPED_BODY)]


def test_an_acknowledged_item_leaves_the_open_list_and_the_action_is_in_the_timeline() -> None:
    ack = acknowledged("cancel_after_shipped", at=LATER)
    cancelled = status_changed(2, "settled", "cancelled")  # after MALL shipped it: no legal path
    report = _report([*_shipped(), cancelled, attention("cancel_after_shipped", at=T0), ack, ack])  # ack twice
    [tenant] = report.tenants
    assert (tenant.open_attention, tenant.acknowledgements) == (0, 1)
    [order] = report.orders
    assert (order.state, order.attention_acknowledged, order.operator_actions) == ("acknowledged", True, 1)
    [timeline] = report.timelines.values()
    people = [e for e in timeline if e.side == "operator"]
    assert [e.summary for e in people] == ["attention [cancel_after_shipped] acknowledged by jana: “handled”"] * 2


def test_an_item_raised_after_the_ack_is_open_again() -> None:
    events = [*_shipped(), attention("mall_rejected", at=T0), acknowledged("mall_rejected", at=T0)]
    report = _report([*events, attention("mall_rejected", at=LATER)])
    [tenant] = report.tenants
    assert tenant.open_attention == 1
    assert report.orders[0].state == "attention"


def test_returns_and_resyncs_are_counted_per_tenant() -> None:
    report = _report([*_shipped(), return_requested(at=LATER)])
    [tenant] = report.tenants
    assert (tenant.returns_requested, tenant.resyncs_requested, tenant.acknowledgements) == (1, 0, 0)


def _verify(with_request: bool) -> tuple[str, ...]:
    verifier = Verifier()
    verifier.add_order_event(first_seen("settled", tracking=TRACK))
    if with_request:
        verifier.add_operator_event(return_requested(at=LATER))
    body = {"status": "returned"}
    for event in (
        requested(1, "shipped", SHIPPED_BODY),
        updated(1, "shipped", SHIPPED_BODY),
        _at(requested(2, "returned", body), LATER + timedelta(seconds=5)),
        _at(updated(2, "returned", body), LATER + timedelta(seconds=6)),
    ):
        verifier.add_sync_event(event)  # type: ignore[arg-type]
    result = verifier.finish(as_of=LATER + timedelta(hours=1))
    return tuple(f.kind for f in result.differences)


def test_verify_checks_the_returned_put_against_the_operators_request() -> None:
    assert _verify(with_request=True) == ()
    assert _verify(with_request=False) == ("unexpected_put",)  # no request, no return: the check can fail
