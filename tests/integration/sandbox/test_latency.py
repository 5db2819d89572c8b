"""The latency setting: added to every /v1 answer, awaited (so concurrent requests overlap), globally, per
partner, and on the admin API."""

from __future__ import annotations

import asyncio
import time

import httpx

from mallbridge_sandbox import Partner, SandboxServer, create_app
from tests.integration.sandbox.support import ACME_KEY, GLOBEX_KEY, PartnerClient, Sandbox


def timed(client: PartnerClient, path: str = "/orders") -> tuple[int, float]:
    started = time.perf_counter()
    status = client.get(path).status_code
    return status, time.perf_counter() - started


def test_the_global_latency_is_added_to_every_answer(sandbox: Sandbox, acme: PartnerClient) -> None:
    acme.get("/orders")  # a warm connection
    assert sandbox.admin("PUT", "/latency", json={"latency_ms": 200}).json() == {
        "latency_ms": 200,
        "partners": {"acme": None, "globex": None, "tiny": None},
    }
    order = sandbox.create(confirmed=True)
    for status, elapsed in (
        timed(acme),
        timed(acme, f"/orders/{order['id']}"),
        timed(acme, "/orders/55555555555"),  # a refusal waits too
        timed(sandbox.partner("no-such-client-id")),  # and a 401
    ):
        assert status in (200, 401, 404)
        assert elapsed >= 0.2
    entry = sandbox.requests()[-1]
    assert entry["duration_ms"] >= 200  # the request log sees the time it took


def test_a_partners_own_latency_wins_and_null_falls_back(sandbox: Sandbox, acme: PartnerClient) -> None:
    sandbox.admin("PUT", "/latency", json={"latency_ms": 0})
    patched = sandbox.admin("PATCH", "/partners/acme", json={"latency_ms": 250})
    assert patched.json()["partner"]["latency_ms"] == 250
    globex = sandbox.partner(GLOBEX_KEY)
    globex.get("/orders")
    assert timed(acme)[1] >= 0.25
    assert timed(globex)[1] < 0.25
    sandbox.admin("PATCH", "/partners/acme", json={"quota": 500})  # latency not named: kept
    assert sandbox.admin("GET", "/latency").json()["partners"]["acme"] == 250
    sandbox.admin("PATCH", "/partners/acme", json={"latency_ms": None})
    assert sandbox.admin("GET", "/latency").json()["partners"]["acme"] is None


def test_reset_restores_the_latency_of_the_start(sandbox: Sandbox) -> None:
    sandbox.admin("PUT", "/latency", json={"latency_ms": 300})
    sandbox.admin("PATCH", "/partners/acme", json={"latency_ms": 300})
    sandbox.admin("POST", "/reset")
    assert sandbox.admin("GET", "/latency").json()["latency_ms"] == 0
    assert sandbox.admin("GET", "/latency").json()["partners"]["acme"] is None


def test_latency_values_are_validated(sandbox: Sandbox) -> None:
    for body in ({"latency_ms": -1}, {"latency_ms": 60_001}, {"latency_ms": "fast"}, {}, {"latency": 5}):
        assert sandbox.admin("PUT", "/latency", json=body).status_code == 400
    assert sandbox.admin("PATCH", "/partners/acme", json={"latency_ms": -5}).status_code == 400


async def _twenty_at_once(base_url: str) -> tuple[float, list[int]]:
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=base_url, params={"client_id": ACME_KEY}, limits=limits) as client:
        await client.get("/orders")
        started = time.perf_counter()
        responses = await asyncio.gather(*(client.get("/orders") for _ in range(20)))
        return time.perf_counter() - started, [r.status_code for r in responses]


def test_concurrent_requests_wait_side_by_side() -> None:
    """20 requests at 100 ms each: if the sleep blocked the loop they would take 2 s one after the other."""
    with SandboxServer(create_app([Partner("acme", ACME_KEY)], latency_ms=100)) as server:
        elapsed, statuses = asyncio.run(_twenty_at_once(server.base_url))
    assert statuses == [200] * 20
    # one after the other they would take at least 20 x 100 ms = 2 s by construction: below that, they overlapped
    assert 0.1 <= elapsed < 2.0, elapsed


def test_a_partners_latency_from_its_settings() -> None:
    partners = [Partner("acme", ACME_KEY, latency_ms=150), Partner("globex", GLOBEX_KEY)]
    with SandboxServer(create_app(partners)) as server, httpx.Client(base_url=server.base_url) as client:
        client.get("/orders", params={"client_id": GLOBEX_KEY})
        started = time.perf_counter()
        client.get("/orders", params={"client_id": ACME_KEY})
        assert time.perf_counter() - started >= 0.15
