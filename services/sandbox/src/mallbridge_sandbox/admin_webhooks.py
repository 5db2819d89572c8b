"""Admin endpoints for MALL's webhook (per partner) and for the latency added to every /v1 answer.

The URL is a secret (its path carries the receiver's token): answers show only its scheme, host and port.
"""

from __future__ import annotations

import asyncio

from pydantic import Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mallbridge_sandbox.admin_common import AdminError, Body, account_or_404, read_json, validate
from mallbridge_sandbox.partners import MAX_LATENCY_MS
from mallbridge_sandbox.state import SandboxState
from mallbridge_sandbox.webhooks import DEFAULT_MAX_IDS, DEFAULT_TIMEOUT_S, WebhookSettings, check_webhook_url


class WebhookBody(Body):
    url: str = Field(repr=False)
    interval_s: float | None = Field(default=None, ge=0, le=86_400)  # None: the sandbox's default
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=300)
    max_ids: int = Field(default=DEFAULT_MAX_IDS, ge=1, le=100_000)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_webhook_url(value)


class LatencyBody(Body):
    latency_ms: int = Field(ge=0, le=MAX_LATENCY_MS)


class WebhookAdmin:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def _name(self, request: Request) -> str:
        return account_or_404(self.state, request.path_params["name"]).partner.name

    def _view(self, name: str) -> Response:
        return JSONResponse({"webhook": self.state.webhooks.view(name)})

    def _no_webhook(self, name: str) -> AdminError:
        return AdminError(409, f"partner {name!r} has no webhook URL; PUT /sandbox/partners/{name}/webhook first")

    async def put(self, request: Request) -> Response:
        name = self._name(request)
        body = validate(WebhookBody, await read_json(request))
        settings = WebhookSettings(body.url, interval_s=body.interval_s, timeout_s=body.timeout_s, max_ids=body.max_ids)
        self.state.webhooks.configure(name, settings)
        return self._view(name)

    async def get(self, request: Request) -> Response:
        return self._view(self._name(request))

    async def delete(self, request: Request) -> Response:
        name = self._name(request)
        self.state.webhooks.remove(name)
        return self._view(name)

    async def pause(self, request: Request) -> Response:
        name = self._name(request)
        if not self.state.webhooks.set_paused(name, True):
            raise self._no_webhook(name)
        return self._view(name)

    async def resume(self, request: Request) -> Response:
        name = self._name(request)
        if not self.state.webhooks.set_paused(name, False):
            raise self._no_webhook(name)
        return self._view(name)

    async def deliver(self, request: Request) -> Response:
        """Deliver the waiting ids now (paused or not), and answer with the delivery's result (null: none waited)."""
        name = self._name(request)
        future = self.state.webhooks.deliver_now(name)
        if future is None:
            raise self._no_webhook(name)
        result = await asyncio.wrap_future(future)  # the delivery has its own timeout, so this ends
        return JSONResponse({"delivery": None if result is None else result.as_json()})

    async def get_latency(self, request: Request) -> Response:
        return self._latency()

    async def put_latency(self, request: Request) -> Response:
        body = validate(LatencyBody, await read_json(request))
        self.state.latency_ms = body.latency_ms
        return self._latency()

    def _latency(self) -> Response:
        with self.state.lock:
            partners = {name: a.latency_ms for name, a in self.state.accounts.items()}
        return JSONResponse({"latency_ms": self.state.latency_ms, "partners": partners})


def webhook_routes(state: SandboxState) -> list[Route]:
    api = WebhookAdmin(state)
    base = "/sandbox/partners/{name}/webhook"
    return [
        Route(base, api.get, methods=["GET"]),
        Route(base, api.put, methods=["PUT"]),
        Route(base, api.delete, methods=["DELETE"]),
        Route(f"{base}/pause", api.pause, methods=["POST"]),
        Route(f"{base}/resume", api.resume, methods=["POST"]),
        Route(f"{base}/deliver", api.deliver, methods=["POST"]),
        Route("/sandbox/latency", api.get_latency, methods=["GET"]),
        Route("/sandbox/latency", api.put_latency, methods=["PUT"]),
    ]
