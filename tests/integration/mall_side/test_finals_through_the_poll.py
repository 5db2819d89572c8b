"""Finals MALL set itself (MALL Delivery delivered/returned/lost, a portal return) with MALL's webhook off:
the poll of `GET /orders/unconfirmed` sees each, it is recorded once, and nothing more is sent (both
engines)."""

from __future__ import annotations

from mallbridge_schema.events import AttentionNeeded, MallStateObserved
from mallbridge_schema.statuses import MallStatus
from tests.support.mall_chain import TRACK, Chain, T, eventually

CASES = {  # MALL order id: (FastCentrik order, mdp, MALL's action, the final MALL then has)
    "10085720011": ("G-1", True, "mdp-delivered", MallStatus.DELIVERED),
    "10085720012": ("G-2", True, "mdp-returned", MallStatus.RETURNED),
    "10085720013": ("G-3", True, "mdp-lost", MallStatus.LOST),
    "10085720014": ("G-4", False, "portal-return", MallStatus.RETURNED),
}


async def test_finals_mall_set_itself_are_seen_by_the_poll_recorded_once_and_nothing_more_is_sent(
    chain: Chain, event_log_url: str
) -> None:
    publisher = await chain.start_publisher(event_log_url, poll_s=0.3)
    for mid, (order, mdp, _, _) in CASES.items():
        await chain.create(mid, status="open", confirmed=True, mdp=mdp)
        tracking = {} if mdp else {"tracking_number": TRACK[0], "tracking_url": TRACK[1]}
        await chain.push(order, mid, "settled", mdp=mdp, **tracking)

    async def all_shipped() -> bool:
        return all([(await chain.mall(mid))["status"] == "shipped" for mid in CASES])

    await eventually(all_shipped, what="every order shipped")
    sent_before = {mid: await chain.put_bodies(mid) for mid in CASES}
    for mid, (_, _, action, _) in CASES.items():
        await chain.act(mid, action)

    async def observed() -> dict[str, list[tuple[str, MallStatus]]]:
        events = [e for e in await chain.sync_events() if isinstance(e, MallStateObserved)]
        return {mid: [(e.source, e.status) for e in events if e.mall_order_id == mid] for mid in CASES}

    async def finals_seen() -> bool:
        return all(seen for seen in (await observed()).values())

    await eventually(finals_seen, what="the four finals seen by the poll")

    def rounds() -> float:
        value = publisher.metrics.registry.get_sample_value(
            "mallbridge_publisher_unconfirmed_polls_total", {"tenant": T, "outcome": "ok"}
        )
        return value or 0.0

    later = rounds() + 2
    await eventually(lambda: rounds() >= later, what="two more poll rounds, the finals still in MALL's queue")
    await chain.processed()

    assert await observed() == {mid: [("poll", final)] for mid, (_, _, _, final) in CASES.items()}
    for mid, (order, _, _, _) in CASES.items():
        assert await chain.put_bodies(mid) == sent_before[mid], f"{order}: something was sent after MALL's final"
        assert len(await chain.requests(mid, "GET")) == 1, f"{order}: read once, not on every round"
        assert not [e for e in await chain.sync_events(order) if isinstance(e, AttentionNeeded)]
