"""`mallbridge ingest` (serve the push API and run the export pollers) and `mallbridge ingest import`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import uvicorn

from mallbridge_core.eventlog import open_event_log
from mallbridge_core.logging_setup import configure_logging
from mallbridge_core.settings import CommonOptions, common_options
from mallbridge_core.signals import exit_zero_on_sigterm
from mallbridge_core.tenants import TenantsFileError, load_tenants
from mallbridge_ingest.adapters.snapshot_files import FORMATS, SnapshotFileError, count_lines, detect_format
from mallbridge_ingest.bootstrap import ConfigError, build_app
from mallbridge_ingest.config import IngestSettings
from mallbridge_ingest.imports.command import (
    EXIT_FATAL,
    MAX_AUTO_WORKERS,
    PARALLEL_FROM_LINES,
    check_readable,
    exit_code,
    render_summary,
    resolve_workers,
    run_import,
    summary_dict,
    tenant_for_import,
)
from mallbridge_ingest.imports.worker import ImportJob


def _workers(requested: int | None, lines: int, log_url: str) -> int:
    try:
        return resolve_workers(requested, lines=lines, log_url=log_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--workers") from None


def _tenants_path(common: CommonOptions) -> str:
    if not common.tenants_path:
        raise click.UsageError("the tenants file is required: --tenants PATH or MALLBRIDGE_TENANTS")
    return common.tenants_path


@click.group(name="ingest", invoke_without_command=True)
@click.option("--host", default=None, help="Address the push API listens on [env MALLBRIDGE_INGEST_HOST; 127.0.0.1].")
@click.option("--port", default=None, type=int, help="Port of the push API [env MALLBRIDGE_INGEST_PORT; 8080].")
@click.option(
    "--poll/--no-poll",
    "run_pollers",
    default=None,
    help="Run the export-URL pollers [env MALLBRIDGE_INGEST_RUN_POLLERS; on].",
)
@click.option(
    "--log-level",
    default=None,
    help="DEBUG, INFO, WARNING or ERROR [env MALLBRIDGE_INGEST_LOG_LEVEL or MALLBRIDGE_LOG_LEVEL; INFO].",
)
@common_options
@click.pass_context
def ingest(
    ctx: click.Context,
    common: CommonOptions,
    host: str | None,
    port: int | None,
    run_pollers: bool | None,
    log_level: str | None,
) -> None:
    """Serve the push API (POST /v1/tenants/{tenant}/orders) and poll export URLs: snapshots in, events out.

    Further settings come from the environment (MALLBRIDGE_INGEST_*, see the ingest README); an option
    given here wins over its variable."""
    if ctx.invoked_subcommand is not None:
        return
    # A bad option or variable is a usage error (exit 2) naming both, as in the other services.
    settings = IngestSettings.from_command_line(
        common, host=host, port=port, run_pollers=run_pollers, log_level=log_level
    )
    configure_logging(settings.log_level)
    try:
        app = build_app(
            settings=settings,
            log=open_event_log(common.log_url, partitions=common.partitions),
            tenants=load_tenants(_tenants_path(common)),
        )
    except (TenantsFileError, ConfigError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    exit_zero_on_sigterm()
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False, lifespan="on")


@ingest.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", "tenant_id", required=True, help="Tenant the snapshots belong to.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="Default: from the file name.")
@click.option("--chunk-size", default=500, show_default=True, type=click.IntRange(1, 10_000))
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes, each importing its share of the orders. "
    f"Default: one per core (at most {MAX_AUTO_WORKERS}) for files of {PARALLEL_FROM_LINES:,} lines or more "
    "on Kafka, else 1.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@common_options
def import_command(
    common: CommonOptions,
    file: Path,
    tenant_id: str,
    fmt: str | None,
    chunk_size: int,
    workers: int | None,
    as_json: bool,
) -> None:
    """Import a JSON Lines or CSV snapshot file: valid lines are written, invalid ones reported (exit 1)."""
    configure_logging("WARNING")
    # the workers read MALLBRIDGE_INGEST_* too: a bad one is a usage error here, before anything starts
    IngestSettings.from_command_line(common, hot_orders=0)
    try:
        tenant = tenant_for_import(_tenants_path(common), tenant_id)
        file_format = detect_format(file, fmt)
        check_readable(file, file_format)
        total = count_lines(file)
        job = ImportJob(
            log_url=common.log_url,
            partitions=common.partitions,
            topic_prefix=common.topic_prefix,
            tenant=tenant,
            file=file,
            file_format=file_format,
            chunk_size=chunk_size,
            shards=_workers(workers, total, common.log_url),
        )
        summary = run_import(job, total_lines=total)
    except (TenantsFileError, SnapshotFileError, OSError, UnicodeDecodeError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_FATAL)
    click.echo(
        json.dumps(summary_dict(summary, file, tenant_id), ensure_ascii=False)
        if as_json
        else render_summary(summary, file, tenant_id)
    )
    sys.exit(exit_code(summary))
