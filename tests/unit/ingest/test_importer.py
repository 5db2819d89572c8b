"""The import loop on a fake log: skip-and-report, an abort that ends (the log stops acknowledging), and the
pipeline (the next chunk planned while the one before is written, and dropped when that one fails)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from mallbridge_core.eventlog.port import LogUnavailableError, OutgoingRecord
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_ingest.adapters.snapshot_files import RawLine
from mallbridge_ingest.imports.writer import import_snapshots
from mallbridge_ingest.mall_ids import PendingId
from mallbridge_ingest.metrics import IngestMetrics
from mallbridge_ingest.service import IngestService, PreparedWrite
from tests.unit.ingest.fakes import FakeEventLog

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
S = TypeVar("S", bound=IngestService)


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
    return await prepared_as(IngestService, log)


async def prepared_as(service_class: type[S], log: FakeEventLog) -> S:
    service = service_class(
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


class GatedLog(FakeEventLog):
    """Each append waits for the test to let it through (or fail it): an append is on its way meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: asyncio.Queue[asyncio.Future[bool]] = asyncio.Queue()

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> None:
        gate: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self.waiting.put(gate)
        if not await gate:
            raise LogUnavailableError("the test failed this append")
        await super().append(topic, records)


class WatchedService(IngestService):
    """Notes, for each chunk it prepares, how many appends the log had completed at that moment."""

    def __init__(self, *, log: GatedLog, **kwargs: Any) -> None:
        super().__init__(log=log, **kwargs)
        self.appends_done_when_prepared: list[int] = []
        self._gated = log

    def prepare_write(self, *args: Any, **kwargs: Any) -> PreparedWrite:
        self.appends_done_when_prepared.append(self._gated.appends)
        return super().prepare_write(*args, **kwargs)


async def watched(log: GatedLog) -> WatchedService:
    return await prepared_as(WatchedService, log)


def settled(line: int, order: str = "O-1") -> RawLine:
    return RawLine(line, {"order_number": order, "mall_order_id": "1001", "status": "settled", "tracking_number": "T1"})


async def test_the_next_chunk_is_planned_on_top_of_the_one_still_being_written() -> None:
    """Chunk 2 (the same order settled) is planned while chunk 1's append waits: it continues chunk 1's
    seq and facts, and still goes to the log only after chunk 1 was acknowledged."""
    log = GatedLog()
    service = await watched(log)
    given = [*lines(2), settled(3), *lines(4)[3:]]  # O-1, O-2 | O-1 settled, O-4
    task = asyncio.create_task(import_snapshots(service, "acme", given, chunk_size=2))
    first = await log.waiting.get()
    await asyncio.sleep(0.01)
    assert service.appends_done_when_prepared == [0, 0]  # chunk 2 was planned before chunk 1 was written
    assert log.waiting.empty()  # ... and is not sent before chunk 1 is acknowledged
    first.set_result(True)
    (await log.waiting.get()).set_result(True)
    summary = await asyncio.wait_for(task, timeout=5)
    written = [json.loads(r.value) for r in log.topics["t.order-events.v1"]]
    assert [(e["order_number"], e["seq"], e["type"]) for e in written] == [
        ("O-1", 1, "OrderFirstSeen"),
        ("O-2", 1, "OrderFirstSeen"),
        ("O-1", 2, "TrackingAssigned"),
        ("O-1", 3, "OrderStatusChanged"),
        ("O-4", 1, "OrderFirstSeen"),
    ]
    assert (summary.changed, summary.events, summary.aborted) == (4, 5, None)
    assert service.known_state("acme", "O-1").seq == 3


async def test_a_chunk_planned_on_top_of_a_failed_one_is_dropped_unwritten() -> None:
    """Chunk 2's append fails while chunk 3 is already planned on top of it: chunk 3 is never written, the
    MALL id it had claimed from MALL's webhook is pending again, and its order's state did not move."""
    log = GatedLog()
    service = await watched(log)
    service.mall_ids.add_pending("acme", ("1005",), PendingId(uuid.UUID(int=7), NOW))
    task = asyncio.create_task(import_snapshots(service, "acme", lines(6), chunk_size=2))
    (await log.waiting.get()).set_result(True)
    second = await log.waiting.get()
    while len(service.appends_done_when_prepared) < 3:
        await asyncio.sleep(0.001)  # chunk 3 (O-5 claims MALL id 1005) is planned
    assert not service.mall_ids.has_pending("acme")
    second.set_result(False)
    summary = await asyncio.wait_for(task, timeout=5)
    assert summary.aborted == "the event log stopped acknowledging at line 3; re-run the import"
    assert [json.loads(r.value)["order_number"] for r in log.topics["t.order-events.v1"]] == ["O-1", "O-2"]
    assert service.mall_ids.pending("acme") == {"1005": PendingId(uuid.UUID(int=7), NOW)}
    assert not service.known_state("acme", "O-5").seen
    assert service.known_state("acme", "O-3").seq == 1  # chunk 2's seq stays reserved, as for any failed write
    assert not service.known_state("acme", "O-3").seen
