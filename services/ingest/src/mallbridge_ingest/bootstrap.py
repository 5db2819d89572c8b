"""The composition root: settings + an EventLog + tenants → a ready-to-serve ingest app (or service).

Nothing else builds ingest's objects; tests call the same functions with their own log and clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from mallbridge_core.backoff import Backoff
from mallbridge_core.eventlog.port import EventLog, LogUnavailableError
from mallbridge_core.gc_tuning import tune_gc
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_ingest.adapters.export_mapping import CsvExportMapping, MappingError, load_mapping
from mallbridge_ingest.adapters.export_poller import FETCH_DEADLINE_READS, ExportPoller
from mallbridge_ingest.adapters.http_app import create_app
from mallbridge_ingest.adapters.http_push import PushHandler
from mallbridge_ingest.adapters.http_webhook import WebhookHandler, WebhookMetrics, add_webhook_route
from mallbridge_ingest.adapters.rate_limit import PushRateLimits
from mallbridge_ingest.adapters.redaction import install_url_redaction
from mallbridge_ingest.adapters.replay import ReplayCache
from mallbridge_ingest.config import IngestSettings
from mallbridge_ingest.mall_webhook import MallWebhookInbox
from mallbridge_ingest.metrics import IngestMetrics
from mallbridge_ingest.service import IngestService

__all__ = ["ConfigError", "IngestSettings", "Runtime", "build_app", "build_service", "tune_gc", "utc_now"]

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


class ConfigError(ValueError):
    """Configuration ingest cannot start with (messages never contain secrets)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def export_mappings(tenants: Mapping[str, Tenant]) -> dict[str, CsvExportMapping]:
    """The export mapping of every tenant with an export URL; refuses unusable configuration up front."""
    mappings: dict[str, CsvExportMapping] = {}
    for tenant in tenants.values():
        if tenant.export_url is None:
            continue
        if not tenant.export_url.get_secret_value().startswith(("http://", "https://")):
            raise ConfigError(f"tenant {tenant.tenant_id}: export_url must be an http:// or https:// URL")
        try:
            mappings[tenant.tenant_id] = load_mapping(tenant.export_mapping)
        except MappingError as exc:
            raise ConfigError(f"tenant {tenant.tenant_id}: {exc}") from None
    return mappings


def build_service(
    *, settings: IngestSettings, log: EventLog, tenants: Mapping[str, Tenant], metrics: IngestMetrics, clock: Clock
) -> IngestService:
    return IngestService(
        log=log,
        tenants=tenants,
        topics=Topics(prefix=settings.topic_prefix),
        metrics=metrics,
        clock=clock,
        hot_orders=settings.hot_orders,
    )


@dataclass
class Runtime:
    """What the app does around serving: open the log, rebuild the state (retrying until the log answers),
    then run the export pollers; on shutdown stop them, close the log and remove the temporary files."""

    settings: IngestSettings
    service: IngestService
    log: EventLog
    metrics: IngestMetrics
    mappings: Mapping[str, CsvExportMapping]
    replays: ReplayCache

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        try:
            await self.log.start()
        except LogUnavailableError as exc:
            # Served all the same (health, 503s): the rebuild below retries until the log can be opened,
            # on the embedded engine as on Kafka (whose start connects lazily anyway).
            log.warning("the event log cannot be opened yet; retrying", extra={"error": str(exc)})
        install_url_redaction()
        client = httpx.AsyncClient(
            timeout=self.settings.export_timeout_s,
            follow_redirects=True,
            headers={"User-Agent": "mallbridge-ingest"},
        )
        poller = ExportPoller(
            self.service,
            self.metrics,
            client,
            self.mappings,
            self.settings.export_max_bytes,
            fetch_deadline_s=self.settings.export_timeout_s * FETCH_DEADLINE_READS,
        )
        app.state.poller = poller
        task = asyncio.create_task(self._prepare_then_poll(poller), name="ingest-prepare")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await client.aclose()
            await self.log.close()
            self.service.close()
            self.replays.close()

    async def _prepare_then_poll(self, poller: ExportPoller) -> None:
        await self._prepare()
        if self.settings.tune_gc:
            tune_gc(freeze=True)
        tenants = self.service.tenants
        polled = [tenants[t] for t in self.mappings] if self.settings.run_pollers else []
        await asyncio.gather(*(poller.run_forever(t) for t in polled))

    async def _prepare(self) -> None:
        backoff = Backoff(base_s=0.5, cap_s=self.settings.retry_max_s)
        while True:
            try:
                report = await self.service.prepare()
            except Exception as exc:
                delay = backoff.next_delay()
                log.warning(
                    "cannot rebuild state yet; retrying",
                    extra={"error": f"{type(exc).__name__}: {exc}", "retry_in_s": round(delay, 2)},
                )
                await asyncio.sleep(delay)
                continue
            log.info(
                "state rebuilt",
                extra={
                    "topics": list(report.topics),
                    "events": report.events,
                    "orders": report.orders,
                    "undecodable": report.undecodable,
                    "seconds": round(report.seconds, 3),
                },
            )
            return


def build_app(
    *,
    settings: IngestSettings,
    log: EventLog,
    tenants: Mapping[str, Tenant],
    clock: Clock = utc_now,
    metrics: IngestMetrics | None = None,
) -> FastAPI:
    """The ingest HTTP app. It owns `log`: its lifespan starts and closes it."""
    metrics = metrics or IngestMetrics()
    mappings = export_mappings(tenants)
    service = build_service(settings=settings, log=log, tenants=tenants, metrics=metrics, clock=clock)
    replays = ReplayCache(per_tenant=settings.replay_cache_per_tenant, window_s=settings.signature_window_s)
    handler = PushHandler(
        service=service,
        tenants=tenants,
        metrics=metrics,
        clock=clock,
        limits=PushRateLimits(
            {t: settings.push_rate_of(t) for t in tenants}, burst=settings.push_burst, clock=time.monotonic
        ),
        replays=replays,
        max_body_bytes=settings.max_body_bytes,
        max_orders=settings.max_orders,
        signature_window_s=settings.signature_window_s,
    )
    runtime = Runtime(settings, service, log, metrics, mappings, replays)
    app = create_app(handler=handler, service=service, log=log, metrics=metrics, lifespan=runtime.lifespan)
    webhook = WebhookHandler(
        MallWebhookInbox(service), tenants, WebhookMetrics(metrics.registry), max_body_bytes=settings.max_body_bytes
    )
    add_webhook_route(app, webhook)
    app.state.service = service
    app.state.metrics = metrics
    return app
