"""Per tenant, poll the FastCentrik export URL and ingest what changed.

Rows are skip-and-report, as in a file import: the valid rows of an export are written, each invalid
row (a value ingest refuses, a broken line, another MALL id than on record) is reported with its line
and reason in the log and counted (`mallbridge_ingest_polls_total{outcome="partial"}`,
`snapshots_rejected_total{source="poll"}`). An export is refetched every interval, so all-or-nothing
would let one row nobody fixes hold back every order of the tenant for good; and since an export the
same as the last one is skipped, a bad row is reported once per change of the export, not every poll.
An export that cannot be read at all (not the mapping's columns, an unknown encoding) writes nothing
(`outcome="malformed"`). The export URL is a secret (it may carry a token): it never reaches a log
line, a metric or an error text, so failures are reported by exception type and HTTP status only.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from mallbridge_core.eventlog.port import LogUnavailableError
from mallbridge_core.tenants import Tenant
from mallbridge_ingest.adapters.export_csv import MalformedExportError, parse_export
from mallbridge_ingest.adapters.export_mapping import CsvExportMapping
from mallbridge_ingest.adapters.validation import Indexed
from mallbridge_ingest.metrics import IngestMetrics
from mallbridge_ingest.service import IngestResult, IngestService, NotReadyError

log = logging.getLogger(__name__)
EXPORT_MAX_BYTES = 32 << 20
POLL_CHUNK = 1000  # rows written per append of a poll
FETCH_DEADLINE_READS = 10
"""A whole export fetch may take this many times `export_timeout_s` (which bounds each read)."""
MAX_PROBLEMS_LOGGED = 5


@dataclass(frozen=True)
class PollOutcome:
    # ok, partial (some rows refused), unchanged, fetch_error, http_error, too_large, malformed,
    # log_unavailable, not_ready
    outcome: str
    detail: str = ""
    result: IngestResult | None = None


class _FetchError(Exception):
    def __init__(self, outcome: str, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


@dataclass
class ExportPoller:
    service: IngestService
    metrics: IngestMetrics
    client: httpx.AsyncClient
    mappings: Mapping[str, CsvExportMapping]  # tenant id -> mapping
    max_bytes: int = EXPORT_MAX_BYTES
    fetch_deadline_s: float = 300.0  # a whole fetch (httpx's timeout bounds each read, not all of them)
    _last_digest: dict[str, bytes] = field(default_factory=dict)

    async def poll_once(self, tenant: Tenant) -> PollOutcome:
        """Fetch, parse and ingest one export of `tenant`; never raises, reports the outcome."""
        outcome = await self._poll(tenant)
        self.metrics.polls.labels(tenant.tenant_id, outcome.outcome).inc()
        if outcome.outcome not in ("ok", "partial", "unchanged"):
            self.metrics.requests_rejected.labels(tenant.tenant_id, "poll", outcome.outcome).inc()
            log.warning(
                "export poll failed",
                extra={"tenant": tenant.tenant_id, "outcome": outcome.outcome, "detail": outcome.detail},
            )
        elif outcome.result is not None:
            r = outcome.result
            if outcome.outcome == "partial":
                log.warning("export rows refused", extra={"tenant": tenant.tenant_id, "detail": outcome.detail})
            log.info(
                "export polled",
                extra={
                    "tenant": tenant.tenant_id,
                    "accepted": r.accepted,
                    "events": r.events,
                    "unchanged": r.unchanged,
                    "stale": r.stale,
                },
            )
        return outcome

    async def _poll(self, tenant: Tenant) -> PollOutcome:
        try:
            data = await self._fetch(tenant)
        except _FetchError as exc:
            return PollOutcome(exc.outcome, exc.detail)
        digest = hashlib.sha256(data).digest()
        if self._last_digest.get(tenant.tenant_id) == digest:
            return PollOutcome("unchanged", "export identical to the last one ingested")
        try:
            # In a thread: a large export takes seconds to read and validate, and the push API, MALL's
            # webhook and the other tenants' polls must go on meanwhile.
            parsed = await asyncio.to_thread(parse_export, self.mappings[tenant.tenant_id], data)
        except MalformedExportError as exc:
            return PollOutcome("malformed", str(exc))
        if parsed.rejections:  # rows the snapshot's validation refused; a conflict is refused by the service
            self.metrics.snapshots_rejected.labels(tenant.tenant_id, "poll").inc(len(parsed.rejections))
        try:
            result = await self._ingest_in_chunks(tenant.tenant_id, parsed.snapshots)
        except NotReadyError as exc:
            return PollOutcome("not_ready", str(exc))
        except LogUnavailableError:
            return PollOutcome("log_unavailable", "the event log did not acknowledge; will retry next poll")
        self._last_digest[tenant.tenant_id] = digest
        refused = sorted([*parsed.rejections, *result.rejections], key=lambda r: r.index)
        if refused:
            shown = "; ".join(r.describe(f"line {r.index}") for r in refused[:MAX_PROBLEMS_LOGGED])
            return PollOutcome("partial", f"{len(refused)} row(s) refused, the others written: {shown}", result)
        return PollOutcome("ok", f"{parsed.ignored} non-MALL row(s) ignored", result)

    async def _ingest_in_chunks(self, tenant_id: str, snapshots: list[Indexed]) -> IngestResult:
        """The rows in order, a chunk per write (rows are skip-and-report, so nothing asks for one batch):
        between chunks the event loop serves everything else. A chunk that fails raises; the chunks
        before it are durable, and the next poll finds them unchanged."""
        total = IngestResult(0, 0, 0, 0)
        for start in range(0, len(snapshots), POLL_CHUNK):
            chunk = snapshots[start : start + POLL_CHUNK]
            r = await self.service.ingest(tenant_id, chunk, source="poll", all_or_nothing=False)
            total = IngestResult(
                total.accepted + r.accepted,
                total.events + r.events,
                total.changed + r.changed,
                total.unchanged + r.unchanged,
                total.stale + r.stale,
                (*total.rejections, *r.rejections),
            )
        return total

    async def _fetch(self, tenant: Tenant) -> bytes:
        try:
            async with asyncio.timeout(self.fetch_deadline_s):  # a server dripping bytes cannot hold a poll
                return await self._read_export(tenant)
        except TimeoutError:
            raise _FetchError("fetch_error", f"export not read within {self.fetch_deadline_s:g} s") from None

    async def _read_export(self, tenant: Tenant) -> bytes:
        if tenant.export_url is None:
            raise _FetchError("fetch_error", "no export_url configured")
        try:
            async with self.client.stream("GET", tenant.export_url.get_secret_value()) as response:
                if response.status_code != 200:
                    raise _FetchError("http_error", f"export answered HTTP {response.status_code}")
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise _FetchError("too_large", f"export is over {self.max_bytes} bytes")
                return bytes(data)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # Only the type: httpx messages may quote the URL, which is a secret.
            raise _FetchError("fetch_error", f"export fetch failed: {type(exc).__name__}") from None

    async def run_forever(self, tenant: Tenant) -> None:
        """Poll every `tenant.poll_interval_s`, starting after a short jitter so tenants spread out."""
        await asyncio.sleep(random.uniform(0, min(tenant.poll_interval_s, 10.0) * 0.1))
        while True:
            try:
                await self.poll_once(tenant)
            except Exception:  # a bug in one poll must not end this tenant's polling
                log.exception("export poll crashed", extra={"tenant": tenant.tenant_id})
            await asyncio.sleep(tenant.poll_interval_s)
