"""MALL's webhook on a real uvicorn server and a real event log (both engines): one 404 for every way of
not being the tenant's webhook, 422 naming what is wrong, 202 once durable, and the token in no log line,
metric or answer."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from mallbridge_schema.events import MallOrderChanged, MallWebhookReceived
from mallbridge_schema.serde import decode_order_event
from tests.integration.ingest.support import IngestServer, order_topic, tenant

TOKEN = "whk-7f3c9a0b21d84e6f"


@pytest.fixture
async def server(event_log_url: str, topic_prefix: str) -> AsyncIterator[IngestServer]:
    tenants = {"acme": tenant("acme", mall_webhook_token=SecretStr(TOKEN)), "plain": tenant("plain")}
    async with IngestServer(log_url=event_log_url, tenants=tenants, topic_prefix=topic_prefix) as srv:
        yield srv


async def read_all(log_url: str, topic: str) -> list[tuple[bytes, Any]]:
    from mallbridge_core.eventlog import open_event_log

    log = open_event_log(log_url)
    await log.start()
    try:
        return [(r.key or b"", decode_order_event(r.value)) async for batch in log.replay(topic) for r in batch]
    finally:
        await log.close()


async def post(server: IngestServer, path: str, body: bytes) -> tuple[int, dict[str, object], dict[str, str]]:
    r = await server.client.post(path, content=body, headers={"Content-Type": "application/json"})
    headers = {k: v for k, v in r.headers.items() if k.lower() not in ("date", "content-length")}
    return r.status_code, r.json(), headers


async def test_unknown_tenant_no_token_and_wrong_token_get_one_and_the_same_404(
    server: IngestServer, event_log_url: str, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [
        await post(server, f"/v1/tenants/{tenant_id}/mall-webhook/{token}", b"[1]")
        for tenant_id, token in [("acme", "wrong"), ("acme", TOKEN[:-1]), ("plain", TOKEN), ("nobody", TOKEN)]
    ]
    assert answers[0][0] == 404
    assert all(answer == answers[0] for answer in answers), answers
    assert answers[0][2]["content-type"] == "application/problem+json"
    assert await read_all(event_log_url, order_topic(topic_prefix)) == []
    metrics = await server.metrics()
    assert 'mallbridge_ingest_mall_webhooks_total{outcome="not_found",tenant="_unknown"} 4.0' in metrics
    assert TOKEN[:-1] not in caplog.text
    assert TOKEN[:-1] not in metrics


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b'{"ids": [1]}', "body", "an object, not an array"),
        (b"[1, 2, true]", "body[2]", "a boolean, not an order id"),
        (b'[1, "12x"]', "body[1]", "a string ('12x'), not an order id"),
        (json.dumps(list(range(1, 1002))).encode(), "body", "1001 ids in one delivery"),
        (b"[1, 2", "body", "body is not UTF-8 JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "body", "RecursionError"),  # nesting beyond the parser's stack
    ],
)
async def test_a_body_that_is_not_an_array_of_ids_is_a_422_naming_what_is_wrong(
    server: IngestServer, event_log_url: str, topic_prefix: str, body: bytes, field: str, words: str
) -> None:
    status, problem, headers = await post(server, f"/v1/tenants/acme/mall-webhook/{TOKEN}", body)
    assert (status, problem["field"], headers["content-type"]) == (422, field, "application/problem+json")
    assert words in str(problem["detail"])
    assert "a JSON array of 0 to 1000 MALL order ids" in str(problem["allowed"])
    assert await read_all(event_log_url, order_topic(topic_prefix)) == []


async def test_a_delivery_is_answered_once_durable_and_an_unknown_id_is_read_once_a_snapshot_names_it(
    server: IngestServer, event_log_url: str, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pushed = await server.push("acme", [{"order_number": "A-1", "mall_order_id": "10085339302", "status": "pending"}])
    assert pushed.status_code == 202
    url = f"/v1/tenants/acme/mall-webhook/{TOKEN}"

    r = await server.client.post(url, content=b'[10085339302, "10085339303", 10085339302]')
    assert (r.status_code, r.json()) == (202, {"received": 2, "known": 1, "unknown": 1})
    assert (await server.client.post(url, content=b"[]")).json() == {"received": 0, "known": 0, "unknown": 0}

    events = await read_all(event_log_url, order_topic(topic_prefix))
    receipts = [e for _, e in events if isinstance(e, MallWebhookReceived)]
    assert [(r.order_ids, r.unknown_ids) for r in receipts] == [
        (("10085339302", "10085339303"), ("10085339303",)),
        ((), ()),
    ]
    assert {key for key, e in events if isinstance(e, MallWebhookReceived)} == {b"acme:"}
    changes = [(key, e.seq, e.receipt_id) for key, e in events if isinstance(e, MallOrderChanged)]
    assert changes == [(b"acme:A-1", 2, receipts[0].event_id)]

    later = await server.push("acme", [{"order_number": "B-2", "mall_order_id": "10085339303", "status": "pending"}])
    assert later.json()["events"] == 1  # the push answers for FastCentrik's facts; MALL's change rides along
    b_events = [e for key, e in await read_all(event_log_url, order_topic(topic_prefix)) if key == b"acme:B-2"]
    assert [(type(e).__name__, e.seq) for e in b_events] == [("OrderFirstSeen", 1), ("MallOrderChanged", 2)]

    metrics = await server.metrics()
    assert 'mallbridge_ingest_mall_webhooks_total{outcome="accepted",tenant="acme"} 2.0' in metrics
    assert 'mallbridge_ingest_mall_webhook_ids_total{kind="unknown",tenant="acme"} 1.0' in metrics
    assert TOKEN not in caplog.text
    assert TOKEN not in metrics


async def test_a_wrong_path_below_the_webhook_never_echoes_the_token(server: IngestServer) -> None:
    r = await server.client.post(f"/v1/tenants/acme/mall-webhook/{TOKEN}/extra", content=b"[]")
    assert r.status_code == 404
    assert TOKEN not in r.text
    assert "/mall-webhook/***" in r.json()["detail"]


async def test_pending_ids_survive_a_restart_of_ingest(event_log_url: str, topic_prefix: str) -> None:
    tenants = {"acme": tenant("acme", mall_webhook_token=SecretStr(TOKEN))}
    async with IngestServer(log_url=event_log_url, tenants=tenants, topic_prefix=topic_prefix) as first:
        r = await first.client.post(f"/v1/tenants/acme/mall-webhook/{TOKEN}", content=b"[555000111]")
        assert r.json() == {"received": 1, "known": 0, "unknown": 1}
    async with IngestServer(log_url=event_log_url, tenants=tenants, topic_prefix=topic_prefix) as second:
        pushed = await second.push("acme", [{"order_number": "N-1", "mall_order_id": "555000111", "status": "pending"}])
        assert pushed.status_code == 202

    events = await read_all(event_log_url, order_topic(topic_prefix))  # the 202 said: durable
    assert [type(e).__name__ for key, e in events if key == b"acme:N-1"] == ["OrderFirstSeen", "MallOrderChanged"]
