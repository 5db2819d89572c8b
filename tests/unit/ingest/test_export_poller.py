"""The export poller's outcomes, with httpx.MockTransport as the export URL and the fake log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_ingest.adapters.export_mapping import SAMPLE_CSV
from mallbridge_ingest.adapters.export_poller import ExportPoller
from mallbridge_ingest.metrics import IngestMetrics
from mallbridge_ingest.service import IngestService
from tests.unit.ingest.fakes import FakeEventLog

SAMPLE = (Path(__file__).resolve().parents[3] / "services" / "ingest" / "examples" / "sample-export.csv").read_bytes()
URL = "https://shop.example/export/orders.csv?token=T0P-SECRET"
ACME = Tenant(tenant_id="acme", mall_client_id=None, ingest_secret=None, export_url=SecretStr(URL))


class Export:
    def __init__(self) -> None:
        self.status = 200
        self.body = SAMPLE
        self.error: Exception | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert str(request.url) == URL
        if self.error is not None:
            raise self.error
        return httpx.Response(self.status, content=self.body)


@pytest.fixture
def export() -> Export:
    return Export()


@pytest.fixture
def log() -> FakeEventLog:
    return FakeEventLog()


@pytest.fixture
async def poller(export: Export, log: FakeEventLog) -> AsyncIterator[ExportPoller]:
    metrics = IngestMetrics()
    service = IngestService(
        log=log,
        tenants={"acme": ACME},
        topics=Topics(prefix="t."),
        metrics=metrics,
        clock=lambda: datetime(2026, 11, 20, tzinfo=UTC),
    )
    await service.prepare()
    async with httpx.AsyncClient(transport=httpx.MockTransport(export)) as client:
        yield ExportPoller(service, metrics, client, {"acme": SAMPLE_CSV}, max_bytes=100_000)


def written(log: FakeEventLog) -> int:
    return len(log.topics["t.order-events.v1"])


async def test_good_export_then_identical_one(poller: ExportPoller, log: FakeEventLog) -> None:
    first = await poller.poll_once(ACME)
    assert first.outcome == "ok"
    assert first.result is not None
    assert (first.result.accepted, first.result.events) == (5, 5)
    assert "1 non-MALL row(s) ignored" in first.detail
    assert (await poller.poll_once(ACME)).outcome == "unchanged"
    assert written(log) == 5


@pytest.mark.parametrize(
    ("body", "status", "error", "outcome"),
    [
        (b"<html>login at https://shop.example/export?key=T0P-SECRET</html>", 200, None, "malformed"),
        (SAMPLE, 500, None, "http_error"),
        (SAMPLE, 200, httpx.ConnectError(f"cannot connect to {URL}"), "fetch_error"),
        (SAMPLE * 200, 200, None, "too_large"),
    ],
)
async def test_failures_write_nothing_and_never_quote_the_url(
    poller: ExportPoller,
    export: Export,
    log: FakeEventLog,
    body: bytes,
    status: int,
    error: Exception | None,
    outcome: str,
) -> None:
    export.body, export.status, export.error = body, status, error
    result = await poller.poll_once(ACME)
    assert result.outcome == outcome
    assert "T0P-SECRET" not in result.detail
    assert "shop.example" not in result.detail
    assert written(log) == 0
    assert f'mallbridge_ingest_polls_total{{outcome="{outcome}",tenant="acme"}} 1.0' in poller.metrics.render().decode()


async def test_an_invalid_row_is_named_with_its_line_and_the_others_are_written(
    poller: ExportPoller, export: Export, log: FakeEventLog
) -> None:
    export.body = SAMPLE.replace("stornovaná".encode(), b"zrusena")
    result = await poller.poll_once(ACME)
    assert result.outcome == "partial"
    assert "line 6" in result.detail
    assert "zrusena" in result.detail
    assert written(log) == 4  # one bad row holds back no other order
    assert (await poller.poll_once(ACME)).outcome == "unchanged"  # reported once per change of the export


async def test_a_row_naming_another_mall_id_is_refused_and_the_others_are_written(
    poller: ExportPoller, export: Export, log: FakeEventLog
) -> None:
    assert (await poller.poll_once(ACME)).outcome == "ok"
    export.body = SAMPLE.replace(b"2026-000101;1000000000101", b"2026-000101;1000000000999").replace(
        "nevyřízená".encode(), "vyřizuje se".encode()
    )
    export.body = export.body.replace(
        "2026-000102;1000000000102;vyřizuje se".encode(), b"2026-000102;1000000000102;stornovana"
    )
    result = await poller.poll_once(ACME)
    assert result.outcome == "partial"
    assert "mall_order_id" in result.detail
    assert written(log) == 6  # order 102's cancel went in


async def test_an_export_dripping_bytes_is_cut_at_the_deadline(poller: ExportPoller, log: FakeEventLog) -> None:
    async def drip() -> AsyncIterator[bytes]:
        yield SAMPLE[:10]
        await asyncio.sleep(60)
        yield SAMPLE[10:]

    poller.client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=drip())))
    poller.fetch_deadline_s = 0.2
    result = await poller.poll_once(ACME)
    assert (result.outcome, result.detail) == ("fetch_error", "export not read within 0.2 s")
    assert written(log) == 0


async def test_log_down_is_reported_and_the_next_poll_writes(poller: ExportPoller, log: FakeEventLog) -> None:
    log.down = True
    assert (await poller.poll_once(ACME)).outcome == "log_unavailable"
    log.down = False
    assert (await poller.poll_once(ACME)).outcome == "ok"  # not skipped as "unchanged": it was never written
    assert written(log) == 5


async def test_a_stale_export_changes_nothing_and_is_counted(
    poller: ExportPoller, export: Export, log: FakeEventLog
) -> None:
    # Today's export, then yesterday's (a cached or slow mirror): the older rows change nothing.
    today = SAMPLE.replace(
        "vyřizuje se;;;;ano;20.11.2026 09:02:11".encode(), "vyřízená;;;;ano;20.11.2026 11:30".encode()
    )
    export.body = today
    assert (await poller.poll_once(ACME)).outcome == "ok"
    export.body = SAMPLE
    result = await poller.poll_once(ACME)
    assert result.outcome == "ok"
    assert result.result is not None
    assert (result.result.stale, result.result.events) == (1, 0)
    assert written(log) == 5
    assert (
        'mallbridge_ingest_snapshots_stale_total{source="poll",tenant="acme"} 1.0' in poller.metrics.render().decode()
    )


async def test_a_large_export_is_written_a_chunk_at_a_time(
    poller: ExportPoller, export: Export, log: FakeEventLog
) -> None:
    header = SAMPLE.splitlines(keepends=True)[0]
    rows = [f"2026-9{i:05d};{2000000000000 + i};nevyřízená;;;;ne;20.11.2026 08:15;;\n".encode() for i in range(2500)]
    export.body = header + b"".join(rows)
    poller.max_bytes = len(export.body) + 1
    appends_before = log.appends
    result = await poller.poll_once(ACME)
    assert result.outcome == "ok"
    assert result.result is not None
    assert (result.result.accepted, result.result.events) == (2500, 2500)
    assert written(log) == 2500
    assert log.appends - appends_before == 3  # 1000 + 1000 + 500: the event loop is free in between
