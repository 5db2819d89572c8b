"""One import worker: rebuild the known state of its orders, wait for the go, import its lines of the file.

Run in the command's own process for a one-worker import, or in each worker process (`processes`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from mallbridge_core.eventlog import open_event_log
from mallbridge_core.eventlog.port import LogUnavailableError
from mallbridge_core.tenants import Tenant
from mallbridge_ingest.adapters.snapshot_files import RawLine, open_snapshot_file, read_jsonl, read_snapshot_file
from mallbridge_ingest.bootstrap import build_service, utc_now
from mallbridge_ingest.config import IngestSettings
from mallbridge_ingest.imports.shards import jsonl_line_shard, order_shard, shard_of
from mallbridge_ingest.imports.summary import ImportSummary
from mallbridge_ingest.imports.writer import import_snapshots
from mallbridge_ingest.metrics import IngestMetrics


@dataclass(frozen=True)
class ImportJob:
    """Everything one import worker needs (picklable: workers are separate processes)."""

    log_url: str
    partitions: int
    topic_prefix: str
    tenant: Tenant
    file: Path
    file_format: str
    chunk_size: int
    shards: int = 1


class ImportHooks(Protocol):
    """What a worker tells whoever watches it, and the start signal it waits for after its rebuild."""

    def ready(self) -> None: ...
    async def wait_for_go(self) -> None: ...
    def progress(self, line: int) -> None: ...


def _own_lines(stream: TextIO, job: ImportJob, shard: int) -> Iterator[RawLine]:
    """The lines of the file worker `shard` owns (all of them when alone). JSON Lines are told apart by
    their text before parsing, so a worker does not parse the other workers' lines (`jsonl_line_shard`)."""
    if job.shards == 1:
        return read_snapshot_file(stream, job.file_format)
    if job.file_format == "jsonl":
        return read_jsonl(stream, keep=lambda text: jsonl_line_shard(text, job.shards) == shard)
    return (r for r in read_snapshot_file(stream, job.file_format) if order_shard(r, job.shards) == shard)


async def import_shard(job: ImportJob, shard: int, hooks: ImportHooks) -> ImportSummary:
    """Worker `shard` of `job.shards`: its orders' state, then its lines (all lines when alone)."""
    log = open_event_log(job.log_url, partitions=job.partitions)
    service = build_service(
        # Every state in memory: a worker lives for one import, and a read from disk per order would cost
        # it more than the memory does.
        settings=IngestSettings(topic_prefix=job.topic_prefix, hot_orders=0),
        log=log,
        tenants={job.tenant.tenant_id: job.tenant},
        metrics=IngestMetrics(),
        clock=utc_now,
    )
    try:
        owns = None if job.shards == 1 else (lambda order: shard_of(order, job.shards) == shard)
        try:
            await log.start()
            await service.prepare([job.tenant.tenant_id], owns_order=owns)
        except LogUnavailableError as exc:
            return ImportSummary(aborted=f"the event log is not reachable, nothing was imported: {exc}")
        hooks.ready()
        await hooks.wait_for_go()
        started, cpu = time.perf_counter(), time.process_time()
        with open_snapshot_file(job.file) as stream:
            lines = _own_lines(stream, job, shard)
            summary = await import_snapshots(
                service, job.tenant.tenant_id, lines, chunk_size=job.chunk_size, on_progress=hooks.progress
            )
        summary.seconds = time.perf_counter() - started
        summary.cpu_seconds = time.process_time() - cpu
        return summary
    finally:
        await log.close()
