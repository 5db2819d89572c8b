"""`mallbridge audit`: replay the three topics from offset 0 and report per order and per tenant (ARCHITECTURE.md §4).

The composition root of the audit: it reads the options, opens the event log through the port, takes
the end offsets, feeds the pure report core (and the verifier), and renders. It never writes to the log,
never commits, never calls MALL. Exit code: 0, or 1 when `--verify` found a difference; 2 for bad usage.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mallbridge_audit.assembly import assemble
from mallbridge_audit.export import CSV_TABLES, write_csv, write_json
from mallbridge_audit.model import Report
from mallbridge_audit.parallel import VerifyAt, co_partitioned, default_workers, read_parallel
from mallbridge_audit.reader import Plan, read_log, take_end_offsets
from mallbridge_audit.reader import Progress as ReadProgress
from mallbridge_audit.render import write_table
from mallbridge_audit.report import ReportBuilder
from mallbridge_audit.scope import Scope, parse_moment
from mallbridge_audit.verify import Verifier, merge_results
from mallbridge_core.eventlog import EventLog, LogUnavailableError, missing_embedded_log, open_event_log
from mallbridge_core.gc_tuning import no_cyclic_gc
from mallbridge_core.settings import CommonOptions, common_options
from mallbridge_core.tenants import TenantsFileError, load_tenants
from mallbridge_core.topics import DEFAULT_LANE, LANE_PATTERN, Topics, is_lane_name, lane_list

PROGRESS_MIN_RECORDS = 20_000


def tenant_lanes(path: str) -> dict[str, str]:
    """tenant id → lane, read from the tenants file without resolving any secret (the audit needs none)."""
    try:
        tenants = load_tenants(path, resolve_secrets=False)
    except TenantsFileError as exc:
        raise click.UsageError(str(exc)) from None
    return {tenant_id: tenant.lane for tenant_id, tenant in tenants.items()}


def lanes_to_read(common: CommonOptions, tenants: tuple[str, ...], lanes: str | None) -> list[Topics]:
    """The history of every lane to read (`Topics.history()`: the default lane first, where a tenant moved
    to a lane wrote before): the default lane, the lanes of the tenants file's tenants (only those in
    --tenant when given), and --lanes."""
    names = [DEFAULT_LANE]
    if common.tenants_path:
        names += [
            lane for tenant, lane in tenant_lanes(common.tenants_path).items() if not tenants or tenant in tenants
        ]
    names += _extra_lanes(lanes)
    return list(dict.fromkeys(topics for lane in names for topics in common.topics(lane).history()))


def _extra_lanes(lanes: str | None) -> list[str]:
    names = list(lane_list(lanes or ""))
    for lane in names:
        if not is_lane_name(lane):
            raise click.BadParameter(f"lane {lane!r} must match {LANE_PATTERN}", param_hint="--lanes")
    return names


def _moment(value: str | None, *, name: str, end_of_day: bool = False) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_moment(value, end_of_day=end_of_day)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=name) from None


@contextmanager
def _progress_bar(enabled: bool, total: int) -> Iterator[Callable[[int], None] | None]:
    if not enabled:
        yield None
        return
    progress = Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("replay", total=total)
    with progress:
        yield lambda n: progress.advance(task, n)


def _workers(plan: Plan, *, one_process: bool, asked: int | None) -> int:
    """How many processes read: one when keeping timelines (they are kept for a few orders, from full
    events), else `asked` (when the topics are co-partitioned) or automatic."""
    if one_process:
        return 1
    if asked is None:
        return default_workers(plan, cpus=os.cpu_count())
    return asked if asked <= 1 or co_partitioned(plan) else 1


def _meta(url: str, lanes: list[Topics], plan: Plan, workers: int) -> dict[str, Any]:
    """What was read, for the report's header and `--format json`."""
    return {
        "log": url,
        "lanes": [t.lane for t in lanes],
        "topics": [t for t, _ in plan.topics],
        "end_offsets": {t: {str(p): o for p, o in ends.items()} for t, ends in plan.topics},
        "workers": workers,
    }


async def run_audit(
    common: CommonOptions,
    lanes: list[Topics],
    scope: Scope,
    *,
    verify: bool,
    as_of: datetime | None,
    grace_s: float,
    show_progress: bool | None,
    orders: str = "all",
    workers: int | None = None,
) -> tuple[Report, dict[str, Any]]:
    """Read the log and build the report (used by the command, the tests and the bench).

    `workers`: processes that share the partitions (None: automatic, see parallel.py).
    """
    if (problem := missing_embedded_log(common.log_url)) is not None:
        raise LogUnavailableError(problem)
    log = open_event_log(common.log_url, partitions=common.partitions)
    await log.start()
    try:
        plan = await take_end_offsets(log, lanes)
        started = datetime.now(UTC)
        workers = _workers(plan, one_process=bool(scope.orders), asked=workers)
        moment = as_of or started
        at = VerifyAt(moment, grace_s) if verify else None
        enabled = sys.stderr.isatty() and plan.total >= PROGRESS_MIN_RECORDS if show_progress is None else show_progress
        parts, report = None, None
        with _progress_bar(enabled, plan.total) as progress:
            if workers > 1:
                parts = await read_parallel(
                    common.log_url,
                    common.partitions,
                    plan,
                    scope,
                    workers=workers,
                    orders=orders,
                    verify=at,
                    progress=progress,
                )
            if parts is None:  # one process asked for, or the workers found an order split between them
                with no_cyclic_gc():  # (the fold's state is dropped when _in_one_process returns)
                    report = await _in_one_process(
                        log, plan, scope, as_of=moment, verify=at, orders=orders, progress=progress
                    )
                workers = 1
        meta = _meta(log.url, lanes, plan, workers)
        if parts is not None:
            shares = [p.verify for p in parts if p.verify is not None]
            return assemble(parts, scope=scope, as_of=moment, verify=merge_results(shares) if verify else None), meta
        assert report is not None
        return report, meta
    finally:
        await log.close()


