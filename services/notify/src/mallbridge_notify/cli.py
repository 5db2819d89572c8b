"""`mallbridge notify` (attention alerts to a person) and `mallbridge asyncapi` (the topics' contract)."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Mapping
from typing import Any

import click

from mallbridge_core.eventlog import open_event_log
from mallbridge_core.logging_setup import configure_logging
from mallbridge_core.settings import CommonOptions, common_options, setting_option, settings_from
from mallbridge_core.signals import exit_zero_on_sigterm
from mallbridge_core.tenants import Tenant, TenantsFileError, load_tenants
from mallbridge_notify.adapters.smtp import SmtpSender
from mallbridge_notify.adapters.webhook import WebhookSender
from mallbridge_notify.bootstrap import NotifyConfigError, NotifyService, check_email_settings
from mallbridge_notify.config import NotifySettings, SmtpSettings
from mallbridge_notify.domain.alerts import Channel
from mallbridge_notify.ports import Sender


def _tenants(common: CommonOptions) -> dict[str, Tenant]:
    if not common.tenants_path:
        raise click.UsageError("mallbridge notify needs --tenants (or MALLBRIDGE_TENANTS)")
    try:
        return load_tenants(common.tenants_path)
    except TenantsFileError as exc:
        raise click.UsageError(str(exc)) from None


def build_service(common: CommonOptions, settings: NotifySettings, smtp: SmtpSettings) -> NotifyService:
    tenants = _tenants(common)
    try:
        check_email_settings(tenants, smtp)
    except NotifyConfigError as exc:
        raise click.UsageError(str(exc)) from None
    senders: Mapping[Channel, Sender] = {
        "webhook": WebhookSender(timeout_s=settings.webhook_timeout_s),
        "email": SmtpSender(smtp),
    }
    lanes = settings.lane_names() or tuple(sorted({tenant.lane for tenant in tenants.values()}))
    return NotifyService(
        event_log=open_event_log(common.log_url, partitions=common.partitions),
        settings=settings,
        tenants=tenants,
        senders=senders,
        topic_prefix=common.topic_prefix,
        lanes=lanes,
        partitions=common.partitions,
    )


async def serve(service: NotifyService) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, service.stop)
    await service.run()


@click.command(name="notify")
@common_options
@setting_option(NotifySettings, "http_host", "--http-host", help="Address for /healthz, /readyz, /metrics.")
@setting_option(NotifySettings, "http_port", "--http-port", type=int, help="Port for /healthz, /readyz, /metrics.")
@setting_option(NotifySettings, "lanes", "--lanes", help="Comma-separated lanes to watch (default: the tenants').")
@setting_option(
    NotifySettings, "group", "--group", help="Consumer group (lane x: GROUP.x; operator-events: GROUP.LANE.operator)."
)
@setting_option(NotifySettings, "console_base_url", "--console-base-url", help="Console address in the alerts.")
@setting_option(
    NotifySettings,
    "log_level",
    "--log-level",
    help="Log level (DEBUG, INFO, WARNING, ERROR; else env MALLBRIDGE_LOG_LEVEL).",
)
def notify(common: CommonOptions, **given: Any) -> None:
    """Push attention items to each tenant's webhook and e-mail."""
    settings = settings_from(NotifySettings, given)
    smtp = settings_from(SmtpSettings, {})
    configure_logging(settings.log_level)
    exit_zero_on_sigterm()
    asyncio.run(serve(build_service(common, settings, smtp)))


@click.command(name="asyncapi")
@click.option("--yaml", "as_yaml", is_flag=True, help="YAML instead of JSON.")
def asyncapi(as_yaml: bool) -> None:
    """Print the AsyncAPI 3.0 document of every topic mallbridge writes."""
    from mallbridge_notify.asyncapi import asyncapi_document, asyncapi_yaml

    if as_yaml:
        click.echo(asyncapi_yaml(), nl=False)  # YAML ends in a line break of its own
    else:
        click.echo(json.dumps(asyncapi_document(), indent=2, ensure_ascii=False))
