"""MALL Partner API over httpx: one long-lived AsyncClient per tenant, explicit timeouts.

Each tenant has its own connection pool, as large as its concurrency (`connections_per_tenant`, the
publisher's `tenant_concurrency`): tenants on the same MALL base URL never wait for each other's
connections. The pool is mallbridge's lean HTTP/1.1 transport (`http1_transport.py`, the default:
about a third of the CPU per request of httpx's own) or httpx's default transport (`"httpcore"`, the
publisher's `mall_transport` setting, should a network between mallbridge and MALL need what httpcore
handles and the lean one does not, such as HTTP/2).

The client_id goes into the query string of each request here and nowhere else; errors are built
from the status and body only, never from httpx's messages (which carry the URL), and the body of a
refusal is masked first: an error page that echoes the request URL (a framework's "No route found for GET
…?client_id=…") must not carry the client_id into a sync event, a log line or an error message. MALL's
JSON is parsed here into the port's typed values (`MallOrder`), so nothing past this module reads raw
dicts.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal
from urllib.parse import quote, quote_plus

import httpx

from mallbridge_core.tenants import Tenant
from mallbridge_publisher.adapters.http1_transport import Http1Transport
from mallbridge_publisher.adapters.mall_order import parse_order, parse_page
from mallbridge_publisher.config import DEFAULT_TENANT_CONCURRENCY, PublisherSettings
from mallbridge_publisher.ports import (
    MallAnswer,
    MallAnswerInvalid,
    MallNoAnswer,
    MallOrder,
    MallOrderPage,
    MallOutcomeUnknown,
    MallRateLimited,
    MallRejected,
    MallUnauthorized,
)
from mallbridge_schema.mall_format import request_kind
from mallbridge_schema.statuses import MallStatus

APPLICATION_NAME = "mallbridge"
APPLICATION_VERSION = "0.1.0"

MallTransport = Literal["http1", "httpcore"]
"""Which connection pool carries MALL requests: mallbridge's HTTP/1.1 transport, or httpx's default."""


MASK = "***"


def _masked(value: Any, secrets: tuple[str, ...]) -> Any:
    """`value` (parsed JSON or text) with every occurrence of each of `secrets` in a string value replaced by
    `***` (keys are left alone: `_message` reads MALL's by name)."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {k: _masked(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(item, secrets) for item in value]
    return value


def secret_forms(secret: str) -> tuple[str, ...]:
    """The ways `secret` can appear in an answer that echoes the request: as sent, and URL-encoded."""
    if not secret:
        return ()
    return tuple(sorted({secret, quote(secret, safe=""), quote_plus(secret, safe="")}, key=len, reverse=True))


def _body(response: httpx.Response, secrets: tuple[str, ...] = ()) -> dict[str, Any] | str:
    try:
        parsed = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return str(_masked(response.text, secrets))[:2000]
    if not isinstance(parsed, dict):
        return str(_masked(response.text, secrets))[:2000]
    masked: dict[str, Any] = _masked(parsed, secrets)
    return masked


def _message(body: dict[str, Any] | str) -> str:
    if isinstance(body, dict):
        result = body.get("result")
        if isinstance(result, dict) and result.get("message"):
            return str(result["message"])
        codes = body.get("errorCodes")
        if isinstance(codes, list) and codes and isinstance(codes[0], dict):
            return str(codes[0].get("message") or codes[0].get("errorCode") or "")
    return str(body)[:300]


def _retry_after(response: httpx.Response) -> float:
    for header in ("X-RateLimit-Reset", "Retry-After"):
        value = response.headers.get(header)
        if value:
            try:
                return max(0.0, float(value.split(",")[0]))
            except ValueError:
                continue
    return 1.0


def raise_for_answer(response: httpx.Response, what: str, client_id: str = "") -> dict[str, Any] | str:
    """Translate a MALL response into a MallError (its body's values with `client_id` masked), or return its
    body on 2xx (parsed for its fields only, never recorded or shown whole: left as MALL sent it, and no
    masking work on the path every accepted request takes)."""
    status = response.status_code
    if 200 <= status < 300:
        return _body(response)
    body = _body(response, secret_forms(client_id))
    message = f"{what}: HTTP {status}: {_message(body)}"
    if status == 429:
        raise MallRateLimited(message, retry_after_s=_retry_after(response), body=body)
    if status in (401, 403):
        raise MallUnauthorized(message, http_status=status, body=body)
    if status >= 500:
        raise MallOutcomeUnknown(message, http_status=status, body=body)
    raise MallRejected(message, http_status=status, body=body)


class HttpMallClient:
    def __init__(
        self,
        *,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        connections_per_tenant: int = DEFAULT_TENANT_CONCURRENCY,
        mall_transport: MallTransport = "http1",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`transport` replaces the network (tests pass an `httpx.MockTransport`)."""
        self._timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
        self._connections = connections_per_tenant
        self._kind = mall_transport
        self._transport = transport
        self._clients: dict[tuple[str, str], httpx.AsyncClient] = {}

    def _new_transport(self) -> httpx.AsyncBaseTransport:
        if self._transport is not None:
            return self._transport
        if self._kind == "httpcore":
            n = self._connections
            return httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=n, max_keepalive_connections=n))
        return Http1Transport(max_connections=self._connections)

    def _client(self, tenant: Tenant) -> httpx.AsyncClient:
        key = (tenant.tenant_id, tenant.mall_base_url)
        client = self._clients.get(key)
        if client is None:
            client = httpx.AsyncClient(
                base_url=tenant.mall_base_url,
                timeout=self._timeout,
                transport=self._new_transport(),
                headers={
                    "X-Application-Name": APPLICATION_NAME,
                    "X-Application-Version": APPLICATION_VERSION,
                    "Content-Type": "application/json",
                },
            )
            self._clients[key] = client
        return client

    async def _send(
        self,
        tenant: Tenant,
        method: str,
        path: str,
        what: str,
        body: Any = None,
        query: dict[str, str | int] | None = None,
    ) -> MallAnswer:
        if tenant.mall_client_id is None:
            raise MallUnauthorized(
                f"{what}: tenant {tenant.tenant_id} has no mall_client_id configured", http_status=401
            )
        client_id = tenant.mall_client_id.get_secret_value()
        params: dict[str, str | int] = {**(query or {}), "client_id": client_id}
        started = time.perf_counter()
        try:
            response = await self._client(tenant).request(method, path, params=params, json=body)
        except httpx.TimeoutException:
            raise MallNoAnswer(f"{what}: no answer within the timeout") from None
        except httpx.TransportError as exc:
            raise MallOutcomeUnknown(f"{what}: connection failed ({type(exc).__name__})") from None
        latency_ms = (time.perf_counter() - started) * 1000
        return MallAnswer(response.status_code, raise_for_answer(response, what, client_id), latency_ms)

    async def put_order(self, tenant: Tenant, mall_order_id: str, body: dict[str, Any]) -> MallAnswer:
        """`PUT /orders/{id}`; a tracking correction (the tracking fields alone) goes where MALL takes it after
        shipped, `PUT /orders/{id}/tracking` (its main endpoint refuses tracking without a status)."""
        if request_kind(body) == "tracking":
            what = f"PUT tracking of order {mall_order_id}"
            return await self._send(tenant, "PUT", f"/orders/{mall_order_id}/tracking", what, body)
        return await self._send(tenant, "PUT", f"/orders/{mall_order_id}", f"PUT order {mall_order_id}", body)

    async def get_order(self, tenant: Tenant, mall_order_id: str) -> MallOrder:
        what = f"GET order {mall_order_id}"
        answer = await self._send(tenant, "GET", f"/orders/{mall_order_id}", what)
        data = answer.body.get("data") if isinstance(answer.body, dict) else None
        if not isinstance(data, dict):
            raise MallAnswerInvalid(
                f"{what}: the answer has no order object under 'data'", field="data", http_status=answer.http_status
            )
        return parse_order(data, mall_order_id=mall_order_id, what=what, http_status=answer.http_status)

    async def list_orders(
        self,
        tenant: Tenant,
        *,
        unconfirmed: bool = False,
        statuses: tuple[MallStatus, ...] = (),
        page: int = 1,
        page_size: int = 100,
    ) -> MallOrderPage:
        path = "/orders/unconfirmed" if unconfirmed else "/orders"
        what = f"GET {path} page {page}"
        query: dict[str, str | int] = {"filter": "basic", "page": page, "page_size": page_size}
        if statuses:
            query["status"] = "in:" + ",".join(status.value for status in statuses)
        answer = await self._send(tenant, "GET", path, what, query=query)
        return parse_page(answer.body, what=what, http_status=answer.http_status)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


def mall_client_for(settings: PublisherSettings) -> HttpMallClient:
    """The MALL client a publisher runs with: its timeouts, its concurrency as each tenant's pool."""
    return HttpMallClient(
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        connections_per_tenant=settings.tenant_concurrency,
        mall_transport=settings.mall_transport,
    )
