"""`mallbridge log export` finds every topic mallbridge writes, lanes included, and nothing else."""

from __future__ import annotations

import asyncio

from mallbridge_core import logtool
from mallbridge_core.topics import Topics


class ListingLog:
    """Just enough of an event log for topic discovery."""

    url = "fake://"

    def __init__(self, names: list[str]) -> None:
        self.names = names

    async def list_topics(self) -> list[str]:
        return self.names


def test_every_topic_of_every_lane_is_exported_and_nothing_foreign() -> None:
    lanes = [Topics(prefix="p."), Topics(prefix="p.", lane="acme")]
    ours = [name for t in lanes for name in (t.order_events, t.sync_events, t.operator_events, t.dead_letter)]
    foreign = ["p.something-else.v1", "q.order-events.v1", "__consumer_offsets"]

    found = asyncio.run(logtool.discover_topics(ListingLog(ours + foreign), "p."))  # type: ignore[arg-type]

    assert found == sorted(name.removeprefix("p.") for name in ours)
    assert "operator-events.v1" in found


def test_the_notifiers_ledger_is_exported_too() -> None:
    # without it, `mallbridge notify` on the log the export is imported into sends recent attention items again
    names = ["p.order-events.v1", "p.sync-events.v1", "p.notify-alerts.v1", "p.lane-acme.notify-alerts.v1"]

    found = asyncio.run(logtool.discover_topics(ListingLog(names), "p."))  # type: ignore[arg-type]

    assert found == ["notify-alerts.v1", "order-events.v1", "sync-events.v1"]  # one ledger for all lanes
