"""MALL's side, end to end through MALL's webhook: sandbox → ingest → log → publisher → sandbox (both engines).

Each planning rule of DESIGN §6 once, as a merchant would live it; what went to MALL is read from the
sandbox's request log, what was decided from the log. Negative assertions wait for a later marker order.
"""

from __future__ import annotations

from collections.abc import Sequence

from mallbridge_schema.events import AttentionNeeded, MallStateObserved, StepDeferred
from mallbridge_schema.statuses import MallStatus
from tests.support.mall_chain import TRACK, Chain, T, eventually


def observed(events: Sequence[object]) -> list[MallStateObserved]:
    return [e for e in events if isinstance(e, MallStateObserved)]


async def test_a_blocked_order_waits_and_the_update_goes_out_by_itself_once_mall_opens_it(
    chain: Chain, event_log_url: str
) -> None:
    mid = "10085600001"
    await chain.use_webhook()
    await chain.start_publisher(event_log_url)
    await chain.create(mid, status="blocked")  # a new order: MALL's webhook names it
    assert (await chain.deliver())["ids"] == [int(mid)]
    await chain.push("B-1", mid, "in_process")  # FastCentrik has it in process already

    async def deferred() -> bool:
        return any(isinstance(e, StepDeferred) for e in await chain.sync_events("B-1"))

    await eventually(deferred, what="the deferral of the blocked order")
    assert await chain.put_bodies(mid) == []  # never a PUT to a blocked order
    (deferral,) = [e for e in await chain.sync_events("B-1") if isinstance(e, StepDeferred)]
    assert "waiting for MALL to open the order" in deferral.reason

    await chain.act(mid, "open")
    await chain.deliver()

    async def shipping() -> bool:
        return (await chain.mall(mid))["status"] == "shipping"

    await eventually(shipping, what="the PUT after MALL opened the order")
    # the first status PUT after MALL's change carries confirmed: true (MALL reset it when it opened)
    assert await chain.put_bodies(mid) == [{"status": "shipping", "confirmed": True}]
    assert [r["status"] for r in await chain.requests(mid, "PUT")] == [200]
    sources = [(e.source, e.status) for e in observed(await chain.sync_events("B-1"))]
    assert sources == [("webhook", MallStatus.BLOCKED), ("webhook", MallStatus.OPEN)]


async def test_blocked_orders_named_by_the_webhook_get_no_put_when_one_push_brings_them_all(
    chain: Chain, event_log_url: str
) -> None:
    """One push of many orders whose ids a webhook named first: each order's notice is read before it is
    planned (it comes right after the order's first snapshot, and an order is planned once the batch it
    came in is folded), so none of the blocked orders gets a PUT MALL would refuse."""
    mids = [str(10085600100 + i) for i in range(30)]
    await chain.use_webhook()
    await chain.start_publisher(event_log_url)
    for mid in mids:
        await chain.create(mid, status="blocked")
    assert sorted((await chain.deliver())["ids"]) == sorted(int(m) for m in mids)
    snapshots = [
        {"order_number": f"BB-{i}", "mall_order_id": mid, "status": "in_process"} for i, mid in enumerate(mids)
    ]
    assert (await chain.ingest.push(T, snapshots)).status_code == 202

    async def all_deferred() -> bool:
        deferred = {e.order_number for e in await chain.sync_events() if isinstance(e, StepDeferred)}
        return deferred >= {f"BB-{i}" for i in range(len(mids))}

    await eventually(all_deferred, what="every blocked order deferred")
    await chain.processed()
    puts = [r for mid in mids for r in await chain.requests(mid, "PUT")]
    assert puts == []
    reads = [len(await chain.requests(mid, "GET")) for mid in mids]
    assert reads == [1] * len(mids)  # one read each


async def test_a_customer_cancel_at_mall_stops_the_shipping_put_and_tells_the_warehouse(
    chain: Chain, event_log_url: str
) -> None:
    mid = "10085600002"
    await chain.use_webhook()
    await chain.start_publisher(event_log_url)
    await chain.create(mid, status="open")
    await chain.deliver()
    await chain.push("C-1", mid, "pending")

    async def confirmed() -> bool:
        return (await chain.mall(mid))["confirmed"] is True

    await eventually(confirmed, what="the new order confirmed")
    await chain.act(mid, "customer-cancel")
    await chain.deliver()

    async def cancel_seen() -> bool:
        return any(e.status is MallStatus.CANCELLED for e in observed(await chain.sync_events("C-1")))

    await eventually(cancel_seen, what="MALL's cancel recorded")
    await chain.push("C-1", mid, "in_process")

    async def attention() -> list[AttentionNeeded]:
        return [e for e in await chain.sync_events("C-1") if isinstance(e, AttentionNeeded)]

    await eventually(attention, what="the attention item")
    await chain.processed()
    (item,) = await attention()
    assert item.code == "cancelled_at_mall"
    assert "MALL cancelled this order: do not ship it; cancel it in FastCentrik" in item.reason
    assert await chain.put_bodies(mid) == [{"confirmed": True}]  # no shipping PUT, ever


