"""`mallbridge demo`: sandbox MALL, ingest and publisher in one process, scripted orders, a live table,
and a summary of expected against actual outcomes. Exit code 1 when any outcome differs.

Everything started here is stopped on exit, on failure and on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from mallbridge_core.demo.scenario import STORIES, Step, Story

TENANT = "demo-shop"
PREFIX = "mallbridge-demo."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Progress:
    fc_status: dict[str, str] = field(default_factory=dict)
    mall_status: dict[str, str] = field(default_factory=dict)
    last_event: dict[str, str] = field(default_factory=dict)

    def table(self) -> Table:
        table = Table(title="mallbridge demo — live", expand=False)
        for column in ("order", "story", "FastCentrik", "MALL", "last sync event"):
            table.add_column(column)
        for story in STORIES:
            o = story.order_number
            table.add_row(
                o, story.title, self.fc_status.get(o, "—"), self.mall_status.get(o, "—"), self.last_event.get(o, "—")
            )
        return table


class Demo:
    def __init__(self, log_url: str, *, timeout_s: float, console: Console) -> None:
        self.log_url = log_url
        self.timeout_s = timeout_s
        self.console = console
        self.client_id = secrets.token_hex(12)
        self.ingest_secret = secrets.token_hex(16)
        self.progress = Progress()
        self.stack = contextlib.AsyncExitStack()

    async def start(self) -> None:
        import httpx
        import uvicorn
        from pydantic import SecretStr

        from mallbridge_core.eventlog import open_event_log
        from mallbridge_core.tenants import Tenant
        from mallbridge_core.topics import Topics
        from mallbridge_ingest.bootstrap import IngestSettings, build_app
        from mallbridge_publisher.adapters.mall_http import HttpMallClient
        from mallbridge_publisher.bootstrap import bootstrap
        from mallbridge_publisher.config import PublisherSettings
        from mallbridge_sandbox.app import create_app
        from mallbridge_sandbox.partners import Partner
        from mallbridge_sandbox.server import SandboxServer

        self.sandbox = SandboxServer(create_app([Partner(TENANT, self.client_id)], seed=1))
        self.sandbox.start()
        self.stack.callback(self.sandbox.stop)
        tenant = Tenant(
            tenant_id=TENANT,
            mall_client_id=SecretStr(self.client_id),
            ingest_secret=SecretStr(self.ingest_secret),
            mall_base_url=self.sandbox.base_url,
        )
        tenants = {TENANT: tenant}
        self.topics = Topics(prefix=PREFIX)
        self.reader = open_event_log(self.log_url)
        await self.reader.start()
        await self.reader.ensure_topics([self.topics.order_events, self.topics.sync_events, self.topics.dead_letter])
        self.stack.push_async_callback(self.reader.close)

        ingest_app = build_app(
            settings=IngestSettings(topic_prefix=PREFIX, run_pollers=False),
            log=open_event_log(self.log_url),
            tenants=tenants,
        )
        self.ingest_port = _free_port()
        ingest_server = uvicorn.Server(
            uvicorn.Config(ingest_app, host="127.0.0.1", port=self.ingest_port, log_level="warning", access_log=False)
        )
        ingest_task = asyncio.create_task(ingest_server.serve())

        async def stop_ingest() -> None:
            ingest_server.should_exit = True
            await asyncio.wait_for(ingest_task, timeout=15)

        self.stack.push_async_callback(stop_ingest)
        self.publisher = bootstrap(
            settings=PublisherSettings(http_port=_free_port(), backoff_base_s=0.1, backoff_max_s=2.0),
            event_log=open_event_log(self.log_url),
            tenants=tenants,
            topic_prefix=PREFIX,
            client=HttpMallClient(read_timeout_s=5.0),
        )
        publisher_task = asyncio.create_task(self.publisher.run())

        async def stop_publisher() -> None:
            self.publisher.stop()
            await asyncio.wait_for(publisher_task, timeout=30)

        self.stack.push_async_callback(stop_publisher)
        self.http = httpx.AsyncClient(timeout=10)
        self.stack.push_async_callback(self.http.aclose)
        await self._wait_ready()
        for story in STORIES:
            r = await self.http.post(
                f"{self.sandbox.url}/sandbox/orders",
                json={"partner": TENANT, "id": story.mall_order_id, "mdp": story.mdp},
            )
            r.raise_for_status()

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        publisher_url = f"http://127.0.0.1:{self.publisher.settings.http_port}/readyz"
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                a = await self.http.get(f"http://127.0.0.1:{self.ingest_port}/readyz")
                b = await self.http.get(publisher_url)
                if a.status_code == 200 and b.status_code == 200:
                    return
            await asyncio.sleep(0.2)
        raise RuntimeError("ingest or publisher did not become ready within 60 s")

    async def push(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps({"orders": [snapshot]}).encode()
        deadline = time.monotonic() + self.timeout_s
        while True:
            ts = str(int(time.time()))
            digest = hmac.new(self.ingest_secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
            r = await self.http.post(
                f"http://127.0.0.1:{self.ingest_port}/v1/tenants/{TENANT}/orders",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Mallbridge-Timestamp": ts,
                    "X-Mallbridge-Signature": f"sha256={digest}",
                },
            )
            if r.status_code == 202:
                result: dict[str, Any] = r.json()
                return result
            if r.status_code != 503 or time.monotonic() > deadline:
                raise RuntimeError(f"push refused: HTTP {r.status_code} {r.text}")
            await asyncio.sleep(0.3)

    async def refresh(self) -> None:
        from mallbridge_schema.serde import decode_sync_event

        r = await self.http.get(f"{self.sandbox.url}/sandbox/orders", params={"partner": TENANT})
        by_id = {o["id"]: o["status"] for o in r.json()["orders"]}
        for story in STORIES:
            self.progress.mall_status[story.order_number] = by_id.get(story.mall_order_id, "—")
        async for batch in self.reader.replay(self.topics.sync_events):
            for record in batch:
                event = decode_sync_event(record.value)
                if event.order_number:
                    detail = getattr(event, "status", None) or getattr(event, "code", "")
                    self.progress.last_event[event.order_number] = f"{type(event).__name__} {detail}".strip()

    async def run_step(self, story: Story, step: Step, live: Live) -> None:
        result = await self.push(step.snapshot)
        if step.push_twice:
            again = await self.push(step.snapshot)
            if again["events"] != 0 or again["unchanged"] != 1:
                raise RuntimeError(f"duplicate push wrote events: {again}")
        self.progress.fc_status[story.order_number] = str(step.snapshot["status"])
        _ = result
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            await self.refresh()
            live.update(self.progress.table())
            o = story.order_number
            if step.expect_mall and self.progress.mall_status.get(o) == step.expect_mall:
                return
            if step.expect_note and self.progress.last_event.get(o, "").startswith(step.expect_note):
                return
            if not step.expect_mall and not step.expect_note:
                await asyncio.sleep(0.5)
                return
            await asyncio.sleep(0.2)

    async def outcomes(self) -> list[tuple[Story, str, str, bool]]:
        from mallbridge_schema.events import AttentionNeeded
        from mallbridge_schema.serde import decode_sync_event

        attention: dict[str, str] = {}
        async for batch in self.reader.replay(self.topics.sync_events):
            for record in batch:
                event = decode_sync_event(record.value)
                if isinstance(event, AttentionNeeded):
                    attention[event.order_number] = event.code
        r = await self.http.get(f"{self.sandbox.url}/sandbox/requests", params={"method": "PUT"})
        puts: dict[str, list[str]] = {}
        refused: dict[str, int] = {}
        for entry in r.json()["requests"]:
            if entry["status"] == 200:
                puts.setdefault(entry["order_id"], []).append(entry["body"]["status"])
            else:
                refused[entry["order_id"]] = refused.get(entry["order_id"], 0) + 1
        rows = []
        for story in STORIES:
            expected = f"MALL {story.final_mall}; PUTs {', '.join(story.expect_puts)}"
            if story.expect_attention:
                expected += f"; attention {story.expect_attention}"
            got_puts = tuple(puts.get(story.mall_order_id, []))
            actual = f"MALL {self.progress.mall_status.get(story.order_number)}; PUTs {', '.join(got_puts) or '—'}"
            if attention.get(story.order_number):
                actual += f"; attention {attention[story.order_number]}"
            if refused.get(story.mall_order_id):
                actual += f"; {refused[story.mall_order_id]} refused by MALL"
            ok = (
                self.progress.mall_status.get(story.order_number) == story.final_mall
                and got_puts == story.expect_puts
                and attention.get(story.order_number) == story.expect_attention
                and not refused.get(story.mall_order_id)
            )
            rows.append((story, expected, actual, ok))
        return rows


async def run_demo(log_url: str, *, timeout_s: float, console: Console) -> int:
    demo = Demo(log_url, timeout_s=timeout_s, console=console)
    started = time.monotonic()
    async with demo.stack:
        console.print(f"[bold]mallbridge demo[/bold] on {log_url}: sandbox MALL, ingest, publisher …")
        await demo.start()
        with Live(demo.progress.table(), console=console, refresh_per_second=4) as live:
            for story in STORIES:
                for step in story.steps:
                    await demo.run_step(story, step, live)
            await asyncio.sleep(1.0)  # let late, unexpected PUTs show up before judging
            await demo.refresh()
            live.update(demo.progress.table())
        rows = await demo.outcomes()
    summary = Table(title="Summary: expected outcome vs what happened")
    for column in ("order", "story", "expected", "actual", "ok"):
        summary.add_column(column)
    for story, expected, actual, ok in rows:
        summary.add_row(
            story.order_number, story.title, expected, actual, "[green]yes[/green]" if ok else "[red]NO[/red]"
        )
    console.print(summary)
    passed = sum(1 for *_, ok in rows if ok)
    console.print(f"{passed} of {len(rows)} outcomes as expected in {time.monotonic() - started:.1f} s")
    return 0 if passed == len(rows) else 1


@click.command(name="demo")
@click.option(
    "--log",
    "log_url",
    envvar="MALLBRIDGE_LOG",
    default=None,
    help="Event log (default: a fresh embedded SQLite log in a temporary directory).",
)
@click.option("--timeout", "timeout_s", default=30.0, show_default=True, help="Seconds to wait for each step.")
def demo(log_url: str | None, timeout_s: float) -> None:
    """The main job on one machine: sandbox MALL, ingest, publisher, scripted orders, a summary."""
    console = Console(stderr=False)
    with tempfile.TemporaryDirectory(prefix="mallbridge-demo-") as workdir:
        url = log_url or f"sqlite:///{workdir}/events.db"
        try:
            code = asyncio.run(run_demo(url, timeout_s=timeout_s, console=console))
        except KeyboardInterrupt:
            console.print("interrupted; everything started was stopped")
            code = 130
    sys.exit(code)
