"""`mallbridge run`: ingest and publisher side by side in one process (one machine, or one container).

Its own options come from `RunSettings` (MALLBRIDGE_RUN_*), the shared ones from the core's common settings,
and every other publisher setting from MALLBRIDGE_PUBLISHER_*; an option given on the command line wins.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import click
import uvicorn
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mallbridge_core.eventlog import open_event_log
from mallbridge_core.logging_setup import configure_logging
from mallbridge_core.settings import (
    CommonOptions,
    LogLevel,
    common_options,
    log_level_setting,
    setting_option,
    settings_from,
)
from mallbridge_core.tenants import Tenant, TenantsFileError, load_tenants
from mallbridge_core.topics import DEFAULT_LANE, checked_lanes, lane_list
from mallbridge_ingest.bootstrap import IngestSettings, build_app
from mallbridge_publisher.adapters.mall_http import mall_client_for
from mallbridge_publisher.bootstrap import PublisherService, bootstrap
from mallbridge_publisher.config import PublisherSettings


class RunSettings(BaseSettings):
    """`mallbridge run`'s own options (env MALLBRIDGE_RUN_<NAME>)."""

    model_config = SettingsConfigDict(env_prefix="MALLBRIDGE_RUN_", extra="ignore", frozen=True, populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8081, ge=0, le=65535)
    lanes: str = DEFAULT_LANE
    log_level: LogLevel = log_level_setting("MALLBRIDGE_RUN_")

    @field_validator("lanes")
    @classmethod
    def _lane_names(cls, lanes: str) -> str:
        """Checked here, so a wrong one is named as run's own option and variable (MALLBRIDGE_RUN_LANES)."""
        checked_lanes(lane_list(lanes))
        return lanes

    def lane_names(self) -> tuple[str, ...]:
        return lane_list(self.lanes)


def _tenants(common: CommonOptions) -> dict[str, Tenant]:
    if not common.tenants_path:
        raise click.UsageError("mallbridge run needs --tenants (or MALLBRIDGE_TENANTS)")
    try:
        return load_tenants(common.tenants_path)
    except TenantsFileError as exc:
        raise click.UsageError(str(exc)) from None


def _servers(common: CommonOptions, settings: RunSettings) -> tuple[uvicorn.Server, PublisherService]:
    tenants = _tenants(common)
    ingest_app = build_app(
        settings=IngestSettings.from_common(common),
        log=open_event_log(common.log_url, partitions=common.partitions),
        tenants=tenants,
    )
    config = uvicorn.Config(ingest_app, host=settings.host, port=settings.port, log_config=None, access_log=False)
    publisher_settings = settings_from(
        PublisherSettings,
        {"http_host": settings.http_host, "http_port": settings.http_port, "lanes": settings.lane_names()},
    )
    publisher = bootstrap(
        settings=publisher_settings,
        event_log=open_event_log(common.log_url, partitions=common.partitions),
        tenants=tenants,
        topic_prefix=common.topic_prefix,
        client=mall_client_for(publisher_settings),
    )
    return uvicorn.Server(config), publisher


async def _run_both(common: CommonOptions, settings: RunSettings) -> None:
    server, publisher = _servers(common, settings)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        server.should_exit = True
        publisher.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    ingest_task = asyncio.create_task(server.serve())
    publisher_task = asyncio.create_task(publisher.run())
    done, _ = await asyncio.wait({ingest_task, publisher_task}, return_when=asyncio.FIRST_COMPLETED)
    stop()
    await asyncio.gather(ingest_task, publisher_task, return_exceptions=True)
    for task in done:
        error = task.exception()
        if error is not None:
            raise error


@click.command(name="run")
@common_options
@setting_option(RunSettings, "host", "--host", help="Address of ingest's push API.")
@setting_option(RunSettings, "port", "--port", type=int, help="Port of ingest's push API.")
@setting_option(RunSettings, "http_host", "--http-host", help="Address of the publisher's health, metrics and console.")
@setting_option(RunSettings, "http_port", "--http-port", type=int, help="Publisher health and metrics port.")
@setting_option(RunSettings, "lanes", "--lanes", help="Comma-separated lanes the publisher serves.")
@setting_option(
    RunSettings,
    "log_level",
    "--log-level",
    help="Log level (DEBUG, INFO, WARNING, ERROR; else env MALLBRIDGE_LOG_LEVEL).",
)
def run(common: CommonOptions, **given: Any) -> None:
    """Ingest and publisher in one process."""
    settings = settings_from(RunSettings, given)
    configure_logging(settings.log_level)
    asyncio.run(_run_both(common, settings))
