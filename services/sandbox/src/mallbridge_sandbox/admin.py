"""Sandbox-only admin endpoints under `/sandbox/...` (no client_id; plain JSON, not MALL's envelope).

See the README for every path and body. Errors are `{"error": "...", "details": [...]}` with 400/404/409.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mallbridge_sandbox.admin_common import AdminError, Body, account_or_404, read_json, validate
from mallbridge_sandbox.admin_orders import order_routes
from mallbridge_sandbox.admin_webhooks import webhook_routes
from mallbridge_sandbox.faults import FaultConfig
from mallbridge_sandbox.partners import MAX_LATENCY_MS, Partner, PartnersError
from mallbridge_sandbox.quota import DAY_SECONDS, DEFAULT_QUOTA
from mallbridge_sandbox.state import Account, SandboxState


class CreatePartner(Body):
    name: str
    client_id: str = Field(repr=False)
    quota: int = DEFAULT_QUOTA
    window_seconds: int = DAY_SECONDS
    enabled: bool = True
    webhook_url: str | None = Field(default=None, repr=False)
    webhook_interval_s: float | None = Field(default=None, ge=0)
    latency_ms: int | None = Field(default=None, ge=0, le=MAX_LATENCY_MS)


class PatchPartner(Body):
    quota: int | None = Field(default=None, ge=0)
    window_seconds: int | None = Field(default=None, gt=0)
    enabled: bool | None = None
    reset_usage: bool = False
    latency_ms: int | None = Field(default=None, ge=0, le=MAX_LATENCY_MS)  # null: back to the global latency


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
        return account_or_404(self.state, name)

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
            "latency_ms": account.latency_ms,
            "webhook": self.state.webhooks.summary(name),
        }

    async def list_partners(self, request: Request) -> Response:
        with self.state.lock:
            accounts = list(self.state.accounts.values())
        return JSONResponse({"partners": [self._partner_view(a) for a in accounts]})

    async def create_partner(self, request: Request) -> Response:
        body = validate(CreatePartner, await read_json(request))
        try:
            partner = Partner(
                body.name,
                body.client_id,
                body.quota,
                body.window_seconds,
                webhook_url=body.webhook_url,
                webhook_interval_s=body.webhook_interval_s,
                latency_ms=body.latency_ms,
            )
            self.state.add_partner(partner)
        except PartnersError as exc:
            raise AdminError(409 if "exists" in str(exc) or "another" in str(exc) else 400, str(exc)) from None
        account = self._account(body.name)
        account.enabled = body.enabled
        return JSONResponse({"partner": self._partner_view(account)}, status_code=201)

    async def patch_partner(self, request: Request) -> Response:
        account = self._account(request.path_params["name"])
        body = validate(PatchPartner, await read_json(request))
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
            if "latency_ms" in body.model_fields_set:
                account.latency_ms = body.latency_ms
        return JSONResponse({"partner": self._partner_view(account)})

    # faults ---------------------------------------------------------------------------------------
    async def get_faults(self, request: Request) -> Response:
        account = self._account(request.path_params["name"])
        config = self.state.faults.get(account.partner.name)
        return JSONResponse({"faults": config.model_dump() if config else None})

    async def put_faults(self, request: Request) -> Response:
        account = self._account(request.path_params["name"])
        config = validate(FaultConfig, await read_json(request))
        self.state.faults.set(account.partner.name, config)
        return JSONResponse({"faults": config.model_dump()})

    async def delete_faults(self, request: Request) -> Response:
        account = self._account(request.path_params["name"])
        self.state.faults.clear(account.partner.name)
        return JSONResponse({"faults": None})

    async def delete_all_faults(self, request: Request) -> Response:
        self.state.faults.clear()
        return JSONResponse({"faults": None})

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
        Route("/sandbox/requests", api.requests, methods=["GET"]),
        Route("/sandbox/requests", api.clear_requests, methods=["DELETE"]),
        *order_routes(state),
        *webhook_routes(state),
    ]


def create_admin_app(state: SandboxState) -> Starlette:
    return Starlette(
        routes=admin_routes(state),
        exception_handlers={AdminError: _admin_error, HTTPException: _http_error},
    )
