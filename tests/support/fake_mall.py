"""A fake of the publisher's own MallClient port for unit-level engine tests: it enforces MALL's
partner rules (DESIGN §1) in memory and records every call. Integration tests use the sandbox."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from mallbridge_core.tenants import Tenant
from mallbridge_publisher.ports import MallAnswer, MallRejected
from mallbridge_schema.statuses import FINAL_MALL_STATUSES, MallStatus
from mallbridge_schema.transitions import is_partner_transition


@dataclass
class FakeOrder:
    status: MallStatus = MallStatus.OPEN
    confirmed: bool = False
    mdp: bool = False


@dataclass
class FakeMall:
    orders: dict[str, FakeOrder] = field(default_factory=dict)
    calls: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    delay_s: dict[str, float] = field(default_factory=dict)

    def order(self, mall_order_id: str) -> FakeOrder:
        return self.orders.setdefault(mall_order_id, FakeOrder())

    async def put_order(self, tenant: Tenant, mall_order_id: str, body: dict[str, Any]) -> MallAnswer:
        await asyncio.sleep(self.delay_s.get(tenant.tenant_id, 0.0))
        self.calls.append((tenant.tenant_id, "PUT", mall_order_id, body))
        order = self.order(mall_order_id)
        target = MallStatus(body["status"])
        if order.status in FINAL_MALL_STATUSES or not is_partner_transition(order.status, target, mdp=order.mdp):
            raise MallRejected(f"illegal {order.status}->{target}", http_status=400, body={"result": {"code": 400}})
        if not order.confirmed and not body.get("confirmed"):
            raise MallRejected("unconfirmed", http_status=400, body={})
        if (
            target is MallStatus.SHIPPED
            and not order.mdp
            and not (body.get("tracking_number") and body.get("tracking_url"))
        ):
            raise MallRejected("tracking required", http_status=400, body={})
        if target is MallStatus.DELIVERED and not body.get("delivered_at"):
            raise MallRejected("delivered_at required", http_status=400, body={})
        order.status, order.confirmed = target, True
        return MallAnswer(200, {"result": {"code": 200, "status": "OK"}}, 1.0)

    async def get_order(self, tenant: Tenant, mall_order_id: str) -> dict[str, Any]:
        self.calls.append((tenant.tenant_id, "GET", mall_order_id, {}))
        order = self.order(mall_order_id)
        return {"id": mall_order_id, "status": order.status.value, "confirmed": order.confirmed, "mdp": order.mdp}

    async def close(self) -> None:
        return None
