"""The push API under replayed, out-of-order and hostile input (ARCHITECTURE.md §3, §4), on a fake log (in-process)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from mallbridge_core.tenants import Tenant
from mallbridge_ingest.adapters.signature import sign
from mallbridge_ingest.bootstrap import build_app
from mallbridge_ingest.config import IngestSettings
from tests.unit.ingest.fakes import FakeEventLog

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TENANTS = {t: Tenant(tenant_id=t, mall_client_id=None, ingest_secret=SecretStr("s3cret")) for t in ("acme", "other")}
ORDER = {"order_number": "A-1", "mall_order_id": "1000000001", "status": "settled", "changed_at": "2026-11-20T11:00Z"}
TOPIC = "t.order-events.v1"


def signed(orders: list[dict[str, Any]], *, ts: int = 0) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"orders": orders}).encode()
    stamp = str(int(NOW.timestamp()) + ts)
    return body, {"X-Mallbridge-Timestamp": stamp, "X-Mallbridge-Signature": sign("s3cret", stamp, body)}


async def app_client(log: FakeEventLog, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(settings=IngestSettings(topic_prefix="t.", **settings), log=log, tenants=TENANTS, clock=lambda: NOW)
    await app.state.service.prepare()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as c:
        yield c


@pytest.fixture
def log() -> FakeEventLog:
    return FakeEventLog()


@pytest.fixture
async def client(log: FakeEventLog) -> AsyncIterator[httpx.AsyncClient]:
    async for c in app_client(log):
        yield c


async def post(client: httpx.AsyncClient, body: bytes, headers: dict[str, str], tenant: str = "acme") -> httpx.Response:
    return await client.post(f"/v1/tenants/{tenant}/orders", content=body, headers=headers)


async def test_an_older_snapshot_is_stale_counted_and_writes_nothing(
    client: httpx.AsyncClient, log: FakeEventLog
) -> None:
    await post(client, *signed([ORDER]))
    older = {**ORDER, "status": "in_process", "changed_at": "2026-11-20T10:00Z"}
    r = await post(client, *signed([older, {**ORDER, "order_number": "A-2"}], ts=1))
    assert r.json() == {"accepted": 2, "events": 1, "unchanged": 0, "stale": 1}
    assert len(log.topics[TOPIC]) == 2
    metrics = (await client.get("/metrics")).text
    assert 'mallbridge_ingest_snapshots_stale_total{source="push",tenant="acme"} 1.0' in metrics


async def test_a_replayed_push_is_answered_as_the_first_and_writes_nothing(
    client: httpx.AsyncClient, log: FakeEventLog
) -> None:
    request = signed([ORDER, {**ORDER, "order_number": "A-2"}])
    first = await post(client, *request)
    assert first.json() == {"accepted": 2, "events": 2, "unchanged": 0, "stale": 0}
    # A newer snapshot in between: a replay processed again would now count differently.
    await post(client, *signed([{**ORDER, "status": "cancelled", "changed_at": "2026-11-20T11:30Z"}], ts=1))
    again = await post(client, *request)
    assert (again.status_code, again.json()) == (202, {**first.json(), "replayed": True})
    assert len(log.topics[TOPIC]) == 3
    assert 'mallbridge_ingest_pushes_replayed_total{tenant="acme"} 1.0' in (await client.get("/metrics")).text


async def test_replays_arriving_together_wait_for_the_first_and_write_once(
    client: httpx.AsyncClient, log: FakeEventLog
) -> None:
    request = signed([{**ORDER, "order_number": f"C-{i}"} for i in range(50)])
    answers = await asyncio.gather(*(post(client, *request) for _ in range(5)))
    bodies = [a.json() for a in answers]
    assert sorted(b.get("replayed", False) for b in bodies) == [False, True, True, True, True]
    assert {b["events"] for b in bodies} == {50}
    assert len(log.topics[TOPIC]) == 50


async def test_the_same_body_signed_anew_is_no_replay(client: httpx.AsyncClient) -> None:
    await post(client, *signed([ORDER]))
    r = await post(client, *signed([ORDER], ts=1))
    assert r.json() == {"accepted": 1, "events": 0, "unchanged": 1, "stale": 0}


async def test_over_the_rate_a_tenant_gets_429_with_retry_after_and_others_do_not(log: FakeEventLog) -> None:
    async for client in app_client(log, push_rate_per_s=0.01, push_burst=2):
        for i in range(2):
            assert (await post(client, *signed([{**ORDER, "order_number": f"R-{i}"}], ts=i))).status_code == 202
        r = await post(client, *signed([{**ORDER, "order_number": "R-9"}], ts=9))
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        problem = r.json()
        assert (problem["status"], problem["field"], problem["type"]) == (
            429,
            "tenant_id",
            "urn:mallbridge:problem:rate_limited",
        )
        assert "0.01 pushes per second" in problem["allowed"]
        assert r.headers["content-type"] == "application/problem+json"
        assert (await post(client, *signed([ORDER]), tenant="other")).status_code == 202
        assert len(log.topics[TOPIC]) == 3


async def test_unsigned_requests_do_not_spend_a_tenants_budget(log: FakeEventLog) -> None:
    async for client in app_client(log, push_rate_per_s=0.01, push_burst=1):
        body, _ = signed([ORDER])
        for _ in range(5):
            assert (await post(client, body, {"X-Mallbridge-Timestamp": "1"})).status_code == 401
        assert (await post(client, *signed([ORDER]))).status_code == 202


@pytest.mark.parametrize(
    ("request_of", "status", "field"),
    [
        (lambda: (b"{}", {}, "nobody"), 404, "tenant_id"),
        (lambda: (b"x" * (2 << 20), {}, "acme"), 413, "body"),
        (lambda: (b"{}", {"X-Mallbridge-Signature": "sha256=00"}, "acme"), 401, "X-Mallbridge-Timestamp"),
        (lambda: (*signed([])[:1], signed([])[1], "acme"), 422, "orders"),
        (lambda: (*signed([{**ORDER, "status": "odesláno"}]), "acme"), 422, "orders[0].status"),
        (lambda: (*signed([{**ORDER, "changed_at": "včera"}]), "acme"), 422, "orders[0].changed_at"),
    ],
)
async def test_every_refusal_is_a_problem_naming_the_field_and_what_is_allowed(
    client: httpx.AsyncClient, log: FakeEventLog, request_of: Any, status: int, field: str
) -> None:
    body, headers, tenant = request_of()
    r = await post(client, body, headers, tenant)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert (problem["status"], problem["field"]) == (status, field)
    assert problem["type"].startswith("urn:mallbridge:problem:")
    assert all(problem[name] for name in ("title", "detail", "allowed"))
    assert log.topics[TOPIC] == []


@pytest.mark.parametrize(
    ("method", "path", "status"), [("GET", "/v1/nowhere", 404), ("GET", "/v1/tenants/acme/orders", 405)]
)
async def test_the_frameworks_own_refusals_are_problems_too(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    r = await client.request(method, path)
    assert (r.status_code, r.headers["content-type"]) == (status, "application/problem+json")
    assert r.json()["status"] == status
    assert r.json()["field"] in ("path", "method")
