"""Running `mallbridge ingest import`: the tenant lookup, the workers, a progress bar on stderr, the summary.

An import is CPU-bound (parsing, validation, change detection, encoding: one core per interpreter), so a
large file on Kafka is imported by several worker processes, each owning a share of the orders. Below
PARALLEL_FROM_LINES lines, or on the embedded SQLite log (one writer), one worker runs in this process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import re
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from mallbridge_core.eventlog import open_event_log
from mallbridge_core.eventlog.port import LogUnavailableError
from mallbridge_core.logging_setup import configure_logging
from mallbridge_core.tenants import DEFAULT_LANE, TENANT_ID_PATTERN, Tenant, TenantsFileError
from mallbridge_ingest.adapters.snapshot_files import read_snapshot_file
from mallbridge_ingest.bootstrap import IngestSettings, build_service, tune_gc, utc_now
from mallbridge_ingest.importer import ImportSummary, import_snapshots, merge_summaries, order_shard, shard_of
from mallbridge_ingest.metrics import IngestMetrics

EXIT_OK, EXIT_REJECTED, EXIT_FATAL = 0, 1, 2
# By default a file of this many lines or more, on Kafka, is imported by several worker processes (up to
# MAX_AUTO_WORKERS, one per core): below it, starting workers costs more than it saves.
PARALLEL_FROM_LINES = 10_000
MAX_AUTO_WORKERS = 4
LANE_PATTERN = r"[a-z0-9_-]{1,32}"  # as the tenants file's own validation


def check_readable(file: Path, file_format: str) -> None:
    """Fail before any work when the file cannot be imported at all (e.g. a CSV header without the
    required columns): SnapshotFileError."""
    with file.open(encoding="utf-8-sig", newline="") as stream:
        next(read_snapshot_file(stream, file_format), None)


def tenant_for_import(path: str, tenant_id: str) -> Tenant:
    """The tenant's existence and lane from the tenants file. Its secrets are not needed, so not resolved:
    an import can run where the push and MALL secrets are not available."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TenantsFileError(f"tenants file {path}: {exc}") from None
    table = data.get("tenants", {}).get(tenant_id) if isinstance(data.get("tenants"), dict) else None
    if not isinstance(table, dict):
        raise TenantsFileError(f"tenants file {path}: no tenant {tenant_id!r}")
    lane = table.get("lane", DEFAULT_LANE)
    if not isinstance(lane, str) or not re.fullmatch(LANE_PATTERN, lane):
        raise TenantsFileError(f"tenants file {path}: [tenants.{tenant_id}] lane must match {LANE_PATTERN}")
    if not re.match(TENANT_ID_PATTERN, tenant_id):
        raise TenantsFileError(f"tenant id must match {TENANT_ID_PATTERN}")
    return Tenant(tenant_id=tenant_id, mall_client_id=None, ingest_secret=None, lane=lane)


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


def resolve_workers(requested: int | None, *, lines: int, log_url: str) -> int:
    """`--workers`: as given, or by default several for a large file on Kafka (see the module docstring)."""
    if requested is not None:
        if requested > 1 and not log_url.startswith("kafka://"):
            raise ValueError("above 1 needs a Kafka log (kafka://...): the embedded SQLite log has one writer")
        return requested
    if not log_url.startswith("kafka://") or lines < PARALLEL_FROM_LINES:
        return 1
    return max(1, min(MAX_AUTO_WORKERS, os.cpu_count() or 1))


async def import_shard(job: ImportJob, shard: int, hooks: ImportHooks) -> ImportSummary:
    """One worker: rebuild the known state of its orders, wait for the go, import its lines of the file."""
    log = open_event_log(job.log_url, partitions=job.partitions)
    service = build_service(
        settings=IngestSettings(topic_prefix=job.topic_prefix),
        log=log,
        tenants={job.tenant.tenant_id: job.tenant},
        metrics=IngestMetrics(),
        clock=utc_now,
    )
    try:
        await log.start()
        owns = None if job.shards == 1 else (lambda order: shard_of(order, job.shards) == shard)
        try:
            await service.prepare([job.tenant.tenant_id], owns_order=owns)
        except LogUnavailableError as exc:
            return ImportSummary(aborted=f"the event log is not reachable, nothing was imported: {exc}")
        tune_gc(freeze=True)
        hooks.ready()
        await hooks.wait_for_go()
        started, cpu = time.perf_counter(), time.process_time()
        with job.file.open(encoding="utf-8-sig", newline="") as stream:
            lines = read_snapshot_file(stream, job.file_format)
            if job.shards > 1:
                lines = (r for r in lines if order_shard(r, job.shards) == shard)
            summary = await import_snapshots(
                service, job.tenant.tenant_id, lines, chunk_size=job.chunk_size, on_progress=hooks.progress
            )
        summary.seconds = time.perf_counter() - started
        summary.cpu_seconds = time.process_time() - cpu
        return summary
    finally:
        await log.close()


def run_import(job: ImportJob, *, total_lines: int, show_progress: bool = True) -> ImportSummary:
    """The whole import: in this process for one worker, else `job.shards` worker processes side by side."""
    console = Console(stderr=True, quiet=not show_progress)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        rebuilding = progress.add_task(_rebuild_text(job.shards), total=job.shards)
        importing = progress.add_task(f"importing {job.file.name} (lines)", total=total_lines or None)
        if job.shards == 1:
            hooks = _InProcessHooks(progress, rebuilding, importing)
            return asyncio.run(import_shard(job, 0, hooks))
        return _run_workers(job, progress, rebuilding, importing, total_lines)


def _rebuild_text(workers: int) -> str:
    return "rebuilding known state" + (f" ({workers} workers)" if workers > 1 else "")


