"""The FastAPI app: push endpoint, health, readiness, metrics, and OpenAPI at /docs."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from mallbridge_core.eventlog.port import EventLog
from mallbridge_ingest.adapters.http_models import (
    ErrorBody,
    PushAccepted,
    ValidationErrorBody,
    push_body_components,
    push_openapi_extra,
)
from mallbridge_ingest.adapters.http_push import PushHandler
from mallbridge_ingest.metrics import IngestMetrics
from mallbridge_ingest.service import IngestService

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
PUSH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing, malformed, stale or wrong signature"},
    404: {"model": ErrorBody, "description": "unknown tenant"},
    413: {"model": ErrorBody, "description": "body over 1 MiB or more than 1000 orders"},
    422: {"model": ValidationErrorBody, "description": "invalid snapshot(s); nothing was written"},
    503: {"model": ErrorBody, "description": "event log unavailable or state not rebuilt yet; nothing was written"},
}


def create_app(
    *,
    handler: PushHandler,
    service: IngestService,
    log: EventLog,
    metrics: IngestMetrics,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    app = FastAPI(
        title="mallbridge ingest",
        version="1",
        description="FastCentrik order snapshots in, immutable order events out (DESIGN §4).",
        lifespan=lifespan,
    )

    @app.post(
        "/v1/tenants/{tenant_id}/orders",
        status_code=202,
        response_model=PushAccepted,
        responses=PUSH_RESPONSES,
        openapi_extra=push_openapi_extra(),
        summary="Push order snapshots",
    )
    async def push_orders(tenant_id: str, request: Request) -> JSONResponse:
        """Answers 202 only after the log acknowledged every event of the batch."""
        return await handler(tenant_id, request)

    @app.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="State rebuilt and event log reachable", responses={503: {"model": ErrorBody}})
    async def readyz() -> JSONResponse:
        if not service.ready:
            return JSONResponse({"detail": "rebuilding the last known order state"}, status_code=503)
        if not await log.ping():
            return JSONResponse({"detail": f"event log {log.url} not reachable"}, status_code=503)
        return JSONResponse({"status": "ready", "log": log.url})

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics_endpoint() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(push_body_components())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
