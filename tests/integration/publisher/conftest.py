"""Publisher integration fixtures: the sandbox MALL over real HTTP, a real event log, a running publisher."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from mallbridge_core.eventlog import EventLog, open_event_log
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_publisher.adapters.mall_http import HttpMallClient
from mallbridge_publisher.bootstrap import PublisherService, bootstrap
from mallbridge_publisher.config import PublisherSettings
from mallbridge_sandbox.app import create_app
from mallbridge_sandbox.partners import Partner
from mallbridge_sandbox.server import SandboxServer
from mallbridge_schema.serde import event_key
from tests.support.orders import OrderEventWriter

PARTNERS = {"acme": "acme-secret-client-id", "beta": "beta-secret-client-id"}


@pytest.fixture
def tenants_file(tmp_path: Path) -> Path:
    """A tenants file naming acme, for the `mallbridge order` and `audit` processes: they read the lanes only,
    so its secret reference is never resolved."""
    path = tmp_path / "tenants.toml"
    path.write_text('[tenants.acme]\nmall_client_id = "env:ACME_MALL_CLIENT_ID_NOT_SET_HERE"\n')
    return path


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(create_app([Partner(name, cid) for name, cid in PARTNERS.items()], seed=7))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Harness:
    sandbox: SandboxServer
    log: EventLog
    topics: Topics
    writer: OrderEventWriter
    tenants: dict[str, Tenant]
    prefix: str
    log_url: str

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.sandbox.url, timeout=10)

    def create_orders(self, tenant: str, ids: list[str], **fields: Any) -> None:
        with self.admin() as admin:
            for mall_id in ids:
                r = admin.post("/sandbox/orders", json={"partner": tenant, "id": mall_id, **fields})
                assert r.status_code in (200, 201), r.text

    def mall_status(self, mall_id: str) -> str:
        with self.admin() as admin:
            r = admin.get(f"/sandbox/orders/{mall_id}")
            r.raise_for_status()
            return str(r.json()["order"]["status"])

    def mall_statuses(self, mall_ids: list[str]) -> list[str]:
        """The status of each order at MALL, read over one connection (a check polled many times)."""
        with self.admin() as admin:
            answers = [admin.get(f"/sandbox/orders/{mall_id}") for mall_id in mall_ids]
        for r in answers:
            r.raise_for_status()
        return [str(r.json()["order"]["status"]) for r in answers]

    def requests(self, **filters: str) -> list[dict[str, Any]]:
        with self.admin() as admin:
            r = admin.get("/sandbox/requests", params=filters)
            r.raise_for_status()
            return list(r.json()["requests"])

    def puts(self, mall_id: str | None = None) -> list[dict[str, Any]]:
        filters = {"method": "PUT"}
        if mall_id is not None:
            filters["order_id"] = mall_id
        return self.requests(**filters)

    def faults(self, tenant: str, **config: Any) -> None:
        with self.admin() as admin:
            r = admin.put(f"/sandbox/partners/{tenant}/faults", json=config)
            assert r.status_code == 200, r.text

    def start_publisher(self, **settings: Any) -> RunningPublisher:
        # The client's read timeout is the settings' (a PUT in doubt is read that long and a margin after it
        # went out): 5 s, not the default 10, so a test that restarts on a request in doubt waits 6 s, not 11.
        options: dict[str, Any] = {
            "backoff_base_s": 0.05,
            "backoff_max_s": 1.0,
            "pause_probe_s": 1.0,
            "read_timeout_s": 5.0,
        }
        options.update({"shutdown_grace_s": 5.0, **settings})
        publisher_settings = PublisherSettings(**options)
        service = bootstrap(
            settings=publisher_settings,
            event_log=open_event_log(self.log_url, partitions=3),
            tenants=self.tenants,
            topic_prefix=self.prefix,
            client=HttpMallClient(
                read_timeout_s=publisher_settings.read_timeout_s,
                connections_per_tenant=publisher_settings.tenant_concurrency,
            ),
        )
        return RunningPublisher(service, asyncio.create_task(service.run(serve_http=False)))

    async def partition_of(self, tenant: str, order_number: str) -> int:
        """The order-events partition the log put the order's events in (read back, whatever the engine)."""
        key = event_key(tenant, order_number)
        async for batch in self.log.replay(self.topics.order_events):
            for record in batch:
                if record.key == key:
                    return record.partition
        raise AssertionError(f"no order events of {tenant}:{order_number}")

    async def marker_after(self, tenant: str, order_number: str, first_mall_id: int) -> str:
        """Write a new order (a marker) on the partition of `order_number`'s events, after them; return its
        MALL id. Once MALL has it `shipping`, the publisher has read that partition past all of them and
        started their passes (a graceful stop then waits for those to end)."""
        wanted = await self.partition_of(tenant, order_number)
        for n in range(64):
            marker, mall_id = f"MARKER-{n}", str(first_mall_id + n)
            await asyncio.to_thread(self.create_orders, tenant, [mall_id])
            await self.writer.write(self.writer.first_seen(tenant, marker, mall_id, "in_process"))
            if await self.partition_of(tenant, marker) == wanted:
                return mall_id
        raise AssertionError(f"no marker landed on partition {wanted}")

    async def sync_events(self) -> list[Any]:
        from mallbridge_schema.serde import decode_sync_event

        out: list[Any] = []
        async for batch in self.log.replay(self.topics.sync_events):
            out.extend(decode_sync_event(r.value) for r in batch)
        return out


@dataclass
class RunningPublisher:
    service: PublisherService
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.service.stop()
        await asyncio.wait_for(self.task, timeout=30)


@pytest.fixture
async def harness(sandbox: SandboxServer, event_log_url: str, topic_prefix: str) -> AsyncIterator[Harness]:
    log = open_event_log(event_log_url, partitions=3)
    await log.start()
    topics = Topics(prefix=topic_prefix)
    await log.ensure_topics([topics.order_events, topics.sync_events, topics.dead_letter])
    tenants = {
        name: Tenant(tenant_id=name, mall_client_id=SecretStr(cid), ingest_secret=None, mall_base_url=sandbox.base_url)
        for name, cid in PARTNERS.items()
    }
    h = Harness(sandbox, log, topics, OrderEventWriter(log, topics.order_events), tenants, topic_prefix, event_log_url)
    try:
        yield h
    finally:
        with contextlib.suppress(Exception):
            await log.close()
