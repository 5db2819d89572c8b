"""`mallbridge demo`: sandbox MALL, ingest and publisher in one process, scripted orders, a live table,
and a summary of expected against actual outcomes; then the web console stays up on the demo's data (its
URL and token are printed) until Ctrl-C. `--once` ends after the summary (CI and tests). Exit code 1 when
any outcome differs.

Everything started here is stopped on exit, on failure and on Ctrl-C (see services.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import click
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.live import Live
from rich.table import Table

from mallbridge_app.demo import never_got
from mallbridge_app.demo.never_got import NEVER_GOT
from mallbridge_app.demo.scenario import MARKER, STORIES, Step, Story
from mallbridge_app.demo.services import TENANT, DemoServices
from mallbridge_core.settings import setting_option, settings_from
from mallbridge_schema.events import AttentionNeeded, StepDeferred
from mallbridge_schema.serde import decode_sync_event


class DemoSettings(BaseSettings):
    """The demo's options: the event log from MALLBRIDGE_LOG, the step timeout from MALLBRIDGE_DEMO_TIMEOUT_S."""

    model_config = SettingsConfigDict(env_prefix="MALLBRIDGE_DEMO_", extra="ignore", populate_by_name=True)

    log: str | None = Field(default=None, validation_alias=AliasChoices("MALLBRIDGE_LOG"))
    timeout_s: float = Field(default=30.0, gt=0)
    console_port: int = Field(default=0, ge=0, le=65535)


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
    def __init__(self, log_url: str, *, timeout_s: float, console_port: int = 0) -> None:
        self.services = DemoServices(log_url, console_port=console_port)
        self.timeout_s = timeout_s
        self.progress = Progress()

    async def start(self) -> None:
        await self.services.start()
        for story in (*STORIES, MARKER):
            if story.mall_status == "open":
                await self.services.create_mall_order(story.mall_order_id, mdp=story.mdp)
        # From here on MALL's changes reach ingest through MALL's webhook (new orders included, as at MALL)
        await self.services.point_webhook_at_ingest()
        for story in STORIES:
            if story.mall_status != "open":
                await self.services.create_mall_order(story.mall_order_id, mdp=story.mdp, status=story.mall_status)
        # MALL tells ingest of it too, and no FastCentrik snapshot will ever name it (never_got.py)
        await self.services.create_mall_order(NEVER_GOT.mall_order_id, mdp=False, opened_at=never_got.opened_at())
        await self.services.deliver_webhook()

    async def push(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        """Push one snapshot, signed as FastCentrik's side would; retried while ingest answers 503."""
        body = json.dumps({"orders": [snapshot]}).encode()
        secret = self.services.ingest_secret.encode()
        deadline = time.monotonic() + self.timeout_s
        while True:
            ts = str(int(time.time()))
            digest = hmac.new(secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
            r = await self.services.http.post(
                f"{self.services.ingest_url}/v1/tenants/{TENANT}/orders",
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

    async def sync_events(self) -> list[Any]:
        records = [r async for batch in self.services.reader.replay(self.services.topics.sync_events) for r in batch]
        return [decode_sync_event(record.value) for record in records]

    async def refresh(self) -> None:
        by_id = await self.services.mall_statuses()
        for story in STORIES:
            self.progress.mall_status[story.order_number] = by_id.get(story.mall_order_id, "—")
        for event in await self.sync_events():
            if event.order_number:
                detail = getattr(event, "status", None) or getattr(event, "code", "")
                self.progress.last_event[event.order_number] = f"{type(event).__name__} {detail}".strip()

    async def run_step(self, story: Story, step: Step, live: Live) -> None:
        if step.snapshot is None:
            assert step.mall_action is not None
            await self.services.mall_action(story.mall_order_id, step.mall_action)
        else:
            await self.push_step(story, step)
        deadline = time.monotonic() + self.timeout_s
        while True:
            await self.refresh()
            live.update(self.progress.table())
            if step.reached(
                story.order_number, self.progress.mall_status.get(story.order_number), self.progress.last_event
            ):
                return
            if time.monotonic() > deadline:
                return  # judged in the summary: the outcome will differ from the expected one
            await asyncio.sleep(0.2)

    async def push_step(self, story: Story, step: Step) -> None:
        assert step.snapshot is not None
        await self.push(step.snapshot)
        if step.push_twice:
            again = await self.push(step.snapshot)
            # Within the same second it is the very same signed request: a replay, answered as the first
            # one was ("replayed": true) with nothing written again. Signed anew it changes nothing.
            if not again.get("replayed") and (again["events"] != 0 or again["unchanged"] != 1):
                raise RuntimeError(f"duplicate push wrote events: {again}")
        self.progress.fc_status[story.order_number] = str(step.snapshot["status"])

    async def barrier(self) -> None:
        """Push the marker order and wait for its PUT: the publisher has then consumed every story's events,
        so a late, unexpected PUT of a story would have been sent before the summary is judged."""
        marker = MARKER.steps[0].snapshot
        assert marker is not None
        await self.push(marker)
        deadline = time.monotonic() + self.timeout_s
        while (await self.services.mall_statuses()).get(MARKER.mall_order_id) != MARKER.final_mall:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the marker order {MARKER.order_number} was not sent within {self.timeout_s:g} s")
            await asyncio.sleep(0.2)

    async def outcomes(self) -> list[tuple[Story, str, str, bool]]:
        events = await self.sync_events()
        attention = {e.order_number: e.code for e in events if isinstance(e, AttentionNeeded)}
        deferred: dict[str, list[str]] = {}
        for e in events:
            if isinstance(e, StepDeferred):
                deferred.setdefault(e.order_number, []).append(e.reason)
        sandbox_url = self.services.sandbox.url
        r = await self.services.http.get(f"{sandbox_url}/sandbox/requests", params={"method": "PUT"})
        puts: dict[str, list[str]] = {}
        refused: dict[str, int] = {}
        for entry in r.json()["requests"]:
            if entry["status"] == 200:
                puts.setdefault(entry["order_id"], []).append(entry["body"]["status"])
            else:
                refused[entry["order_id"]] = refused.get(entry["order_id"], 0) + 1
        return [
            judge(story, self.progress.mall_status.get(story.order_number), puts, refused, attention, deferred)
            for story in STORIES
        ]


def judge(
    story: Story,
    mall: str | None,
    puts: dict[str, list[str]],
    refused: dict[str, int],
    attention: dict[str, str],
    deferred: dict[str, list[str]],
) -> tuple[Story, str, str, bool]:
    """One summary row: (story, what was expected, what happened, whether they agree)."""
    expected = f"MALL {story.final_mall}; PUTs {', '.join(story.expect_puts) or '—'}"
    if story.expect_attention:
        expected += f"; attention {story.expect_attention}"
    deferral_seen = True
    if story.expect_deferral:
        expected += f'; deferred "{story.expect_deferral}"'
        deferral_seen = any(story.expect_deferral in reason for reason in deferred.get(story.order_number, []))
    got_puts = tuple(puts.get(story.mall_order_id, []))
    actual = f"MALL {mall}; PUTs {', '.join(got_puts) or '—'}"
    if attention.get(story.order_number):
        actual += f"; attention {attention[story.order_number]}"
    if refused.get(story.mall_order_id):
        actual += f"; {refused[story.mall_order_id]} refused by MALL"
    if story.expect_deferral:
        actual += f'; deferred "{story.expect_deferral}"' if deferral_seen else "; no such deferral"
    ok = (
        deferral_seen
        and mall == story.final_mall
        and got_puts == story.expect_puts
        and attention.get(story.order_number) == story.expect_attention
        and not refused.get(story.mall_order_id)
    )
    return story, expected, actual, ok


def summary_table(rows: list[tuple[Story, str, str, bool]]) -> Table:
    summary = Table(title="Summary: expected outcome vs what happened")
    for column in ("order", "story", "expected", "actual", "ok"):
        summary.add_column(column)
    for story, expected, actual, ok in rows:
        verdict = "[green]yes[/green]" if ok else "[red]NO[/red]"
        summary.add_row(story.order_number, story.title, expected, actual, verdict)
    return summary


CONSOLE_HINT = (
    "Try it: the Queue shows D-1003 (cancelled after shipped) and D-1007 (cancelled at MALL); acknowledge one. "
    "D-1004 is shipped: open it (Open order: demo-shop / D-1004) and mark it returned. "
    f"On top of the Queue, MALL order {NEVER_GOT.mall_order_id} is one the shop never got."
)


async def serve_console(demo: Demo, console: Console) -> None:
    """Keep everything running for the web console until Ctrl-C (or SIGTERM)."""
    services = demo.services
    console.print(f"\n[bold]Console:[/bold] {services.console_url}")
    console.print(f"[bold]Token:[/bold]   {services.console_token}   (log in with your name and this token)")
    console.print(CONSOLE_HINT)
    console.print("Ctrl-C stops the demo.")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def run_demo(
    log_url: str, *, timeout_s: float, console: Console, once: bool = True, console_port: int = 0
) -> int:
    demo = Demo(log_url, timeout_s=timeout_s, console_port=console_port)
    started = time.monotonic()
    async with demo.services.stack:
        console.print(f"[bold]mallbridge demo[/bold] on {log_url}: sandbox MALL, ingest, publisher …")
        await demo.start()
        with Live(demo.progress.table(), console=console, refresh_per_second=4) as live:
            for story in STORIES:
                for step in story.steps:
                    await demo.run_step(story, step, live)
            await demo.barrier()
            await demo.refresh()
            live.update(demo.progress.table())
        if not console.is_terminal:
            console.line()  # rich ends a live table with a line break only on a terminal (not in CI logs, files)
        rows = await demo.outcomes()
        stories = [story.order_number for story in (*STORIES, MARKER)]
        rows.append(await never_got.find_it(demo.services, stories, timeout_s=demo.timeout_s))
        console.print(summary_table(rows))
        passed = sum(1 for *_, ok in rows if ok)
        console.print(f"{passed} of {len(rows)} outcomes as expected in {time.monotonic() - started:.1f} s")
        if not once:
            await serve_console(demo, console)
    if not once:
        console.print("stopped; everything started was stopped")
    return 0 if passed == len(rows) else 1


@click.command(name="demo")
@setting_option(DemoSettings, "log", "--log", help="Event log (default: a fresh embedded SQLite log in a temp dir).")
@setting_option(DemoSettings, "timeout_s", "--timeout", type=float, help="Seconds to wait for each step.")
@setting_option(
    DemoSettings,
    "console_port",
    "--console-port",
    type=int,
    help="The publisher's HTTP port, console included (0: any free).",
)
@click.option("--once", is_flag=True, default=False, help="End after the summary (no console): for CI and tests.")
def demo(once: bool, **given: Any) -> None:
    """The main job on one machine: sandbox MALL, ingest, publisher, scripted orders, a summary, the console."""
    settings = settings_from(DemoSettings, given)
    console = Console(stderr=False)
    with tempfile.TemporaryDirectory(prefix="mallbridge-demo-") as workdir:
        url = settings.log or f"sqlite:///{workdir}/events.db"
        try:
            code = asyncio.run(
                run_demo(
                    url, timeout_s=settings.timeout_s, console=console, once=once, console_port=settings.console_port
                )
            )
        except KeyboardInterrupt:
            console.print("interrupted; everything started was stopped")
            code = 130
        except RuntimeError as exc:  # a part did not start, or refused the script: one line, not a traceback
            console.print(f"[red]demo failed:[/red] {exc}; everything started was stopped")
            code = 1
    sys.exit(code)
