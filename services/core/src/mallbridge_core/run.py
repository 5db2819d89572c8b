"""`mallbridge run`: ingest and publisher side by side in one process (one machine, or one container)."""

from __future__ import annotations

import asyncio
import signal

import click

from mallbridge_core.logging_setup import configure_logging
from mallbridge_core.settings import CommonOptions, common_options


async def _run_both(common: CommonOptions, host: str, port: int, http_port: int, lanes: tuple[str, ...]) -> None:
    import uvicorn

    from mallbridge_core.eventlog import open_event_log
    from mallbridge_core.tenants import load_tenants
    from mallbridge_ingest.bootstrap import IngestSettings, build_app
    from mallbridge_publisher.adapters.mall_http import HttpMallClient
    from mallbridge_publisher.bootstrap import bootstrap
    from mallbridge_publisher.config import PublisherSettings

    if not common.tenants_path:
        raise click.UsageError("mallbridge run needs --tenants (or MALLBRIDGE_TENANTS)")
    tenants = load_tenants(common.tenants_path)
    ingest_app = build_app(
        settings=IngestSettings.from_common(common),
        log=open_event_log(common.log_url, partitions=common.partitions),
        tenants=tenants,
    )
    server = uvicorn.Server(uvicorn.Config(ingest_app, host=host, port=port, log_config=None, access_log=False))
    publisher = bootstrap(
        settings=PublisherSettings(http_port=http_port, lanes=lanes),
        event_log=open_event_log(common.log_url, partitions=common.partitions),
        tenants=tenants,
        topic_prefix=common.topic_prefix,
        client=HttpMallClient(),
    )
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
        if task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


@click.command(name="run")
@common_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of ingest's push API.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port of ingest's push API.")
@click.option("--http-port", default=8081, show_default=True, type=int, help="Publisher health and metrics port.")
@click.option("--lanes", default="default", show_default=True, help="Comma-separated lanes the publisher serves.")
@click.option("--log-level", default="INFO", show_default=True)
def run(common: CommonOptions, host: str, port: int, http_port: int, lanes: str, log_level: str) -> None:
    """Ingest and publisher in one process."""
    configure_logging(log_level)
    asyncio.run(_run_both(common, host, port, http_port, tuple(x.strip() for x in lanes.split(",") if x.strip())))
