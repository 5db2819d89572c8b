"""`mallbridge publisher`: consumer, reconciler and MALL client; health and metrics on --http-port."""

from __future__ import annotations

import asyncio
import signal

import click

from mallbridge_core.eventlog import open_event_log
from mallbridge_core.logging_setup import configure_logging
from mallbridge_core.settings import CommonOptions, common_options
from mallbridge_core.tenants import TenantsFileError, load_tenants
from mallbridge_publisher.adapters.mall_http import HttpMallClient
from mallbridge_publisher.bootstrap import PublisherService, bootstrap
from mallbridge_publisher.config import PublisherSettings


def build_service(common: CommonOptions, settings: PublisherSettings) -> PublisherService:
    if not common.tenants_path:
        raise click.UsageError("the publisher needs --tenants (or MALLBRIDGE_TENANTS)")
    try:
        tenants = load_tenants(common.tenants_path)
    except TenantsFileError as exc:
        raise click.UsageError(str(exc)) from None
    client = HttpMallClient(connect_timeout_s=settings.connect_timeout_s, read_timeout_s=settings.read_timeout_s)
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
@click.option("--http-host", default="127.0.0.1", show_default=True, help="Address for health and metrics.")
@click.option("--http-port", default=8081, show_default=True, type=int, help="Port for /healthz, /readyz, /metrics.")
@click.option("--lanes", default="default", show_default=True, help="Comma-separated lanes this instance serves.")
@click.option("--group", default="mallbridge-publisher", show_default=True, help="Consumer group of all publishers.")
@click.option("--log-level", default="INFO", show_default=True)
def publisher(common: CommonOptions, http_host: str, http_port: int, lanes: str, group: str, log_level: str) -> None:
    """Project order events into MALL statuses and call the MALL Partner API."""
    configure_logging(log_level)
    settings = PublisherSettings(
        http_host=http_host,
        http_port=http_port,
        lanes=tuple(lane.strip() for lane in lanes.split(",") if lane.strip()),
        group=group,
    )
    asyncio.run(serve(build_service(common, settings)))
