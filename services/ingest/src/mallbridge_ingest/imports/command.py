"""Running `mallbridge ingest import`: the tenant lookup, the workers, a progress bar on stderr, the summary.

An import is CPU-bound (parsing, validation, change detection, encoding: one core per interpreter), so a
large file on Kafka is imported by several worker processes, each owning a share of the orders. Below
PARALLEL_FROM_LINES lines, or on the embedded SQLite log (one writer), one worker runs in this process.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from mallbridge_core.gc_tuning import no_cyclic_gc
from mallbridge_core.tenants import Tenant, TenantsFileError, load_tenants
from mallbridge_ingest.adapters.snapshot_files import open_snapshot_file, read_snapshot_file
from mallbridge_ingest.imports.processes import run_workers
from mallbridge_ingest.imports.summary import ImportSummary
from mallbridge_ingest.imports.worker import ImportJob, import_shard

EXIT_OK, EXIT_REJECTED, EXIT_FATAL = 0, 1, 2
# By default a file of this many lines or more, on Kafka, is imported by several worker processes (up to
# MAX_AUTO_WORKERS, one per core): below it, starting workers costs more than it saves.
PARALLEL_FROM_LINES = 10_000
MAX_AUTO_WORKERS = 4


def check_readable(file: Path, file_format: str) -> None:
    """Fail before any work when the file cannot be imported at all (e.g. a CSV header without the
    required columns): SnapshotFileError."""
    with open_snapshot_file(file) as stream:
        next(read_snapshot_file(stream, file_format), None)


def tenant_for_import(path: str, tenant_id: str) -> Tenant:
    """The tenant's existence and lane from the tenants file. Its secrets are not needed, so not resolved:
    an import can run where the push and MALL secrets are not available."""
    tenant = load_tenants(path, resolve_secrets=False).get(tenant_id)
    if tenant is None:
        raise TenantsFileError(f"tenants file {path}: no tenant {tenant_id!r}")
    return tenant


def resolve_workers(requested: int | None, *, lines: int, log_url: str) -> int:
    """`--workers`: as given, or by default several for a large file on Kafka (see the module docstring)."""
    if requested is not None:
        if requested > 1 and not log_url.startswith("kafka://"):
            raise ValueError("above 1 needs a Kafka log (kafka://...): the embedded SQLite log has one writer")
        return requested
    if not log_url.startswith("kafka://") or lines < PARALLEL_FROM_LINES:
        return 1
    return max(1, min(MAX_AUTO_WORKERS, os.cpu_count() or 1))


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
            # no cyclic collection meanwhile: the import makes no cycles, and the collector's passes over every
            # order's new state cost it time; back on once that state is dropped (import_shard has returned)
            with no_cyclic_gc():
                return asyncio.run(import_shard(job, 0, hooks))
        return run_workers(
            job,
            total_lines=total_lines,
            on_ready=lambda count: progress.update(rebuilding, completed=count),
            on_start=lambda: progress.update(rebuilding, description=f"state rebuilt ({job.shards} workers)"),
            on_position=lambda line: progress.update(importing, completed=line),
        )


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


def exit_code(summary: ImportSummary) -> int:
    if summary.aborted:
        return EXIT_FATAL
    return EXIT_REJECTED if summary.rejected else EXIT_OK


def render_summary(summary: ImportSummary, file: Path, tenant_id: str) -> str:
    lines = [
        f"import of {file.name} for tenant {tenant_id}: read {summary.read}, changed {summary.changed}, "
        f"unchanged {summary.unchanged}, stale {summary.stale}, rejected {summary.rejected_lines} "
        f"(events written: {summary.events}) "
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
        "stale": summary.stale,
        "rejected": summary.rejected_lines,
        "events": summary.events,
        "rejections": [{"line": line, "reason": reason} for line, reason in summary.rejected],
        "aborted": summary.aborted,
        "seconds": round(summary.seconds, 3),
    }
