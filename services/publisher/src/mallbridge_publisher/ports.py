"""The publisher's port to MALL: the values it returns, and the small exception tree its adapters raise.

MallError
 ├── MallRejected        400/404/409/422: MALL refused the request; do not retry it
 ├── MallUnauthorized    401/403: the tenant's client_id is wrong or disabled; pause the tenant
 ├── MallRateLimited     429: wait `retry_after_s`, then retry the same request
 ├── MallOutcomeUnknown  5xx, timeout, dropped connection: the request may or may not have landed;
 │                       read the order before trying again
 └── MallAnswerInvalid   2xx, but the answer is not what MALL documents (e.g. an order without a known
                         status): nothing is made up from it; the read is retried later
No message in this tree ever contains the client_id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mallbridge_core.tenants import Tenant
from mallbridge_schema.statuses import MallStatus


@dataclass(frozen=True, slots=True)
class MallAnswer:
    """MALL's 2xx answer to a PUT."""

    http_status: int
    body: dict[str, Any] | str
    latency_ms: float


@dataclass(frozen=True, slots=True)
class MallOrder:
    """MALL's side of one order, as `GET /orders/{id}` reports it (only the fields the publisher uses).
    None: MALL's answer did not say."""

    id: str
    status: MallStatus
    confirmed: bool | None = None
    mdp: bool | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    delivered_at: str | None = None
    opened_at: str | None = None  # MALL's `open` timestamp (when the order became open), as MALL wrote it


@dataclass(frozen=True, slots=True)
class MallBasicOrder:
    """One order of a list (`filter=basic`): MALL's BasicOrder carries no per-status timestamps.
    `status` None: the object had none MALL documents (read the order to know)."""

    id: str
    status: MallStatus | None
    confirmed: bool | None = None
    mdp: bool | None = None


@dataclass(frozen=True, slots=True)
class MallOrderPage:
    """One page of a list: its orders and MALL's `paging` (pages counted from 1)."""

    orders: tuple[MallBasicOrder, ...]
    page: int
    pages: int
    total: int


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


class MallNoAnswer(MallOutcomeUnknown):
    """No answer within the timeout: unlike a 5xx or a dropped connection, MALL may still be working on
    the request, so a read right away could see the order as it was before it."""


class MallAnswerInvalid(MallError):
    """A 2xx answer that does not say what MALL documents; `field` names the part that is wrong."""

    def __init__(self, message: str, *, field: str, http_status: int = 200) -> None:
        super().__init__(message, http_status=http_status)
        self.field = field


class MallClient(Protocol):
    """What the publisher needs from MALL."""

    async def put_order(self, tenant: Tenant, mall_order_id: str, body: dict[str, Any]) -> MallAnswer:
        """PUT one order's step (`PutStep`): `/orders/{id}`, or `/orders/{id}/tracking` for a tracking
        correction; returns on 2xx, raises a MallError otherwise."""
        ...

    async def get_order(self, tenant: Tenant, mall_order_id: str) -> MallOrder:
        """GET /orders/{id} → MALL's side of the order; raises a MallError otherwise."""
        ...

    async def list_orders(
        self,
        tenant: Tenant,
        *,
        unconfirmed: bool = False,
        statuses: tuple[MallStatus, ...] = (),
        page: int = 1,
        page_size: int = 100,
    ) -> MallOrderPage:
        """One page of `GET /orders?filter=basic` (`/orders/unconfirmed` when `unconfirmed`), limited to
        `statuses` when given (`status=in:...`); raises a MallError otherwise."""
        ...

    async def close(self) -> None: ...