async def _in_one_process(
    log: EventLog,
    plan: Plan,
    scope: Scope,
    *,
    as_of: datetime,
    verify: VerifyAt | None,
    orders: str,
    progress: ReadProgress | None,
) -> Report:
    """The whole log read and reported here (the workers' `parallel._work`, for all partitions at once)."""
    builder = ReportBuilder(scope)
    verifier = Verifier(scope) if verify is not None else None
    await read_log(log, plan, builder, verifier=verifier, progress=progress)
    result = verifier.finish(as_of=verify.as_of, grace_s=verify.grace_s) if verifier and verify else None
    return builder.finish(as_of=as_of, verify=result, orders=orders)


@click.command(name="audit")
@click.option("--tenant", "tenants", multiple=True, help="Only this tenant (repeatable).")
@click.option("--order", "orders", multiple=True, help="Only this order number (repeatable); shows its timeline.")
@click.option("--since", help="Orders that reached open at or after this date/time (ISO; Prague time if naive).")
@click.option("--until", help="Orders that reached open before this date/time (a date alone: through that day).")
@click.option("--lanes", help="Extra lanes to read, comma-separated (the default lane is always read).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option(
    "--csv-table",
    type=click.Choice(CSV_TABLES),
    default="orders",
    show_default=True,
    help="Which table --format csv writes (timeline needs --order; findings needs --verify).",
)
@click.option("--all-orders", is_flag=True, help="Table format: list every order, not only those that need a look.")
@click.option("--verify", is_flag=True, help="Re-run the reconciler, compare with the recorded PUTs; exit 1 if not.")
@click.option("--as-of", help="The moment 'now' for --verify's end check (ISO; default: when the audit started).")
@click.option(
    "--grace",
    "grace_s",
    type=float,
    default=600.0,
    show_default=True,
    help="Seconds a due PUT or an open request may be young before --verify calls it a difference.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=None,
    help="Processes sharing the partitions of a long replay (default: one per CPU, up to 4, from 200,000 records).",
)
@click.option(
    "--progress/--no-progress",
    "show_progress",
    default=None,
    help="Progress bar on stderr (default: when stderr is a terminal and the replay is long).",
)
@common_options
def audit(
    common: CommonOptions,
    tenants: tuple[str, ...],
    orders: tuple[str, ...],
    since: str | None,
    until: str | None,
    lanes: str | None,
    fmt: str,
    csv_table: str,
    all_orders: bool,
    verify: bool,
    as_of: str | None,
    grace_s: float,
    show_progress: bool | None,
    workers: int | None,
) -> None:
    """Replay every topic from offset 0 and report per order and per tenant (MALL's SLA figures)."""
    scope = Scope(
        tenants=frozenset(tenants),
        orders=frozenset(orders),
        since=_moment(since, name="--since"),
        until=_moment(until, name="--until", end_of_day=True),
    )
    if fmt == "csv" and csv_table == "timeline" and not orders:
        raise click.UsageError("--csv-table timeline needs --order (timelines are kept only for named orders)")
    if fmt == "csv" and csv_table == "findings" and not verify:
        raise click.UsageError("--csv-table findings needs --verify (the findings are what --verify finds)")
    moment = _moment(as_of, name="--as-of")
    topics = lanes_to_read(common, tenants, lanes)
    # The table lists only the orders that need a look unless asked for all; JSON and CSV list every order.
    listed = "flagged" if fmt == "table" and not (all_orders or orders) else "all"
    report, meta = asyncio.run(
        run_audit(
            common,
            topics,
            scope,
            verify=verify,
            as_of=moment,
            grace_s=grace_s,
            show_progress=show_progress,
            orders=listed,
            workers=workers,
        )
    )
    _write(report, meta, fmt=fmt, csv_table=csv_table, all_orders=all_orders)
    for note in unmatched(report, tenants=tenants, orders=orders):
        click.echo(f"Note: {note}", err=True)
    if report.verify is not None and not report.verify.clean:
        sys.exit(1)


def unmatched(report: Report, *, tenants: tuple[str, ...], orders: tuple[str, ...]) -> list[str]:
    """The --tenant and --order values no event in the log matched (a typo reads as "all is well")."""
    seen_tenants = {t.tenant_id for t in report.tenants}
    seen_orders = {o.order_number for o in report.orders} | {order for _, order in report.timelines}
    window = " and --since/--until" if report.since or report.until else ""
    notes = [
        f"no order of tenant {t!r} in this report (check the name{window})" for t in tenants if t not in seen_tenants
    ]
    notes += [f"no order {o!r} in this report (check the number{window})" for o in orders if o not in seen_orders]
    return notes


def _write(report: Report, meta: dict[str, Any], *, fmt: str, csv_table: str, all_orders: bool) -> None:
    out = sys.stdout
    if fmt == "json":
        write_json(report, out, meta=meta)
    elif fmt == "csv":
        write_csv(report, out, table=csv_table)
    else:
        # Piped or captured output gets a wide page rather than rich's 80 columns, so rows stay one line.
        width = None if out.isatty() else 180
        write_table(report, Console(file=out, width=width), meta=meta, all_orders=all_orders)
