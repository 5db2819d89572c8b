"""The push endpoint: `POST /v1/tenants/{tenant_id}/orders` (ARCHITECTURE.md §3, §4, contract).

Checks run in this order, each answering on its own (every refusal a problem+json, `problems.py`):
unknown tenant → 404 (a signature cannot be checked without the tenant's secret, and the tenant id is
not a secret); the tenant over its push rate → 429 with Retry-After (before the body is read: a flood
costs little); body over 1 MiB → 413 (Content-Length first, then the bytes actually read, never more
than the limit + one chunk); bad or missing signature → 401; then the push counts against the rate; the
same signed push again → the first answer with `"replayed": true`; more than 1000 orders → 413 (this
needs the parsed body, so it comes after the signature: unsigned requests never reach the JSON parser);
invalid snapshots → 422; log down → 503.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from mallbridge_core.eventlog.port import LogUnavailableError
from mallbridge_core.tenants import Tenant
from mallbridge_ingest.adapters import signature
from mallbridge_ingest.adapters.http_models import MAX_BODY_BYTES, MAX_ORDERS, SnapshotError
from mallbridge_ingest.adapters.problems import ProblemError
from mallbridge_ingest.adapters.rate_limit import PushRateLimits
from mallbridge_ingest.adapters.replay import Answer, ReplayCache
from mallbridge_ingest.adapters.validation import validate_many
from mallbridge_ingest.domain import Rejection
from mallbridge_ingest.metrics import UNKNOWN_TENANT, IngestMetrics
from mallbridge_ingest.service import BatchRejectedError, IngestService, NotReadyError

log = logging.getLogger(__name__)
MAX_ERRORS_LISTED = 100
BATCH_SHAPE = '{"orders": [snapshot, ...]} with 1 to 1000 snapshots'


def invalid(rejections: tuple[Rejection, ...] | list[Rejection]) -> ProblemError:
    first = rejections[0]
    more = f" (and {len(rejections) - 1} more problem(s))" if len(rejections) > 1 else ""
    listed = [SnapshotError.of(r).model_dump() for r in rejections[:MAX_ERRORS_LISTED]]
    return ProblemError(
        422,
        "validation",
        f"invalid snapshot, nothing was written: {first.describe(f'orders[{first.index}]')}{more}",
        f"orders[{first.index}].{first.field}",
        first.allowed,
        {"errors": listed},
    )


def _batch_error(field: str, problem: str, allowed: str) -> ProblemError:
    detail = f"invalid batch, nothing was written: {problem}; allowed: {allowed}"
    return ProblemError(422, "validation", detail, field, allowed)


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to be over `limit`: never read whole first."""
    allowed = f"a body of at most {limit} bytes"
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ProblemError(413, "size", f"body of {declared} bytes is over the limit of {limit} bytes", "body", allowed)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ProblemError(413, "size", f"body is over the limit of {limit} bytes", "body", allowed)
    return bytes(body)


