"""The import loop on a fake log: skip-and-report, and an abort that ends (the log stops acknowledging)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest

from mallbridge_core.eventlog.port import OutgoingRecord
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_ingest.adapters.snapshot_files import RawLine
from mallbridge_ingest.imports.writer import import_snapshots
from mallbridge_ingest.metrics import IngestMetrics
from mallbridge_ingest.service import IngestService
from tests.unit.ingest.fakes import FakeEventLog

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class SlowToFailLog(FakeEventLog):
    """Down, it takes a moment to say so (as a real log's timeout does): time for the reader to run ahead."""

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> None:
        if self.down:
            await asyncio.sleep(0.2)
        await super().append(topic, records)


def lines(count: int) -> list[RawLine]:
    return [
        RawLine(i, {"order_number": f"O-{i}", "mall_order_id": str(1000 + i), "status": "pending"})
        for i in range(1, count + 1)
    ]


async def prepared(log: FakeEventLog) -> IngestService:
    service = IngestService(
        log=log,
        tenants={"acme": Tenant(tenant_id="acme", mall_client_id=None, ingest_secret=None)},
        topics=Topics(prefix="t."),
        metrics=IngestMetrics(),
        clock=lambda: NOW,
    )
    await service.prepare()
    return service


async def test_the_log_stopping_mid_import_aborts_it_with_the_line_and_what_was_written() -> None:
    """The reader is ahead (its queue full) when the writer stops: the import must still end."""
    log = SlowToFailLog()
    service = await prepared(log)

    def after_chunk(line: int) -> None:
        log.down = True  # the first chunk was acknowledged; the second will not be

    summary = await asyncio.wait_for(
        import_snapshots(service, "acme", lines(100), chunk_size=10, on_progress=after_chunk), timeout=5
    )
    assert summary.aborted == "the event log stopped acknowledging at line 11; re-run the import"
    assert (summary.changed, summary.events) == (10, 10)
    assert len(log.topics["t.order-events.v1"]) == 10


async def test_bad_lines_are_reported_and_the_rest_written() -> None:
    log = FakeEventLog()
    service = await prepared(log)
    given = [*lines(3), RawLine(4, error="not valid JSON"), RawLine(5, {"order_number": "X", "status": "pending"})]
    summary = await import_snapshots(service, "acme", given, chunk_size=2)
    assert (summary.read, summary.changed, summary.events, summary.aborted) == (5, 3, 3, None)
    assert [line for line, _ in summary.rejected] == [4, 5]
    assert "mall_order_id" in summary.rejected[1][1]


async def test_a_file_that_cannot_be_read_on_raises_after_the_chunks_before_are_written() -> None:
    log = FakeEventLog()
    service = await prepared(log)

    def broken() -> Iterator[RawLine]:
        yield from lines(25)
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        await asyncio.wait_for(import_snapshots(service, "acme", broken(), chunk_size=10), timeout=5)
    assert len(log.topics["t.order-events.v1"]) == 20


async def test_cancelling_an_import_cancels_it() -> None:
    log = SlowToFailLog()
    service = await prepared(log)
    log.down = True  # every append waits, so the import is still running when it is cancelled
    task = asyncio.create_task(import_snapshots(service, "acme", lines(100), chunk_size=10))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
