"""The SLA rules shared by the audit and the console (mallbridge_core.domain.sla)."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mallbridge_core.domain.mall_side import StatusBy
from mallbridge_core.domain.projection import fold
from mallbridge_core.domain.sla import (
    TRACKING_STATUSES,
    OrderSla,
    SlaTally,
    daily_figures,
    delivered_lag_s,
    is_on_time,
    last_days,
    order_contribution,
    order_sla,
    prague_date,
)
from mallbridge_schema.mall_format import PRAGUE, delivered_moment
from mallbridge_schema.statuses import MallStatus
from tests.unit.domain.builders import ORDER, TENANT, first_seen, observed, requested, updated
from tests.unit.schema.delivery_values import WALL_TIMES, ZONES, delivery_values

TRACK = ("ZX1-CZ", "https://t.example/ZX1-CZ")


def _state(*events):
    return fold(list(events))[(TENANT, ORDER)]


def test_our_accepted_cancel_is_a_partner_cancellation_and_malls_own_is_not() -> None:
    ours = _state(first_seen("cancelled"), updated(1, "cancelled", {"status": "cancelled", "confirmed": True}))
    malls = _state(first_seen("in_process"), observed("cancelled", confirmed=False, source="refusal"))
    assert order_sla(ours, delivered_lag=None, delivered_sent=False).partner_cancelled
    assert not order_sla(malls, delivered_lag=None, delivered_sent=False).partner_cancelled


@pytest.mark.parametrize(
    ("body", "mdp", "tracked"),
    [
        ({"status": "shipped", "tracking_number": TRACK[0], "tracking_url": TRACK[1]}, False, True),
        ({"status": "shipped", "tracking_number": TRACK[0]}, False, False),
        ({"status": "shipped"}, True, True),  # MALL Delivery: MALL's carrier supplies the tracking
    ],
)
def test_tracking_counts_shipped_orders_with_number_and_url_and_every_mdp_order(
    body: dict[str, str], mdp: bool, tracked: bool
) -> None:
    state = _state(first_seen("settled", mdp=mdp), updated(1, "shipped", body))
    assert order_sla(state, delivered_lag=None, delivered_sent=False).tracked is tracked


def test_an_order_not_shipped_is_not_in_the_tracking_figure() -> None:
    state = _state(first_seen("in_process"), updated(1, "shipping", {"status": "shipping"}))
    assert order_sla(state, delivered_lag=None, delivered_sent=False).tracked is None


def test_on_time_is_within_24_hours_of_the_delivery_moment() -> None:
    accepted = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)  # 12:00 Prague
    assert delivered_lag_s("2026-03-01 12:00:00", accepted_at=accepted) == 24 * 3600
    assert is_on_time(24 * 3600.0)
    assert not is_on_time(24 * 3600.0 + 1)
    assert not is_on_time(None)
    assert delivered_lag_s("not a date", accepted_at=accepted) is None


def test_on_time_counts_only_while_mall_has_our_delivered() -> None:
    state = _state(first_seen("settled", tracking=TRACK), updated(1, "delivered", {"status": "delivered"}))
    assert order_sla(state, delivered_lag=10.0, delivered_sent=True).on_time is True
    assert order_sla(state, delivered_lag=10.0, delivered_sent=False).on_time is None


@pytest.mark.parametrize(("lag", "on_time"), [(3600.0, True), (72 * 3600.0, False)])
def test_our_delivered_whose_answer_was_lost_counts_for_on_time_from_when_it_was_sent(
    lag: float, on_time: bool
) -> None:
    shipped = updated(1, "shipped", {"status": "shipped", "tracking_number": TRACK[0], "tracking_url": TRACK[1]})
    body = {"status": "delivered", "delivered_at": "2026-03-01 09:00:00"}
    landed = observed("delivered", confirmed=True, request_no=2, source="outcome_unknown", changed=("status",))
    state = _state(first_seen("settled", tracking=TRACK), shipped, requested(2, "delivered", body), landed)
    assert state.mall.status_by == "us"
    assert order_sla(state, delivered_lag=None, delivered_sent=False, requested_lag=lag).on_time is on_time


@pytest.mark.parametrize(
    ("mdp", "on_time"),
    [
        (True, True),  # MALL Delivery set it from its carrier's data: on time, no partner delay in it
        (False, None),  # set by hand in the portal on the merchant's own carrier: no moment to measure
    ],
)
def test_a_delivered_set_at_mall_counts_for_on_time_only_on_a_mall_delivery_order(
    mdp: bool, on_time: bool | None
) -> None:
    shipped = updated(1, "shipped", {"status": "shipped", "tracking_number": TRACK[0], "tracking_url": TRACK[1]})
    delivered = observed("delivered", confirmed=False, source="webhook", changed=("status",), mdp=mdp)
    state = _state(first_seen("settled", mdp=mdp, tracking=TRACK), shipped, delivered)
    assert order_sla(state, delivered_lag=None, delivered_sent=False).on_time is on_time


def test_a_return_set_at_mall_stays_in_the_tracking_figure_and_a_loss_leaves_it() -> None:
    shipped = updated(1, "shipped", {"status": "shipped", "tracking_number": TRACK[0], "tracking_url": TRACK[1]})
    for status, tracked in (("returned", True), ("lost", None)):
        state = _state(first_seen("settled", tracking=TRACK), shipped, observed(status, confirmed=False, source="poll"))
        assert order_sla(state, delivered_lag=None, delivered_sent=False).tracked is tracked


def test_tally_figures_and_breaches() -> None:
    tally = SlaTally()
    for order in [OrderSla(partner_cancelled=True)] + [OrderSla()] * 9:
        tally.add(order)
    tally.add(OrderSla(tracked=True, mdp=True, on_time=False))
    tally.add(OrderSla(tracked=False, on_time=True))
    figures = tally.figures()
    assert figures.orders == 12
    assert figures.cancel_rate == pytest.approx(1 / 12)
    assert figures.cancel_breach
    assert figures.tracking_rate == 0.5
    assert figures.tracking_rate_own == 0.0
    assert figures.on_time_rate == 0.5
    assert figures.on_time_breach
    empty = SlaTally().figures()
    assert empty.cancel_rate is None
    assert not empty.cancel_breach
    assert not empty.on_time_breach


def test_daily_figures_are_over_the_orders_that_reached_open_that_day() -> None:
    days = last_days(date(2026, 3, 3), 3)
    assert days == (date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3))
    orders = [
        (date(2026, 3, 1), OrderSla(partner_cancelled=True)),
        (date(2026, 3, 1), OrderSla()),
        (date(2026, 3, 3), OrderSla()),
        (date(2026, 2, 1), OrderSla(partner_cancelled=True)),  # outside the window
        (None, OrderSla(partner_cancelled=True)),  # no known day
    ]
    series = daily_figures(orders, days)
    assert [f.orders for f in series] == [2, 0, 1]
    assert [f.cancel_rate for f in series] == [0.5, None, 0.0]


def test_the_day_is_pragues() -> None:
    assert prague_date(datetime(2026, 3, 1, 23, 30, tzinfo=UTC)) == date(2026, 3, 2)


@settings(max_examples=400)
@given(raw=delivery_values(), accepted=WALL_TIMES, zone=ZONES)
def test_the_delivered_lag_is_between_instants_in_any_zones(raw: str, accepted: datetime, zone: tzinfo) -> None:
    accepted_at = accepted.replace(tzinfo=zone)
    moment = delivered_moment(raw, recorded_at=accepted_at)  # the contract's moment, in Prague time
    expected = (accepted_at.astimezone(UTC) - moment.astimezone(UTC)).total_seconds()
    assert delivered_lag_s(raw, accepted_at=accepted_at) == expected


def test_the_delivered_lag_across_a_dst_change_in_one_zone_object() -> None:
    # Both in Prague's zone object: a wall-time subtraction would give 24 h; the instants are 23 h apart.
    accepted = datetime(2026, 3, 29, 12, 0, tzinfo=PRAGUE)
    assert delivered_lag_s("2026-03-28 12:00:00", accepted_at=accepted) == 23 * 3600


@settings(max_examples=300)
@given(
    status=st.sampled_from(MallStatus),
    by=st.sampled_from(["assumed", "us", "mall"]),
    mdp=st.booleans(),
    tracking=st.booleans(),
    sent=st.booleans(),
    lag=st.one_of(st.none(), st.floats(min_value=-3600, max_value=3 * 86400)),
)
def test_an_orders_part_follows_the_rule_whatever_came_before(
    status: MallStatus, by: StatusBy, mdp: bool, tracking: bool, sent: bool, lag: float | None
) -> None:
    """The parts are shared values (one per combination): each answer must still be this order's own."""

    def part_of() -> OrderSla:
        return order_contribution(
            status=status, status_by=by, mdp=mdp, tracking=tracking, delivered_sent=sent, delivered_lag=lag
        )

    part = part_of()
    assert part.partner_cancelled == (status is MallStatus.CANCELLED and by == "us")
    assert part.tracked == ((mdp or tracking) if status in TRACKING_STATUSES else None)
    assert part.mdp == mdp
    if status is not MallStatus.DELIVERED:
        assert part.on_time is None
    elif sent:
        assert part.on_time == (lag is not None and lag <= 24 * 3600)
    else:
        assert part.on_time == (True if by == "mall" and mdp else None)
    assert part_of() is part
