"""A notifier running in-process on a real event log, and writers of sync and operator events, for the
integration tests."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from mallbridge_core.eventlog import EventLog, OutgoingRecord, open_event_log
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_notify.adapters.smtp import SmtpSender
from mallbridge_notify.adapters.webhook import WebhookSender
from mallbridge_notify.bootstrap import NotifyService
from mallbridge_notify.config import NotifySettings, SmtpSettings
from mallbridge_schema.events import (
    AttentionNeeded,
    AttentionResolved,
    Event,
    MallStatusUpdated,
    OrderReturnRequested,
    UnknownMallOrder,
    UnknownMallOrdersObserved,
)
from mallbridge_schema.serde import encode_event, event_key
from mallbridge_schema.statuses import MallStatus
from tests.integration.notify.receivers import SMTP_PASSWORD, SMTP_USER, free_port
from tests.support.eventually import eventually

CONSOLE = "https://console.example"


def notify_settings(**overrides: Any) -> NotifySettings:
    values: dict[str, Any] = {
        "http_port": free_port(),
        "console_base_url": CONSOLE,
        "backoff_base_s": 0.05,
        "backoff_max_s": 0.2,
        "webhook_timeout_s": 30,
        "shutdown_grace_s": 0.5,
        "group": f"notify-{uuid.uuid4().hex[:8]}",
    }
    return NotifySettings(**{**values, **overrides})


def smtp_settings(port: int | None) -> SmtpSettings:
    if port is None:
        return SmtpSettings()
    return SmtpSettings(
        host="127.0.0.1", port=port, user=SMTP_USER, password=SecretStr(SMTP_PASSWORD), tls="none", timeout_s=5
    )


def webhook_tenant(tenant_id: str, url: str | None, *, email: str | None = None, lane: str = "default") -> Tenant:
    return Tenant(
        tenant_id=tenant_id,
        mall_client_id=None,
        ingest_secret=None,
        lane=lane,
        notify_webhook_url=SecretStr(url) if url else None,
        notify_email=email,
    )


@contextlib.asynccontextmanager
async def running_notifier(
    log_url: str,
    prefix: str,
    tenants: Mapping[str, Tenant],
    *,
    settings: NotifySettings | None = None,
    smtp_port: int | None = None,
) -> AsyncIterator[NotifyService]:
    settings = settings or notify_settings()
    service = NotifyService(
        event_log=open_event_log(log_url, partitions=3),
        settings=settings,
        tenants=tenants,
        senders={
            "webhook": WebhookSender(timeout_s=settings.webhook_timeout_s),
            "email": SmtpSender(smtp_settings(smtp_port)),
        },
        topic_prefix=prefix,
        lanes=tuple(sorted({t.lane for t in tenants.values()})),
        partitions=3,
    )
    task = asyncio.create_task(service.run())

    async def ready() -> bool:
        if task.done():
            task.result()  # a failed start fails the test with its own error
        checks = await service.readiness()
        return all(checks.values())

    await eventually(ready, timeout=60, what="the notifier ready")
    try:
        yield service
    finally:
        service.stop()
        await asyncio.wait_for(task, timeout=30)


class SyncWriter:
    """Appends sync events the way the publisher does (key `{tenant}:{order}`) to a lane's sync-events."""

    def __init__(self, log: EventLog, prefix: str) -> None:
        self.log = log
        self.prefix = prefix
        self.written_at: dict[uuid.UUID, float] = {}

    def topic(self, lane: str = "default") -> str:
        return Topics(prefix=self.prefix, lane=lane).sync_events

    async def write(self, *events: Event, lane: str = "default") -> None:
        records = [OutgoingRecord(event_key(e.tenant_id, e.order_number), encode_event(e)) for e in events]
        started = datetime.now(UTC).timestamp()  # before the write: nothing can read it earlier
        await self.log.append(self.topic(lane), records)
        for event in events:
            self.written_at[event.event_id] = started

    async def write_raw(self, value: bytes, lane: str = "default") -> None:
        await self.log.append(self.topic(lane), [OutgoingRecord(b"acme:raw", value)])


class OperatorWriter(SyncWriter):
    """Appends operator events the way `mallbridge balance` and `mallbridge order` do, to a lane's operator-events."""

    def topic(self, lane: str = "default") -> str:
        return Topics(prefix=self.prefix, lane=lane).operator_events


def _envelope(tenant_id: str, order: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "event_id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "order_number": order,
        "mall_order_id": "" if not order else "10085339302",
        "occurred_at": now,
        "recorded_at": now,
        "based_on_seq": 2,
    }


def needed(tenant_id: str, order: str, *, code: str = "cancelled_at_mall", reason: str = "") -> AttentionNeeded:
    return AttentionNeeded(
        **_envelope(tenant_id, order),
        code=code,
        reason=reason or f"MALL shows {order} cancelled by the customer",
        scope="order" if order else "tenant",
    )


def resolved(tenant_id: str, order: str, *, code: str = "cancelled_at_mall") -> AttentionResolved:
    return AttentionResolved(**_envelope(tenant_id, order), code=code, scope="order" if order else "tenant")


def updated(tenant_id: str, order: str) -> MallStatusUpdated:
    return MallStatusUpdated(
        **_envelope(tenant_id, order),
        request_no=1,
        status=MallStatus.SHIPPED,
        request={"status": "shipped"},
        http_status=200,
        latency_ms=4.0,
    )


def unknown_orders(tenant_id: str, *ids: str, total: int | None = None) -> UnknownMallOrdersObserved:
    """Balance's set of a tenant's MALL orders the shop never got (empty: none left)."""
    now = datetime.now(UTC)
    return UnknownMallOrdersObserved(
        event_id=uuid.uuid4(),
        tenant_id=tenant_id,
        occurred_at=now,
        recorded_at=now,
        orders=tuple(
            UnknownMallOrder(mall_order_id=i, status=MallStatus.OPEN, opened_at="2026-12-07 08:00:00") for i in ids
        ),
        total=len(ids) if total is None else total,
    )


def returned(tenant_id: str, order: str) -> OrderReturnRequested:
    """A person's manual "Returned" (operator-events): calls for no alert."""
    envelope = {k: v for k, v in _envelope(tenant_id, order).items() if k != "based_on_seq"}
    return OrderReturnRequested(**envelope, by="jana", reason="parcel came back")
