"""Export URLs never reach a log record through httpx's request logging."""

from __future__ import annotations

import logging

import httpx
import pytest

from mallbridge_ingest.adapters.redaction import install_url_redaction


async def test_httpx_request_logs_lose_query_and_path(caplog: pytest.LogCaptureFixture) -> None:
    install_url_redaction()
    install_url_redaction()  # idempotent
    assert len(logging.getLogger("httpx").filters) >= 1
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # other tests' configure_logging raise it to WARNING
    caplog.set_level(logging.DEBUG, logger="httpcore")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="ok")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await client.get("https://export.example/secret-path/orders.csv?token=TOPSECRET&user=me")
    logged = [r.getMessage() for r in caplog.records if r.name.startswith(("httpx", "httpcore"))]
    assert logged, "httpx logged nothing; the test would prove nothing"
    assert all("TOPSECRET" not in m and "secret-path" not in m for m in logged)
    assert any("https://export.example/…" in m for m in logged)
