"""The event log the audit's integration tests run on: every engine behind the port, one param each."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["kafka"])
def event_log_url(request: pytest.FixtureRequest) -> str:
    """`kafka://…` on the session's real broker (the embedded sqlite engine joins as a second param)."""
    if request.param == "kafka":
        return f"kafka://{request.getfixturevalue('kafka_bootstrap')}"
    raise AssertionError(f"unknown engine {request.param}")
