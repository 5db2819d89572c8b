"""Reconciler rules beyond the big table: delivered_at and deferral in time, tracking validity, in-doubt requests,
recorded rejections, confirmation, and the merchant-facing reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mallbridge_core.domain.reconciler import PendingRead, plan
from mallbridge_schema.events import Event
from mallbridge_schema.mall_format import PRAGUE
from mallbridge_schema.statuses import MallStatus

from .builders import (
    T0,
    delivery_set,
    first_seen,
    mdp_set,
    observed,
    rejected,
    requested,
    state_of,
    status_changed,
    tracking_assigned,
    updated,
    with_mall,
)

TN, TU = "DR-1", "https://t.example/DR-1"
NOW = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)  # 12:00 Prague (CEST)
CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))


def _delivered_plan(raw: str, *, now: datetime, recorded_at: datetime = T0, mall: str = "shipped"):  # type: ignore[no-untyped-def]
    facts = first_seen("settled", delivered_at=raw, tracking=(TN, TU), at=recorded_at)
    return plan(with_mall(state_of([facts]), mall, confirmed=True), now=now)


# ---- delivered_at on the wire -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-28T23:30:00Z", "2026-03-29 00:30:00"),
        ("2026-03-29T01:30:00Z", "2026-03-29 03:30:00"),  # just after spring forward
        ("2026-03-29T02:30:00", "2026-03-29 03:30:00"),  # naive, inside the skipped hour
        ("2026-03-31T14:05:00", "2026-03-31 14:05:00"),  # naive: Prague time as is
        ("2026-03-31T14:05:00+05:30", "2026-03-31 10:35:00"),
        ("2026-03-30", "2026-03-30 12:00:00"),
    ],
)
def test_delivered_at_is_prague_time_in_mall_format(raw: str, expected: str) -> None:
    result = _delivered_plan(raw, now=NOW, recorded_at=datetime(2026, 3, 31, 18, 0, tzinfo=UTC))
    assert [step.body for step in result.steps] == [{"status": "delivered", "delivered_at": expected}]
    assert result.deferral is None


def test_autumn_dst_edge() -> None:
    now = datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    first = _delivered_plan("2026-10-25T00:30:00Z", now=now)
    second = _delivered_plan("2026-10-25T01:30:00+00:00", now=now)
    assert first.steps[0].body["delivered_at"] == "2026-10-25 02:30:00"
    assert second.steps[0].body["delivered_at"] == "2026-10-25 02:30:00"


def test_date_alone_recorded_in_the_morning_is_the_recording_moment() -> None:
    recorded = datetime(2026, 4, 1, 9, 15, tzinfo=CEST)
    result = _delivered_plan("2026-04-01", now=datetime(2026, 4, 1, 9, 20, tzinfo=CEST), recorded_at=recorded)
    assert result.steps[0].body == {"status": "delivered", "delivered_at": "2026-04-01 09:15:00"}


# ---- a future delivery moment defers `delivered` until that moment ------------------------------------------


def test_a_future_moment_defers_delivered_until_it() -> None:
    result = _delivered_plan("2026-04-01T14:00:00+02:00", now=NOW)
    assert result.steps == ()
    assert result.deferral is not None
    assert result.deferral.status is MallStatus.DELIVERED
    assert "in the future" in result.deferral.reason
    assert "2026-04-01 14:00:00" in result.deferral.reason
    assert result.deferral.until == datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
    assert result.attention is None


def test_the_steps_before_a_future_delivered_still_go_out() -> None:
    result = _delivered_plan("2026-04-01T14:00:00+02:00", now=NOW, mall="open")
    assert [step.body for step in result.steps] == [{"status": "shipped", "tracking_number": TN, "tracking_url": TU}]
    assert result.deferral is not None
    assert result.deferral.status is MallStatus.DELIVERED


def test_delivered_goes_out_at_the_moment_itself() -> None:
    moment = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
    assert _delivered_plan("2026-04-01T14:00:00+02:00", now=moment - timedelta(microseconds=1)).deferral is not None
    at = _delivered_plan("2026-04-01T14:00:00+02:00", now=moment)
    assert at.deferral is None
    assert at.steps[0].body == {"status": "delivered", "delivered_at": "2026-04-01 14:00:00"}


def test_a_date_alone_typed_in_advance_waits_for_noon_of_that_day() -> None:
    # typed on 31 March for 1 April: neither sent with 31 March nor before noon on 1 April
    recorded = datetime(2026, 3, 31, 16, 0, tzinfo=CEST)
    early = _delivered_plan("2026-04-01", now=datetime(2026, 4, 1, 11, 0, tzinfo=CEST), recorded_at=recorded)
    assert early.steps == ()
    assert early.deferral is not None
    assert early.deferral.until == datetime(2026, 4, 1, 12, 0, tzinfo=CEST)
    later = _delivered_plan("2026-04-01", now=datetime(2026, 4, 1, 12, 0, 1, tzinfo=CEST), recorded_at=recorded)
    assert later.steps[0].body == {"status": "delivered", "delivered_at": "2026-04-01 12:00:00"}


def test_the_repeated_autumn_hour_compares_as_instants() -> None:
    # 02:30 CET (the second 02:30) is 45 minutes after "now" = 02:45 CEST (the first 02:45):
    # as Prague wall times 02:30 < 02:45, but it is still in the future.
    now = datetime(2026, 10, 25, 0, 45, tzinfo=UTC).astimezone(PRAGUE)
    result = _delivered_plan("2026-10-25T02:30:00+01:00", now=now)
    assert result.steps == ()
    assert result.deferral is not None
    assert result.deferral.until is not None
    assert result.deferral.until.astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    sent = _delivered_plan("2026-10-25T02:30:00+01:00", now=datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    assert sent.steps[0].body == {"status": "delivered", "delivered_at": "2026-10-25 02:30:00"}


@pytest.mark.parametrize("raw", ["next tuesday", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_an_unreadable_delivery_date_defers_instead_of_crashing(raw: str) -> None:
    # The far years overflowed converting to Prague time: the plan raised, and the order was retried forever.
    result = _delivered_plan(raw, now=NOW, mall="open")
    assert [step.status for step in result.steps] == [MallStatus.SHIPPED]
    assert result.deferral is not None
    assert result.deferral.status is MallStatus.DELIVERED
    assert "cannot be read" in result.deferral.reason


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan(state_of([first_seen("pending")]), now=datetime(2026, 4, 1, 10, 0))


# ---- tracking ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["DR 1", "DR/1", "DR.1", "DR1\n", "ČR1", " DR1"])
def test_invalid_tracking_characters_defer_shipped(number: str) -> None:
    facts = first_seen("settled", tracking=(number, TU))
    result = plan(with_mall(state_of([facts]), "open", confirmed=None), now=NOW)
    assert result.steps == ()
    assert result.deferral is not None
    assert result.deferral.status is MallStatus.SHIPPED
    assert "characters MALL refuses" in result.deferral.reason
    assert "0-9 a-z A-Z - _" in result.deferral.reason
    assert repr(number) in result.deferral.reason


@pytest.mark.parametrize(
    "url", ["ftp://t.example/1", "t.example/DR1", "https://", "https://t.example/a b", "http://[::1"]
)
def test_a_tracking_url_that_is_no_web_address_defers_shipped(url: str) -> None:
    facts = first_seen("settled", tracking=(TN, url))
    result = plan(with_mall(state_of([facts]), "open", confirmed=None), now=NOW)
    assert result.steps == ()
    assert result.deferral is not None
    assert result.deferral.status is MallStatus.SHIPPED
    assert f"tracking URL {url!r} is not a web address" in result.deferral.reason


@pytest.mark.parametrize(
    ("number", "url", "missing"),
    [
        (None, TU, "waiting for the tracking number:"),
        (TN, None, "waiting for the tracking URL:"),
        ("", "", "waiting for the tracking number and tracking URL:"),
        (TN, "   ", "waiting for the tracking URL:"),
    ],
)
def test_missing_tracking_names_what_is_missing(number: str | None, url: str | None, missing: str) -> None:
    facts = first_seen("settled", tracking=(number, url))
    result = plan(with_mall(state_of([facts]), "shipping", confirmed=True), now=NOW)
    assert result.steps == ()
    assert result.deferral is not None
    assert missing in result.deferral.reason


def test_mdp_never_sends_tracking_even_an_invalid_one() -> None:
    facts = first_seen("settled", tracking=("bad number!", TU), mdp=True)
    result = plan(with_mall(state_of([facts]), "shipping", confirmed=True), now=NOW)
    assert [step.body for step in result.steps] == [{"status": "shipped"}]


def test_the_deferred_step_proceeds_when_tracking_arrives() -> None:
    events: list[Event] = [first_seen("settled")]
    assert plan(state_of(events), now=NOW).deferral is not None
    events.append(tracking_assigned(2, TN, TU))
    result = plan(state_of(events), now=NOW)
    assert result.deferral is None
    assert [step.body for step in result.steps] == [
        {"status": "shipped", "confirmed": True, "tracking_number": TN, "tracking_url": TU}
    ]


# ---- an in-doubt request is read first ------------------------------------------------------------------


def test_an_in_doubt_request_means_read_first() -> None:
    body = {"status": "shipping", "confirmed": True}
    events = [first_seen("in_process"), requested(1, "shipping", body)]
    result = plan(state_of(events), now=NOW)
    assert result.read_first
    assert result.steps == ()
    assert not result.settled


@pytest.mark.parametrize("outcome", ["updated", "observed_done", "observed_not_done", "rejected"])
def test_a_recorded_outcome_settles_the_request(outcome: str) -> None:
    body = {"status": "shipping", "confirmed": True}
    events = [first_seen("in_process"), requested(1, "shipping", body)]
    settle = {
        "updated": updated(1, "shipping", body),
        "observed_done": observed("shipping", confirmed=True, request_no=1),
        "observed_not_done": observed("open", confirmed=False, request_no=1),
        "rejected": rejected(1, "shipping", seq=1),
    }[outcome]
    result = plan(state_of([*events, settle]), now=NOW)
    if outcome == "rejected":  # settled too, but a refusal is followed by one read of MALL
        assert result.read == PendingRead("refusal", 1)
        return
    assert not result.read_first
    if outcome == "observed_not_done":
        assert [step.body for step in result.steps] == [body]  # the PUT did not happen: send it (once) again


def test_an_observation_of_no_request_does_not_settle_the_open_one() -> None:
    events = [first_seen("in_process"), requested(2, "shipping", {}), observed("open", confirmed=False)]
    assert plan(state_of(events), now=NOW).read_first


# ---- confirmation -----------------------------------------------------------------------------------------


def test_confirmed_is_sent_once_and_again_after_mall_resets_it() -> None:
    events: list[Event] = [first_seen("in_process")]
    assert plan(state_of(events), now=NOW).steps[0].body == {"status": "shipping", "confirmed": True}
    events.append(updated(1, "shipping", {"status": "shipping", "confirmed": True}))
    events.append(delivery_set(2, None))  # an unrelated change: nothing to send
    events.append(status_changed(3, "in_process", "settled"))
    events.append(tracking_assigned(4, TN, TU))
    assert plan(state_of(events), now=NOW).steps[0].body == {
        "status": "shipped",
        "tracking_number": TN,
        "tracking_url": TU,
    }
    # MALL edited the order: it is unconfirmed again, so the next change confirms it again
    events.append(observed("shipping", confirmed=False))
    assert plan(state_of(events), now=NOW).steps[0].body["confirmed"] is True


def test_nothing_is_sent_just_to_confirm() -> None:
    result = plan(state_of([first_seen("pending")]), now=NOW)
    assert result.settled
    assert result.desired is MallStatus.OPEN


# ---- MDP flags change the path ----------------------------------------------------------------------------


def test_an_order_that_becomes_mdp_passes_through_shipping() -> None:
    events = [first_seen("settled", tracking=(TN, TU)), mdp_set(2, True)]
    assert [step.body for step in plan(state_of(events), now=NOW).steps] == [
        {"status": "shipping", "confirmed": True},
        {"status": "shipped"},
    ]


def test_mall_delivery_delivered_by_mall_is_in_sync() -> None:
    events = [first_seen("settled", mdp=True), observed("delivered", confirmed=False)]
    result = plan(state_of(events), now=NOW)
    assert result.settled
    assert result.desired is MallStatus.DELIVERED


# ---- reasons a merchant understands -------------------------------------------------------------------------


def test_attention_reasons_say_what_happened_and_what_to_do() -> None:
    cancel = plan(with_mall(state_of([first_seen("cancelled")]), "shipped", confirmed=True), now=NOW)
    assert cancel.attention is not None
    assert "cancelled in FastCentrik after MALL shipped" in cancel.attention.reason
    assert "MALL Operations" in cancel.attention.reason

    final = plan(with_mall(state_of([first_seen("in_process")]), "cancelled", confirmed=True), now=NOW)
    assert final.attention is not None
    assert "final status" in final.attention.reason
    assert "in_process" in final.attention.reason

    back = plan(with_mall(state_of([first_seen("pending")]), "shipping", confirmed=True), now=NOW)
    assert back.attention is not None
    assert "cannot go back" in back.attention.reason

    blocked = plan(with_mall(state_of([first_seen("in_process")]), "blocked", confirmed=False, by="mall"), now=NOW)
    assert blocked.attention is None  # nothing for a person to do: it goes out by itself once MALL opens it
    assert blocked.deferral is not None
    assert "waiting for MALL to open the order" in blocked.deferral.reason
    assert "Partner portal" not in blocked.deferral.reason  # the partner cannot touch a blocked order


def test_no_fastcentrik_side_yet_means_no_plan() -> None:
    state = state_of([observed("shipping", confirmed=True)])
    result = plan(state, now=NOW)
    assert result.desired is None
    assert result.settled
