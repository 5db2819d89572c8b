"""`mallbridge order return|resync|ack`: a person's decision about one order, recorded in the log (ARCHITECTURE.md §7).

Each command folds the order's history from the log, decides, and writes one operator event to the
tenant's lane (operator-events.v1) with who (`--by`, default the OS user) and why, then prints what it
recorded. Exit codes: 0 recorded; 1 refused (the reason is printed, nothing is recorded); 2 could not run
(the log is unreachable, the tenants file is missing or wrong: one `Error:` line).
"""

from __future__ import annotations

import asyncio
import getpass
import json
from datetime import UTC, datetime

import click

from mallbridge_core.eventlog import LogUnavailableError, LogUrlError, missing_embedded_log, open_event_log
from mallbridge_core.settings import CommonOptions, common_options
from mallbridge_core.tenants import Tenant, TenantsFileError, load_tenants
from mallbridge_publisher.operator_actions import (
    ActionInputError,
    ActionRequest,
    OperatorActions,
    Recorded,
    Refused,
    action_request,
)
from mallbridge_schema.events import AttentionAcknowledged


class CouldNotRun(click.ClickException):
    """Exit status 2 with one `Error:` line: the command could not decide anything."""

    exit_code = 2


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment nor in the password database
        raise click.UsageError("--by is needed: the OS user name is not known here") from None


def _tenants(common: CommonOptions) -> dict[str, Tenant]:
    if not common.tenants_path:
        raise CouldNotRun("--tenants (or MALLBRIDGE_TENANTS) is needed: the tenants file names each tenant's lane")
    try:
        return load_tenants(common.tenants_path, resolve_secrets=False)
    except TenantsFileError as exc:
        raise CouldNotRun(str(exc)) from None


def _check_log_url(url: str) -> None:
    if (problem := missing_embedded_log(url)) is not None:
        raise CouldNotRun(problem)


async def _perform(common: CommonOptions, tenants: dict[str, Tenant], request: ActionRequest) -> Recorded | Refused:
    try:
        log = open_event_log(common.log_url, partitions=common.partitions)
    except LogUrlError as exc:
        raise CouldNotRun(str(exc)) from None
    try:
        await log.start()
        actions = OperatorActions(log=log, tenants=tenants, topic_prefix=common.topic_prefix, clock=_utc_now)
        return await actions.perform(request)
    except LogUnavailableError as exc:
        raise CouldNotRun(f"the event log could not be read or written ({exc}); nothing was recorded") from None
    finally:
        await log.close()


def _report(outcome: Recorded) -> None:
    event = outcome.event
    what = type(event).__name__
    if isinstance(event, AttentionAcknowledged):
        what += f" [{event.code}]"
    click.echo(f"Recorded {what} for {event.tenant_id} order {event.order_number} (MALL {event.mall_order_id})")
    click.echo(f"  by {event.by}" + (f": {json.dumps(event.reason, ensure_ascii=False)}" if event.reason else ""))
    click.echo(f"  event {event.event_id} on {outcome.topic} at {event.recorded_at.isoformat(timespec='seconds')}")
    click.echo(f"  {outcome.next}")


def run_action(common: CommonOptions, kind: str, *, tenant: str, order: str, by: str | None, reason: str) -> None:
    """The body of each subcommand: check, perform, report, exit 0/1/2."""
    try:
        who = _os_user() if by is None else by  # a --by given empty is refused, not taken as the OS user
        request = action_request(kind, tenant_id=tenant, order_number=order, by=who, reason=reason)
    except ActionInputError as exc:
        raise click.UsageError(str(exc)) from None
    _check_log_url(common.log_url)
    tenants = _tenants(common)
    outcome = asyncio.run(_perform(common, tenants, request))
    if isinstance(outcome, Refused):
        click.echo(f"Refused: {outcome.reason}. Nothing was recorded.", err=True)
        raise SystemExit(1)
    _report(outcome)


_TENANT = click.option("--tenant", required=True, help="The tenant (as in the tenants file).")
_ORDER = click.option("--order", "order_number", required=True, help="The FastCentrik order number.")
_BY = click.option("--by", default=None, help="Who decides [default: the OS user].")


@click.group(name="order")
def order() -> None:
    """Operator actions on one order (return, resync, ack), recorded in the log with who and why."""


@order.command(name="return")
@common_options
@_TENANT
@_ORDER
@click.option("--reason", default="", help="Why (e.g. the parcel came back uncollected).")
@_BY
def return_(common: CommonOptions, tenant: str, order_number: str, reason: str, by: str | None) -> None:
    """Mark a shipped order returned at MALL: PUT {"status": "returned"} once (not for MALL Delivery orders)."""
    run_action(common, "return", tenant=tenant, order=order_number, by=by, reason=reason)


@order.command(name="resync")
@common_options
@_TENANT
@_ORDER
@click.option("--reason", default="", help="Why.")
@_BY
def resync(common: CommonOptions, tenant: str, order_number: str, reason: str, by: str | None) -> None:
    """Read MALL's state of the order now and plan again."""
    run_action(common, "resync", tenant=tenant, order=order_number, by=by, reason=reason)


@order.command(name="ack")
@common_options
@_TENANT
@_ORDER
@click.option("--note", default="", help="What was done about it.")
@_BY
def ack(common: CommonOptions, tenant: str, order_number: str, note: str, by: str | None) -> None:
    """Acknowledge the order's attention item: it leaves the open list until a new one is raised."""
    run_action(common, "ack", tenant=tenant, order=order_number, by=by, reason=note)
