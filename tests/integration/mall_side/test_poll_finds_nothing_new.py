"""A poll that finds nothing new writes nothing (both engines): an order MALL cancelled stays in its
unconfirmed queue for good (a final order is never confirmed), so every round lists it; after the one
round that saw the cancel, further rounds (counted by the publisher's own metric, the proof they ran)
read it no more and record nothing."""

from __future__ import annotations

from mallbridge_schema.events import AttentionNeeded, MallStateObserved
from mallbridge_schema.statuses import MallStatus
from tests.support.mall_chain import Chain, T, eventually

ROUNDS = "mallbridge_publisher_unconfirmed_polls_total"


async def test_rounds_that_list_an_order_the_log_already_knows_read_and_record_nothing(
    chain: Chain, event_log_url: str
) -> None:
    mid = "10085710001"
    await chain.create(mid, status="open", confirmed=True)
    publisher = await chain.start_publisher(event_log_url, poll_s=0.2)
    await chain.push("Q-1", mid, "pending")
    await chain.act(mid, "customer-cancel")  # no webhook: only the poll can see it

    def rounds() -> float:
        return publisher.metrics.registry.get_sample_value(ROUNDS, {"tenant": T, "outcome": "ok"}) or 0.0

    async def attention() -> list[AttentionNeeded]:
        return [e for e in await chain.sync_events("Q-1") if isinstance(e, AttentionNeeded)]

    await eventually(attention, what="cancelled_at_mall raised on the poll's notice")
    events_then = await chain.sync_events("Q-1")
    gets_then = len(await chain.requests(mid, "GET"))
    rounds_then = rounds()
    await eventually(lambda: rounds() >= rounds_then + 3, what="three more poll rounds")
    await chain.processed()

    listed = [r for r in await chain.requests(method="GET") if r["path"].endswith("/orders/unconfirmed")]
    assert len(listed) >= 3
    observed = [e for e in await chain.sync_events("Q-1") if isinstance(e, MallStateObserved)]
    assert [(e.source, e.status) for e in observed] == [("poll", MallStatus.CANCELLED)]
    assert await chain.sync_events("Q-1") == events_then  # the later rounds wrote nothing
    assert len(await chain.requests(mid, "GET")) == gets_then == 1  # read once, on the round that saw the cancel
    assert [a.code for a in await attention()] == ["cancelled_at_mall"]
    assert await chain.put_bodies(mid) == []  # nothing sent to a cancelled order, not even a confirm
    assert (await chain.mall(mid))["confirmed"] is False  # so it stays in the queue every round lists
