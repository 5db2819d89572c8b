"""Working fakes of the notifier's ports (the event log for the ledger, the senders) and event builders."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from mallbridge_core.eventlog.port import LogRecord, LogUnavailableError, OutgoingRecord, Subscription
from mallbridge_core.tenants import Tenant
from mallbridge_notify.domain.alerts import Channel
from mallbridge_notify.domain.messages import AlertMessage
from mallbridge_notify.ports import DeliveryError
from mallbridge_schema.events import (
    AttentionAcknowledged,
    AttentionNeeded,
    AttentionResolved,
    MallStateObserved,
    MallStatusUpdated,
    OrderReturnRequested,
    UnknownMallOrder,
    UnknownMallOrdersObserved,
)
from mallbridge_schema.statuses import MallStatus

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class FakeEventLog:
    """An in-memory log: one partition per topic, a `down` switch for appends."""

    def __init__(self) -> None:
        self.topics: dict[str, list[LogRecord]] = {}
        self.down = False

    @property
    def url(self) -> str:
        return "fake://memory"

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> bool:
        return not self.down

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        for topic in topics:
            self.topics.setdefault(topic, [])

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> None:
        if self.down:
            raise LogUnavailableError("fake log is down")
        stored = self.topics.setdefault(topic, [])
        for r in records:
            stored.append(LogRecord(topic, 0, len(stored), r.key, r.value, 0, r.headers))

    async def end_offsets(self, topic: str) -> dict[int, int]:
        return {0: len(self.topics.get(topic, []))}

    async def replay(
        self, topic: str, *, start: Mapping[int, int] | None = None, stop: Mapping[int, int] | None = None
    ) -> AsyncIterator[list[LogRecord]]:
        records = list(self.topics.get(topic, []))
        if records:
            yield records

    async def subscribe(self, topic: str, **kwargs: object) -> Subscription:
        raise NotImplementedError("the notifier subscribes through FastStream here")


@dataclass
class FakeSender:
    """Records what it sends; `failures[tenant]` failures first, `blocked` tenants wait for `release`."""

    channel: Channel = "webhook"
    sent: list[tuple[str, AlertMessage]] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    def configured_for(self, tenant: Tenant) -> bool:
        target = tenant.notify_webhook_url if self.channel == "webhook" else tenant.notify_email
        return target is not None

    async def send(self, tenant: Tenant, message: AlertMessage) -> None:
        self.attempts.append(tenant.tenant_id)
        if tenant.tenant_id in self.blocked:
            await self.release.wait()
        if self.failures.get(tenant.tenant_id, 0) > 0:
            self.failures[tenant.tenant_id] -= 1
            raise DeliveryError("webhook answered HTTP 500")
        self.sent.append((tenant.tenant_id, message))

    async def close(self) -> None:
        self.closed = True


def tenant(tenant_id: str, *, webhook: bool = True, email: bool = False, lane: str = "default") -> Tenant:
    return Tenant(
        tenant_id=tenant_id,
        mall_client_id=None,
        ingest_secret=None,
        lane=lane,
        notify_webhook_url=SecretStr(f"https://hooks.example/{tenant_id}/T0K3N") if webhook else None,
        notify_email=f"ops@{tenant_id}.example" if email else None,
    )


def _envelope(tenant_id: str, order: str, recorded_at: datetime) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "order_number": order,
        "mall_order_id": "" if not order else "10085339302",
        "occurred_at": recorded_at,
        "recorded_at": recorded_at,
        "based_on_seq": 3,
    }


def needed(
    tenant_id: str, order: str = "FC-1", *, code: str = "cancelled_at_mall", age_s: float = 5
) -> AttentionNeeded:
    scope = "tenant" if not order else "order"
    return AttentionNeeded(
        **_envelope(tenant_id, order, NOW - timedelta(seconds=age_s)),
        code=code,
        reason="MALL says the customer cancelled; FastCentrik still ships it",
        scope=scope,
    )


def resolved(tenant_id: str, order: str = "FC-1", *, code: str = "cancelled_at_mall") -> AttentionResolved:
    return AttentionResolved(
        **_envelope(tenant_id, order, NOW - timedelta(seconds=1)), code=code, scope="tenant" if not order else "order"
    )


def updated(tenant_id: str, order: str = "FC-1") -> MallStatusUpdated:
    return MallStatusUpdated(
        **_envelope(tenant_id, order, NOW - timedelta(seconds=1)),
        request_no=1,
        status=MallStatus.SHIPPED,
        request={"status": "shipped"},
        http_status=200,
        latency_ms=3.0,
    )


# ---- operator-events ------------------------------------------------------------------------------------


def unknown_orders(
    tenant_id: str, listed: int = 2, *, total: int | None = None, age_s: float = 5
) -> UnknownMallOrdersObserved:
    """Balance's set of `listed` MALL orders the shop never got (ids 10085339400, ...), oldest first."""
    at = NOW - timedelta(seconds=age_s)
    return UnknownMallOrdersObserved(
        event_id=uuid.uuid4(),
        tenant_id=tenant_id,
        occurred_at=at,
        recorded_at=at,
        orders=tuple(
            UnknownMallOrder(
                mall_order_id=str(10085339400 + i),
                status=MallStatus.OPEN if i % 2 == 0 else MallStatus.SHIPPING,
                opened_at=f"2026-11-19 {i % 24:02d}:15:00" if i % 2 == 0 else None,
            )
            for i in range(listed)
        ),
        total=listed if total is None else total,
    )


def _person(tenant_id: str, order: str) -> dict[str, Any]:
    envelope = _envelope(tenant_id, order, NOW - timedelta(seconds=1))
    del envelope["based_on_seq"]  # a sync event's field
    return {**envelope, "by": "jana"}


def returned(tenant_id: str, order: str = "FC-1") -> OrderReturnRequested:
    """A person's manual "Returned": an operator event that calls for no alert."""
    return OrderReturnRequested(**_person(tenant_id, order), reason="parcel came back")


def acknowledged(tenant_id: str, order: str = "FC-1") -> AttentionAcknowledged:
    return AttentionAcknowledged(**_person(tenant_id, order), code="cancelled_at_mall")


def balance_observed(tenant_id: str, order: str = "FC-1") -> MallStateObserved:
    """Balance's per-order observation (on operator-events too): no alert."""
    return MallStateObserved(
        **_envelope(tenant_id, order, NOW - timedelta(seconds=1)), status=MallStatus.OPEN, source="balance"
    )
