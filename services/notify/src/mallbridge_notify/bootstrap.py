"""The notifier's composition root: adapters in, a runnable service out. Tests call it with fakes.

Start-up order (each step before the next): the ledger's topic and the lanes' sync-events and
operator-events exist; the ledger is rebuilt (owed alerts are handed to their workers, delivered ids are
known); only then do the consumers start, so no record is handled before the notifier knows what it
already sent. Ready (`/readyz`) means every consumer, of either topic of every lane, has its partitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import uvicorn

from mallbridge_core.backoff import Backoff
from mallbridge_core.eventlog import EventLog
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_notify.adapters.http_api import create_http_app
from mallbridge_notify.adapters.ledger_log import LedgerLog
from mallbridge_notify.config import NotifySettings, SmtpSettings
from mallbridge_notify.delivery import Deliveries
from mallbridge_notify.domain.alerts import Channel
from mallbridge_notify.domain.ledger import LEDGER_TOPIC, LedgerState
from mallbridge_notify.domain.records import read_operator_record, read_sync_record
from mallbridge_notify.entrypoints.kafka_app import build_kafka_app, ensure_compacted, lane_group, operator_group
from mallbridge_notify.entrypoints.log_subscription import LogSubscriptionConsumer
from mallbridge_notify.metrics import NotifyMetrics
from mallbridge_notify.notifier import Notifier
from mallbridge_notify.ports import Sender
from mallbridge_schema.serde import OPERATOR_EVENTS_TOPIC, SYNC_EVENTS_TOPIC, topic_name

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Assignable(Protocol):
    """A consumer that knows whether it has been given its partitions (readiness)."""

    assigned: bool


class NotifyConfigError(ValueError):
    """The tenants file asks for a channel the environment does not configure."""


def check_email_settings(tenants: Mapping[str, Tenant], smtp: SmtpSettings) -> None:
    wanting = sorted(t.tenant_id for t in tenants.values() if t.notify_email)
    if wanting and not smtp.host:
        raise NotifyConfigError(
            f"tenants {', '.join(wanting)} have notify_email, but MALLBRIDGE_SMTP_HOST is not set "
            "(set MALLBRIDGE_SMTP_HOST, _PORT, _USER, _PASSWORD, _FROM and _TLS)"
        )


def wire(
    *,
    ledger: LedgerLog,
    state: LedgerState,
    senders: Mapping[Channel, Sender],
    tenants: Mapping[str, Tenant],
    settings: NotifySettings,
    metrics: NotifyMetrics,
    clock: Callable[[], datetime] = utc_now,
) -> Notifier:
    """The handler with its deliveries, on a rebuilt ledger; what the ledger still owes is handed out now."""
    deliveries = Deliveries(
        senders=senders,
        tenants=tenants,
        ledger=ledger,
        state=state,
        metrics=metrics,
        console_base_url=settings.console_base_url,
        backoff=lambda: Backoff(base_s=settings.backoff_base_s, cap_s=settings.backoff_max_s),
        clock=clock,
        concurrency=settings.tenant_concurrency,
    )
    for queued in state.pending.values():
        deliveries.submit(queued)
    configured = list(senders.values())
    return Notifier(
        tenants=tenants,
        channels=lambda tenant: [s.channel for s in configured if s.configured_for(tenant)],
        ledger=ledger,
        state=state,
        deliveries=deliveries,
        metrics=metrics,
        max_age_s=settings.max_age_s,
        clock=clock,
    )


@dataclass
class NotifyService:
    event_log: EventLog
    settings: NotifySettings
    tenants: Mapping[str, Tenant]
    senders: Mapping[Channel, Sender]
    topic_prefix: str
    lanes: tuple[str, ...]
    partitions: int
    clock: Callable[[], datetime] = utc_now
    metrics: NotifyMetrics = field(default_factory=NotifyMetrics)
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    _ledger_ready: bool = False
    _consumers_started: list[Assignable] = field(default_factory=list)
    _crash: BaseException | None = None

    @property
    def sync_topics(self) -> dict[str, str]:
        return {lane: Topics(prefix=self.topic_prefix, lane=lane).sync_events for lane in self.lanes}

    @property
    def operator_topics(self) -> dict[str, str]:
        return {lane: Topics(prefix=self.topic_prefix, lane=lane).operator_events for lane in self.lanes}

    @property
    def ledger_topic(self) -> str:
        return topic_name(self.topic_prefix, LEDGER_TOPIC)

    @property
    def on_kafka(self) -> bool:
        return self.event_log.url.startswith("kafka://")

    async def readiness(self) -> dict[str, bool]:
        return {
            "event_log": await self.event_log.ping(),
            "ledger": self._ledger_ready,
            "consuming": bool(self._consumers_started) and all(c.assigned for c in self._consumers_started),
        }

    def stop(self) -> None:
        self.stop_event.set()

    def crashed(self, exc: BaseException) -> None:
        log.error("notifier failed; stopping", exc_info=exc)
        self._crash = exc
        self.stop_event.set()

    async def _prepare(self) -> Notifier:
        await self.event_log.start()
        if self.on_kafka:
            bootstrap = self.event_log.url.removeprefix("kafka://")
            await ensure_compacted(bootstrap, self.ledger_topic, partitions=self.partitions)
        await self.event_log.ensure_topics(
            [*self.sync_topics.values(), *self.operator_topics.values(), self.ledger_topic]
        )
        ledger = LedgerLog(self.event_log, self.ledger_topic)
        state = await ledger.rebuild(now=self.clock(), max_age_s=self.settings.max_age_s)
        notifier = wire(
            ledger=ledger,
            state=state,
            senders=self.senders,
            tenants=self.tenants,
            settings=self.settings,
            metrics=self.metrics,
            clock=self.clock,
        )
        log.info("ledger rebuilt", extra={"owed": len(state.pending), "delivered_known": len(state.delivered)})
        self._ledger_ready = True
        return notifier

    async def _consumers(self, notifier: Notifier) -> tuple[list[asyncio.Task[None]], Callable[[], Awaitable[None]]]:
        """Start the consumers; returns their tasks and how to stop them."""
        if self.on_kafka:
            bootstrap = self.event_log.url.removeprefix("kafka://")
            app, _, watches = build_kafka_app(
                bootstrap,
                sync_topics=self.sync_topics,
                operator_topics=self.operator_topics,
                group=self.settings.group,
                notifier=notifier,
                on_crash=self.crashed,
            )
            self._consumers_started = list(watches.values())
            await app.start()
            return [], app.stop
        group = self.settings.group
        sources = (  # per topic kind: the lanes' topics, the group a lane's consumer joins, how records read
            (self.sync_topics, lane_group, read_sync_record, SYNC_EVENTS_TOPIC),
            (self.operator_topics, operator_group, read_operator_record, OPERATOR_EVENTS_TOPIC),
        )
        consumers = [
            LogSubscriptionConsumer(
                self.event_log,
                topic=topic,
                group=group_of(group, lane),
                lane=lane,
                notifier=notifier,
                read=read,
                topic_label=label,
            )
            for topics, group_of, read, label in sources
            for lane, topic in topics.items()
        ]
        self._consumers_started = list(consumers)
        tasks = [asyncio.create_task(c.run(self.stop_event)) for c in consumers]

        async def stop_all() -> None:
            await asyncio.gather(*tasks, return_exceptions=True)

        return tasks, stop_all

    async def run(self, *, serve_http: bool = True) -> None:
        """Run until `stop()`; then let deliveries under way finish (shutdown grace) and close everything."""
        notifier = await self._prepare()
        deliveries = notifier.deliveries
        server = self._http_server() if serve_http else None
        consumer_tasks, stop_consumers = await self._consumers(notifier)
        serving = asyncio.create_task(server.serve()) if server is not None else None
        # a new list: `stop_consumers` waits for the consumer tasks only (the HTTP server stops after them;
        # on the embedded engine, awaiting it there would wait for a server that is told to stop only later)
        tasks = [*consumer_tasks, *([serving] if serving is not None else [])]
        watched = [asyncio.create_task(self.stop_event.wait()), asyncio.create_task(deliveries.crashed.wait()), *tasks]
        try:
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            failure = deliveries.crash or self._crash or next((t.exception() for t in tasks if t.done()), None)
        finally:
            self.stop_event.set()
            await stop_consumers()
            await deliveries.close(grace_s=self.settings.shutdown_grace_s)
            await notifier.ledger.close()
            if server is not None and serving is not None:
                server.should_exit = True
                # let uvicorn close its listening socket: a cancelled serve() leaves the port open
                await asyncio.wait([serving], timeout=self.settings.shutdown_grace_s + 5)
            for task in watched:
                task.cancel()
            await asyncio.gather(*watched, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.event_log.close()
        if failure is not None:
            raise RuntimeError("a notifier component failed; stopping") from failure

    def _http_server(self) -> uvicorn.Server:
        app = create_http_app(metrics=self.metrics, readiness=self.readiness)
        config = uvicorn.Config(
            app, host=self.settings.http_host, port=self.settings.http_port, log_level="warning", lifespan="off"
        )
        return uvicorn.Server(config)
