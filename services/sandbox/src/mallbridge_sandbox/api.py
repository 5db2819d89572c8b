"""The partner API under `/v1` (MALL Partner API: order endpoints): order detail, update, tracking, lists.

Authentication, quota and faults happen in front of it (gateway.py); the handlers find the partner's name
in the ASGI scope under `PARTNER_SCOPE_KEY`.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mallbridge_sandbox.errors import ErrorCode, MallError, not_found, ok_body
from mallbridge_sandbox.listing import parse_list_query
from mallbridge_sandbox.orders import Order, is_order_id
from mallbridge_sandbox.rules import (
    TRACKING_FIELDS,
    apply_update,
    check_tracking_update,
    check_update,
    parse_json_object,
    parse_update,
)
from mallbridge_sandbox.state import SandboxState
from mallbridge_schema.statuses import MallStatus

PARTNER_SCOPE_KEY = "mallbridge.partner"


def mall_json(body: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code)


def error_response(error: MallError) -> JSONResponse:
    return mall_json(error.body(), error.http_status)


class PartnerApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @staticmethod
    def _partner(request: Request) -> str:
        partner: str = request.scope[PARTNER_SCOPE_KEY]
        return partner

    async def order_or_legacy_list(self, request: Request) -> Response:
        """`GET /orders/{id}`; `GET /orders/{status}` is the legacy list by status (MALL: "replaced by
        filters on /orders")."""
        key: str = request.path_params["order_id"]
        if key in {s.value for s in MallStatus}:
            return self._list(request, legacy_status=MallStatus(key))
        if not is_order_id(key):
            raise not_found(key)
        with self.state.lock:
            order = self.state.order_of(self._partner(request), key)
            return mall_json(ok_body(data=order.detail()))

    async def update_order(self, request: Request) -> Response:
        """`PUT /orders/{id}`: confirm, change status, tracking, delivery dates."""
        order_id: str = request.path_params["order_id"]
        raw = await request.body()
        with self.state.lock:
            order = self._own_order(request, order_id)
            update = parse_update(raw)
            check_update(order, update, now=self.state.clock())
            apply_update(order, update, at=self.state.now_text())
        return mall_json(ok_body())

    async def update_tracking(self, request: Request) -> Response:
        """`PUT /orders/{id}/tracking`: tracking after shipped."""
        order_id: str = request.path_params["order_id"]
        raw = await request.body()
        with self.state.lock:
            order = self._own_order(request, order_id)
            data = parse_json_object(raw, TRACKING_FIELDS)
            check_tracking_update(order, data.get("tracking_number"), data.get("tracking_url"))
            order.tracking_number, order.tracking_url = data["tracking_number"], data["tracking_url"]
        return mall_json(ok_body())

    async def list_orders(self, request: Request) -> Response:
        """`GET /orders`: ids, or basic objects with `filter=basic`."""
        return self._list(request)

    async def list_unconfirmed(self, request: Request) -> Response:
        """`GET /orders/unconfirmed`: orders MALL changed (or created) that the partner has not confirmed."""
        return self._list(request, unconfirmed=True)

    def _own_order(self, request: Request, order_id: str) -> Order:
        if not is_order_id(order_id):
            raise not_found(order_id)
        return self.state.order_of(self._partner(request), order_id)

    def _list(
        self, request: Request, *, legacy_status: MallStatus | None = None, unconfirmed: bool = False
    ) -> Response:
        query = parse_list_query(request.query_params, legacy_status=legacy_status)
        with self.state.lock:
            orders = self.state.select(
                self._partner(request), lambda o: query.keeps(o) and (not unconfirmed or not o.confirmed)
            )
            page = query.page_of(orders, Order.basic if query.basic else lambda o: int(o.id))
        return mall_json(ok_body(**page))


async def _mall_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MallError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error = MallError.one(
            405, ErrorCode.METHOD_NOT_ALLOWED, f"method {request.method} is not allowed here", method=request.method
        )
    else:
        error = MallError.one(
            exc.status_code, ErrorCode.RESOURCE_NOT_FOUND, f"no resource at {request.url.path}", path=request.url.path
        )
    response = error_response(error)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def create_partner_api(state: SandboxState) -> Starlette:
    api = PartnerApi(state)
    routes = [
        Route("/v1/orders", api.list_orders, methods=["GET"]),
        Route("/v1/orders/unconfirmed", api.list_unconfirmed, methods=["GET"]),
        Route("/v1/orders/{order_id}", api.order_or_legacy_list, methods=["GET"]),
        Route("/v1/orders/{order_id}", api.update_order, methods=["PUT"]),
        Route("/v1/orders/{order_id}/tracking", api.update_tracking, methods=["PUT"]),
    ]
    app = Starlette(routes=routes, exception_handlers={MallError: _mall_error, HTTPException: _http_error})
    # A path MALL does not serve is a 404 in MALL's shape, a trailing slash included: not Starlette's
    # redirect to the path without it (an empty 307 that a client following redirects would take as served).
    app.router.redirect_slashes = False
    return app
