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
from mallbridge_ingest.service import IngestService

CHUNK = 500


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
    """Write the valid snapshots chunk after chunk (one append each, awaited before the next)."""
    summary = ImportSummary()
    queue: asyncio.Queue[_Chunk | None] = asyncio.Queue(maxsize=2)
    reader = asyncio.create_task(_read_ahead(lines, chunk_size, summary, queue))
    try:
        while (chunk := await queue.get()) is not None:
            try:
                result = await service.ingest(tenant_id, chunk.valid, source="import", all_or_nothing=False)
            except LogUnavailableError:
                summary.aborted = f"the event log stopped acknowledging at line {chunk.first_line}; re-run the import"
                break
            for rejection in result.rejections:
                summary.reject(rejection)
            summary.changed += result.changed
            summary.unchanged += result.unchanged
            summary.stale += result.stale
            summary.events += result.events
            on_progress(chunk.last_line)
    finally:
        reader.cancel()
        # Wait for the reader without taking over its cancellation: a cancellation of this import itself
        # (Ctrl-C) must go on propagating, not end here as a normal return.
        await asyncio.wait([reader])
    if not reader.cancelled() and (error := reader.exception()) is not None:
        raise error  # the file could not be read on (the chunks before it are written)
    summary.rejected.sort()
    return summary
