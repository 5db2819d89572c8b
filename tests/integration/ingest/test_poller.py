"""The export-URL poller against a local HTTP server serving sample exports (good, malformed, failing)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.integration.ingest.support import IngestServer, by_key, order_topic, read_events, summary, tenant
from tests.support.eventually import eventually

EXAMPLES = Path(__file__).resolve().parents[3] / "services" / "ingest" / "examples"
TOKEN = "SECRET-EXPORT-TOKEN-4711"


class ExportServer:
    """A FastCentrik-like export URL on 127.0.0.1: serves `body` with `status`, counts requests."""

    def __init__(self) -> None:
        self.body = b""
        self.status = 200
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                self.send_response(owner.status)
                self.send_header("Content-Type", "text/csv; charset=utf-8")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/export.csv?token={TOKEN}"

    def serve(self, body: bytes, status: int = 200) -> int:
        """Switch what is served; returns the request count so far, to wait for the next poll."""
        self.body, self.status = body, status
        return self.requests


@pytest.fixture
def export_server() -> Iterator[ExportServer]:
    server = ExportServer()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


async def test_poller_ingests_good_exports_skips_and_reports_bad_rows_and_writes_nothing_from_malformed_ones(
    export_server: ExportServer, event_log_url: str, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    sample = (EXAMPLES / "sample-export.csv").read_bytes()
    export_server.serve(sample)
    acme = tenant("acme", export_url=SecretStr(export_server.url), export_mapping="sample-csv", poll_interval_s=0.2)
    topic = order_topic(topic_prefix)

    async def written() -> dict[bytes, list[tuple[str, int]]]:
        return {k: summary(v) for k, v in by_key(await read_events(event_log_url, topic)).items()}

    async with IngestServer(log_url=event_log_url, tenants={"acme": acme}, topic_prefix=topic_prefix) as srv:

        async def polled(outcome: str, at_least: int = 1) -> bool:
            line = f'mallbridge_ingest_polls_total{{outcome="{outcome}",tenant="acme"}}'
            found = [ln for ln in (await srv.metrics()).splitlines() if ln.startswith(line)]
            return bool(found) and float(found[0].split()[-1]) >= at_least

        async def five_orders() -> bool:
            return len(await written()) == 5

        await eventually(five_orders, what="the sample export's five MALL orders")
        first = await written()
        assert set(first) == {f"acme:2026-00010{i}".encode() for i in range(1, 6)}  # not the e-shop-only row
        assert all(v == [("OrderFirstSeen", 1)] for v in first.values())
        await eventually(lambda: polled("unchanged"), what="an identical export being skipped")

        # Malformed: an HTML login page instead of the CSV.
        export_server.serve(b"<html><body>Session expired</body></html>")
        await eventually(lambda: polled("malformed"), what="a malformed export to be reported")
        assert await written() == first
        # One real change next to an invalid status: skip and report, the change is written.
        changed = sample.replace(
            "2026-000101;1000000000101;nevyřízená".encode(), "2026-000101;1000000000101;vyřizuje se".encode()
        )
        assert changed != sample
        export_server.serve(changed.replace("stornovaná".encode(), b"hotovo"))
        await eventually(lambda: polled("partial"), what="an export with an invalid row to be reported")

        async def status_changed() -> bool:
            return (await written())[b"acme:2026-000101"] == [("OrderFirstSeen", 1), ("OrderStatusChanged", 2)]

        await eventually(status_changed, what="the changed order's event")
        # The export URL answering an error.
        export_server.serve(b"busy", status=503)
        await eventually(lambda: polled("http_error"), what="an HTTP error to be reported")
        # The good export again: nothing more to write.
        export_server.serve(changed)
        await eventually(lambda: polled("ok", 2), what="the good export polled again")
        assert sum(len(v) for v in (await written()).values()) == 6
        metrics = await srv.metrics()
        assert 'mallbridge_ingest_requests_rejected_total{reason="malformed",source="poll",tenant="acme"}' in metrics
        assert 'mallbridge_ingest_snapshots_rejected_total{source="poll",tenant="acme"} 1.0' in metrics
        assert 'mallbridge_ingest_snapshots_changed_total{source="poll",tenant="acme"}' in metrics
        assert TOKEN not in metrics

    messages = [r.getMessage() + " " + str(vars(r)) for r in caplog.records]
    assert any("export poll failed" in m and "malformed" in m for m in messages)
    assert any("line 6" in m and "hotovo" in m for m in messages)  # the invalid row is named
    assert not any(TOKEN in m for m in messages), "the export URL (a secret) reached a log record"
