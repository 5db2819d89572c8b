"""A refused PUT (ARCHITECTURE.md §6): read MALL once, then the refusal stands as attention until FastCentrik or MALL
changes; a refusal of an older FastCentrik state is history."""

from __future__ import annotations

from datetime import UTC, datetime

from mallbridge_core.domain.reconciler import PendingRead, plan
from mallbridge_schema.events import Event
from mallbridge_schema.statuses import MallStatus

from .builders import first_seen, observed, rejected, state_of, status_changed, tracking_assigned, updated

TN, TU = "DR-1", "https://t.example/DR-1"
NOW = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)


# ---- a refusal is read once; then it stands as attention, until FastCentrik or MALL changes ---------------

SHIPPED_BODY = {"status": "shipped", "confirmed": True, "tracking_number": TN, "tracking_url": TU}


def _read_after(request_no: int, status: str = "open", *, confirmed: bool | None = False) -> Event:
    return observed(status, confirmed=confirmed, request_no=request_no, source="refusal")


def test_a_rejection_for_the_current_seq_is_attention_mall_rejected() -> None:
    events: list[Event] = [
        first_seen("settled", tracking=(TN, TU)),
        rejected(1, "shipped", seq=1, http_status=400, body=SHIPPED_BODY),
    ]
    assert plan(state_of(events), now=NOW).read == PendingRead("refusal", 1)
    events.append(_read_after(1))  # MALL has it as we thought: nothing to expect a different answer from
    result = plan(state_of(events), now=NOW)
    assert result.steps == ()
    assert result.attention is not None
    assert result.attention.code == "mall_rejected"
    assert "HTTP 400" in result.attention.reason
    assert "Invalid status transition" in result.attention.reason
    assert "FastCentrik" in result.attention.reason


def test_a_resync_after_the_refusal_sends_the_refused_request_once_more() -> None:
    """A person fixed at MALL what the refusal was about (a MALL Delivery order's labels) and asks for a
    resync: the read lifts the refusal; refused again, it stands again until the next resync."""
    events: list[Event] = [
        first_seen("settled", tracking=(TN, TU)),
        rejected(1, "shipped", seq=1, http_status=400, body=SHIPPED_BODY),
        _read_after(1),
    ]
    assert plan(state_of(events), now=NOW).attention is not None
    events.append(observed("open", confirmed=False, source="resync"))  # nothing changed at MALL as far as it says
    again = plan(state_of(events), now=NOW)
    assert (again.attention, [step.body for step in again.steps]) == (None, [SHIPPED_BODY])
    events += [rejected(2, "shipped", seq=1, http_status=400, body=SHIPPED_BODY), _read_after(2)]
    final = plan(state_of(events), now=NOW)
    assert final.steps == ()
    assert final.attention is not None


def test_a_resync_read_before_the_refusal_was_read_does_not_lift_it() -> None:
    events: list[Event] = [
        first_seen("settled", tracking=(TN, TU)),
        rejected(1, "shipped", seq=1, http_status=400, body=SHIPPED_BODY),
        observed("open", confirmed=False, source="resync"),
    ]
    assert plan(state_of(events), now=NOW).read == PendingRead("refusal", 1)


def test_a_newer_order_event_clears_the_rejection() -> None:
    events: list[Event] = [
        first_seen("settled", tracking=(TN, TU)),
        rejected(1, "shipped", seq=1, body=SHIPPED_BODY),
        _read_after(1),
    ]
    events.append(tracking_assigned(2, "DR-2", TU))
    result = plan(state_of(events), now=NOW)
    assert result.attention is None
    assert [step.body for step in result.steps] == [
        {"status": "shipped", "confirmed": True, "tracking_number": "DR-2", "tracking_url": TU}
    ]


def test_a_rejection_of_an_older_seq_is_ignored() -> None:
    events = [
        first_seen("pending"),
        status_changed(2, "pending", "in_process"),
        rejected(1, "shipping", seq=1),
        _read_after(1),
    ]
    result = plan(state_of(events), now=NOW)
    assert result.attention is None
    assert [step.status for step in result.steps] == [MallStatus.SHIPPING]


def test_the_rejected_step_after_a_successful_one() -> None:
    # open → shipped → delivered: shipped went through, delivered was refused.
    shipped = {"status": "shipped", "confirmed": True, "tracking_number": TN, "tracking_url": TU}
    delivered = {"status": "delivered", "delivered_at": "2026-03-10 12:00:00"}
    events = [
        first_seen("settled", delivered_at="2026-03-10", tracking=(TN, TU)),
        updated(1, "shipped", shipped),
        rejected(2, "delivered", seq=1, body=delivered),
        _read_after(2, "shipped", confirmed=True),
    ]
    result = plan(state_of(events), now=NOW)
    assert result.attention is not None
    assert result.attention.code == "mall_rejected"
    assert "delivered" in result.attention.reason
