"""`mallbridge publisher`: consumer, reconciler and MALL client; health and metrics on --http-port.

`PublisherSettings` (env `MALLBRIDGE_PUBLISHER_*`) is the one source of the settings: every option here
defaults to None and overrides only when given.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import click

from mallbridge_core.eventlog import open_event_log
from mallbridge_core.logging_setup import configure_logging
from mallbridge_core.settings import CommonOptions, common_options, setting_option, settings_from
from mallbridge_core.tenants import TenantsFileError, load_tenants
from mallbridge_publisher.adapters.mall_http import mall_client_for
from mallbridge_publisher.bootstrap import PublisherService, bootstrap
from mallbridge_publisher.config import PublisherSettings


def build_service(common: CommonOptions, settings: PublisherSettings) -> PublisherService:
    if not common.tenants_path:
        raise click.UsageError("the publisher needs --tenants (or MALLBRIDGE_TENANTS)")
    try:
        tenants = load_tenants(common.tenants_path)
    except TenantsFileError as exc:
        raise click.UsageError(str(exc)) from None
    client = mall_client_for(settings)
    return bootstrap(
        settings=settings,
        event_log=open_event_log(common.log_url, partitions=common.partitions),
        tenants=tenants,
        topic_prefix=common.topic_prefix,
        client=client,
    )


async def serve(service: PublisherService) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, service.stop)
    await service.run()


@click.command(name="publisher")
@common_options
@setting_option(PublisherSettings, "http_host", "--http-host", help="Address for health, metrics and the console.")
@setting_option(PublisherSettings, "http_port", "--http-port", type=int, help="Port for /healthz, /readyz, /metrics.")
@setting_option(
    PublisherSettings,
    "lanes",
    "--lanes",
    settings_default=",".join(PublisherSettings.model_fields["lanes"].default),
    help="Comma-separated lanes this instance serves.",
)
@setting_option(PublisherSettings, "group", "--group", help="Consumer group of all publishers.")
@setting_option(
    PublisherSettings, "log_level", "--log-level", help="DEBUG, INFO, WARNING or ERROR (else env MALLBRIDGE_LOG_LEVEL)."
)
def publisher(common: CommonOptions, **options: Any) -> None:
    """Project order events into MALL statuses and call the MALL Partner API.

    Every option also comes from the environment: MALLBRIDGE_PUBLISHER_HTTP_HOST, _HTTP_PORT, _LANES,
    _GROUP, _LOG_LEVEL (and the tuning settings without an option, e.g. _TENANT_CONCURRENCY).
    """
    settings = settings_from(PublisherSettings, options)
    configure_logging(settings.log_level)
    asyncio.run(serve(build_service(common, settings)))
