"""Per-partner quotas and MALL's `X-RateLimit-*` headers (MALL Partner API: rate limits)."""

from __future__ import annotations

import re

import httpx

from tests.integration.sandbox.support import (
    GLOBEX_KEY,
    TINY_KEY,
    PartnerClient,
    Sandbox,
    assert_mall_error,
)

LIMIT_FORMAT = re.compile(r'^(\d+), (\d+);w=(\d+);name="partner:orders"$')


def quota_headers(response: httpx.Response) -> tuple[int, int, int]:
    match = LIMIT_FORMAT.match(response.headers["X-RateLimit-Limit"])
    assert match, response.headers["X-RateLimit-Limit"]
    return (
        int(match.group(1)),
        int(response.headers["X-RateLimit-Remaining"]),
        int(response.headers["X-RateLimit-Reset"]),
    )


def test_every_partner_response_carries_the_headers(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create()
    responses = [
        acme.get("/orders"),  # 200
        acme.get(f"/orders/{order['id']}"),  # 200
        acme.put(f"/orders/{order['id']}", {"status": "shipping"}),  # 400
        acme.get("/orders/12345678901"),  # 404
        acme.request("DELETE", f"/orders/{order['id']}"),  # 405
        acme.get("/orders", page="0"),  # 400
    ]
    assert [r.status_code for r in responses] == [200, 200, 400, 404, 405, 400]
    remaining = [quota_headers(r)[1] for r in responses]
    assert remaining == [9999, 9998, 9997, 9996, 9995, 9994]
    for response in responses:
        limit, _, reset = quota_headers(response)
        assert limit == 10_000
        # NOW is 09:00:00 UTC: the daily window (aligned to 00:00 UTC) resets in 15 h
        assert reset == 15 * 3600


def test_over_quota_is_429_limited_until_the_window_resets(sandbox: Sandbox) -> None:
    tiny = sandbox.partner(TINY_KEY)  # quota 3 per 60 s window
    order = sandbox.create(partner="tiny", confirmed=True)
    assert [quota_headers(tiny.get("/orders"))[1] for _ in range(3)] == [2, 1, 0]
    sandbox.clock.advance(45)
    limited = tiny.put(f"/orders/{order['id']}", {"status": "shipping"})
    body = assert_mall_error(limited, 429, "RATE_LIMIT_EXCEEDED")
    assert body["result"]["status"] == "LIMITED"
    assert quota_headers(limited) == (3, 0, 15)
    assert tiny.get(f"/orders/{order['id']}").status_code == 429
    sandbox.clock.advance(15)
    assert tiny.status_of(order["id"]) == "open"  # the refused PUT was not applied
    assert quota_headers(tiny.get("/orders"))[1] == 1


def test_quotas_are_per_partner(sandbox: Sandbox) -> None:
    tiny = sandbox.partner(TINY_KEY)
    for _ in range(4):
        tiny.get("/orders")
    assert tiny.get("/orders").status_code == 429
    globex = sandbox.partner(GLOBEX_KEY).get("/orders")
    assert globex.status_code == 200
    assert quota_headers(globex)[1] == 9999


def test_unauthenticated_requests_use_no_quota(sandbox: Sandbox) -> None:
    tiny = sandbox.partner(TINY_KEY)
    for _ in range(5):
        assert sandbox.partner("wrong").get("/orders").status_code == 401
    assert quota_headers(tiny.get("/orders"))[1] == 2


def test_quota_can_be_changed_and_usage_reset(sandbox: Sandbox, acme: PartnerClient) -> None:
    acme.get("/orders")
    response = sandbox.admin("PATCH", "/partners/acme", json={"quota": 2})
    assert response.status_code == 200
    assert response.json()["partner"]["remaining"] == 1
    assert quota_headers(acme.get("/orders"))[:2] == (2, 0)
    assert acme.get("/orders").status_code == 429
    sandbox.admin("PATCH", "/partners/acme", json={"reset_usage": True})
    assert acme.get("/orders").status_code == 200
