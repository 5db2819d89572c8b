"""`mallbridge audit --verify` on a log the real chain wrote (sandbox MALL → webhook → ingest → log → publisher
→ sandbox, tests/support/mall_chain.py, both engines): MALL's side as a merchant lives it (a blocked order
MALL opens, a customer cancel, MALL Delivery's delivered, a return set in the portal, an edit at MALL), then
the audit: every PUT the publisher made is the one the reconciler plans, and the figures count MALL's side
the way MALL does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from click.testing import CliRunner

from mallbridge_audit.cli import audit
from mallbridge_schema.events import AttentionNeeded, MallStateObserved, StepDeferred
from mallbridge_schema.statuses import MallStatus
from tests.support.mall_chain import TRACK, Chain, eventually, running_chain

BLOCKED, CANCELLED, DELIVERED, RETURNED, EDITED = (
    "10085700001",
    "10085700002",
    "10085700003",
    "10085700004",
    "10085700005",
)


@pytest.fixture
async def chain(event_log_url: str, topic_prefix: str) -> AsyncIterator[Chain]:
    async with running_chain(event_log_url, topic_prefix) as running:
        await running.use_webhook()
        await running.start_publisher(event_log_url)
        yield running


async def _seen(chain: Chain, order: str, kind: type, what: str) -> None:
    async def found() -> bool:
        return any(isinstance(e, kind) for e in await chain.sync_events(order))

    await eventually(found, what=what)


async def _status(chain: Chain, mall_id: str, status: str) -> None:
    async def reached() -> bool:
        return (await chain.mall(mall_id))["status"] == status

    await eventually(reached, what=f"{mall_id} {status} at MALL")


async def _live_malls_side(chain: Chain) -> None:
    await chain.create(BLOCKED, status="blocked")
    await chain.create(CANCELLED, status="open")
    await chain.create(DELIVERED, status="open", confirmed=True, mdp=True)
    await chain.create(RETURNED, status="open", confirmed=True)
    await chain.create(EDITED, status="open")
    await chain.deliver()
    await chain.push("X-BLOCKED", BLOCKED, "in_process")
    await chain.push("X-CANCELLED", CANCELLED, "pending")
    await chain.push("X-DELIVERED", DELIVERED, "settled", mdp=True)
    await chain.push("X-RETURNED", RETURNED, "settled", tracking_number=TRACK[0], tracking_url=TRACK[1])
    await chain.push("X-EDITED", EDITED, "pending")
    await _seen(chain, "X-BLOCKED", StepDeferred, "the blocked order's deferral")
    for mid in (DELIVERED, RETURNED):
        await _status(chain, mid, "shipped")

    async def confirmed() -> bool:
        return all([(await chain.mall(mid))["confirmed"] for mid in (CANCELLED, EDITED)])

    await eventually(confirmed, what="the new orders confirmed")
    for mid, action in ((BLOCKED, "open"), (CANCELLED, "customer-cancel"), (DELIVERED, "mdp-delivered")):
        await chain.act(mid, action)
    await chain.act(RETURNED, "portal-return")
    await chain.act(EDITED, "edit")
    await chain.deliver()
    await _status(chain, BLOCKED, "shipping")

    async def reads_done() -> bool:
        reads = [e for e in await chain.sync_events() if isinstance(e, MallStateObserved)]
        return {e.mall_order_id for e in reads if e.status is not MallStatus.OPEN} >= {CANCELLED, DELIVERED, RETURNED}

    await eventually(reads_done, what="MALL's changes read")
    await chain.push("X-CANCELLED", CANCELLED, "in_process")  # the warehouse did not notice the cancel
    await _seen(chain, "X-CANCELLED", AttentionNeeded, "the cancelled_at_mall item")

    async def edit_confirmed() -> bool:
        return len(await chain.put_bodies(EDITED)) == 2

    await eventually(edit_confirmed, what="the confirmation after MALL's edit")
    await chain.processed()  # the publisher is past everything above


def _audit(log_url: str, prefix: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        audit,
        ["--log", log_url, "--topic-prefix", prefix, "--format", "json", "--verify", "--grace", "0", *args],
        catch_exceptions=False,
    )
    return result.exit_code, json.loads(result.stdout)


async def test_the_publishers_puts_on_malls_side_verify_and_the_figures_count_it(
    chain: Chain, event_log_url: str, topic_prefix: str
) -> None:
    await _live_malls_side(chain)
    code, report = await asyncio.to_thread(_audit, event_log_url, topic_prefix)
    verify = report["verify"]
    assert (code, verify["differences"]) == (0, [])
    assert verify["puts_checked"] >= 7
    [acme] = report["tenants"]
    assert acme["partner_cancellations"] == 0  # the customer cancelled at MALL
    assert (acme["delivered_orders"], acme["delivered_on_time"]) == (1, 1)  # MALL Delivery's own delivered
    changes = acme["mall_changes"]
    for kind in ("cancelled_at_mall", "delivered_by_mall_delivery", "returned_in_portal", "opened_at_mall"):
        assert changes.get(kind) == 1, (kind, changes)
    assert changes.get("changed_at_mall", 0) >= 1  # the edit
    assert acme["webhook_receipts"] == 2
    states = {o["order_number"]: (o["mall_status"], o["mall_status_by"], o["state"]) for o in report["orders"]}
    assert states["X-CANCELLED"] == ("cancelled", "mall", "attention")
    assert states["X-DELIVERED"] == ("delivered", "mall", "ended")
    assert states["X-RETURNED"] == ("returned", "mall", "ended")
    assert states["X-BLOCKED"] == ("shipping", "us", "in_sync")
    assert states["X-EDITED"][2] == "in_sync"


async def test_a_mall_cancelled_orders_timeline_shows_malls_side(
    chain: Chain, event_log_url: str, topic_prefix: str
) -> None:
    await _live_malls_side(chain)
    _, report = await asyncio.to_thread(_audit, event_log_url, topic_prefix, "--order", "X-CANCELLED")
    [timeline] = report["timelines"]
    mall = [(e["type"], e["why"], e["change"]) for e in timeline["entries"] if e["side"] == "mall"]
    assert ("MallOrderChanged", "", None) in mall
    assert ("MallStateObserved", "webhook", "cancelled_at_mall") in mall
    assert [e["type"] for e in timeline["entries"] if e["type"] == "AttentionNeeded"] == ["AttentionNeeded"]
