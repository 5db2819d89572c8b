"""The publisher's port to MALL, and the small exception tree its adapters translate failures into.

MallError
 ├── MallRejected        400/404/409/422: MALL refused the request; do not retry it
 ├── MallUnauthorized    401/403: the tenant's client_id is wrong or disabled; pause the tenant
 ├── MallRateLimited     429: wait `retry_after_s`, then retry the same request
 └── MallOutcomeUnknown  5xx, timeout, dropped connection: the request may or may not have landed;
                         read the order before trying again
No message in this tree ever contains the client_id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mallbridge_core.tenants import Tenant


@dataclass(frozen=True, slots=True)
class MallAnswer:
    http_status: int
    body: dict[str, Any] | str
    latency_ms: float


class MallError(Exception):
    def __init__(self, message: str, *, http_status: int = 0, body: dict[str, Any] | str = "") -> None:
        super().__init__(message)
        self.http_status = http_status
        self.body = body


class MallRejected(MallError):
    pass


class MallUnauthorized(MallError):
    pass


class MallRateLimited(MallError):
    def __init__(self, message: str, *, retry_after_s: float, body: dict[str, Any] | str = "") -> None:
        super().__init__(message, http_status=429, body=body)
        self.retry_after_s = retry_after_s


class MallOutcomeUnknown(MallError):
    pass


class MallClient(Protocol):
    """What the publisher needs from MALL."""

    async def put_order(self, tenant: Tenant, mall_order_id: str, body: dict[str, Any]) -> MallAnswer:
        """PUT /orders/{id}; returns on 2xx, raises a MallError otherwise."""
        ...

    async def get_order(self, tenant: Tenant, mall_order_id: str) -> dict[str, Any]:
        """GET /orders/{id} → the order detail (`data`); raises a MallError otherwise."""
        ...

    async def close(self) -> None: ...
