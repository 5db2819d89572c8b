"""File import (`mallbridge ingest import`): skip-and-report.

Valid snapshots are written chunk by chunk; invalid ones are skipped and reported with their line
number and reason, and the exit code says so. This suits backfills and migrations: one bad line does
not hold back a hundred thousand good ones, and because change detection makes a re-run write only
what is new, the fix is to correct the reported lines and import the same file again.
If the log stops acknowledging, the import stops: the chunks before are durable, a re-run completes it.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from pydantic import ConfigDict, TypeAdapter

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
    seconds: float = 0.0  # the import itself, after the known state was rebuilt
    cpu_seconds: float = 0.0  # CPU time of the import itself, all workers together

    @property
    def rejected_lines(self) -> int:
        return len({line for line, _ in self.rejected})

    def reject(self, rejection: Rejection) -> None:
        self.rejected.append((rejection.index, rejection.describe(f"line {rejection.index}")))


def merge_summaries(parts: Iterable[ImportSummary]) -> ImportSummary:
    """One summary of several workers' parts (each worker read its own lines; they ran side by side)."""
    merged = ImportSummary()
    for part in parts:
        merged.read += part.read
        merged.changed += part.changed
        merged.unchanged += part.unchanged
        merged.events += part.events
        merged.rejected.extend(part.rejected)
        merged.aborted = merged.aborted or part.aborted
        merged.seconds = max(merged.seconds, part.seconds)
        merged.cpu_seconds += part.cpu_seconds
    merged.rejected.sort()
    return merged


def order_shard(record: RawLine, shards: int) -> int:
    """Which of `shards` import workers owns this line.

    By its order number exactly as validation will read it (the same surrounding whitespace stripped),
    so all lines of one order go to one worker, which is also the one that rebuilt that order's state
    (`shard_of` its key), and each order's seq numbers have one writer. Lines with no usable order
    number go to worker 0, which reports them. CRC-32, not hash(): every worker must compute the same.
    """
    data = record.data
    if shards == 1 or record.error is not None or not isinstance(data, dict):
        return 0
    number = data.get("order_number")
    if not isinstance(number, str):
        return 0
    return shard_of(number.strip(_STRIPPED_BY_VALIDATION).encode("utf-8", "surrogatepass"), shards)


def _stripped_by_validation() -> str:
    """The characters the snapshot's validation strips (pydantic-core's notion of whitespace, which is
    not Python's: e.g. Python strips U+001F, pydantic does not). Asked of pydantic itself, once."""
    strip = TypeAdapter(str, config=ConfigDict(str_strip_whitespace=True))
    return "".join(c for c in map(chr, range(0x3001)) if c.isspace() and strip.validate_python(c) == "")


_STRIPPED_BY_VALIDATION = _stripped_by_validation()


def shard_of(order_number: bytes, shards: int) -> int:
    return zlib.crc32(order_number) % shards


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
