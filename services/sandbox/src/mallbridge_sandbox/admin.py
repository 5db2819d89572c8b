"""Sandbox-only admin endpoints under `/sandbox/...` (no client_id; plain JSON, not MALL's envelope).

See the README for every path and body. Errors are `{"error": "...", "details": [...]}` with 400/404/409.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mallbridge_sandbox.faults import FaultConfig
from mallbridge_sandbox.orders import Order, is_order_id
from mallbridge_sandbox.partners import Partner, PartnersError
from mallbridge_sandbox.quota import DAY_SECONDS, DEFAULT_QUOTA
from mallbridge_sandbox.state import MDP_TRACKED, Account, OrderExistsError, SandboxState
from mallbridge_schema.statuses import MallStatus


class AdminError(Exception):
    def __init__(self, status: int, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details or []


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _OrderFields(_Body):
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

    @field_validator("id", mode="before")
    @classmethod
    def _digits(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is not None and (not isinstance(value, str) or not is_order_id(value)):
            raise ValueError("id must be digits without leading zeros, at most 2^63-1 (e.g. 10085339302)")
        return value


class MallUpdate(_OrderFields):
    """A change made by MALL (not the partner): no transition rules; resets confirmed unless it is given."""

    status: MallStatus | None = None
    confirmed: bool | None = None
    mdp: bool | None = None


class CreatePartner(_Body):
    name: str
    client_id: str = Field(repr=False)
    quota: int = DEFAULT_QUOTA
    window_seconds: int = DAY_SECONDS
    enabled: bool = True


class PatchPartner(_Body):
    quota: int | None = Field(default=None, ge=0)
    window_seconds: int | None = Field(default=None, gt=0)
    enabled: bool | None = None
    reset_usage: bool = False


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return await request.json()
    except ValueError:
        raise AdminError(400, "request body is not valid JSON") from None


M = TypeVar("M", bound=BaseModel)


def _validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise AdminError(400, "invalid body", exc.errors(include_url=False, include_context=False)) from None


class AdminApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    # health and reset -----------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def reset(self, request: Request) -> Response:
        self.state.reset()
        return JSONResponse({"reset": True})

    # partners -------------------------------------------------------------------------------------
    def _account(self, name: str) -> Account:
        account = self.state.account(name)
        if account is None:
            raise AdminError(404, f"unknown partner {name!r}")
        return account

    def _partner_view(self, account: Account) -> dict[str, Any]:
        name = account.partner.name
        quota = self.state.quotas.peek(name)
        faults = self.state.faults.get(name)
        return {
            "name": name,
            "enabled": account.enabled,
            "quota": quota.limit,
            "window_seconds": quota.window_seconds,
            "remaining": quota.remaining,
            "reset_s": quota.reset_seconds,
            "faults": faults.model_dump() if faults else None,
            "faults_injected": self.state.faults.injected(name),
        }

    async def list_partners(self, request: Request) -> Response:
        with self.state.lock:
            accounts = list(self.state.accounts.values())
        return JSONResponse({"partners": [self._partner_view(a) for a in accounts]})

    async def create_partner(self, request: Request) -> Response:
        body = _validate(CreatePartner, await _json(request))
        try:
            partner = Partner(body.name, body.client_id, body.quota, body.window_seconds)
            self.state.add_partner(partner)
        except PartnersError as exc:
            raise AdminError(409 if "exists" in str(exc) or "another" in str(exc) else 400, str(exc)) from None
        account = self._account(body.name)
        account.enabled = body.enabled
        return JSONResponse({"partner": self._partner_view(account)}, status_code=201)

    async def patch_partner(self, request: Request) -> Response:
        account = self._account(request.path_params["name"])
        body = _validate(PatchPartner, await _json(request))
        name = account.partner.name
        with self.state.lock:
            if body.enabled is not None:
                account.enabled = body.enabled
            if body.quota is not None or body.window_seconds is not None:
                current = self.state.quotas.peek(name)
                self.state.quotas.configure(
                    name,
                    limit=current.limit if body.quota is None else body.quota,
                    window_seconds=body.window_seconds or current.window_seconds,
                )
            if body.reset_usage:
                self.state.quotas.reset_usage(name)
        return JSONResponse({"partner": self._partner_view(account)})

    # faults ---------------------------------------------------------------------------------------
    async def get_faults(self, request: Request) -> Response:
        account = self._account(request.path_params["name"])
        config = self.state.faults.get(account.partner.name)
        return JSONResponse({"faults": config.model_dump() if config else None})

    async def put_faults(self, request: Request) -> Response:
        account = self._account(request.path_params["name"])
        config = _validate(FaultConfig, await _json(request))
        self.state.faults.set(account.partner.name, config)
        return JSONResponse({"faults": config.model_dump()})

    async def delete_faults(self, request: Request) -> Response:
        account = self._account(request.path_params["name"])
        self.state.faults.clear(account.partner.name)
        return JSONResponse({"faults": None})

    async def delete_all_faults(self, request: Request) -> Response:
        self.state.faults.clear()
        return JSONResponse({"faults": None})

    # orders ---------------------------------------------------------------------------------------
    def _order(self, order_id: str) -> Order:
        order = self.state.orders.get(order_id)
        if order is None:
            raise AdminError(404, f"unknown order {order_id}")
        return order

    async def create_order(self, request: Request) -> Response:
        body = _validate(CreateOrder, await _json(request))
        self._account(body.partner)
        fields = body.model_dump(exclude={"partner", "id", "status", "confirmed", "mdp"})
        try:
            with self.state.lock:
                order = self.state.create_order(
                    partner=body.partner,
                    order_id=body.id,
                    status=body.status,
                    confirmed=body.confirmed,
                    mdp=body.mdp,
                    **fields,
                )
                view = order.admin_view()
        except OrderExistsError as exc:
            raise AdminError(409, str(exc)) from None
        return JSONResponse({"order": view}, status_code=201)

    async def list_orders(self, request: Request) -> Response:
        partner = request.query_params.get("partner")
        with self.state.lock:
            orders = sorted(self.state.orders.values(), key=lambda o: int(o.id))
            views = [o.admin_view() for o in orders if partner is None or o.partner == partner]
        return JSONResponse({"orders": views})

    async def get_order(self, request: Request) -> Response:
        with self.state.lock:
            view = self._order(request.path_params["order_id"]).admin_view()
        return JSONResponse({"order": view})

    async def mall_update(self, request: Request) -> Response:
        """Change an order as MALL would (MALL cancels, blocked -> open, MDP delivered ...) [S5c]."""
        body = _validate(MallUpdate, await _json(request))
        with self.state.lock:
            order = self._order(request.path_params["order_id"])
            given = body.model_dump(exclude_unset=True)
            if body.status is not None and body.status != order.status:
                order.enter(body.status, self.state.now_text())
            for name in (
                "external_id",
                "tracking_number",
                "tracking_url",
                "delivered_at",
                "first_delivery_attempt",
            ):
                if name in given:
                    setattr(order, name, given[name])
            if body.mdp is not None:
                order.mdp = body.mdp
            if order.mdp and order.status in MDP_TRACKED:
                order.fill_mdp_tracking()
            # MALL resets an order to unconfirmed whenever it changes it [S5c].
            order.confirmed = bool(body.confirmed) if body.confirmed is not None else False
            view = order.admin_view()
        return JSONResponse({"order": view})

    # request log ----------------------------------------------------------------------------------
    async def requests(self, request: Request) -> Response:
        params = request.query_params
        since = params.get("since", "0")
        if not since.isdigit():
            raise AdminError(400, "since must be a non-negative integer (a request seq)")
        entries = self.state.log.select(
            partner=params.get("partner"),
            order_id=params.get("order_id"),
            method=params.get("method"),
            since=int(since),
        )
        return JSONResponse({"requests": entries})

    async def clear_requests(self, request: Request) -> Response:
        self.state.log.clear()
        return JSONResponse({"requests": []})


async def _admin_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AdminError)
    return JSONResponse({"error": exc.message, "details": exc.details}, status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail, "details": []}, status_code=exc.status_code, headers=exc.headers)


def admin_routes(state: SandboxState) -> list[Route]:
    api = AdminApi(state)
    return [
        Route("/healthz", api.health, methods=["GET"]),
        Route("/sandbox/healthz", api.health, methods=["GET"]),
        Route("/sandbox/reset", api.reset, methods=["POST"]),
        Route("/sandbox/partners", api.list_partners, methods=["GET"]),
        Route("/sandbox/partners", api.create_partner, methods=["POST"]),
        Route("/sandbox/partners/{name}", api.patch_partner, methods=["PATCH"]),
        Route("/sandbox/partners/{name}/faults", api.get_faults, methods=["GET"]),
        Route("/sandbox/partners/{name}/faults", api.put_faults, methods=["PUT"]),
        Route("/sandbox/partners/{name}/faults", api.delete_faults, methods=["DELETE"]),
        Route("/sandbox/faults", api.delete_all_faults, methods=["DELETE"]),
        Route("/sandbox/orders", api.create_order, methods=["POST"]),
        Route("/sandbox/orders", api.list_orders, methods=["GET"]),
        Route("/sandbox/orders/{order_id}", api.get_order, methods=["GET"]),
        Route("/sandbox/orders/{order_id}/mall-update", api.mall_update, methods=["POST"]),
        Route("/sandbox/requests", api.requests, methods=["GET"]),
        Route("/sandbox/requests", api.clear_requests, methods=["DELETE"]),
    ]


def create_admin_app(state: SandboxState) -> Starlette:
    return Starlette(
        routes=admin_routes(state),
        exception_handlers={AdminError: _admin_error, HTTPException: _http_error},
    )
