"""The push endpoint: `POST /v1/tenants/{tenant_id}/orders` (DESIGN §4, contract).

Checks run in this order, each answering on its own: unknown tenant → 404 (a signature cannot be
checked without the tenant's secret, and the tenant id is not a secret); body over 1 MiB → 413
(Content-Length first, then the bytes actually read, never more than the limit + one chunk); bad or
missing signature → 401; more than 1000 orders → 413 (this needs the parsed body, so it comes after the
signature: unsigned requests never reach the JSON parser); invalid snapshots → 422; log down → 503.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from mallbridge_core.eventlog.port import LogUnavailableError
from mallbridge_core.tenants import Tenant
from mallbridge_ingest.adapters import signature
from mallbridge_ingest.adapters.http_models import MAX_BODY_BYTES, MAX_ORDERS, SnapshotError
from mallbridge_ingest.adapters.validation import validate_many
from mallbridge_ingest.domain import Rejection
from mallbridge_ingest.metrics import UNKNOWN_TENANT, IngestMetrics
from mallbridge_ingest.service import BatchRejectedError, IngestResult, IngestService, NotReadyError

log = logging.getLogger(__name__)
MAX_ERRORS_LISTED = 100


@dataclass
class PushError(Exception):
    status: int
    reason: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> JSONResponse:
        return JSONResponse({"detail": self.detail, **self.extra}, status_code=self.status, headers=self.headers)


def invalid(rejections: tuple[Rejection, ...] | list[Rejection]) -> PushError:
    first = rejections[0].describe(f"orders[{rejections[0].index}]")
    more = f" (and {len(rejections) - 1} more problem(s))" if len(rejections) > 1 else ""
    listed = [SnapshotError.of(r).model_dump() for r in rejections[:MAX_ERRORS_LISTED]]
    return PushError(422, "validation", f"invalid snapshot, nothing was written: {first}{more}", {"errors": listed})


def _batch_error(problem: str, allowed: str) -> PushError:
    return PushError(422, "validation", f"invalid batch, nothing was written: {problem}; allowed: {allowed}")


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PushError(413, "size", f"body of {declared} bytes is over the limit of {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PushError(413, "size", f"body is over the limit of {limit} bytes")
    return bytes(body)


def parse_orders(body: bytes, max_orders: int) -> list[Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _batch_error(f"body is not UTF-8 JSON ({exc})", '{"orders": [snapshot, ...]}') from None
    orders = data.get("orders") if isinstance(data, dict) else None
    if not isinstance(orders, list):
        raise _batch_error("orders: missing or not a list", '{"orders": [snapshot, ...]} with 1 to 1000 snapshots')
    if len(orders) > max_orders:
        raise PushError(413, "size", f"{len(orders)} orders in one push; allowed: 1 to {max_orders}")
    if not orders:
        raise _batch_error("orders: empty", f"1 to {max_orders} snapshots")
    return orders


@dataclass
class PushHandler:
    service: IngestService
    tenants: Mapping[str, Tenant]
    metrics: IngestMetrics
    clock: Callable[[], datetime]
    max_body_bytes: int = MAX_BODY_BYTES
    max_orders: int = MAX_ORDERS
    signature_window_s: int = signature.SIGNATURE_WINDOW_S

    async def __call__(self, tenant_id: str, request: Request) -> JSONResponse:
        started = time.perf_counter()
        label = tenant_id if tenant_id in self.tenants else UNKNOWN_TENANT
        try:
            result = await self._handle(tenant_id, request)
            response = JSONResponse(
                {"accepted": result.accepted, "events": result.events, "unchanged": result.unchanged}, status_code=202
            )
            log.info(
                "push accepted",
                extra={
                    "tenant": tenant_id,
                    "accepted": result.accepted,
                    "events": result.events,
                    "unchanged": result.unchanged,
                },
            )
        except PushError as exc:
            self.metrics.requests_rejected.labels(label, "push", exc.reason).inc()
            response = exc.response()
            log.warning(
                "push refused",
                extra={"tenant": label, "status": exc.status, "reason": exc.reason, "detail": exc.detail},
            )
        self.metrics.push_latency.labels(label, str(response.status_code)).observe(time.perf_counter() - started)
        return response

    async def _handle(self, tenant_id: str, request: Request) -> IngestResult:
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            raise PushError(404, "unknown_tenant", f"unknown tenant {tenant_id[:64]!r}")
        body = await read_limited(request, self.max_body_bytes)
        self._verify(tenant, request, body)
        valid, rejected = validate_many(enumerate(parse_orders(body, self.max_orders)))
        if rejected:
            self.metrics.snapshots_rejected.labels(tenant_id, "push").inc(len({r.index for r in rejected}))
            raise invalid(rejected)
        try:
            return await self.service.ingest(tenant_id, valid, source="push", all_or_nothing=True)
        except BatchRejectedError as exc:
            raise invalid(exc.rejections) from None
        except NotReadyError as exc:
            raise PushError(503, "not_ready", f"{exc}; retry later", headers={"Retry-After": "5"}) from None
        except LogUnavailableError:
            raise PushError(
                503,
                "log_unavailable",
                "the event log is unavailable; nothing was written, retry later",
                headers={"Retry-After": "10"},
            ) from None

    def _verify(self, tenant: Tenant, request: Request, body: bytes) -> None:
        if tenant.ingest_secret is None:
            raise PushError(401, "signature", "pushes are not enabled for this tenant (no ingest_secret configured)")
        try:
            signature.verify(
                secret=tenant.ingest_secret.get_secret_value(),
                timestamp=request.headers.get(signature.TIMESTAMP_HEADER),
                signature=request.headers.get(signature.SIGNATURE_HEADER),
                body=body,
                now_unix=self.clock().timestamp(),
                window_s=self.signature_window_s,
            )
        except signature.SignatureError as exc:
            raise PushError(401, "signature", str(exc), headers={"WWW-Authenticate": "Mallbridge-HMAC"}) from None
