"""The MALL HTTP adapter over httpx.MockTransport: MALL's JSON becomes a typed MallOrder or a clear MallError."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from mallbridge_core.tenants import Tenant
from mallbridge_publisher.adapters.mall_http import HttpMallClient
from mallbridge_publisher.ports import (
    MallAnswerInvalid,
    MallError,
    MallOrder,
    MallOutcomeUnknown,
    MallRateLimited,
    MallRejected,
    MallUnauthorized,
)
from mallbridge_schema.statuses import MallStatus

CLIENT_ID = "secret-client-id-4711"
TENANT = Tenant(
    tenant_id="acme", mall_client_id=SecretStr(CLIENT_ID), ingest_secret=None, mall_base_url="https://mall.test/v1"
)
ORDER_ID = "10085339301"


def detail(**fields: Any) -> dict[str, Any]:
    """An order detail as MALL sends it: the id as a JSON number, and many fields the publisher ignores."""
    return {
        "id": int(ORDER_ID),
        "purchase_id": 1,
        "currency": "CZK",
        "status": "shipped",
        "confirmed": True,
        "mdp": False,
        "tracking_number": "ZX1",
        "tracking_url": "https://t.example/ZX1",
        "delivered_at": None,
        "items": [],
        "address": {"city": "Praha"},
        "shipped": "2026-03-01 10:00:00",
        **fields,
    }


def client(handler: Callable[[httpx.Request], httpx.Response]) -> HttpMallClient:
    return HttpMallClient(transport=httpx.MockTransport(handler))


def answering(status: int, body: Any, headers: dict[str, str] | None = None) -> HttpMallClient:
    return client(lambda request: httpx.Response(status, json=body, headers=headers))


def ok(data: Any) -> dict[str, Any]:
    return {"result": {"code": 200, "status": "OK"}, "data": data}


async def test_an_order_detail_becomes_a_typed_mall_order() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ok(detail(some_future_field={"x": 1})))

    order = await client(handler).get_order(TENANT, ORDER_ID)
    assert order == MallOrder(
        id=ORDER_ID,
        status=MallStatus.SHIPPED,
        confirmed=True,
        mdp=False,
        tracking_number="ZX1",
        tracking_url="https://t.example/ZX1",
        delivered_at=None,
    )
    assert seen[0].url.path == f"/v1/orders/{ORDER_ID}"
    assert seen[0].url.params["client_id"] == CLIENT_ID
    assert seen[0].headers["X-Application-Name"] == "mallbridge"


async def test_a_flag_mall_leaves_out_is_unknown_not_false() -> None:
    data = {k: v for k, v in detail().items() if k not in ("confirmed", "mdp")}
    order = await answering(200, ok(data)).get_order(TENANT, ORDER_ID)
    assert (order.confirmed, order.mdp) == (None, None)


async def test_blank_tracking_is_no_tracking_and_a_status_in_capitals_is_read() -> None:
    mall = answering(200, ok(detail(status="DELIVERED", tracking_number="", delivered_at="2026-03-02 12:00:00")))
    result = await mall.get_order(TENANT, ORDER_ID)
    assert (result.status, result.tracking_number, result.delivered_at) == (
        MallStatus.DELIVERED,
        None,
        "2026-03-02 12:00:00",
    )


@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        (
            detail(status="packed"),
            "status",
            "must be one of blocked, open, shipping, shipped, delivered, returned, cancelled, lost (got 'packed')",
        ),
        ({k: v for k, v in detail().items() if k != "status"}, "status", "(got missing)"),
        (detail(status=None), "status", "'status' must be one of"),
        (detail(confirmed="perhaps"), "confirmed", "'confirmed' is invalid"),
        (detail(id=10085339399), "id", "not the one asked for"),
        ("an order", "data", "no order object under 'data'"),
    ],
)
async def test_an_answer_that_is_not_what_mall_documents_is_a_visible_refusal(data: Any, field: str, text: str) -> None:
    with pytest.raises(MallAnswerInvalid) as caught:
        await answering(200, ok(data)).get_order(TENANT, ORDER_ID)
    assert caught.value.field == field
    assert text in str(caught.value)
    assert str(caught.value).startswith(f"GET order {ORDER_ID}: ")
    assert CLIENT_ID not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (429, {"X-RateLimit-Reset": "7"}, MallRateLimited),
        (401, {}, MallUnauthorized),
        (403, {}, MallUnauthorized),
        (404, {}, MallRejected),
        (400, {}, MallRejected),
        (500, {}, MallOutcomeUnknown),
        (503, {}, MallOutcomeUnknown),
    ],
)
async def test_mall_s_http_failures_map_onto_the_error_tree(
    status: int, headers: dict[str, str], error: type[MallError]
) -> None:
    body = {"result": {"code": status, "status": "ERROR", "message": "no such luck"}, "errorCodes": []}
    with pytest.raises(error) as caught:
        await answering(status, body, headers).put_order(TENANT, ORDER_ID, {"status": "shipping"})
    assert caught.value.http_status == status
    assert "no such luck" in str(caught.value)
    assert CLIENT_ID not in str(caught.value)
    if isinstance(caught.value, MallRateLimited):
        assert caught.value.retry_after_s == 7


def echoing(status: int, *, as_json: bool = True) -> HttpMallClient:
    """A MALL whose answer quotes the request, as a framework's error page does ("No route found for …")."""

    def handler(request: httpx.Request) -> httpx.Response:
        echo = f"cannot process {request.method} {request.url}"
        if not as_json:
            return httpx.Response(status, text=f"<html><body>{echo}</body></html>")
        body = {
            "result": {"code": status, "status": "ERROR", "message": echo},
            "errorCodes": [{"errorCode": "X", "message": echo, "errorAttributes": {"url": [str(request.url)]}}],
        }
        return httpx.Response(status, json=body, headers={"X-RateLimit-Reset": "3"})

    return client(handler)


