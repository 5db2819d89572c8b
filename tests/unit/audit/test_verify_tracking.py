"""`--verify` and tracking corrections: one sent when FastCentrik corrected the tracking after shipped is the
PUT the rules call for; one never sent is missing; one sent without a correction is unexpected (and the
one putting FastCentrik's tracking back is then due)."""

from __future__ import annotations

from datetime import UTC, datetime

from mallbridge_audit.model import VerifyResult
from mallbridge_audit.verify import Verifier
from mallbridge_schema.events import Event, OrderEventBase
from tests.unit.domain.builders import first_seen, requested, tracking_assigned, updated

AS_OF = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
A = ("DR-1", "https://t.example/1")
B = ("DR-2", "https://t.example/2")
SHIPPED = {"status": "shipped", "confirmed": True, "tracking_number": A[0], "tracking_url": A[1]}
CORRECTION = {"tracking_number": B[0], "tracking_url": B[1]}


def _verify(order_events: list[OrderEventBase], sync_events: list[Event]) -> VerifyResult:
    verifier = Verifier()
    for event in order_events:
        verifier.add_order_event(event)
    for sync in sync_events:
        verifier.add_sync_event(sync)
    return verifier.finish(as_of=AS_OF, grace_s=0)


SHIPPED_WITH_A: list[Event] = [requested(1, "shipped", SHIPPED), updated(1, "shipped", SHIPPED)]
CORRECTED_TO_B: list[Event] = [requested(2, "shipped", CORRECTION, seq=2), updated(2, "shipped", CORRECTION, seq=2)]


def test_a_correction_sent_after_fastcentrik_corrected_the_tracking_is_clean() -> None:
    result = _verify([first_seen("settled", tracking=A), tracking_assigned(2, *B)], [*SHIPPED_WITH_A, *CORRECTED_TO_B])
    assert (result.differences, result.warnings) == ((), ())
    assert result.puts_checked == 2


def test_a_correction_never_sent_is_missing_and_named_a_tracking_correction() -> None:
    result = _verify([first_seen("settled", tracking=A), tracking_assigned(2, *B)], SHIPPED_WITH_A)
    assert [f.kind for f in result.differences] == ["missing_put"]
    assert "a tracking correction" in result.differences[0].message
    assert "FastCentrik's tracking changed" in result.differences[0].message


def test_a_correction_without_a_change_in_fastcentrik_is_unexpected_and_says_why() -> None:
    unasked = [requested(2, "shipped", CORRECTION), updated(2, "shipped", CORRECTION)]
    result = _verify([first_seen("settled", tracking=A)], [*SHIPPED_WITH_A, *unasked])
    # and MALL now has a tracking FastCentrik never gave: putting FastCentrik's back is due
    assert [f.kind for f in result.differences] == ["unexpected_put", "missing_put"]
    assert "no tracking correction is due" in result.differences[0].message
    assert '"tracking_number":"DR-1"' in result.differences[1].message
