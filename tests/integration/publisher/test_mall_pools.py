"""Each tenant has its own connection pool to MALL, as large as its concurrency: tenants on the same MALL
base URL never wait for each other's connections."""

from __future__ import annotations

import asyncio
import threading

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mallbridge_core.tenants import Tenant
from mallbridge_publisher.adapters.mall_http import HttpMallClient
from tests.support.eventually import eventually
from tests.support.threaded_server import ThreadedServer

POOL = 8


class MallHoldingOneTenant:
    """Answers at once, except the `held` client's requests: those wait until `release()`."""

    def __init__(self) -> None:
        self.held = 0
        self._release = threading.Event()
        app = Starlette(routes=[Route("/v1/orders/{order_id}", self._put, methods=["PUT"])])
        self.http = ThreadedServer(app, name="mall-holding-one-tenant", timeout_graceful_shutdown=2)

    async def _put(self, request: Request) -> JSONResponse:
        if request.query_params.get("client_id") == "held":
            self.held += 1  # one server thread: no race
            while not self._release.is_set():
                await asyncio.sleep(0.01)
        return JSONResponse({"result": {"code": 200, "status": "OK"}})

    def release(self) -> None:
        self._release.set()


def _tenant(name: str, client_id: str, port: int) -> Tenant:
    base = f"http://127.0.0.1:{port}/v1"
    return Tenant(tenant_id=name, mall_client_id=SecretStr(client_id), ingest_secret=None, mall_base_url=base)


async def test_a_tenant_whose_mall_requests_hang_holds_only_its_own_connections() -> None:
    mall = MallHoldingOneTenant()
    mall.http.start()
    client = HttpMallClient(connections_per_tenant=POOL, read_timeout_s=30)
    stuck, other = _tenant("stuck", "held", mall.http.port), _tenant("other", "free", mall.http.port)
    try:
        hanging = [
            asyncio.create_task(client.put_order(stuck, str(n), {"status": "shipping"})) for n in range(3 * POOL)
        ]
        await eventually(lambda: mall.held == POOL, timeout=10, what="the stuck tenant's pool to fill")
        answer = await asyncio.wait_for(client.put_order(other, "1", {"status": "shipping"}), timeout=10)
        assert answer.http_status == 200
        assert mall.held == POOL  # its pool holds the rest back: never more connections than its concurrency
        mall.release()
        assert [a.http_status for a in await asyncio.gather(*hanging)] == [200] * (3 * POOL)
    finally:
        mall.release()
        await client.close()
        mall.http.stop()
