"""The demo's running parts: sandbox MALL, ingest and publisher in this process, on one event log.

Everything started here is registered on one AsyncExitStack, so it is stopped on exit, on failure and on
Ctrl-C, in the reverse order of starting.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import httpx
import uvicorn
from pydantic import SecretStr

from mallbridge_core.eventlog import EventLog, open_event_log
from mallbridge_core.settings import settings_from
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_ingest.bootstrap import IngestSettings, build_app
from mallbridge_publisher.adapters.mall_http import HttpMallClient
from mallbridge_publisher.balance.run import BalanceReport, BalanceRun
from mallbridge_publisher.bootstrap import PublisherService, bootstrap
from mallbridge_publisher.config import PublisherSettings
from mallbridge_sandbox.app import create_app
from mallbridge_sandbox.partners import Partner
from mallbridge_sandbox.server import SandboxServer

TENANT = "demo-shop"
PREFIX = "mallbridge-demo."
READY_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DemoServices:
    """Starts the parts one by one (`start`), each stopped by `stack`; `http` talks to all of them."""

    def __init__(self, log_url: str, *, console_port: int = 0) -> None:
        self.console_port = console_port or free_port()
        self.log_url = log_url
        self.client_id = secrets.token_hex(12)
        self.ingest_secret = secrets.token_hex(16)
        self.webhook_token = secrets.token_urlsafe(18)
        self.console_token = secrets.token_urlsafe(18)
        # A fresh prefix per run: a broker that outlives one run (or is shared) still holds the last run's events,
        # which would tell ingest and the publisher that this run's orders were seen and sent already.
        self.prefix = f"{PREFIX}{secrets.token_hex(4)}."
        self.topics = Topics(prefix=self.prefix)
        self.stack = contextlib.AsyncExitStack()
        self.http = httpx.AsyncClient(timeout=10)
        self.stack.push_async_callback(self.http.aclose)

    async def start(self) -> None:
        self.tenant = tenant = self._start_sandbox()
        self.reader = await self._open_reader()
        self._start_ingest(tenant)
        self.publisher = self._start_publisher(tenant)
        await self._wait_ready()

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    def _start_sandbox(self) -> Tenant:
        self.sandbox = SandboxServer(create_app([Partner(TENANT, self.client_id)], seed=1))
        self.sandbox.start()
        self.stack.callback(self.sandbox.stop)
        return Tenant(
            tenant_id=TENANT,
            mall_client_id=SecretStr(self.client_id),
            ingest_secret=SecretStr(self.ingest_secret),
            mall_base_url=self.sandbox.base_url,
            mall_webhook_token=SecretStr(self.webhook_token),
        )

    async def _open_reader(self) -> EventLog:
        reader = open_event_log(self.log_url)
        await reader.start()
        self.stack.push_async_callback(reader.close)
        await reader.ensure_topics([self.topics.order_events, self.topics.sync_events, self.topics.dead_letter])
        return reader

    def _start_ingest(self, tenant: Tenant) -> None:
        app = build_app(
            # settings_from: a bad MALLBRIDGE_INGEST_* variable is a usage error naming it, not a traceback
            settings=settings_from(IngestSettings, {"topic_prefix": self.prefix, "run_pollers": False}),
            log=open_event_log(self.log_url),
            tenants={TENANT: tenant},
        )
        self.ingest_port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.ingest_port, log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())

        async def stop() -> None:
            server.should_exit = True
            await asyncio.wait_for(task, timeout=15)

        self.stack.push_async_callback(stop)

    def _start_publisher(self, tenant: Tenant) -> PublisherService:
        publisher = bootstrap(
            settings=settings_from(
                PublisherSettings,
                {
                    "http_port": self.console_port,
                    "backoff_base_s": 0.1,
                    "backoff_max_s": 2.0,
                    "operator_tail_interval_s": 0.2,
                    "console_token": self.console_token,
                },
            ),
            event_log=open_event_log(self.log_url),
            tenants={TENANT: tenant},
            topic_prefix=self.prefix,
            client=HttpMallClient(read_timeout_s=5.0),
        )
        task = asyncio.create_task(publisher.run())

        async def stop() -> None:
            publisher.stop()
            await asyncio.wait_for(task, timeout=30)

        self.stack.push_async_callback(stop)
        return publisher

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        urls = (f"{self.ingest_url}/readyz", f"http://127.0.0.1:{self.publisher.settings.http_port}/readyz")
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                answers = [await self.http.get(url) for url in urls]
                if all(answer.status_code == 200 for answer in answers):
                    return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"ingest or publisher did not become ready within {READY_TIMEOUT_S:g} s")

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console_port}/console"

    async def create_mall_order(
        self, mall_order_id: str, *, mdp: bool, status: str = "open", opened_at: str | None = None
    ) -> None:
        body = {"partner": TENANT, "id": mall_order_id, "mdp": mdp, "status": status, "opened_at": opened_at}
        r = await self.http.post(f"{self.sandbox.url}/sandbox/orders", json=body)
        r.raise_for_status()

    def settled(self, order_numbers: Iterable[str]) -> bool:
        """Whether the publisher holds each of these orders with no PUT still waiting for its outcome to be
        recorded (MALL may have one already: balance would then take the log for behind)."""
        for number in order_numbers:
            states = [engine.orders.state((TENANT, number)) for engine in self.publisher.engines]
            if not any(state is not None and state.mall.in_doubt is None for state in states):
                return False
        return True

    async def run_balance(self) -> BalanceReport:
        """`mallbridge balance` for the demo's tenant, on the demo's log and its MALL: what it records is folded
        by the running publisher like any other operator event."""
        client = HttpMallClient(read_timeout_s=5.0)
        try:
            run = BalanceRun(self.reader, client, self.prefix, lambda: datetime.now(UTC))
            return await run([self.tenant])
        finally:
            await client.close()

    async def point_webhook_at_ingest(self) -> None:
        """MALL's webhook for the demo's account goes to ingest (deliveries are asked for: `deliver_webhook`)."""
        url = f"{self.ingest_url}/v1/tenants/{TENANT}/mall-webhook/{self.webhook_token}"
        r = await self.http.put(f"{self.sandbox.url}/sandbox/partners/{TENANT}/webhook", json={"url": url})
        r.raise_for_status()
        (await self.http.post(f"{self.sandbox.url}/sandbox/partners/{TENANT}/webhook/pause")).raise_for_status()

    async def deliver_webhook(self) -> None:
        """MALL posts the ids it changed now (instead of within its minute), and ingest has them durably."""
        r = await self.http.post(f"{self.sandbox.url}/sandbox/partners/{TENANT}/webhook/deliver")
        r.raise_for_status()
        delivery = r.json()["delivery"]
        if delivery is not None and not delivery["ok"]:
            raise RuntimeError(f"MALL's webhook was refused by ingest: {delivery['status'] or delivery['error']}")

    async def mall_action(self, mall_order_id: str, action: str) -> None:
        """A change MALL makes to the order (a customer cancel, opening a blocked order), then its webhook."""
        r = await self.http.post(f"{self.sandbox.url}/sandbox/orders/{mall_order_id}/actions/{action}")
        if r.status_code != 200:
            raise RuntimeError(f"MALL-side action {action} on {mall_order_id} refused: HTTP {r.status_code} {r.text}")
        await self.deliver_webhook()

    async def mall_statuses(self) -> dict[str, str]:
        r = await self.http.get(f"{self.sandbox.url}/sandbox/orders", params={"partner": TENANT})
        return {o["id"]: o["status"] for o in r.json()["orders"]}