@pytest.mark.parametrize("as_json", [True, False])
@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, 503])
async def test_an_answer_that_echoes_the_request_carries_no_client_id(status: int, as_json: bool) -> None:
    with pytest.raises(MallError) as caught:
        await echoing(status, as_json=as_json).put_order(TENANT, ORDER_ID, {"status": "shipping"})
    assert caught.value.http_status == status
    assert f"orders/{ORDER_ID}" in str(caught.value)  # the rest of the echo is kept
    assert CLIENT_ID not in str(caught.value)
    assert CLIENT_ID not in repr(caught.value.body)
    assert "client_id=***" in repr(caught.value.body)


async def test_a_short_client_id_leaves_a_successful_answer_as_mall_sent_it() -> None:
    tenant = TENANT.model_copy(update={"mall_client_id": SecretStr("k")})
    order = await answering(200, ok(detail(tracking_number="K1k"))).get_order(tenant, ORDER_ID)
    assert order.tracking_number == "K1k"


async def test_a_client_id_the_url_encodes_is_masked_in_both_forms() -> None:
    tenant = TENANT.model_copy(update={"mall_client_id": SecretStr("k/ey+a b=c")})
    with pytest.raises(MallRejected) as caught:
        await echoing(404).get_order(tenant, ORDER_ID)
    shown = f"{caught.value} {caught.value.body!r}"
    assert "k/ey+a b=c" not in shown
    assert "k%2Fey%2Ba" not in shown
    assert "client_id=***" in shown


async def test_a_dropped_connection_is_an_unknown_outcome_without_the_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    with pytest.raises(MallOutcomeUnknown) as caught:
        await client(handler).put_order(TENANT, ORDER_ID, {"status": "shipping"})
    assert "ConnectError" in str(caught.value)
    assert CLIENT_ID not in str(caught.value)


async def test_a_put_sends_the_exact_body_and_returns_the_answer() -> None:
    bodies: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"result": {"code": 200, "status": "OK"}})

    answer = await client(handler).put_order(TENANT, ORDER_ID, {"status": "shipping", "confirmed": True})
    assert bodies == [{"status": "shipping", "confirmed": True}]
    assert answer.http_status == 200


async def test_a_list_page_asks_for_basic_objects_with_the_status_filter_and_parses_paging() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        data = [
            {"id": 10085339301, "status": "open", "confirmed": False, "mdp": False, "customer": "x"},
            {"id": 10085339302, "status": "packed", "confirmed": True},  # not one of MALL's: status unknown
        ]
        return httpx.Response(
            200, json={"result": {"code": 200}, "paging": {"total": 2, "pages": 1, "page": 1}, "data": data}
        )

    page = await client(handler).list_orders(
        TENANT, statuses=(MallStatus.OPEN, MallStatus.SHIPPING), page=1, page_size=500
    )
    (request,) = seen
    assert request.url.path == "/v1/orders"
    params = dict(request.url.params)
    assert params == {
        "filter": "basic",
        "page": "1",
        "page_size": "500",
        "status": "in:open,shipping",
        "client_id": CLIENT_ID,
    }
    assert (page.page, page.pages, page.total) == (1, 1, 2)
    assert [(o.id, o.status, o.confirmed) for o in page.orders] == [
        ("10085339301", MallStatus.OPEN, False),
        ("10085339302", None, True),
    ]


async def test_the_unconfirmed_list_and_an_invalid_list_answer() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json={"result": {"code": 200}, "data": {"not": "a list"}})

    with pytest.raises(MallAnswerInvalid) as caught:
        await client(handler).list_orders(TENANT, unconfirmed=True)
    assert paths == ["/v1/orders/unconfirmed"]
    assert caught.value.field == "data"
    assert CLIENT_ID not in str(caught.value)


async def test_the_detail_carries_the_moment_mall_opened_the_order() -> None:
    order = await answering(200, ok(detail(open="2026-03-01 09:00:00"))).get_order(TENANT, ORDER_ID)
    assert order.opened_at == "2026-03-01 09:00:00"
