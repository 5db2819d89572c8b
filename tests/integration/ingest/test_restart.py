"""Ingest restarted: the last known state comes back from the log, so nothing is emitted twice."""

from __future__ import annotations

from tests.integration.ingest.support import IngestServer, by_key, order_topic, read_events, summary, tenant

ORDERS = [
    {"order_number": f"R-{i}", "mall_order_id": str(5_000_000_000_000 + i), "status": "vyřizuje se"} for i in range(50)
]


async def test_restart_emits_no_duplicates_and_seq_continues(event_log_url: str, topic_prefix: str) -> None:
    tenants = {"acme": tenant("acme")}
    async with IngestServer(log_url=event_log_url, tenants=tenants, topic_prefix=topic_prefix) as first:
        assert (await first.push("acme", ORDERS)).json()["events"] == 50
        settled = {**ORDERS[0], "status": "settled", "tracking_number": "T1", "tracking_url": "https://t/1"}
        assert (await first.push("acme", [settled])).json()["events"] == 2

    async with IngestServer(log_url=event_log_url, tenants=tenants, topic_prefix=topic_prefix) as second:
        metrics = await second.metrics()
        assert "mallbridge_ingest_known_orders 50.0" in metrics
        assert "mallbridge_ingest_rebuild_events 52.0" in metrics
        r = await second.push("acme", [settled, *ORDERS[1:]])
        assert r.json() == {"accepted": 50, "events": 0, "unchanged": 50, "stale": 0}
        cancelled = {**settled, "status": "stornovaná"}
        assert (await second.push("acme", [cancelled])).json()["events"] == 1

    events = await read_events(event_log_url, order_topic(topic_prefix))
    assert len(events) == 53
    assert len({(k, e.seq) for k, e in events}) == 53
    assert len({e.event_id for _, e in events}) == 53
    assert summary(by_key(events)[b"acme:R-0"]) == [
        ("OrderFirstSeen", 1),
        ("TrackingAssigned", 2),
        ("OrderStatusChanged", 3),
        ("OrderStatusChanged", 4),
    ]


async def test_a_mall_order_two_orders_name_is_counted_live_and_again_after_a_restart(
    event_log_url: str, topic_prefix: str
) -> None:
    tenants = {"acme": tenant("acme")}
    gauge = 'mallbridge_ingest_shared_mall_ids{tenant="acme"}'
    first_order = {"order_number": "S-1", "mall_order_id": "5000000000900", "status": "vyřizuje se"}
    duplicate = {**first_order, "order_number": "S-1-dup"}
    async with IngestServer(log_url=event_log_url, tenants=tenants, topic_prefix=topic_prefix) as first:
        assert f"{gauge} 0.0" in await first.metrics()
        assert (await first.push("acme", [first_order])).json()["events"] == 1
        assert (await first.push("acme", [duplicate])).json()["events"] == 1  # written, not refused
        assert f"{gauge} 1.0" in await first.metrics()

    async with IngestServer(log_url=event_log_url, tenants=tenants, topic_prefix=topic_prefix) as second:
        assert f"{gauge} 1.0" in await second.metrics()

    events = await read_events(event_log_url, order_topic(topic_prefix))
    assert sorted(e.order_number for _, e in events) == ["S-1", "S-1-dup"]
