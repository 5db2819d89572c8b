"""File import (`mallbridge ingest import`): skip-and-report.

Valid snapshots are written chunk by chunk; invalid ones are skipped and reported with their line
number and reason, and the exit code says so. This suits backfills and migrations: one bad line does
not hold back a hundred thousand good ones, and because change detection makes a re-run write only
what is new, the fix is to correct the reported lines and import the same file again.
If the log stops acknowledging, the import stops: the chunks before are durable, a re-run completes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from mallbridge_core.eventlog.port import LogUnavailableError
from mallbridge_ingest.adapters.snapshot_files import RawLine
from mallbridge_ingest.adapters.validation import Indexed, validate_many
from mallbridge_ingest.domain import Rejection
from mallbridge_ingest.service import IngestService

CHUNK = 500


@dataclass
class ImportSummary:
    read: int = 0
    changed: int = 0
    unchanged: int = 0
    events: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    aborted: str | None = None

    @property
    def rejected_lines(self) -> int:
        return len({line for line, _ in self.rejected})

    def reject(self, rejection: Rejection) -> None:
        self.rejected.append((rejection.index, rejection.describe(f"line {rejection.index}")))


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
    """Parse and validate chunks ahead of the writer, so the CPU work overlaps the log's acknowledgements."""
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
    finally:
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
            summary.events += result.events
            on_progress(chunk.last_line)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    summary.rejected.sort()
    return summary
