"""A burst: `ORDERS` orders settled at once (one `mallbridge ingest import`) reaching MALL at 50 ms latency.

Before: the orders are in process at FastCentrik (imported), MALL has them `shipping` and confirmed
(the sandbox's bulk create), and the sync events say so (built by the publisher's own pure functions:
the plan, `request_of`, `after_put`), so the publisher, started on that log, has nothing to send. Then
the sandbox answers after `LATENCY_MS`, and one import settles every order with its tracking number:
one PUT `shipped` each. Figure: from the import's start to the last of those PUTs received at MALL.
Goal: ≤ 1.2 × orders × latency ÷ the publisher's per-tenant concurrency (its default), the time the
PUTs take back to back through that many slots. Everything on this machine's 2 cores.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mallbridge_core.domain.projection import apply
from mallbridge_core.domain.reconciler import plan
from mallbridge_core.eventlog import OutgoingRecord, open_event_log
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_ingest.imports.command import resolve_workers, run_import
from mallbridge_ingest.imports.worker import ImportJob
from mallbridge_publisher.config import PublisherSettings
from mallbridge_publisher.effects import PutAttempt, Stamp
from mallbridge_publisher.outcomes import after_put, request_of
from mallbridge_publisher.ports import MallAnswer
from mallbridge_schema.serde import decode_order_event, encode_event, event_key
from mallbridge_schema.statuses import MallStatus
from tests.bench.goals import goal
from tests.bench.stack import TENANT, PutWatch, Sandbox, bench_env, free_port, processes, wait_http
from tests.support.procs import publisher_args

ORDERS = 20_000
LATENCY_MS = 50
PARTITIONS = 6
BASE_ID = 14_000_000_000


def _line(i: int, status: str) -> dict[str, Any]:
    line: dict[str, Any] = {"order_number": f"BU-{i:06d}", "mall_order_id": str(BASE_ID + i), "status": status}
    if status == "vyřízená":
        line.update(tracking_number=f"DR{i:09d}", tracking_url=f"https://tracking.example/DR{i:09d}")
    return line


def _import(bootstrap: str, prefix: str, file: Path, lines: list[dict[str, Any]]) -> float:
    """`mallbridge ingest import` of `lines` (default workers); returns its wall time."""
    file.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    url = f"kafka://{bootstrap}"
    job = ImportJob(
        log_url=url,
        partitions=PARTITIONS,
        topic_prefix=prefix,
        tenant=Tenant(tenant_id=TENANT, mall_client_id=None, ingest_secret=None),
        file=file,
        file_format="jsonl",
        chunk_size=500,
        shards=resolve_workers(None, lines=len(lines), log_url=url),
    )
    started = time.perf_counter()
    summary = run_import(job, total_lines=len(lines), show_progress=False)
    assert not summary.aborted, summary
    assert summary.events >= len(lines), summary
    return time.perf_counter() - started


async def _record_shipping(bootstrap: str, topics: Topics) -> int:
    """The sync events of a publisher that sent each order's `shipping` + confirm and was answered 200."""
    log = open_event_log(f"kafka://{bootstrap}", partitions=PARTITIONS)
    await log.start()
    try:
        await log.ensure_topics([topics.sync_events, topics.dead_letter])
        records: list[OutgoingRecord] = []
        async for batch in log.replay(topics.order_events):
            for record in batch:
                state = apply(None, decode_order_event(record.value))
                stamp = Stamp(now=datetime.now(UTC), new_id=uuid.uuid4)
                step = plan(state, now=stamp.now).steps[0]
                assert step.status is MallStatus.SHIPPING, step
                requested = request_of(state, step, stamp)
                answered = after_put(
                    PutAttempt(state, step, requested.request_no),
                    MallAnswer(200, {"result": {"code": 200, "status": "OK"}}, 5.0),
                    tenant_paused=False,
                    pause_probe_s=30.0,  # only read on a 401/403, never on this 200
                    stamp=stamp,
                )
                events = [requested, *answered.events]
                for event in events:
                    state = apply(state, event)
                assert not plan(state, now=stamp.now).steps, "the setup leaves work for the publisher"
                key = event_key(TENANT, state.order_number)
                records.extend(OutgoingRecord(key, encode_event(e)) for e in events)
        for i in range(0, len(records), 5000):
            await log.append(topics.sync_events, records[i : i + 5000])
        return len(records)
    finally:
        await log.close()


async def run(bootstrap: str, tmpdir: str) -> dict[str, Any]:
    tmp = Path(tmpdir)
    prefix = f"bench-burst-{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix=prefix)
    concurrency = PublisherSettings().tenant_concurrency
    ids = [str(BASE_ID + i) for i in range(ORDERS)]
    with tempfile.TemporaryDirectory(prefix="mallbridge-burst-") as own, processes(bench_env()) as procs:
        sandbox = await Sandbox(procs, Path(own)).start()
        try:
            await sandbox.create_orders(ids, status="shipping", confirmed=True)
            await asyncio.to_thread(
                _import, bootstrap, prefix, tmp / "in-process.jsonl", [_line(i, "vyřizuje se") for i in range(ORDERS)]
            )
            sync_events = await _record_shipping(bootstrap, topics)
            port = free_port()
            group = f"bench-{uuid.uuid4().hex[:8]}"
            started = time.perf_counter()
            procs.start(*publisher_args(bootstrap, sandbox.tenants, prefix, group=group, http_port=port))
            await wait_http(f"http://127.0.0.1:{port}/readyz", timeout=180)
            rebuild_s = time.perf_counter() - started
            before = await sandbox.last_seq()
            await sandbox.set_latency(LATENCY_MS)
            watch = PutWatch(sandbox, ids, before)
            t0 = time.time()
            import_s = await asyncio.to_thread(
                _import, bootstrap, prefix, tmp / "settled.jsonl", [_line(i, "vyřízená") for i in range(ORDERS)]
            )
            expected_s = ORDERS * LATENCY_MS / 1000 / concurrency
            await watch.wait_all(timeout_s=max(120.0, 10 * expected_s))
            early = await sandbox.requests_since(before, method="GET")
        finally:
            await sandbox.close()
    last = max(watch.received.values(), default=float("nan"))
    took = last - t0 if len(watch.received) == ORDERS else float("nan")
    return {
        "goals": [
            goal(
                f"burst of {ORDERS} settled orders at MALL {LATENCY_MS} ms vs orders x latency / {concurrency}",
                took,
                expected_s,
                at_most=1.2,
                unit="s",
            ),
        ],
        "orders": ORDERS,
        "tenant_concurrency": concurrency,
        "setup_sync_events": sync_events,
        "publisher_ready_s": round(rebuild_s, 1),
        "import_s": round(import_s, 2),
        "puts_received": len(watch.received),
        "put_statuses": watch.statuses,
        "gets_meanwhile": len(early),
        "first_put_after_s": round(min(watch.received.values(), default=float("nan")) - t0, 2),
        "last_put_after_s": round(took, 2),
        "put_rate_per_s": round(len(watch.received) / took, 1) if took == took else None,
    }