def parse_orders(body: bytes, max_orders: int) -> list[Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _batch_error("body", f"body is not UTF-8 JSON ({exc})", BATCH_SHAPE) from None
    except (ValueError, RecursionError) as exc:  # an integer of thousands of digits, nesting beyond the stack
        raise _batch_error("body", f"body cannot be read as JSON ({type(exc).__name__})", BATCH_SHAPE) from None
    orders = data.get("orders") if isinstance(data, dict) else None
    if not isinstance(orders, list):
        raise _batch_error("orders", "orders: missing or not a list", BATCH_SHAPE)
    if len(orders) > max_orders:
        raise ProblemError(
            413, "size", f"{len(orders)} orders in one push; allowed: 1 to {max_orders}", "orders", f"1 to {max_orders}"
        )
    if not orders:
        raise _batch_error("orders", "orders: empty", f"1 to {max_orders} snapshots")
    return orders


@dataclass
class PushHandler:
    service: IngestService
    tenants: Mapping[str, Tenant]
    metrics: IngestMetrics
    clock: Callable[[], datetime]
    limits: PushRateLimits
    replays: ReplayCache
    max_body_bytes: int = MAX_BODY_BYTES
    max_orders: int = MAX_ORDERS
    signature_window_s: int = signature.SIGNATURE_WINDOW_S

    async def __call__(self, tenant_id: str, request: Request) -> JSONResponse:
        started = time.perf_counter()
        label = tenant_id if tenant_id in self.tenants else UNKNOWN_TENANT
        try:
            answer, replayed = await self._handle(tenant_id, request)
            response = JSONResponse({**answer, "replayed": True} if replayed else answer, status_code=202)
            if replayed:
                self.metrics.replayed.labels(tenant_id).inc()
            log.info("push accepted", extra={"tenant": tenant_id, **answer, "replayed": replayed})
        except ProblemError as exc:
            self.metrics.requests_rejected.labels(label, "push", exc.reason).inc()
            response = exc.response()
            # A flood of 429s is counted, not logged line by line (writing each would cost more than it).
            log.log(
                logging.DEBUG if exc.status == 429 else logging.WARNING,
                "push refused",
                extra={"tenant": label, "status": exc.status, "reason": exc.reason, "detail": exc.detail},
            )
        self.metrics.push_latency.labels(label, str(response.status_code)).observe(time.perf_counter() - started)
        return response

    async def _handle(self, tenant_id: str, request: Request) -> tuple[Answer, bool]:
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            raise ProblemError(
                404, "unknown_tenant", f"unknown tenant {tenant_id[:64]!r}", "tenant_id", "a tenant of the tenants file"
            )
        if wait := self.limits.retry_after(tenant_id):
            raise ProblemError(
                429,
                "rate_limited",
                f"too many pushes for tenant {tenant_id}; nothing was written, retry in {wait} s",
                "tenant_id",
                self.limits.describe(tenant_id),
                headers={"Retry-After": str(wait)},
            )
        body = await read_limited(request, self.max_body_bytes)
        key = self._verify(tenant, request, body)
        self.limits.charge(tenant_id)
        now = self.clock().timestamp()
        return await self.replays.answer(tenant_id, key, float(key[0]), now, lambda: self._ingest(tenant_id, body))

    async def _ingest(self, tenant_id: str, body: bytes) -> Answer:
        valid, rejected = validate_many(enumerate(parse_orders(body, self.max_orders)))
        if rejected:
            self.metrics.snapshots_rejected.labels(tenant_id, "push").inc(len({r.index for r in rejected}))
            raise invalid(rejected)
        try:
            result = await self.service.ingest(tenant_id, valid, source="push", all_or_nothing=True)
        except BatchRejectedError as exc:
            raise invalid(exc.rejections) from None
        except NotReadyError as exc:
            raise ProblemError(503, "not_ready", f"{exc}; retry later", headers={"Retry-After": "5"}) from None
        except LogUnavailableError:
            raise ProblemError(
                503,
                "log_unavailable",
                "the event log is unavailable; nothing was written, retry later",
                headers={"Retry-After": "10"},
            ) from None
        return {
            "accepted": result.accepted,
            "events": result.events,
            "unchanged": result.unchanged,
            "stale": result.stale,
        }

    def _verify(self, tenant: Tenant, request: Request, body: bytes) -> tuple[str, str]:
        """The push's (timestamp, signature) once its signature is verified: the key replays are known by."""
        if tenant.ingest_secret is None:
            raise ProblemError(
                401,
                "signature",
                "pushes are not enabled for this tenant (no ingest_secret configured)",
                "tenant_id",
                "a tenant with an ingest_secret",
            )
        timestamp = request.headers.get(signature.TIMESTAMP_HEADER)
        given = request.headers.get(signature.SIGNATURE_HEADER)
        try:
            signature.verify(
                secret=tenant.ingest_secret.get_secret_value(),
                timestamp=timestamp,
                signature=given,
                body=body,
                now_unix=self.clock().timestamp(),
                window_s=self.signature_window_s,
            )
        except signature.SignatureError as exc:
            raise ProblemError(
                401, "signature", str(exc), exc.field, exc.allowed, headers={"WWW-Authenticate": "Mallbridge-HMAC"}
            ) from None
        return str(timestamp).strip(), str(given).strip().lower()  # both present: verified
