"""The same rules with MALL's webhook off: the publisher's poll of `GET /orders/unconfirmed` is what sees
MALL's changes (both engines)."""

from __future__ import annotations

from mallbridge_schema.events import AttentionNeeded, MallStateObserved
from mallbridge_schema.statuses import MallStatus
from tests.support.mall_chain import Chain, eventually


async def test_without_the_webhook_the_poll_sees_a_new_order_an_opened_one_and_a_cancel(
    chain: Chain, event_log_url: str
) -> None:
    blocked, cancelled, unnamed = "10085700001", "10085700002", "10085700003"
    await chain.create(blocked, status="blocked")
    await chain.create(cancelled, status="open")
    await chain.create(unnamed, status="open")
    await chain.start_publisher(event_log_url, poll_s=0.3)
    await chain.push("P-1", blocked, "in_process")
    await chain.push("P-2", cancelled, "pending")

    async def confirmed() -> bool:
        return (await chain.mall(cancelled))["confirmed"] is True

    await eventually(confirmed, what="the new order confirmed on the poll's notice")

    async def blocked_known() -> bool:
        return any(
            e.status is MallStatus.BLOCKED for e in await chain.sync_events("P-1") if isinstance(e, MallStateObserved)
        )

    await eventually(blocked_known, what="the blocked order read after its refused PUT")
    await chain.act(blocked, "open")
    await chain.act(cancelled, "customer-cancel")

    async def shipping() -> bool:
        return (await chain.mall(blocked))["status"] == "shipping"

    await eventually(shipping, what="the update after MALL opened the order")

    async def cancel_seen() -> bool:
        events = await chain.sync_events("P-2")
        return any(isinstance(e, MallStateObserved) and e.status is MallStatus.CANCELLED for e in events)

    await eventually(cancel_seen, what="the cancel seen by the poll")
    await chain.push("P-2", cancelled, "in_process")

    async def attention() -> list[AttentionNeeded]:
        return [e for e in await chain.sync_events("P-2") if isinstance(e, AttentionNeeded)]

    await eventually(attention, what="cancelled_at_mall")
    await chain.processed()

    # blocked: the one PUT before MALL was known to have it blocked was refused; after MALL opened it the
    # same update went out by itself, with confirmed: true
    assert [(r["body"], r["status"]) for r in await chain.requests(blocked, "PUT")] == [
        ({"status": "shipping", "confirmed": True}, 400),
        ({"status": "shipping", "confirmed": True}, 200),
    ]
    assert [a.code for a in await attention()] == ["cancelled_at_mall"]
    assert await chain.put_bodies(cancelled) == [{"confirmed": True}]  # once; no shipping PUT
    assert [r["method"] for r in await chain.requests(unnamed)] == []  # FastCentrik never named it
    sources = {e.source for e in await chain.sync_events() if isinstance(e, MallStateObserved)}
    assert sources <= {"poll", "refusal"}
    pages = [r for r in await chain.requests(method="GET") if r["path"].endswith("/orders/unconfirmed")]
    assert pages, "the poll listed the unconfirmed queue"
