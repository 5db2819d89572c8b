"""Tracking corrected in FastCentrik after MALL has the order shipped (reconciler rule 6, `PUT /orders/{id}/tracking`).

A correction goes out when MALL has the order `shipped` as FastCentrik wants it (not MALL Delivery) and
FastCentrik's complete, valid tracking differs both from what MALL is known to have and from what we last
sent; never twice for one value, not even when MALL writes it back its own way. One MALL would refuse is
not sent: a person is told (attention `tracking_refused`) until FastCentrik's tracking is fixed.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mallbridge_core.domain.reconciler import Plan, PutStep, plan
from mallbridge_schema.events import Event
from mallbridge_schema.statuses import MallStatus
from tests.unit.domain.builders import (
    delivery_set,
    first_seen,
    observed,
    rejected,
    requested,
    state_of,
    tracking_assigned,
    updated,
)
from tests.unit.domain.mall_model import MallOrder, accepted, refusal

NOW = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
A = ("DR-1", "https://t.example/1")
B = ("DR-2", "https://t.example/2")
SHIPPED_A = {"status": "shipped", "confirmed": True, "tracking_number": A[0], "tracking_url": A[1]}


def _body(tracking: tuple[str, str]) -> dict[str, Any]:
    return {"tracking_number": tracking[0], "tracking_url": tracking[1]}


def _shipped_by_us(*, mdp: bool = False) -> list[Event]:
    return [
        first_seen("settled", tracking=A, mdp=mdp),
        requested(1, "shipped", SHIPPED_A),
        updated(1, "shipped", SHIPPED_A),
    ]


def _plan(events: list[Event]) -> Plan:
    return plan(state_of(events), now=NOW)


def test_a_tracking_corrected_after_shipped_is_sent_once_to_the_tracking_endpoint() -> None:
    events = [*_shipped_by_us(), tracking_assigned(2, *B)]
    first = _plan(events)
    assert first.steps == (PutStep(MallStatus.SHIPPED, _body(B)),)
    assert first.steps[0].kind == "tracking"
    assert not first.steps[0].confirm_only
    events += [requested(2, "shipped", _body(B), seq=2), updated(2, "shipped", _body(B), seq=2)]
    after = _plan(events)
    assert after.settled
    assert state_of(events).mall.status is MallStatus.SHIPPED
    assert state_of(events).mall.confirmed is True


def test_nothing_is_sent_while_the_tracking_is_what_mall_has() -> None:
    assert _plan(_shipped_by_us()).settled
    assert _plan([*_shipped_by_us(), tracking_assigned(2, *A)]).settled  # the same value again


def test_a_mall_that_writes_our_tracking_its_own_way_is_not_sent_it_again() -> None:
    written_back = (A[0], A[1] + "/")  # what a read of MALL says after our shipped
    read = observed("shipped", confirmed=True, source="webhook", tracking=written_back, changed=("tracking",))
    assert _plan([*_shipped_by_us(), read]).settled  # was: a correction after every read


def test_tracking_mall_lacks_or_set_otherwise_is_corrected_to_fastcentrik_s() -> None:
    for tracking in ((None, None), ("PORTAL-7", "https://carrier.example/PORTAL-7")):
        seen = observed("shipped", confirmed=True, source="resync", tracking=tracking)
        events: list[Event] = [first_seen("settled", tracking=A), seen]
        assert _plan(events).steps == (PutStep(MallStatus.SHIPPED, _body(A)),), tracking


def test_tracking_removed_in_fastcentrik_or_on_mall_delivery_is_nothing_to_send() -> None:
    for number, url in (("DR-2", None), (None, None), ("", "")):
        assert _plan([*_shipped_by_us(), tracking_assigned(2, number, url)]).settled, (number, url)
    mdp = [*_shipped_by_us(mdp=True), tracking_assigned(2, *B)]
    assert _plan(mdp).settled


def test_a_correction_mall_would_refuse_is_not_sent_and_tells_a_person_until_it_is_fixed() -> None:
    for number, url, problem in (
        ("DR 2", "https://t.example/2", "characters MALL refuses"),
        ("DR-2", "not a web address", "is not a web address"),
    ):
        events = [*_shipped_by_us(), tracking_assigned(2, number, url)]
        refused = _plan(events)
        assert refused.steps == ()
        assert refused.attention is not None
        assert refused.attention.code == "tracking_refused"
        assert problem in refused.attention.reason
        assert "MALL keeps 'DR-1'" in refused.attention.reason
        assert _plan([*events, tracking_assigned(3, *B)]).steps == (PutStep(MallStatus.SHIPPED, _body(B)),)
        assert _plan([*events, tracking_assigned(3, *A)]).settled  # back to what MALL has: nothing to say


def test_a_status_due_goes_first_and_no_correction_follows_it() -> None:
    events = [*_shipped_by_us(), tracking_assigned(2, *B), delivery_set(3, "2026-03-01")]
    steps = _plan(events).steps
    assert [s.body.get("status") for s in steps] == ["delivered"]


def test_an_unconfirmed_order_gets_the_correction_then_its_confirmation() -> None:
    changed = observed("shipped", confirmed=False, source="webhook", tracking=A, changed=("confirmed",))
    events = [*_shipped_by_us(), changed, tracking_assigned(2, *B)]
    assert _plan(events).steps == (PutStep(MallStatus.SHIPPED, _body(B)),)
    events += [requested(2, "shipped", _body(B), seq=2), updated(2, "shipped", _body(B), seq=2)]
    assert state_of(events).mall.confirmed is False  # `/tracking` confirms nothing
    assert _plan(events).steps == (PutStep(MallStatus.SHIPPED, {"confirmed": True}),)


def test_a_refused_correction_stands_until_fastcentrik_changes_it() -> None:
    events = [*_shipped_by_us(), tracking_assigned(2, *B), requested(2, "shipped", _body(B), seq=2)]
    events.append(rejected(2, "shipped", seq=2, body=_body(B)))
    assert _plan(events).read is not None  # read MALL first, to learn why
    events.append(observed("shipped", confirmed=True, request_no=2, source="refusal", tracking=A))
    standing = _plan(events)
    assert standing.steps == ()
    assert standing.attention is not None
    assert standing.attention.code == "mall_rejected"
    fixed = ("DR-3", "https://t.example/3")
    assert _plan([*events, tracking_assigned(3, *fixed)]).steps == (PutStep(MallStatus.SHIPPED, _body(fixed)),)


def test_a_correction_whose_answer_was_lost_is_read_then_sent_again_only_if_it_did_not_land() -> None:
    events = [*_shipped_by_us(), tracking_assigned(2, *B), requested(2, "shipped", _body(B), seq=2)]
    assert _plan(events).read is not None
    landed = observed("shipped", confirmed=True, request_no=2, source="outcome_unknown", tracking=B)
    assert _plan([*events, landed]).settled
    lost = observed("shipped", confirmed=True, request_no=2, source="outcome_unknown", tracking=A)
    assert _plan([*events, lost]).steps == (PutStep(MallStatus.SHIPPED, _body(B)),)


# ---- no loop: whatever FastCentrik and MALL do, the publisher comes to rest ------------------------------

VALUES = [A, B, ("DR-3", "https://t.example/3"), ("DR 4", "https://t.example/4"), (None, None)]
fc_change = st.tuples(st.just("fc"), st.sampled_from(VALUES))
mall_read = st.tuples(st.just("read"), st.sampled_from(["as_is", "written_back"]))
publisher_pass = st.tuples(st.just("publish"), st.just(""))


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(ops=st.lists(st.one_of(fc_change, mall_read, publisher_pass, publisher_pass), max_size=30))
def test_every_correction_mall_is_sent_is_one_it_takes_and_the_order_comes_to_rest(ops: list[Any]) -> None:
    """MALL (the independent model) may write our tracking back with a trailing slash, as seen by a read.
    Every correction planned must be one MALL accepts, each FastCentrik value is sent at most once, and
    after the last change the publisher settles within a few passes with MALL holding FastCentrik's valid
    tracking (or its last valid one)."""
    events: list[Event] = list(_shipped_by_us())
    truth = MallOrder("shipped", confirmed=True, tracking_number=A[0], tracking_url=A[1])
    seq, request_no, fc = 1, 1, A
    corrections: list[tuple[str, str]] = []

    def publish() -> None:
        nonlocal truth, request_no
        for _ in range(3):
            p = _plan(events)
            if not p.steps:
                return
            step = p.steps[0]
            assert step.kind == "tracking", step
            assert refusal(truth, step.body) is None, (step.body, truth)
            request_no += 1
            events.append(requested(request_no, step.status, step.body, seq=seq))
            events.append(updated(request_no, step.status, step.body, seq=seq))
            truth = accepted(truth, step.body)
            corrections.append((step.body["tracking_number"], step.body["tracking_url"]))
        raise AssertionError(f"no rest after three passes: {events[-4:]}")

    for kind, value in ops:
        if kind == "fc":
            seq, fc = seq + 1, value
            events.append(tracking_assigned(seq, *value))
        elif kind == "read":
            url = truth.tracking_url if value == "as_is" else f"{(truth.tracking_url or '').rstrip('/')}/"
            truth = MallOrder("shipped", confirmed=True, tracking_number=truth.tracking_number, tracking_url=url)
            events.append(observed("shipped", confirmed=True, source="webhook", tracking=(truth.tracking_number, url)))
        else:
            publish()
    publish()
    at_rest = _plan(events)
    assert at_rest.steps == ()
    for earlier, later in itertools.pairwise(corrections):
        assert earlier != later, "the same correction sent twice in a row"
    if fc[0] is not None and fc[1] is not None and " " not in fc[0]:  # FastCentrik's last value is one MALL takes
        assert at_rest.settled
        assert truth.tracking_number == fc[0]
        assert truth.tracking_url in (fc[1], f"{fc[1]}/")
    elif fc[0] is not None and (fc[0], fc[1]) != (truth.tracking_number, truth.tracking_url):
        assert at_rest.attention is not None  # one MALL would refuse: a person is told, nothing is sent
        assert at_rest.attention.code == "tracking_refused"
