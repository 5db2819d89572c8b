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
    Problem,
    PushAccepted,
    ValidationProblem,
    push_body_components,
    push_openapi_extra,
)
from mallbridge_ingest.adapters.http_push import PushHandler
from mallbridge_ingest.adapters.problems import PROBLEM_JSON, ProblemError, install_problem_handlers
from mallbridge_ingest.metrics import IngestMetrics
from mallbridge_ingest.service import IngestService
from mallbridge_schema.asyncapi import asyncapi_document

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}}
PUSH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing, malformed, stale or wrong signature"},
    404: {"model": Problem, "description": "unknown tenant"},
    413: {"model": Problem, "description": "body over 1 MiB or more than 1000 orders"},
    422: {"model": ValidationProblem, "description": "invalid snapshot(s) or batch; nothing was written"},
    429: {"model": Problem, "description": "the tenant's push rate limit; nothing was written", "headers": RETRY_AFTER},
    503: {
        "model": Problem,
        "description": "event log unavailable or state not rebuilt yet; nothing was written",
        "headers": RETRY_AFTER,
    },
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
        description="FastCentrik order snapshots in, immutable order events out (ARCHITECTURE.md §4).",
        lifespan=lifespan,
    )

    @app.post(
        "/v1/tenants/{tenant_id}/orders",
        status_code=202,
        response_model=PushAccepted,
        response_model_exclude_none=True,
        responses=PUSH_RESPONSES,
        openapi_extra=push_openapi_extra(),
        summary="Push order snapshots",
    )
    async def push_orders(tenant_id: str, request: Request) -> JSONResponse:
        """Answers 202 only after the log acknowledged every event of the batch."""
        return await handler(tenant_id, request)

    _add_operations_routes(app, service, log, metrics)
    install_problem_handlers(app)
    _install_openapi(app)
    return app


def _add_operations_routes(app: FastAPI, service: IngestService, log: EventLog, metrics: IngestMetrics) -> None:
    @app.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="State rebuilt and event log reachable", responses={503: {"model": Problem}})
    async def readyz() -> JSONResponse:
        if not service.ready:
            return ProblemError(503, "not_ready", "rebuilding the last known order state").response()
        if not await log.ping():
            return ProblemError(503, "log_unavailable", f"event log {log.url} not reachable").response()
        return JSONResponse({"status": "ready", "log": log.url})

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics_endpoint() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi.json", summary="The AsyncAPI 3.0 document of every topic mallbridge writes")
    async def asyncapi() -> dict[str, Any]:
        return asyncapi_document()


def _problems_as_problem_json(schema: dict[str, Any]) -> None:
    """FastAPI documents every response model as application/json; refusals are application/problem+json."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for code, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if code[0] in "45" and "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")


def _install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(push_body_components())
            _problems_as_problem_json(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
