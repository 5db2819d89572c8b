"""An ingest server on a real uvicorn (127.0.0.1, free port), signed pushes, and reading events back."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr

from mallbridge_core.eventlog import open_event_log
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_ingest.adapters.signature import sign
from mallbridge_ingest.bootstrap import build_app
from mallbridge_ingest.config import IngestSettings
from mallbridge_schema.events import OrderEventBase
from mallbridge_schema.serde import decode_order_event
from tests.conftest import free_port

SECRET = "integration-secret-0123456789"


def tenant(tenant_id: str = "acme", **fields: Any) -> Tenant:
    return Tenant(tenant_id=tenant_id, mall_client_id=None, ingest_secret=SecretStr(SECRET), **fields)


def order_topic(prefix: str, lane: str = "default") -> str:
    return Topics(prefix=prefix, lane=lane).order_events


class IngestServer:
    """`async with IngestServer(...) as srv:` serves until the block ends; `srv.push(...)` signs and posts."""

    def __init__(
        self,
        *,
        log_url: str,
        tenants: Mapping[str, Tenant],
        topic_prefix: str,
        settings: IngestSettings | None = None,
    ) -> None:
        base = settings or IngestSettings()
        self.settings = base.model_copy(update={"topic_prefix": topic_prefix})
        self.app = build_app(settings=self.settings, log=open_event_log(log_url, partitions=3), tenants=tenants)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_config=None, access_log=False, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.client = httpx.AsyncClient(base_url=self.base_url, timeout=60.0)
        self._task: asyncio.Task[None] | None = None
        self._last_ts = 0

    async def __aenter__(self) -> IngestServer:
        self._task = asyncio.create_task(self.server.serve())
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert not self._task.done(), "uvicorn stopped during startup"
            assert time.monotonic() < deadline, "uvicorn did not start"
            await asyncio.sleep(0.05)
        await self.wait_ready()
        return self

    async def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while (await self.client.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, "ingest did not become ready"
            await asyncio.sleep(0.1)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.client.aclose()
        self.server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, 30)

    async def push(
        self,
        tenant_id: str,
        orders: list[dict[str, Any]] | None = None,
        *,
        body: bytes | None = None,
        secret: str = SECRET,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        raw = body if body is not None else json.dumps({"orders": orders or []}).encode()
        ts = str(timestamp if timestamp is not None else self.next_timestamp())
        sent = {
            "X-Mallbridge-Timestamp": ts,
            "X-Mallbridge-Signature": sign(secret, ts, raw),
            "Content-Type": "application/json",
        }
        if headers is not None:
            sent = headers
        return await self.client.post(f"/v1/tenants/{tenant_id}/orders", content=raw, headers=sent)

    def next_timestamp(self) -> int:
        """Now, but never the same second twice: each push is signed anew, as a client's retry would be,
        and a byte-identical signed request in the same second would be a replay (answered from the replay cache)."""
        self._last_ts = max(int(time.time()), self._last_ts + 1)
        return self._last_ts

    async def metrics(self) -> str:
        return (await self.client.get("/metrics")).text


async def read_events(log_url: str, topic: str) -> list[tuple[bytes, OrderEventBase]]:
    """Every event of `topic`, decoded, in per-partition offset order (per-order order is kept)."""
    log = open_event_log(log_url)
    await log.start()
    try:
        out: list[tuple[bytes, OrderEventBase]] = []
        async for batch in log.replay(topic):
            for r in batch:
                event = decode_order_event(r.value)
                assert isinstance(event, OrderEventBase), f"not one order's event: {event!r}"
                out.append((r.key or b"", event))
        return out
    finally:
        await log.close()


def by_key(events: list[tuple[bytes, OrderEventBase]]) -> dict[bytes, list[OrderEventBase]]:
    grouped: dict[bytes, list[OrderEventBase]] = {}
    for key, event in events:
        grouped.setdefault(key, []).append(event)
    return grouped


def summary(events: list[OrderEventBase]) -> list[tuple[str, int]]:
    return [(type(e).__name__, e.seq) for e in events]
