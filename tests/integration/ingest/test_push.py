"""The push API on a real uvicorn server and a real event log: answers, events, keys and contents."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from mallbridge_schema.events import MdpFlagSet, OrderFirstSeen, OrderStatusChanged, TrackingAssigned
from mallbridge_schema.statuses import FastCentrikStatus as S
from tests.integration.ingest.support import IngestServer, by_key, order_topic, read_events, summary, tenant

A1 = {
    "order_number": "2026-0001",
    "mall_order_id": "10000000000001",
    "status": "nevyřízená",
    "changed_at": "2026-11-20T09:15:00+01:00",
}
A2 = {
    "order_number": "2026-0002",
    "mall_order_id": "10000000000002",
    "status": "settled",
    "tracking_number": "DR42",
    "tracking_url": "https://tracking.example/DR42",
    "mdp": False,
}


@pytest.fixture
async def server(event_log_url: str, topic_prefix: str) -> AsyncIterator[IngestServer]:
    tenants = {"acme": tenant("acme"), "big": tenant("big", lane="big")}
    async with IngestServer(log_url=event_log_url, tenants=tenants, topic_prefix=topic_prefix) as srv:
        yield srv


async def count(event_log_url: str, topic_prefix: str) -> int:
    return len(await read_events(event_log_url, order_topic(topic_prefix)))


async def test_a_push_writes_exactly_the_expected_events(
    server: IngestServer, event_log_url: str, topic_prefix: str
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    r = await server.push("acme", [A1, A2])
    assert (r.status_code, r.json()) == (202, {"accepted": 2, "events": 2, "unchanged": 0, "stale": 0})

    events = by_key(await read_events(event_log_url, order_topic(topic_prefix)))
    assert set(events) == {b"acme:2026-0001", b"acme:2026-0002"}
    (first,) = events[b"acme:2026-0001"]
    assert isinstance(first, OrderFirstSeen)
    assert (first.tenant_id, first.order_number, first.mall_order_id, first.seq) == (
        "acme",
        "2026-0001",
        "10000000000001",
        1,
    )
    assert (first.status, first.status_label) == (S.PENDING, "nevyřízená")
    assert first.occurred_at == datetime.fromisoformat("2026-11-20T09:15:00+01:00")
    assert before <= first.recorded_at <= datetime.now(UTC)
    (second,) = events[b"acme:2026-0002"]
    assert isinstance(second, OrderFirstSeen)
    assert (second.status, second.tracking_number, second.tracking_url, second.mdp) == (
        S.SETTLED,
        "DR42",
        "https://tracking.example/DR42",
        False,
    )
    assert before <= second.occurred_at <= datetime.now(UTC)  # no changed_at: the receipt time

    changed = {
        **A1,
        "status": "vyřízená",
        "tracking_number": "DR43",
        "tracking_url": "https://t/DR43",
        "mdp": True,
        "changed_at": "2026-11-20T11:00:00+01:00",
    }
    r = await server.push("acme", [changed, A2])
    assert r.json() == {"accepted": 2, "events": 3, "unchanged": 1, "stale": 0}
    a1 = by_key(await read_events(event_log_url, order_topic(topic_prefix)))[b"acme:2026-0001"]
    assert summary(a1) == [("OrderFirstSeen", 1), ("MdpFlagSet", 2), ("TrackingAssigned", 3), ("OrderStatusChanged", 4)]
    mdp, tracking, status = a1[1:]
    assert isinstance(mdp, MdpFlagSet)
    assert mdp.mdp is True
    assert isinstance(tracking, TrackingAssigned)
    assert (tracking.tracking_number, tracking.tracking_url) == ("DR43", "https://t/DR43")
    assert isinstance(status, OrderStatusChanged)
    assert (status.from_status, status.to_status, status.status_label) == (S.PENDING, S.SETTLED, "vyřízená")
    assert all(e.occurred_at == datetime.fromisoformat("2026-11-20T11:00:00+01:00") for e in a1[1:])
    assert len({e.event_id for e in a1}) == 4


async def test_the_same_push_twice_adds_no_event(server: IngestServer, event_log_url: str, topic_prefix: str) -> None:
    assert (await server.push("acme", [A1, A2])).json()["events"] == 2
    r = await server.push("acme", [A1, A2])
    assert (r.status_code, r.json()) == (202, {"accepted": 2, "events": 0, "unchanged": 2, "stale": 0})
    assert await count(event_log_url, topic_prefix) == 2


async def test_lane_tenant_writes_to_its_lane_topic(
    server: IngestServer, event_log_url: str, topic_prefix: str
) -> None:
    assert (await server.push("big", [A1])).status_code == 202
    lane = await read_events(event_log_url, order_topic(topic_prefix, "big"))
    assert [k for k, _ in lane] == [b"big:2026-0001"]
    assert await count(event_log_url, topic_prefix) == 0


async def test_an_invalid_batch_is_422_and_writes_nothing(
    server: IngestServer, event_log_url: str, topic_prefix: str
) -> None:
    bad = {**A2, "order_number": "2026-0099", "status": "odesláno"}
    r = await server.push("acme", [A1, bad])
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "orders[1]" in detail
    assert "'2026-0099'" in detail
    assert "status" in detail
    assert "pending (nevyřízená)" in detail
    assert await count(event_log_url, topic_prefix) == 0


@pytest.mark.parametrize("problem", ["wrong secret", "stale", "future", "missing"])
async def test_bad_or_stale_signature_is_401_and_writes_nothing(
    server: IngestServer, event_log_url: str, topic_prefix: str, problem: str
) -> None:
    now = int(time.time())
    if problem == "wrong secret":
        r = await server.push("acme", [A1], secret="not-the-secret")
    elif problem == "stale":
        r = await server.push("acme", [A1], timestamp=now - 301)
    elif problem == "future":
        r = await server.push("acme", [A1], timestamp=now + 3600)
    else:
        r = await server.push("acme", [A1], headers={"Content-Type": "application/json"})
    assert r.status_code == 401
    assert await count(event_log_url, topic_prefix) == 0


async def test_unknown_tenant_is_404(server: IngestServer) -> None:
    r = await server.push("nobody", [A1])
    assert r.status_code == 404
    assert "nobody" in r.json()["detail"]


async def test_oversized_bodies_are_413(server: IngestServer, event_log_url: str, topic_prefix: str) -> None:
    big_body = json.dumps({"orders": [A1], "padding": "x" * (1 << 20)}).encode()
    assert (await server.push("acme", body=big_body)).status_code == 413

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 65536  # 1.25 MiB in chunks, no Content-Length

    r = await server.client.post("/v1/tenants/acme/orders", content=chunked())
    assert r.status_code == 413
    many = [{**A1, "order_number": f"N{i}"} for i in range(1001)]
    r = await server.push("acme", many)
    assert r.status_code == 413
    assert "1001 orders" in r.json()["detail"]
    assert await count(event_log_url, topic_prefix) == 0


async def test_exactly_1000_orders_are_accepted(server: IngestServer, event_log_url: str, topic_prefix: str) -> None:
    orders = [{"order_number": f"K{i}", "mall_order_id": str(10**12 + i), "status": "pending"} for i in range(1000)]
    r = await server.push("acme", orders)
    assert r.json() == {"accepted": 1000, "events": 1000, "unchanged": 0, "stale": 0}
    assert await count(event_log_url, topic_prefix) == 1000


async def test_health_readiness_metrics_and_docs(server: IngestServer) -> None:
    assert (await server.client.get("/healthz")).json() == {"status": "ok"}
    ready = await server.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    await server.push("acme", [A1])
    await server.push("acme", [A1])
    await server.push("acme", [A1], secret="nope")
    text = await server.metrics()
    assert 'mallbridge_ingest_snapshots_accepted_total{source="push",tenant="acme"} 2.0' in text
    assert 'mallbridge_ingest_snapshots_changed_total{source="push",tenant="acme"} 1.0' in text
    assert 'mallbridge_ingest_snapshots_unchanged_total{source="push",tenant="acme"} 1.0' in text
    assert 'mallbridge_ingest_requests_rejected_total{reason="signature",source="push",tenant="acme"} 1.0' in text
    assert "mallbridge_ingest_push_duration_seconds_bucket" in text
    docs = await server.client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    spec = (await server.client.get("/openapi.json")).json()
    assert "/v1/tenants/{tenant_id}/orders" in spec["paths"]


async def test_an_endless_body_is_refused_while_it_streams(
    server: IngestServer, event_log_url: str, topic_prefix: str
) -> None:
    """A chunked body that never ends: the 413 comes once the limit is passed, not after reading it whole
    (which would never happen: the client sends 1.1 MiB and then waits, connection open)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(
            b"POST /v1/tenants/acme/orders HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b" " * 65536
        for _ in range(18):  # 1.125 MiB, then nothing: no last chunk, the request never ends
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=30)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
    finally:
        writer.close()
        await writer.wait_closed()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line
    assert b"application/problem+json" in head
    assert await count(event_log_url, topic_prefix) == 0
