"""Running `mallbridge ingest import`: the tenant lookup, the log, a progress bar on stderr, the summary."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mallbridge_core.eventlog import open_event_log
from mallbridge_core.settings import CommonOptions
from mallbridge_core.tenants import DEFAULT_LANE, TENANT_ID_PATTERN, Tenant, TenantsFileError
from mallbridge_ingest.adapters.snapshot_files import count_lines, detect_format, read_snapshot_file
from mallbridge_ingest.bootstrap import IngestSettings, build_service, tune_gc, utc_now
from mallbridge_ingest.importer import ImportSummary, import_snapshots
from mallbridge_ingest.metrics import IngestMetrics

EXIT_OK, EXIT_REJECTED, EXIT_FATAL = 0, 1, 2
LANE_PATTERN = r"[a-z0-9_-]{1,32}"  # as the tenants file's own validation


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


async def run_import(
    common: CommonOptions, tenant: Tenant, file: Path, *, fmt: str | None, chunk_size: int
) -> ImportSummary:
    file_format = detect_format(file, fmt)
    total = count_lines(file)
    log = open_event_log(common.log_url, partitions=common.partitions)
    service = build_service(
        settings=IngestSettings(topic_prefix=common.topic_prefix),
        log=log,
        tenants={tenant.tenant_id: tenant},
        metrics=IngestMetrics(),
        clock=utc_now,
    )
    console = Console(stderr=True)
    await log.start()
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            step = progress.add_task("rebuilding known state", total=None)
            await service.prepare([tenant.tenant_id])
            tune_gc(freeze=True)
            progress.update(step, description="state rebuilt", total=1, completed=1)
            task = progress.add_task(f"importing {file.name} (lines)", total=total or None)
            with file.open(encoding="utf-8-sig", newline="") as stream:
                return await import_snapshots(
                    service,
                    tenant.tenant_id,
                    read_snapshot_file(stream, file_format),
                    chunk_size=chunk_size,
                    on_progress=lambda line: progress.update(task, completed=line),
                )
    finally:
        await log.close()


def exit_code(summary: ImportSummary) -> int:
    if summary.aborted:
        return EXIT_FATAL
    return EXIT_REJECTED if summary.rejected else EXIT_OK


def render_summary(summary: ImportSummary, file: Path, tenant_id: str) -> str:
    lines = [
        f"import of {file.name} for tenant {tenant_id}: read {summary.read}, changed {summary.changed}, "
        f"unchanged {summary.unchanged}, rejected {summary.rejected_lines} (events written: {summary.events})"
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
    }
