"""The demo's happy path must look healthy in the audit and the console: its delivery is reported on time."""

from __future__ import annotations

from datetime import UTC, datetime

from mallbridge_app.demo.scenario import STORIES
from mallbridge_core.domain.sla import delivered_lag_s, is_on_time


def test_the_happy_path_delivery_counts_as_on_time_when_the_demo_runs() -> None:
    [happy] = [s for s in STORIES if s.final_mall == "delivered"]
    delivered = [s.snapshot["delivered_at"] for s in happy.steps if s.snapshot and "delivered_at" in s.snapshot]
    assert len(delivered) == 1
    lag = delivered_lag_s(delivered[0], accepted_at=datetime.now(UTC))
    assert lag is not None
    assert lag >= 0  # not a future moment (the reconciler would defer it)
    assert is_on_time(lag)
