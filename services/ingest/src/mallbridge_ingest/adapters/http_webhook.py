"""MALL's webhook: `POST /v1/tenants/{tenant_id}/mall-webhook/{token}` (ARCHITECTURE.md §6, contract).

Checks, in this order, each answering on its own (every refusal a problem+json):
- **404**, one and the same answer, for an unknown tenant, a tenant without a `mall_webhook_token` and a
  wrong token: nothing tells them apart (the body, the headers, the time: the token is compared with
  `hmac.compare_digest` over bytes, against a random stand-in when there is nothing to compare with);
- **413** a body over 1 MiB (never read whole first);
- **422** a body that is not a JSON array of 0 to 1000 MALL order ids, naming what is wrong (`body`, or
  `body[i]` for the first bad item) and the allowed shape;
- **503** the state is still being rebuilt, or the log did not acknowledge: nothing acknowledged;
- **202** `{"received": n, "known": k, "unknown": u}` once the receipt and the order events are durable
  (`n` distinct ids, `k` of them naming an order a FastCentrik snapshot named, `u` the others).

The token is a secret: it never reaches a log line, a metric label or an answer. Metrics count deliveries
under the tenant only once the token matched (`_unknown` otherwise), and a log filter masks the token in
uvicorn's own log records (its access log is off in every mallbridge command; this holds if it is turned on).
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, Field

from mallbridge_core.eventlog.port import LogUnavailableError
from mallbridge_core.tenants import Tenant
from mallbridge_ingest.adapters.http_models import MAX_BODY_BYTES, Problem
from mallbridge_ingest.adapters.http_push import read_limited
from mallbridge_ingest.adapters.problems import ProblemError
from mallbridge_ingest.adapters.webhook_token import install_token_redaction
from mallbridge_ingest.domain.mall_webhook import ALLOWED_BODY, BODY_SCHEMA, WebhookBodyError, webhook_ids
from mallbridge_ingest.mall_webhook import MallWebhookInbox
from mallbridge_ingest.metrics import UNKNOWN_TENANT
from mallbridge_ingest.service import NotReadyError

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/v1/tenants/{tenant_id}/mall-webhook/{token}"
_STAND_IN = secrets.token_bytes(32)  # compared against when the tenant has no token: the same work either way
_NOT_FOUND = ProblemError(404, "not_found", "no such webhook", "path", "the webhook URL configured for the tenant")


class WebhookAccepted(BaseModel):
    received: int = Field(description="distinct order ids in the delivery")
    known: int = Field(description="ids of orders a FastCentrik snapshot has named: one MallOrderChanged each")
    unknown: int = Field(description="ids no snapshot has named yet: read once a snapshot names them")


class WebhookMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.deliveries = Counter(
            "mallbridge_ingest_mall_webhooks",
            "MALL webhook deliveries by outcome (accepted, not_found, size, validation, not_ready, log_unavailable)",
            ["tenant", "outcome"],
            registry=registry,
        )
        self.ids = Counter(
            "mallbridge_ingest_mall_webhook_ids",
            "Order ids in accepted MALL webhook deliveries, by whether a snapshot had named the order",
            ["tenant", "kind"],
            registry=registry,
        )


def token_matches(tenant: Tenant | None, token: str) -> bool:
    """Constant time over bytes; False for an unknown tenant or one without a token, after the same work."""
    configured = tenant.mall_webhook_token.get_secret_value() if tenant and tenant.mall_webhook_token else ""
    expected = configured.encode() if configured else _STAND_IN
    same = hmac.compare_digest(expected, token.encode("utf-8", "surrogateescape"))
    return same and bool(configured)


@dataclass
class WebhookHandler:
    inbox: MallWebhookInbox
    tenants: Mapping[str, Tenant]
    metrics: WebhookMetrics
    max_body_bytes: int = MAX_BODY_BYTES

    async def __call__(self, tenant_id: str, token: str, request: Request) -> JSONResponse:
        if not token_matches(self.tenants.get(tenant_id), token):
            self.metrics.deliveries.labels(UNKNOWN_TENANT, "not_found").inc()
            log.warning("mall webhook refused", extra={"status": 404, "reason": "not_found"})
            return _NOT_FOUND.response()
        try:
            receipt = await self._receive(tenant_id, request)
        except ProblemError as exc:
            self.metrics.deliveries.labels(tenant_id, exc.reason).inc()
            log.warning(
                "mall webhook refused",
                extra={"tenant": tenant_id, "status": exc.status, "reason": exc.reason, "detail": exc.detail},
            )
            return exc.response()
        self.metrics.deliveries.labels(tenant_id, "accepted").inc()
        self.metrics.ids.labels(tenant_id, "known").inc(receipt.known)
        self.metrics.ids.labels(tenant_id, "unknown").inc(receipt.unknown)
        answer = WebhookAccepted(received=receipt.received, known=receipt.known, unknown=receipt.unknown)
        log.info("mall webhook accepted", extra={"tenant": tenant_id, **answer.model_dump()})
        return JSONResponse(answer.model_dump(), status_code=202)

    async def _receive(self, tenant_id: str, request: Request) -> WebhookAccepted:
        body = await read_limited(request, self.max_body_bytes)
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: nesting beyond the stack
            problem = f"body is not UTF-8 JSON ({type(exc).__name__})"
            raise ProblemError(422, "validation", f"{problem}; allowed: {ALLOWED_BODY}", "body", ALLOWED_BODY) from None
        try:
            ids = webhook_ids(data)
        except WebhookBodyError as exc:
            raise ProblemError(422, "validation", str(exc), exc.field, exc.allowed) from None
        try:
            receipt = await self.inbox.receive(tenant_id, ids)
        except NotReadyError as exc:
            raise ProblemError(
                503, "not_ready", f"{exc}; nothing was acknowledged", headers={"Retry-After": "5"}
            ) from None
        except LogUnavailableError:
            detail = "the event log is unavailable; nothing was acknowledged"
            raise ProblemError(503, "log_unavailable", detail, headers={"Retry-After": "10"}) from None
        return WebhookAccepted(received=receipt.received, known=receipt.known, unknown=receipt.unknown)


WEBHOOK_RESPONSES: dict[int | str, dict[str, object]] = {
    404: {
        "model": Problem,
        "description": "unknown tenant, no webhook token configured, or a wrong token (one answer)",
    },
    413: {"model": Problem, "description": "body over 1 MiB"},
    422: {"model": Problem, "description": "not a JSON array of 0 to 1000 order ids; nothing was written"},
    503: {"model": Problem, "description": "event log unavailable or state not rebuilt yet; nothing acknowledged"},
}


def add_webhook_route(app: FastAPI, handler: WebhookHandler) -> None:
    """Serve MALL's webhook on `app`, and keep its token out of uvicorn's log records."""
    install_token_redaction()

    @app.post(
        WEBHOOK_PATH,
        status_code=202,
        response_model=WebhookAccepted,
        responses=WEBHOOK_RESPONSES,  # type: ignore[arg-type]
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": BODY_SCHEMA}},
            }
        },
        summary="MALL's webhook: changed order ids",
    )
    async def mall_webhook(tenant_id: str, token: str, request: Request) -> JSONResponse:
        """MALL POSTs the ids of orders it changed; 202 only once the receipt is durable in the log."""
        return await handler(tenant_id, token, request)
