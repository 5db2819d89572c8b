"""One worker's lines written chunk after chunk: skip-and-report.

Valid snapshots are written chunk by chunk; invalid ones are skipped and reported with their line
number and reason, and the exit code says so. This suits backfills and migrations: one bad line does
not hold back a hundred thousand good ones, and because change detection makes a re-run write only
what is new, the fix is to correct the reported lines and import the same file again.
If the log stops acknowledging, the import stops: the chunks before are durable, a re-run completes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from mallbridge_core.eventlog.port import LogUnavailableError
from mallbridge_ingest.adapters.snapshot_files import RawLine
from mallbridge_ingest.adapters.validation import Indexed, validate_many
from mallbridge_ingest.imports.summary import ImportSummary
from mallbridge_ingest.service import IngestResult, IngestService, PreparedWrite

CHUNK = 500
_TURNS_TO_SEND = 8
"""Turns of the event loop given to a chunk's append before the next chunk is planned: a producer hands
a batch to its sender task, which wakes, drains it and starts the request, a few turns in all. Planning
is CPU work that does not yield, so without them the request would only leave once the next chunk is
planned, and the log's round trip would not overlap anything (measured: a third of the wait left)."""


def _chunks(lines: Iterable[RawLine], size: int) -> Iterator[list[RawLine]]:
    it = iter(lines)
    while chunk := list(islice(it, size)):
        yield chunk


@dataclass
class _Chunk:
    first_line: int
    last_line: int
    valid: list[Indexed]


async def _read_ahead(
    lines: Iterable[RawLine], size: int, summary: ImportSummary, queue: asyncio.Queue[_Chunk | None]
) -> None:
    """Parse and validate chunks ahead of the writer, so the CPU work overlaps the log's acknowledgements.

    Ends with a None mark, unless cancelled: then the writer has stopped reading (the log stopped
    acknowledging) and the queue may be full, so waiting to put the mark would never end.
    """
    try:
        for chunk in _chunks(lines, size):
            summary.read += len(chunk)
            for bad in (r for r in chunk if r.error is not None):
                summary.rejected.append((bad.line, f"line {bad.line}: {bad.error}"))
            valid, rejections = validate_many((r.line, r.data) for r in chunk if r.error is None)
            for rejection in rejections:
                summary.reject(rejection)
            await queue.put(_Chunk(chunk[0].line, chunk[-1].line, valid))
            await asyncio.sleep(0)  # let the writer take acknowledgements between chunks
    except asyncio.CancelledError:
        raise
    except BaseException:
        await queue.put(None)  # the writer finishes what is queued, then sees this error when it awaits us
        raise
    await queue.put(None)


async def import_snapshots(
    service: IngestService,
    tenant_id: str,
    lines: Iterable[RawLine],
    *,
    chunk_size: int = CHUNK,
    on_progress: Callable[[int], None] = lambda line: None,
) -> ImportSummary:
    """Write the valid snapshots chunk after chunk, one append each, one append at a time.

    Pipelined: while the log acknowledges a chunk, the next one is planned and encoded on top of it (as
    if it were durable), so the CPU work and the log's round trip overlap. It is appended only once the
    one before is acknowledged; if that one fails, the next is dropped unwritten. `service` must be the
    only writer of the tenant's orders while this runs (an import worker's own service): no order locks
    are taken.
    """
    summary = ImportSummary()
    queue: asyncio.Queue[_Chunk | None] = asyncio.Queue(maxsize=2)
    reader = asyncio.create_task(_read_ahead(lines, chunk_size, summary, queue))
    writing: _Writing | None = None
    try:
        while (chunk := await queue.get()) is not None:
            prepared = service.prepare_write(
                tenant_id,
                chunk.valid,
                source="import",
                all_or_nothing=False,
                after=None if writing is None else writing.prepared,
            )
            if writing is not None and not await writing.settled(summary, on_progress):
                service.abandon_write(prepared)
                writing = None
                break
            writing = _Writing(chunk, prepared, asyncio.create_task(service.commit_write(prepared)))
            for _ in range(_TURNS_TO_SEND):  # let the producer put the chunk on the wire before planning on
                await asyncio.sleep(0)
        if writing is not None:
            await writing.settled(summary, on_progress)
            writing = None
    finally:
        if writing is not None:  # cancelled, or an error: the append in flight ends with us
            writing.task.cancel()
            await asyncio.wait([writing.task])
        reader.cancel()
        # Wait for the reader without taking over its cancellation: a cancellation of this import itself
        # (Ctrl-C) must go on propagating, not end here as a normal return.
        await asyncio.wait([reader])
    if not reader.cancelled() and (error := reader.exception()) is not None:
        raise error  # the file could not be read on (the chunks before it are written)
    summary.rejected.sort()
    return summary


@dataclass
class _Writing:
    """A chunk whose append is on its way."""

    chunk: _Chunk
    prepared: PreparedWrite
    task: asyncio.Task[IngestResult]

    async def settled(self, summary: ImportSummary, on_progress: Callable[[int], None]) -> bool:
        """Wait for the append and count it in; False when the log stopped acknowledging (import aborted)."""
        try:
            result = await asyncio.shield(self.task)  # a cancellation of the import cancels the task itself
        except LogUnavailableError:
            summary.aborted = f"the event log stopped acknowledging at line {self.chunk.first_line}; re-run the import"
            return False
        for rejection in result.rejections:
            summary.reject(rejection)
        summary.changed += result.changed
        summary.unchanged += result.unchanged
        summary.stale += result.stale
        summary.events += result.events
        on_progress(self.chunk.last_line)
        return True
