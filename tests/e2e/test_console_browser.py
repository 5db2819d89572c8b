"""The web console in a real browser (Debian's Chromium through Playwright) on a running publisher, the sandbox
MALL over real HTTP and the embedded log: log in, see the attention item the test caused, mark a shipped order
returned through the form and see `returned` reach MALL and the timeline; requests without the session or with
a wrong CSRF token change nothing; the MALL orders the shop never got, as `mallbridge balance` recorded them,
are on the queue (and counted on the tenant's card) until balance records that there are none any more."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Locator, Page, expect
from pydantic import SecretStr

from mallbridge_core.eventlog import EventLog, open_event_log
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_publisher.adapters.mall_http import HttpMallClient
from mallbridge_publisher.bootstrap import bootstrap
from mallbridge_publisher.config import PublisherSettings
from mallbridge_sandbox.app import create_app
from mallbridge_sandbox.partners import Partner
from mallbridge_sandbox.server import SandboxServer
from mallbridge_schema.events import AttentionAcknowledged
from mallbridge_schema.serde import decode_operator_event
from tests.support.browser import chromium
from tests.support.eventually import eventually
from tests.support.orders import OrderEventWriter
from tests.unit.publisher.unknown_seen import record_unknown, unknown_seen

T, CLIENT_ID, TOKEN = "acme", "acme-secret-client-id", "browser-test-console-token-0123"
PREFIX = "browser."
TRACK = {"tracking_number": "ZX12345-CZ", "tracking_url": "https://tracking.example/ZX12345-CZ"}
SHIPPED_ID, FLAGGED_ID = "10085339701", "10085339702"
NEVER_GOT_ID = "10085339777"  # open at MALL, never in a FastCentrik snapshot


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    def __init__(self, sandbox: SandboxServer, log: EventLog, port: int) -> None:
        self.sandbox, self.log, self.port = sandbox, log, port
        self.topics = Topics(prefix=PREFIX)
        self.console = f"http://127.0.0.1:{port}/console"

    def puts(self, mall_id: str) -> list[dict[str, object]]:
        r = httpx.get(f"{self.sandbox.url}/sandbox/requests", params={"method": "PUT", "order_id": mall_id})
        return [entry["body"] for entry in r.json()["requests"]]

    def mall_status(self, mall_id: str) -> str:
        return str(httpx.get(f"{self.sandbox.url}/sandbox/orders/{mall_id}").json()["order"]["status"])

    async def operator_events(self) -> list[object]:
        return [decode_operator_event(r.value) async for b in self.log.replay(self.topics.operator_events) for r in b]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    sandbox = SandboxServer(create_app([Partner(T, CLIENT_ID)], seed=3))
    sandbox.start()
    url = f"sqlite:///{tmp_path}/events.db"
    log = open_event_log(url)
    await log.start()
    port = _free_port()
    tenant = Tenant(
        tenant_id=T, mall_client_id=SecretStr(CLIENT_ID), ingest_secret=None, mall_base_url=sandbox.base_url
    )
    settings = PublisherSettings(http_port=port, backoff_base_s=0.05, operator_tail_interval_s=0.1, console_token=TOKEN)
    service = bootstrap(
        settings=settings,
        event_log=open_event_log(url),
        tenants={T: tenant},
        topic_prefix=PREFIX,
        client=HttpMallClient(),
    )
    task = asyncio.create_task(service.run())
    s = Stack(sandbox, log, port)
    try:
        await eventually(
            lambda: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200,
            interval=0.2,
            retry_on=(httpx.TransportError,),  # not listening yet
        )
        yield s
    finally:
        service.stop()
        await asyncio.wait_for(task, timeout=30)
        await log.close()
        sandbox.stop()


async def _orders(s: Stack) -> None:
    """A shipped order, and one cancelled in FastCentrik after MALL shipped it (attention)."""
    for mall_id in (SHIPPED_ID, FLAGGED_ID):
        httpx.post(f"{s.sandbox.url}/sandbox/orders", json={"partner": T, "id": mall_id}).raise_for_status()
    await s.log.ensure_topics([s.topics.order_events])
    w = OrderEventWriter(s.log, s.topics.order_events)
    await w.write(
        w.first_seen(T, "W-1", SHIPPED_ID, "settled", **TRACK), w.first_seen(T, "W-2", FLAGGED_ID, "settled", **TRACK)
    )
    await eventually(lambda: s.mall_status(SHIPPED_ID) == "shipped" and s.mall_status(FLAGGED_ID) == "shipped")
    await w.write(w.status(T, "W-2", FLAGGED_ID, "cancelled"))


async def _reload_until(page: Page, locator: Locator, text: str, timeout: float = 30.0) -> None:
    """The pages are rendered on the server: reload until the publisher has got there."""
    deadline = time.monotonic() + timeout
    while text not in " ".join(await locator.all_inner_texts()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not shown within {timeout:g} s")
        await asyncio.sleep(0.2)
        await page.reload()
    await expect(locator.first).to_contain_text(text)


async def _reload_until_gone(page: Page, locator: Locator, timeout: float = 30.0) -> None:
    """Reload until the page has no `locator` any more (the publisher has folded what removes it)."""

    async def gone() -> bool:
        await page.reload()
        return await locator.count() == 0

    await eventually(gone, timeout=timeout, interval=0.2, what="the section gone from the page")
    await expect(locator).to_have_count(0)


async def _log_in(page: Page, s: Stack) -> None:
    await page.goto(f"{s.console}/")
    await expect(page).to_have_url(f"{s.console}/login?next=%2Fconsole%2F")
    await page.get_by_label("Your name").fill("Jana Nováková")
    await page.get_by_label("Operator token").fill(TOKEN)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Tenants")).to_be_visible()


async def test_log_in_see_the_attention_and_mark_a_shipped_order_returned(stack: Stack, tmp_path: Path) -> None:
    s = stack
    await _orders(s)
    async with chromium(tmp_path / "profile") as browser:
        page = await browser.new_page()
        await _log_in(page, s)
        await expect(page.locator("svg.chart")).to_have_count(3)
        await page.get_by_role("link", name="Queue").click()
        row = page.locator("tr", has_text="W-2")
        await _reload_until(page, row, "cancel_after_shipped")
        await expect(row).to_contain_text("stornovaná / cancelled")  # FastCentrik's side, in Czech and English

        await page.goto(f"{s.console}/orders/{T}/W-1")
        await page.locator("form.action", has_text="Mark returned").get_by_label("Why").fill("parcel came back")
        await page.get_by_role("button", name="Mark returned…").click()
        await expect(page.get_by_role("heading", name="Mark the order returned?")).to_be_visible()
        assert "returned" not in [b.get("status") for b in s.puts(SHIPPED_ID)]  # reviewing sends nothing
        await page.get_by_role("button", name="Confirm").click()
        await expect(page.get_by_role("status")).to_contain_text("Recorded: the return")

        await eventually(lambda: s.mall_status(SHIPPED_ID) == "returned")
        assert [b for b in s.puts(SHIPPED_ID) if b.get("status") == "returned"] == [{"status": "returned"}]
        timeline = page.locator("table.timeline")
        await _reload_until(page, timeline, "MALL accepted #2 returned")
        await expect(timeline).to_contain_text("return requested (PUT returned once): “parcel came back”")
        await expect(page.locator("tr.side-operator")).to_contain_text("Jana Nováková")


async def test_without_the_session_or_with_a_wrong_csrf_token_nothing_changes(stack: Stack, tmp_path: Path) -> None:
    s = stack
    await _orders(s)
    ack_url = f"{s.console}/actions/ack/{T}/W-2"
    async with chromium(tmp_path / "profile") as browser:
        page = await browser.new_page()
        await _log_in(page, s)
        await page.goto(f"{s.console}/orders/{T}/W-2")
        await _reload_until(page, page.locator("form.action", has_text="Acknowledge"), "What was done")
        # with the browser's own session cookie, but a wrong or no CSRF token
        wrong = await page.request.post(ack_url, form={"csrf": "not-the-token", "step": "confirm"})
        missing = await page.request.post(ack_url, form={"step": "confirm"})
        # a real CSRF token, but no session (another client)
        csrf = await page.locator("form.action input[name=csrf]").first.get_attribute("value")
        async with httpx.AsyncClient() as other:  # the publisher serves on this event loop: no blocking call
            anonymous = await other.post(ack_url, data={"csrf": csrf, "step": "confirm"})
        assert (wrong.status, missing.status, anonymous.status_code) == (403, 403, 403)

        # the same action through the form goes through: the refusals above were the checks, and changed nothing
        await page.locator("form.action", has_text="Acknowledge").get_by_label("What was done").fill("called MALL")
        await page.get_by_role("button", name="Acknowledge…").click()
        await page.get_by_role("button", name="Confirm").click()
        await expect(page.get_by_role("status")).to_contain_text("Recorded: the acknowledgement")
    acks = [e for e in await s.operator_events() if isinstance(e, AttentionAcknowledged)]
    assert [(e.order_number, e.by, e.reason) for e in acks] == [("W-2", "Jana Nováková", "called MALL")]


async def test_the_mall_orders_the_shop_never_got_are_on_the_queue_until_balance_finds_none(
    stack: Stack, tmp_path: Path
) -> None:
    s = stack
    await s.log.ensure_topics([s.topics.operator_events])
    seen_at = datetime.now(UTC)
    # what `mallbridge balance` records: the tenant's whole set, two in all and one of them listed
    await record_unknown(s.log, s.topics.operator_events, unknown_seen(T, NEVER_GOT_ID, total=2, at=seen_at))
    async with chromium(tmp_path / "profile") as browser:
        page = await browser.new_page()
        await _log_in(page, s)
        await page.get_by_role("link", name="Queue").click()
        section = page.locator("section.card.unknown")
        await _reload_until(page, section, NEVER_GOT_ID)
        await expect(section.get_by_role("heading", name="MALL orders the shop never got")).to_be_visible()
        await expect(section.locator("tr", has_text=NEVER_GOT_ID)).to_contain_text("open")
        await expect(section).to_contain_text("And 1 more not listed here (2 in all)")
        await expect(section).to_contain_text("or cancel it at MALL")

        await page.goto(f"{s.console}/")
        await page.get_by_role("link", name="2 MALL orders the shop never got").click()
        await expect(page).to_have_url(f"{s.console}/queue?tenant={T}#unknown-mall-orders")
        await expect(section).to_contain_text(NEVER_GOT_ID)
        # the tenant has nothing else for a person, yet its filter chip is there, chosen, with the two
        await expect(page.locator(".filters a.chip.on", has_text=T)).to_contain_text("2")

        # the next balance run finds none any more: an empty set
        await record_unknown(s.log, s.topics.operator_events, unknown_seen(T, at=seen_at + timedelta(seconds=1)))
        await _reload_until_gone(page, section)
        await page.goto(f"{s.console}/")
        await expect(page.locator(".card.tenant")).to_contain_text("open attention")
        await expect(page.get_by_text("the shop never got")).to_have_count(0)
