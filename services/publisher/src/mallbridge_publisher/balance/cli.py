"""`mallbridge balance [--tenant T] [--format table|json]`: MALL's side against the log (ARCHITECTURE.md §6).

Exit codes: 0 in balance; 1 drift found (each listed; status drifts recorded for the publisher); 2 could
not run (MALL unreachable or refusing the client_id, the log unreachable, the tenants file missing or
wrong: one `Error:` line, nothing recorded).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from mallbridge_core.eventlog import LogUnavailableError, LogUrlError, missing_embedded_log, open_event_log
from mallbridge_core.settings import CommonOptions, common_options, explain_settings_error
from mallbridge_core.tenants import Tenant, TenantsFileError, load_tenants
from mallbridge_publisher.adapters.mall_http import mall_client_for
from mallbridge_publisher.balance.mall_view import BalanceCannotRun
from mallbridge_publisher.balance.render import render_json, render_table
from mallbridge_publisher.balance.run import BalanceReport, BalanceRun, ProgressHooks
from mallbridge_publisher.config import PublisherSettings

EXIT_DRIFT = 1


class CouldNotRun(click.ClickException):
    """Exit status 2 with one `Error:` line."""

    exit_code = 2


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _tenants_in_scope(common: CommonOptions, tenant_id: str | None) -> list[Tenant]:
    if not common.tenants_path:
        raise CouldNotRun("--tenants (or MALLBRIDGE_TENANTS) is needed: it names each tenant's MALL account")
    try:
        tenants = load_tenants(common.tenants_path)
    except TenantsFileError as exc:
        raise CouldNotRun(str(exc)) from None
    if tenant_id is not None:
        if tenant_id not in tenants:
            raise CouldNotRun(f"no tenant {tenant_id!r} in the tenants file (there: {', '.join(sorted(tenants))})")
        tenants = {tenant_id: tenants[tenant_id]}
    missing = [t for t, tenant in tenants.items() if tenant.mall_client_id is None]
    if missing:
        raise CouldNotRun(f"tenant(s) {', '.join(missing)}: no mall_client_id in the tenants file; MALL cannot be read")
    return list(tenants.values())


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressHooks]:
    """A bar per tenant on stderr while MALL is listed (and the unknown orders read); off when not a TTY."""
    if not enabled:
        yield ProgressHooks()
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    tasks: dict[tuple[str, str], TaskID] = {}

    def update(kind: str, tenant: str, done: int, total: int) -> None:
        key = (kind, tenant)
        if key not in tasks:
            tasks[key] = bar.add_task(f"{tenant}: {kind}", total=total)
        bar.update(tasks[key], completed=done, total=total)

    with bar:
        yield ProgressHooks(
            pages=lambda t, done, total: update("MALL pages", t, done, total),
            details=lambda t, done, total: update("unknown orders read", t, done, total),
        )


def _publisher_settings() -> PublisherSettings:
    """The MALL settings balance shares with the publisher (MALLBRIDGE_PUBLISHER_*: the page size, the
    timeouts and the transport its requests go over), every variable checked."""
    try:
        return PublisherSettings()
    except ValidationError as exc:
        raise CouldNotRun(explain_settings_error(PublisherSettings, exc)) from None


def _check_log_url(url: str) -> None:
    if (problem := missing_embedded_log(url)) is not None:
        raise CouldNotRun(problem)


async def _run(
    common: CommonOptions, tenants: list[Tenant], settings: PublisherSettings, page_size: int, hooks: ProgressHooks
) -> BalanceReport:
    url = common.log_url
    try:
        log = open_event_log(url, partitions=common.partitions)
    except LogUrlError as exc:
        raise CouldNotRun(str(exc)) from None
    client = mall_client_for(settings)
    try:
        await log.start()
        run = BalanceRun(log, client, common.topic_prefix, _utc_now, page_size=page_size, hooks=hooks)
        return await run(tenants)
    except LogUnavailableError as exc:
        raise CouldNotRun(f"the event log could not be read or written ({exc}); nothing was recorded") from None
    except BalanceCannotRun as exc:
        raise CouldNotRun(f"{exc}; nothing was recorded") from None
    finally:
        await client.close()
        await log.close()


@click.command(name="balance")
@common_options
@click.option("--tenant", "tenant_id", default=None, help="Only this tenant [default: every tenant of the file].")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--page-size",
    type=click.IntRange(100, 1000),
    default=None,
    help="Orders per MALL list page [default: MALLBRIDGE_PUBLISHER_MALL_PAGE_SIZE, 1000].",
)
@click.option("--progress/--no-progress", default=None, help="A progress bar on stderr [default: when it is a TTY].")
def balance(
    common: CommonOptions, tenant_id: str | None, fmt: str, page_size: int | None, progress: bool | None
) -> None:
    """Compare MALL's non-final orders with the log; record and list the drift (exit 0 none, 1 drift, 2 error)."""
    tenants = _tenants_in_scope(common, tenant_id)
    _check_log_url(common.log_url)
    settings = _publisher_settings()
    size = settings.mall_page_size if page_size is None else page_size
    with _progress(sys.stderr.isatty() if progress is None else progress) as hooks:
        report = asyncio.run(_run(common, tenants, settings, size, hooks))
    click.echo(render_json(report) if fmt == "json" else render_table(report))
    if not report.in_balance:
        sys.exit(EXIT_DRIFT)
