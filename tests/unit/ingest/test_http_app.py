"""The push API's answers and the order of its checks, on a fake log (in-process ASGI, no server)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import jsonschema
import pytest
from pydantic import SecretStr

from mallbridge_core.tenants import Tenant
from mallbridge_ingest.adapters.signature import sign
from mallbridge_ingest.bootstrap import build_app
from mallbridge_ingest.config import IngestSettings
from mallbridge_ingest.domain.mall_webhook import WebhookBodyError, webhook_ids
from tests.unit.ingest.fakes import FakeEventLog

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TS = str(int(NOW.timestamp()))
LATER = str(int(NOW.timestamp()) + 1)
TENANTS = {
    "acme": Tenant(tenant_id="acme", mall_client_id=None, ingest_secret=SecretStr("s3cret")),
    "nosecret": Tenant(tenant_id="nosecret", mall_client_id=None, ingest_secret=None),
}
ORDER = {"order_number": "A-1", "mall_order_id": "1000000001", "status": "pending"}


def body_of(*orders: Any) -> bytes:
    return json.dumps({"orders": list(orders)}).encode()


def headers(body: bytes, *, secret: str = "s3cret", ts: str = TS) -> dict[str, str]:
    return {
        "X-Mallbridge-Timestamp": ts,
        "X-Mallbridge-Signature": sign(secret, ts, body),
        "Content-Type": "application/json",
    }


@pytest.fixture
def log() -> FakeEventLog:
    return FakeEventLog()


@pytest.fixture
async def client(log: FakeEventLog) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(
        settings=IngestSettings(topic_prefix="t.", max_body_bytes=4096, max_orders=5),
        log=log,
        tenants=TENANTS,
        clock=lambda: NOW,
    )
    await app.state.service.prepare()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as c:
        yield c


async def push(client: httpx.AsyncClient, body: bytes, tenant: str = "acme", **kw: Any) -> httpx.Response:
    return await client.post(f"/v1/tenants/{tenant}/orders", content=body, headers=kw.pop("headers", headers(body)))


async def test_accepted_push_answers_counts(client: httpx.AsyncClient, log: FakeEventLog) -> None:
    body = body_of(ORDER, {**ORDER, "order_number": "A-2"}, {**ORDER, "order_number": "A-3", "status": "settled"})
    r = await push(client, body)
    assert (r.status_code, r.json()) == (202, {"accepted": 3, "events": 3, "unchanged": 0, "stale": 0})
    r = await push(client, body, headers=headers(body, ts=LATER))  # signed anew: not a replay
    assert r.json() == {"accepted": 3, "events": 0, "unchanged": 3, "stale": 0}
    assert len(log.topics["t.order-events.v1"]) == 3


async def test_snapshots_of_one_order_in_a_batch_apply_in_order(client: httpx.AsyncClient) -> None:
    body = body_of(ORDER, {**ORDER, "status": "in_process"}, {**ORDER, "status": "in_process"})
    assert (await push(client, body)).json() == {"accepted": 3, "events": 2, "unchanged": 1, "stale": 0}


async def test_unknown_tenant_is_404_even_unsigned(client: httpx.AsyncClient) -> None:
    r = await push(client, b"garbage", tenant="nobody", headers={})
    assert r.status_code == 404
    assert "nobody" in r.json()["detail"]


async def test_size_is_checked_before_the_signature(client: httpx.AsyncClient) -> None:
    r = await push(client, b"x" * 5000, headers={})
    assert r.status_code == 413


async def test_streamed_body_over_the_limit_without_content_length_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    r = await client.post("/v1/tenants/acme/orders", content=chunks(), headers={"X-Mallbridge-Timestamp": TS})
    assert r.status_code == 413


async def test_too_many_orders_is_413_after_the_signature(client: httpx.AsyncClient) -> None:
    body = body_of(*[{**ORDER, "order_number": f"N{i}"} for i in range(6)])
    assert (await push(client, body)).status_code == 413
    assert (await push(client, body, headers={})).status_code == 401


@pytest.mark.parametrize(
    "make_headers",
    [
        lambda body: {},
        lambda body: headers(body, secret="wrong"),
        lambda body: headers(body, ts=str(int(NOW.timestamp()) - 301)),
        lambda body: headers(body, ts=str(int(NOW.timestamp()) + 301)),
        lambda body: {**headers(body), "X-Mallbridge-Signature": "sha256=zz"},
    ],
)
async def test_bad_signatures_are_401_and_write_nothing(
    client: httpx.AsyncClient, log: FakeEventLog, make_headers: Any
) -> None:
    body = body_of(ORDER)
    r = await push(client, body, headers=make_headers(body))
    assert r.status_code == 401
    assert log.topics["t.order-events.v1"] == []


async def test_invalid_body_behind_a_bad_signature_is_401(client: httpx.AsyncClient) -> None:
    assert (await push(client, b"{not json", headers={"X-Mallbridge-Timestamp": TS})).status_code == 401


async def test_tenant_without_ingest_secret_cannot_push(client: httpx.AsyncClient) -> None:
    body = body_of(ORDER)
    r = await push(client, body, tenant="nosecret")
    assert r.status_code == 401
    assert "not enabled" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "not UTF-8 JSON"),
        (b'"text"', "orders"),
        (b'{"orders": {}}', "orders"),
        (b'{"orders": []}', "empty"),
    ],
)
async def test_malformed_batches_are_422(client: httpx.AsyncClient, body: bytes, needle: str) -> None:
    r = await push(client, body)
    assert r.status_code == 422
    assert needle in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"orders": ' + b"[" * 2000 + b"]" * 2000 + b"}", "RecursionError"),  # nesting beyond the stack
        (b'{"orders": [{"order_number": "A-1", "mall_order_id": ' + b"7" * 5000 + b"}]}", "ValueError"),
    ],
)
async def test_json_the_parser_refuses_is_422_not_a_server_error(log: FakeEventLog, body: bytes, needle: str) -> None:
    app = build_app(settings=IngestSettings(topic_prefix="t."), log=log, tenants=TENANTS, clock=lambda: NOW)
    await app.state.service.prepare()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as c:
        r = await push(c, body)
    assert (r.status_code, r.json()["field"]) == (422, "body")
    assert needle in r.json()["detail"]
    assert log.topics["t.order-events.v1"] == []


async def test_a_rejection_quoting_a_lone_surrogate_is_still_a_422(
    client: httpx.AsyncClient, log: FakeEventLog
) -> None:
    # JSON may escape a lone surrogate; the rejection names the order_number, which UTF-8 cannot carry.
    body = b'{"orders": [{"order_number": "A-\\ud800", "mall_order_id": "1", "status": "hotovo"}]}'
    r = await push(client, body)
    assert r.status_code == 422
    assert r.json()["errors"][0]["order_number"] == "A-\ud800"
    assert log.topics["t.order-events.v1"] == []


async def test_one_invalid_snapshot_rejects_the_batch_naming_order_field_and_allowed(
    client: httpx.AsyncClient, log: FakeEventLog
) -> None:
    body = body_of(ORDER, {**ORDER, "order_number": "A-17", "status": "hotovo"})
    r = await push(client, body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "orders[1]" in detail
    assert "'A-17'" in detail
    assert "status" in detail
    assert "vyřízená" in detail
    assert r.json()["errors"] == [
        {
            "index": 1,
            "order_number": "A-17",
            "field": "status",
            "problem": "unknown FastCentrik status 'hotovo'",
            "allowed": r.json()["errors"][0]["allowed"],
        }
    ]
    assert log.topics["t.order-events.v1"] == []


async def test_conflicting_mall_order_id_is_422_and_writes_nothing(
    client: httpx.AsyncClient, log: FakeEventLog
) -> None:
    await push(client, body_of(ORDER))
    body = body_of({**ORDER, "order_number": "B"}, {**ORDER, "mall_order_id": "999"})
    r = await push(client, body)
    assert r.status_code == 422
    assert "mall_order_id" in r.json()["detail"]
    assert len(log.topics["t.order-events.v1"]) == 1


async def test_log_down_is_503_and_the_same_push_later_succeeds(client: httpx.AsyncClient, log: FakeEventLog) -> None:
    body = body_of(ORDER)
    log.down = True
    r = await push(client, body)
    assert r.status_code == 503
    assert "nothing was written" in r.json()["detail"]
    assert (await client.get("/readyz")).status_code == 503
    log.down = False
    # The very same signed request again: a 503 is not remembered as an answer, so this is a new attempt.
    assert (await push(client, body)).json() == {"accepted": 1, "events": 1, "unchanged": 0, "stale": 0}
    assert (await client.get("/readyz")).status_code == 200


async def test_not_ready_is_503(log: FakeEventLog) -> None:
    app = build_app(settings=IngestSettings(), log=log, tenants=TENANTS, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as c:
        body = body_of(ORDER)
        r = await c.post("/v1/tenants/acme/orders", content=body, headers=headers(body))
        assert r.status_code == 503
        assert (await c.get("/readyz")).status_code == 503
        assert (await c.get("/healthz")).status_code == 200


async def test_metrics_count_per_tenant(client: httpx.AsyncClient) -> None:
    body = body_of(ORDER)
    await push(client, body)
    await push(client, body, headers=headers(body, ts=LATER))
    await push(client, body, headers={})
    await push(client, body, tenant="ghost")
    text = (await client.get("/metrics")).text
    assert 'mallbridge_ingest_snapshots_accepted_total{source="push",tenant="acme"} 2.0' in text
    assert 'mallbridge_ingest_snapshots_changed_total{source="push",tenant="acme"} 1.0' in text
    assert 'mallbridge_ingest_snapshots_unchanged_total{source="push",tenant="acme"} 1.0' in text
    assert 'mallbridge_ingest_requests_rejected_total{reason="signature",source="push",tenant="acme"} 1.0' in text
    assert 'tenant="_unknown"' in text
    assert "ghost" not in text
    assert 'mallbridge_ingest_push_duration_seconds_count{code="202",tenant="acme"} 2.0' in text


async def test_openapi_documents_the_push_body_and_answers(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    op = spec["paths"]["/v1/tenants/{tenant_id}/orders"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PushBody"}
    assert {"202", "401", "404", "413", "422", "429", "503"} <= set(op["responses"])
    assert set(op["responses"]["401"]["content"]) == {"application/problem+json"}
    assert "OrderSnapshot" in spec["components"]["schemas"]
    assert (await client.get("/docs")).status_code == 200


async def test_each_app_has_its_own_metrics_registry(log: FakeEventLog) -> None:
    a = build_app(settings=IngestSettings(), log=log, tenants=TENANTS)
    b = build_app(settings=IngestSettings(), log=FakeEventLog(), tenants=TENANTS)
    assert a.state.metrics.registry is not b.state.metrics.registry


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        ([10085339302, "10085339303", 0, "99999999999999999999"], True),
        ([], True),
        ([True], False),
        ([1.5], False),
        ([-3], False),
        (["12a"], False),
        ([""], False),
        ([10**20], False),
        ([None], False),
        ({"ids": [1]}, False),
        (list(range(1, 1002)), False),
    ],
)
async def test_openapi_documents_the_webhook_body_the_webhook_takes(
    client: httpx.AsyncClient, body: Any, accepted: bool
) -> None:
    spec = (await client.get("/openapi.json")).json()
    op = spec["paths"]["/v1/tenants/{tenant_id}/mall-webhook/{token}"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]  # was any array: items {}
    assert jsonschema.Draft202012Validator(schema).is_valid(body) is accepted
    try:
        webhook_ids(body)
    except WebhookBodyError:
        assert not accepted
    else:
        assert accepted
