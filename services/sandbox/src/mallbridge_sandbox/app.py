"""The composition root: `create_app(partners, *, seed, clock, latency_ms, webhook_interval_s)` → one ASGI app.

`/v1/...` goes through the partner gateway (auth, latency, faults, quota, request log) to the partner API;
everything else (`/sandbox/...`, `/healthz`, lifespan) goes to the admin app. The returned app exposes
its state as `app.state` (a SandboxState) for in-process use by tests and the demo.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from mallbridge_sandbox.admin import create_admin_app
from mallbridge_sandbox.api import create_partner_api
from mallbridge_sandbox.clock import Clock, system_clock
from mallbridge_sandbox.gateway import PartnerGateway, is_partner_path
from mallbridge_sandbox.partners import Partner
from mallbridge_sandbox.state import SandboxState
from mallbridge_sandbox.webhooks import DEFAULT_INTERVAL_S


class SandboxApp:
    """A plain ASGI callable, outermost, so the gateway receives the server's own `send` (see transport.py)."""

    def __init__(self, state: SandboxState, admin: Starlette, gateway: PartnerGateway) -> None:
        self.state = state
        self._admin = admin
        self._gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_partner_path(scope["path"]):
            await self._gateway(scope, receive, send)
        else:
            await self._admin(scope, receive, send)


def create_app(
    partners: Iterable[Partner],
    *,
    seed: int = 0,
    clock: Clock | None = None,
    latency_ms: int = 0,
    webhook_interval_s: float = DEFAULT_INTERVAL_S,
) -> SandboxApp:
    """`latency_ms` is added to every /v1 answer (a partner's own setting wins); `webhook_interval_s` is the
    least time between two webhook deliveries of a partner that sets none (MALL: 60 s)."""
    if not 0 <= latency_ms <= 60_000 or webhook_interval_s < 0:
        raise ValueError("latency_ms must be 0..60000 and webhook_interval_s >= 0")
    state = SandboxState(
        partners,
        seed=seed,
        clock=clock or system_clock,
        latency_ms=latency_ms,
        webhook_interval_s=webhook_interval_s,
    )
    return SandboxApp(state, create_admin_app(state), PartnerGateway(state, create_partner_api(state)))
