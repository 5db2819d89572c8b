"""Admin endpoints for orders: create (one or in bulk), read, and the changes MALL makes (named actions,
the generic mall-update), with MALL's event log. Each change MALL makes is recorded and queued for the
partner's webhook (SandboxState.record_mall_change)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mallbridge_sandbox.admin_common import AdminError, Body, account_or_404, order_or_404, read_json, validate
from mallbridge_sandbox.errors import MallError
from mallbridge_sandbox.mall_actions import ACTIONS, ActionFieldError, ActionRefused, apply_action, check_fields
from mallbridge_sandbox.orders import is_order_id
from mallbridge_sandbox.rules import parse_mall_datetime
from mallbridge_sandbox.state import NewOrder, OrderExistsError, SandboxState
from mallbridge_schema.statuses import MallStatus

MAX_BULK = 100_000


class _OrderFields(Body):
    external_id: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    delivered_at: str | None = None
    first_delivery_attempt: str | None = None


class CreateOrder(_OrderFields):
    partner: str
    id: str | None = None
    status: MallStatus = MallStatus.OPEN
    confirmed: bool = False
    mdp: bool = False
    test: bool = False
    # when MALL opened it (its detail's `open`), for an order that has waited: default the moment it is created
    opened_at: str | None = None

    @field_validator("opened_at")
    @classmethod
    def _mall_moment(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_mall_datetime(value, field="opened_at")
            except MallError as exc:
                raise ValueError(exc.message) from None
        return value

    @model_validator(mode="after")
    def _opened_only_when_open(self) -> CreateOrder:
        if self.opened_at is not None and self.status is MallStatus.BLOCKED:
            raise ValueError("opened_at is for an order MALL has opened; a blocked one has not been")
        return self

    @field_validator("id", mode="before")
    @classmethod
    def _digits(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is not None and (not isinstance(value, str) or not is_order_id(value)):
            raise ValueError("id must be digits without leading zeros, at most 2^63-1 (e.g. 10085339302)")
        return value

    def new_order(self) -> NewOrder:
        fields = self.model_dump(exclude={"partner", "id", "status", "confirmed", "mdp", "opened_at"})
        return NewOrder(self.partner, self.id, self.status, self.confirmed, self.mdp, fields, self.opened_at)


class BulkCreate(Body):
    orders: list[CreateOrder] = Field(min_length=1, max_length=MAX_BULK)


class MallUpdate(_OrderFields):
    """A change made by MALL (not the partner): no transition rules; resets confirmed unless it is given."""

    status: MallStatus | None = None
    confirmed: bool | None = None
    mdp: bool | None = None


class ActionBody(Body):
    """The fields an action may take (each action names its own; see mall_actions.ACTIONS)."""

    delivered_at: str | None = None
    first_delivery_attempt: str | None = None
    external_id: str | None = None


def _since(request: Request) -> int:
    since = request.query_params.get("since", "0")
    if not since.isdigit():
        raise AdminError(400, "since must be a non-negative integer (a seq)")
    return int(since)


class OrdersAdmin:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def _create(self, orders: list[CreateOrder]) -> list[Any]:
        unknown = sorted({o.partner for o in orders if self.state.account(o.partner) is None})
        if unknown:
            raise AdminError(404, f"unknown partner(s): {', '.join(map(repr, unknown))}")
        try:
            return self.state.create_orders([o.new_order() for o in orders])
        except OrderExistsError as exc:
            raise AdminError(409, str(exc)) from None

    async def create_order(self, request: Request) -> Response:
        body = validate(CreateOrder, await read_json(request))
        account_or_404(self.state, body.partner)
        with self.state.lock:
            (order,) = self._create([body])
            view = order.admin_view()
        return JSONResponse({"order": view}, status_code=201)

    async def create_bulk(self, request: Request) -> Response:
        """Many orders in one call, all or none (for tests and benchmarks): answers the ids, not the orders."""
        body = validate(BulkCreate, await read_json(request))
        created = self._create(body.orders)
        return JSONResponse({"created": len(created), "ids": [o.id for o in created]}, status_code=201)

    async def list_orders(self, request: Request) -> Response:
        partner = request.query_params.get("partner")
        with self.state.lock:
            orders = sorted(self.state.orders.values(), key=lambda o: int(o.id))
            views = [o.admin_view() for o in orders if partner is None or o.partner == partner]
        return JSONResponse({"orders": views})

    async def get_order(self, request: Request) -> Response:
        with self.state.lock:
            view = order_or_404(self.state, request.path_params["order_id"]).admin_view()
        return JSONResponse({"order": view})

    async def mall_update(self, request: Request) -> Response:
        """Change an order as MALL would, any field, no transition rules; the named actions are stricter."""
        body = validate(MallUpdate, await read_json(request))
        with self.state.lock:
            order = order_or_404(self.state, request.path_params["order_id"])
            before = order.status
            given = body.model_dump(exclude_unset=True)
            if body.status is not None and body.status != order.status:
                order.enter(body.status, self.state.now_text())
            for name in ("external_id", "tracking_number", "tracking_url", "delivered_at", "first_delivery_attempt"):
                if name in given:
                    setattr(order, name, given[name])
            if body.mdp is not None:
                order.mdp = body.mdp
            order.fill_mdp_tracking_if_due()
            # MALL resets an order to unconfirmed whenever it changes it.
            order.confirmed = bool(body.confirmed) if body.confirmed is not None else False
            self.state.record_mall_change(order, "mall-update", before)
            view = order.admin_view()
        return JSONResponse({"order": view})

    def _checked_fields(self, body: ActionBody) -> dict[str, str]:
        given: dict[str, str] = body.model_dump(exclude_none=True)
        for name in ("delivered_at", "first_delivery_attempt"):
            if name in given:
                try:
                    moment = parse_mall_datetime(given[name], field=name)
                except MallError as exc:
                    raise AdminError(400, exc.message) from None
                if moment > self.state.clock():
                    raise AdminError(400, f"{name} is in the future; MALL records real moments")
        return given

    async def act(self, request: Request) -> Response:
        """`POST /sandbox/orders/{id}/actions/{action}`: one of the changes MALL makes (mall_actions.py)."""
        name = request.path_params["action"]
        action = ACTIONS.get(name)
        if action is None:
            raise AdminError(404, f"unknown action {name!r}; actions: {', '.join(ACTIONS)}")
        body = validate(ActionBody, await read_json(request))
        try:
            check_fields(action, body.model_dump(exclude_none=True))
        except ActionFieldError as exc:
            raise AdminError(400, str(exc)) from None
        given = self._checked_fields(body)
        with self.state.lock:
            order = order_or_404(self.state, request.path_params["order_id"])
            try:
                before = apply_action(order, action, given, at=self.state.now_text())
            except ActionRefused as exc:
                raise AdminError(409, str(exc)) from None
            self.state.record_mall_change(order, action.name, before)
            view = order.admin_view()
        return JSONResponse({"action": action.name, "order": view})

    async def list_actions(self, request: Request) -> Response:
        actions = [
            {
                "name": a.name,
                "meaning": a.meaning,
                "from": [s.value for s in MallStatus if s in a.from_statuses],
                "to": a.to_status.value if a.to_status else None,
                "mdp_only": a.mdp_only,
                "fields": sorted(a.fields),
            }
            for a in ACTIONS.values()
        ]
        return JSONResponse({"actions": actions})

    async def mall_events(self, request: Request) -> Response:
        params = request.query_params
        events = self.state.mall_events.select(
            partner=params.get("partner"),
            order_id=params.get("order_id"),
            action=params.get("action"),
            since=_since(request),
        )
        return JSONResponse({"events": events})


def order_routes(state: SandboxState) -> list[Route]:
    api = OrdersAdmin(state)
    return [
        Route("/sandbox/orders", api.create_order, methods=["POST"]),
        Route("/sandbox/orders", api.list_orders, methods=["GET"]),
        Route("/sandbox/orders/bulk", api.create_bulk, methods=["POST"]),
        Route("/sandbox/orders/{order_id}", api.get_order, methods=["GET"]),
        Route("/sandbox/orders/{order_id}/mall-update", api.mall_update, methods=["POST"]),
        Route("/sandbox/orders/{order_id}/actions/{action}", api.act, methods=["POST"]),
        Route("/sandbox/actions", api.list_actions, methods=["GET"]),
        Route("/sandbox/mall-events", api.mall_events, methods=["GET"]),
    ]
