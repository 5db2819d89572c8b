"""The whole chain on one machine, in one process: the sandbox MALL, whose webhook POSTs to a real ingest
(uvicorn), and a publisher reading ingest's events and calling the sandbox; on a real event log.

`use_webhook()` points MALL's webhook at ingest and pauses it: `deliver()` sends what MALL queued, now,
and returns once ingest answered (MALL's own interval would make tests slow and their order of events a
matter of luck); `use_webhook(interval_s=...)` lets it run on its own instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
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
from mallbridge_schema.events import SyncEventBase
from mallbridge_schema.serde import decode_sync_event
from tests.integration.ingest.support import SECRET, IngestServer

CLIENT_ID = "acme-chain-client-id"
TOKEN = "chain-webhook-token-5f1e0c"
T = "acme"
TRACK = ("ZX12345-CZ", "https://tracking.example/ZX12345-CZ")


def tenant_for(sandbox: SandboxServer, *, poll_s: float = 0) -> Tenant:
    """The tenant as both services see it (one tenants file in a real deployment)."""
    return Tenant(
        tenant_id=T,
        mall_client_id=SecretStr(CLIENT_ID),
        ingest_secret=SecretStr(SECRET),
        mall_base_url=sandbox.base_url,
        mall_webhook_token=SecretStr(TOKEN),
        mall_poll_interval_s=poll_s,
    )


class Chain:
    def __init__(self, sandbox: SandboxServer, ingest: IngestServer, log: EventLog, topics: Topics) -> None:
        self.sandbox = sandbox
        self.ingest = ingest
        self.log = log
        self.topics = topics
        self.admin = httpx.AsyncClient(base_url=f"{sandbox.url}/sandbox", timeout=30)
        self.publisher: PublisherService | None = None
        self._task: asyncio.Task[None] | None = None

    # ---- MALL (the sandbox's admin API) ---------------------------------------------------------------

    async def create(self, mall_id: str, **fields: Any) -> None:
        r = await self.admin.post("/orders", json={"partner": T, "id": mall_id, **fields})
        assert r.status_code == 201, r.text

    async def act(self, mall_id: str, action: str, **body: Any) -> None:
        r = await self.admin.post(f"/orders/{mall_id}/actions/{action}", json=body)
        assert r.status_code == 200, r.text

    async def mall(self, mall_id: str) -> dict[str, Any]:
        return dict((await self.admin.get(f"/orders/{mall_id}")).json()["order"])

    async def use_webhook(self, *, interval_s: float | None = None) -> None:
        """MALL's webhook to ingest: paused (see `deliver`), or delivering by itself every `interval_s`."""
        url = f"{self.ingest.base_url}/v1/tenants/{T}/mall-webhook/{TOKEN}"
        settings: dict[str, Any] = {"url": url} if interval_s is None else {"url": url, "interval_s": interval_s}
        assert (await self.admin.put(f"/partners/{T}/webhook", json=settings)).status_code == 200
        if interval_s is None:
            assert (await self.admin.post(f"/partners/{T}/webhook/pause")).status_code == 200

    async def deliver(self) -> dict[str, Any]:
        """Send what MALL's webhook has queued, now; the delivery's result (ingest's answer 202)."""
        delivery = (await self.admin.post(f"/partners/{T}/webhook/deliver")).json()["delivery"]
        assert delivery is not None, "nothing was queued for the webhook"
        assert delivery["status"] == 202, delivery
        return dict(delivery)

    def sandbox_client(self) -> httpx.AsyncClient:
        """A client of MALL's partner API (`/v1`) with the tenant's client_id."""
        return httpx.AsyncClient(base_url=self.sandbox.base_url, params={"client_id": CLIENT_ID}, timeout=30)

    async def requests(self, mall_id: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("order_id", mall_id), ("method", method)) if v is not None}
        return list((await self.admin.get("/requests", params=params)).json()["requests"])

    async def put_bodies(self, mall_id: str) -> list[Any]:
        return [r["body"] for r in await self.requests(mall_id, "PUT")]

    # ---- FastCentrik (pushes to ingest) and the log ------------------------------------------------------

    async def push(self, order: str, mall_id: str, status: str, **fields: Any) -> None:
        snapshot = {"order_number": order, "mall_order_id": mall_id, "status": status, **fields}
        r = await self.ingest.push(T, [snapshot])
        assert r.status_code == 202, r.text

    async def sync_events(self, order: str | None = None) -> list[SyncEventBase]:
        out: list[SyncEventBase] = []
        async for batch in self.log.replay(self.topics.sync_events):
            out.extend(decode_sync_event(r.value) for r in batch)
        return [e for e in out if order in (None, e.order_number)]

    # ---- the publisher ---------------------------------------------------------------------------------

    async def start_publisher(self, log_url: str, *, poll_s: float = 0) -> PublisherService:
        settings = PublisherSettings(
            backoff_base_s=0.05, backoff_max_s=1.0, shutdown_grace_s=5.0, operator_tail_interval_s=0.2
        )
        service = bootstrap(
            settings=settings,
            event_log=open_event_log(log_url, partitions=3),
            tenants={T: tenant_for(self.sandbox, poll_s=poll_s)},
            topic_prefix=self.topics.prefix,
            client=HttpMallClient(read_timeout_s=5.0),
        )
        self.publisher = service
        self._task = asyncio.create_task(service.run(serve_http=False))
        await eventually(lambda: all(engine.ready.is_set() for engine in service.engines), what="publisher ready")
        return service

    async def stop_publisher(self) -> None:
        if self.publisher is not None and self._task is not None:
            self.publisher.stop()
            await asyncio.wait_for(self._task, timeout=30)
        self.publisher, self._task = None, None

    async def processed(self, marker: str = "M-1", mall_id: str = "10085999001") -> None:
        """The barrier of a negative assertion: a later marker order went out, so the publisher is past
        everything written before it."""
        await self.create(mall_id, status="open", confirmed=True)
        await self.push(marker, mall_id, "in_process")

        async def marker_sent() -> bool:
            return (await self.mall(mall_id))["status"] == "shipping"

        await eventually(marker_sent, what=f"the marker order {marker} went out")


async def eventually(
    check: Callable[[], Any], *, timeout: float = 30.0, what: str = "the condition", interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_chain(log_url: str, topic_prefix: str) -> AsyncIterator[Chain]:
    """Sandbox, log and ingest started (the publisher is the caller's: `start_publisher`); all stopped after."""
    sandbox = SandboxServer(create_app([Partner(T, CLIENT_ID)], seed=3))
    sandbox.start()
    log = open_event_log(log_url, partitions=3)
    await log.start()
    topics = Topics(prefix=topic_prefix)
    await log.ensure_topics([topics.order_events, topics.sync_events, topics.dead_letter, topics.operator_events])
    tenants = {T: tenant_for(sandbox)}
    try:
        async with IngestServer(log_url=log_url, tenants=tenants, topic_prefix=topic_prefix) as ingest:
            chain = Chain(sandbox, ingest, log, topics)
            try:
                yield chain
            finally:
                await chain.stop_publisher()
                await chain.admin.aclose()
    finally:
        await log.close()
        sandbox.stop()