class _InProcessHooks:
    def __init__(self, progress: Progress, rebuilding: TaskID, importing: TaskID) -> None:
        self._progress, self._rebuilding, self._importing = progress, rebuilding, importing

    def ready(self) -> None:
        self._progress.update(self._rebuilding, description="state rebuilt", completed=1)

    async def wait_for_go(self) -> None:
        return None

    def progress(self, line: int) -> None:
        self._progress.update(self._importing, completed=line)


# ---- several workers ----------------------------------------------------------------------------------
# Each worker is a process of its own (the import is CPU-bound; one interpreter uses one core). Each reads
# the whole file but keeps only the lines of its orders (order_shard), rebuilds only their state, and
# writes with its own producer; so every order has exactly one writer, as the per-order seq requires.
# Messages from the workers: ("ready", shard, None), ("progress", shard, line), ("done", shard, summary),
# ("failed", shard, reason).


class _WorkerHooks:
    def __init__(self, shard: int, messages: Queue[tuple[str, int, Any]], go: EventType) -> None:
        self._shard, self._messages, self._go = shard, messages, go

    def ready(self) -> None:
        self._messages.put(("ready", self._shard, None))

    async def wait_for_go(self) -> None:
        await asyncio.to_thread(self._go.wait)

    def progress(self, line: int) -> None:
        self._messages.put(("progress", self._shard, line))


def _worker_main(job: ImportJob, shard: int, messages: Queue[tuple[str, int, Any]], go: EventType) -> None:
    configure_logging("WARNING")
    try:
        summary = asyncio.run(import_shard(job, shard, _WorkerHooks(shard, messages, go)))
    except BaseException as exc:  # reported to the parent, which aborts the import and says why
        messages.put(("failed", shard, f"{type(exc).__name__}: {exc}"))
        raise SystemExit(EXIT_FATAL) from None
    messages.put(("done", shard, summary))


def _run_workers(
    job: ImportJob, progress: Progress, rebuilding: TaskID, importing: TaskID, total_lines: int
) -> ImportSummary:
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads or loops
    messages: Queue[tuple[str, int, Any]] = context.Queue()
    go = context.Event()
    workers = [
        context.Process(target=_worker_main, args=(job, shard, messages, go), name=f"import-worker-{shard}")
        for shard in range(job.shards)
    ]
    for worker in workers:
        worker.start()
    position = [0] * job.shards
    ready: set[int] = set()
    parts: dict[int, ImportSummary] = {}
    failures: dict[int, str] = {}
    finished = False
    try:
        while len(parts) + len(failures) < job.shards:
            try:
                kind, shard, value = messages.get(timeout=0.5)
            except queue.Empty:
                _note_silent_exits(workers, parts, failures)
            else:
                if kind == "ready":
                    ready.add(shard)
                    progress.update(rebuilding, completed=len(ready))
                elif kind == "progress":
                    position[shard] = value
                elif kind == "done":
                    parts[shard] = value
                    position[shard] = position[shard] if value.aborted else total_lines
                else:
                    failures[shard] = value
                progress.update(importing, completed=min(position))
            if not go.is_set() and len(ready | parts.keys() | failures.keys()) == job.shards:
                # All start together (the import's time is measured from here). A worker that failed
                # does not hold the others back: each chunk they write is durable either way.
                progress.update(rebuilding, description=f"state rebuilt ({job.shards} workers)")
                go.set()
        finished = True
    finally:
        go.set()  # no worker may wait for a go that never comes
        for worker in workers:
            if not finished:
                worker.terminate()  # interrupted: stop the workers; what they wrote is durable
            worker.join()
    summary = merge_summaries(parts.values())
    if failures:
        reasons = "; ".join(f"worker {shard}: {reason}" for shard, reason in sorted(failures.items()))
        summary.aborted = f"{reasons}; what the other workers wrote is durable, re-run the import to complete it"
    return summary


def _note_silent_exits(
    workers: Sequence[BaseProcess], parts: dict[int, ImportSummary], failures: dict[int, str]
) -> None:
    """A worker that died without a word (killed, out of memory) fails the import instead of hanging it."""
    for shard, worker in enumerate(workers):
        if shard not in parts and shard not in failures and worker.exitcode not in (None, 0):
            failures[shard] = f"exited with code {worker.exitcode}"


def exit_code(summary: ImportSummary) -> int:
    if summary.aborted:
        return EXIT_FATAL
    return EXIT_REJECTED if summary.rejected else EXIT_OK


def render_summary(summary: ImportSummary, file: Path, tenant_id: str) -> str:
    lines = [
        f"import of {file.name} for tenant {tenant_id}: read {summary.read}, changed {summary.changed}, "
        f"unchanged {summary.unchanged}, rejected {summary.rejected_lines} (events written: {summary.events}) "
        f"in {summary.seconds:.1f} s"
    ]
    if summary.rejected:
        lines.append("rejected:")
        lines.extend(f"  {reason}" for _, reason in summary.rejected)
    if summary.aborted:
        lines.append(f"ABORTED: {summary.aborted}")
    return "\n".join(lines)


def summary_dict(summary: ImportSummary, file: Path, tenant_id: str) -> dict[str, Any]:
    return {
        "file": str(file),
        "tenant": tenant_id,
        "read": summary.read,
        "changed": summary.changed,
        "unchanged": summary.unchanged,
        "rejected": summary.rejected_lines,
        "events": summary.events,
        "rejections": [{"line": line, "reason": reason} for line, reason in summary.rejected],
        "aborted": summary.aborted,
        "seconds": round(summary.seconds, 3),
    }
