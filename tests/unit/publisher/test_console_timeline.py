"""The console's order timeline says what each accepted PUT did: a status, or a tracking correction."""

from __future__ import annotations

from mallbridge_publisher.console.timeline import timeline
from mallbridge_publisher.order_history import HistoryEntry, OrderHistory
from tests.unit.domain.builders import updated

SHIPPED = {"status": "shipped", "confirmed": True, "tracking_number": "DR-1", "tracking_url": "https://t.example/1"}
CORRECTION = {"tracking_number": "DR-2", "tracking_url": "https://t.example/2"}


def test_an_accepted_tracking_correction_is_named_so_and_a_status_update_by_its_status() -> None:
    history = OrderHistory(
        "acme",
        "FC-1001",
        (
            HistoryEntry("sync", updated(1, "shipped", SHIPPED)),
            HistoryEntry("sync", updated(2, "shipped", CORRECTION, seq=2)),
        ),
    )
    assert [row.what for row in timeline(history)] == [
        "MALL accepted #1 shipped (HTTP 200)",
        "MALL accepted #2 the tracking correction (shipped) (HTTP 200)",
    ]