async def test_finals_mall_set_itself_are_recorded_and_nothing_more_is_sent(chain: Chain, event_log_url: str) -> None:
    cases = {  # MALL order id: (FastCentrik order, mdp, MALL's action)
        "10085600011": ("F-1", True, "mdp-delivered"),
        "10085600012": ("F-2", True, "mdp-returned"),
        "10085600013": ("F-3", True, "mdp-lost"),
        "10085600014": ("F-4", False, "portal-return"),
    }
    await chain.use_webhook()
    await chain.start_publisher(event_log_url)
    for mid, (order, mdp, _) in cases.items():
        await chain.create(mid, status="open", confirmed=True, mdp=mdp)
        tracking = {} if mdp else {"tracking_number": TRACK[0], "tracking_url": TRACK[1]}
        await chain.push(order, mid, "settled", mdp=mdp, **tracking)
    await chain.deliver()

    async def all_shipped() -> bool:
        return all([(await chain.mall(mid))["status"] == "shipped" for mid in cases])

    await eventually(all_shipped, what="every order shipped")
    sent_before = {mid: len(await chain.put_bodies(mid)) for mid in cases}
    for mid, (_, _, action) in cases.items():
        await chain.act(mid, action)
    await chain.deliver()

    async def finals_seen() -> bool:
        events = observed(await chain.sync_events())
        return {
            e.mall_order_id for e in events if e.status in (MallStatus.DELIVERED, MallStatus.RETURNED, MallStatus.LOST)
        } == set(cases)

    await eventually(finals_seen, what="the four finals recorded")
    await chain.processed()
    for mid, (order, _, _) in cases.items():
        assert len(await chain.put_bodies(mid)) == sent_before[mid], f"{order}: something was sent after MALL's final"
        assert not [e for e in await chain.sync_events(order) if isinstance(e, AttentionNeeded)]
    finals = {e.mall_order_id: e.status for e in observed(await chain.sync_events()) if e.source == "webhook"}
    assert finals == {
        "10085600011": MallStatus.DELIVERED,
        "10085600012": MallStatus.RETURNED,
        "10085600013": MallStatus.LOST,
        "10085600014": MallStatus.RETURNED,
    }


async def test_an_unconfirmed_order_is_confirmed_once_per_mall_change_and_never_one_fastcentrik_did_not_name(
    chain: Chain, event_log_url: str
) -> None:
    named, unnamed = "10085600021", "10085600022"
    await chain.use_webhook()
    await chain.start_publisher(event_log_url)
    await chain.create(named, status="open")
    await chain.create(unnamed, status="open")
    await chain.deliver()
    await chain.push("U-1", named, "pending")

    async def confirms() -> list[object]:
        return await chain.put_bodies(named)

    await eventually(confirms, what="the confirmation")
    again = await chain.ingest.client.post(
        f"/v1/tenants/acme/mall-webhook/{'chain-webhook-token-5f1e0c'}", content=f"[{named}, {named}]"
    )
    assert again.json() == {"received": 1, "known": 1, "unknown": 0}  # named again: no MALL change behind it
    await chain.processed()
    assert await chain.put_bodies(named) == [{"confirmed": True}]  # once
    assert await chain.requests(unnamed) == []  # never read, never confirmed
    await chain.act(named, "edit")  # a MALL change: unconfirmed again
    await chain.deliver()

    async def twice() -> bool:
        return len(await chain.put_bodies(named)) == 2

    await eventually(twice, what="the confirmation after MALL's edit")
    assert await chain.put_bodies(named) == [{"confirmed": True}, {"confirmed": True}]


async def test_a_webhook_receipt_survives_a_publisher_that_is_down_when_it_arrives(
    chain: Chain, event_log_url: str
) -> None:
    mid = "10085600031"
    await chain.use_webhook()
    await chain.create(mid, status="open", confirmed=True)
    await chain.start_publisher(event_log_url)
    await chain.push("D-1", mid, "in_process")

    async def shipping() -> bool:
        return (await chain.mall(mid))["status"] == "shipping"

    await eventually(shipping, what="the shipping PUT")
    await chain.stop_publisher()
    await chain.act(mid, "customer-cancel")
    delivery = await chain.deliver()  # acknowledged by ingest while no publisher runs
    assert delivery["ids"] == [int(mid)]

    await chain.start_publisher(event_log_url)

    async def cancel_seen() -> bool:
        return any(e.status is MallStatus.CANCELLED for e in observed(await chain.sync_events("D-1")))

    await eventually(cancel_seen, what="the cancel read after the restart")
    (seen,) = [e for e in observed(await chain.sync_events("D-1")) if e.status is MallStatus.CANCELLED]
    assert (seen.source, seen.changed) == ("webhook", ("status", "confirmed"))


async def test_a_notice_received_while_the_publisher_was_down_is_read_before_the_order_is_planned(
    chain: Chain, event_log_url: str
) -> None:
    """MALL's customer cancels while no publisher runs, and FastCentrik settles the order meanwhile: the
    publisher that starts reads the order before planning it, so no `shipped` goes to a cancelled order."""
    mid = "10085600032"
    await chain.use_webhook()
    await chain.create(mid, status="open", confirmed=True)
    await chain.start_publisher(event_log_url)
    await chain.push("D-2", mid, "in_process")

    async def shipping() -> bool:
        return (await chain.mall(mid))["status"] == "shipping"

    await eventually(shipping, what="the shipping PUT")
    await chain.stop_publisher()
    await chain.act(mid, "customer-cancel")
    assert (await chain.deliver())["ids"] == [int(mid)]
    await chain.push("D-2", mid, "settled", tracking_number=TRACK[0], tracking_url=TRACK[1])

    await chain.start_publisher(event_log_url)

    async def attention() -> list[AttentionNeeded]:
        return [e for e in await chain.sync_events("D-2") if isinstance(e, AttentionNeeded)]

    await eventually(attention, what="the cancelled_at_mall item")
    await chain.processed()
    assert [item.code for item in await attention()] == ["cancelled_at_mall"]
    assert await chain.put_bodies(mid) == [{"status": "shipping", "confirmed": True}]  # nothing after the cancel
