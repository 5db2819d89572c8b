"""The publisher's composition root: adapters in, a runnable service out. Tests call it with fakes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import uvicorn
from starlette.routing import BaseRoute

from mallbridge_core.eventlog import EventLog
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_publisher.adapters.http_api import create_http_app
from mallbridge_publisher.config import PublisherSettings
from mallbridge_publisher.console.app import ConsoleDeps, console_mount
from mallbridge_publisher.console.session import SessionKeys
from mallbridge_publisher.engine import DOUBT_MARGIN_S, EngineOptions, LaneEngine
from mallbridge_publisher.metrics import PublisherMetrics
from mallbridge_publisher.operator_actions import OperatorActions
from mallbridge_publisher.ports import MallClient
from mallbridge_publisher.tenant_gate import TenantGate

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class PublisherService:
    event_log: EventLog
    engines: list[LaneEngine]
    client: MallClient
    metrics: PublisherMetrics
    settings: PublisherSettings
    console: ConsoleDeps | None = None
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)

    async def readiness(self) -> dict[str, bool]:
        return {
            "event_log": await self.event_log.ping(),
            "consuming": all(engine.ready.is_set() for engine in self.engines),
        }

    async def run(self, *, serve_http: bool = True) -> None:
        """Run until `stop()`; then drain in-flight work and close everything."""
        await self.event_log.start()
        server: uvicorn.Server | None = None
        tasks = [asyncio.create_task(engine.run(self.stop_event)) for engine in self.engines]
        if serve_http:
            app = create_http_app(metrics=self.metrics, readiness=self.readiness, extra_routes=self.console_routes())
            config = uvicorn.Config(
                app, host=self.settings.http_host, port=self.settings.http_port, log_level="warning", lifespan="off"
            )
            server = uvicorn.Server(config)
            tasks.append(asyncio.create_task(server.serve()))
        stopped = asyncio.create_task(self.stop_event.wait())
        failure: BaseException | None = None
        try:
            done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopped and task.exception() is not None:
                    failure = task.exception()  # crash-only: a dead engine must not look healthy
        finally:
            self.stop_event.set()
            if server is not None:
                server.should_exit = True
            results = await asyncio.gather(stopped, *tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                    log.error("publisher component failed", exc_info=result)
            await self.client.close()
            for engine in self.engines:
                engine.orders.close()  # the temporary file of spilled orders
            with contextlib.suppress(Exception):
                await self.event_log.close()
        if failure is not None:
            raise RuntimeError("a publisher component failed; stopping") from failure

    def stop(self) -> None:
        self.stop_event.set()

    def console_routes(self) -> list[BaseRoute]:
        where = f"http://{self.settings.http_host}:{self.settings.http_port}/console"
        if self.console is None:
            log.info("console off: MALLBRIDGE_CONSOLE_TOKEN is not set, so nothing is served under /console")
            return []
        log.info("console on at %s (log in with the operator token)", where)
        return [console_mount(self.console)]


def _console(
    settings: PublisherSettings,
    *,
    event_log: EventLog,
    tenants: Mapping[str, Tenant],
    topic_prefix: str,
    engines: list[LaneEngine],
    gates: Mapping[str, TenantGate],
    clock: Callable[[], datetime],
) -> ConsoleDeps | None:
    """The console's parts, when a token is configured (the same OperatorActions the commands use)."""
    if settings.console_token is None:
        return None
    served = sorted({t for engine in engines for t in engine.tenant_ids})
    return ConsoleDeps(
        keys=SessionKeys(settings.console_token.get_secret_value()),
        books=lambda: [engine.orders for engine in engines],
        tenants=served,
        actions=OperatorActions(log=event_log, tenants=tenants, topic_prefix=topic_prefix, clock=clock),
        clock=clock,
        paused=lambda: sorted(t for t in served if t in gates and gates[t].paused),
        unknown_orders=lambda: [seen for engine in engines for seen in engine.unknown_orders.outstanding()],
    )


def bootstrap(
    *,
    settings: PublisherSettings,
    event_log: EventLog,
    tenants: Mapping[str, Tenant],
    topic_prefix: str,
    client: MallClient,
    clock: Callable[[], datetime] = utc_now,
) -> PublisherService:
    metrics = PublisherMetrics()
    gates = {
        tenant_id: TenantGate(
            tenant_id,
            concurrency=settings.tenant_concurrency,
            metrics=metrics,
            daily_budget=tenant.daily_request_budget,
            pause_probe_s=settings.pause_probe_s,
        )
        for tenant_id, tenant in tenants.items()
    }
    options = EngineOptions(
        group=settings.group,
        backoff_base_s=settings.backoff_base_s,
        backoff_max_s=settings.backoff_max_s,
        revoke_grace_s=settings.shutdown_grace_s,
        operator_tail_interval_s=settings.operator_tail_interval_s,
        mall_page_size=settings.mall_page_size,
        hot_orders=settings.hot_orders,
        doubt_settle_s=settings.read_timeout_s + DOUBT_MARGIN_S,
    )
    engines = [
        LaneEngine(
            log_=event_log,
            topics=Topics(prefix=topic_prefix, lane=lane),
            tenants={t: ten for t, ten in tenants.items() if ten.lane == lane},
            gates=gates,
            client=client,
            metrics=metrics,
            clock=clock,
            options=options,
        )
        for lane in settings.lanes
    ]
    console = _console(
        settings,
        event_log=event_log,
        tenants=tenants,
        topic_prefix=topic_prefix,
        engines=engines,
        gates=gates,
        clock=clock,
    )
    return PublisherService(
        event_log=event_log, engines=engines, client=client, metrics=metrics, settings=settings, console=console
    )
