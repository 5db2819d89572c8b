"""Health, readiness and Prometheus metrics over HTTP (Starlette, served by uvicorn)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mallbridge_publisher.metrics import PublisherMetrics


def create_http_app(
    *,
    metrics: PublisherMetrics,
    readiness: Callable[[], Awaitable[dict[str, bool]]],
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """Health, readiness and metrics, and `extra_routes` (the console, when it is on)."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        checks = await readiness()
        ok = all(checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    async def metrics_endpoint(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            *extra_routes,
        ]
    )
