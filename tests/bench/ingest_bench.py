"""Ingest throughput and latency, each next to a baseline measured in the same run (ARCHITECTURE.md §4, issue 4).

1. Import: `IMPORT_N` snapshots from a JSON Lines file through the same path as `mallbridge ingest
   import` (read, validate, detect, encode, append in chunks of 500, each chunk acknowledged with
   acks=all), against a raw aiokafka producer (enable_idempotence, acks=all, same linger/batch settings
   as the Kafka adapter) sending the very same key/value bytes (read back from the import's topic) in
   the same chunks, each chunk awaited. Reported: snapshots/s, records/s, and the ratio.
2. Push API: `mallbridge ingest` as its own process on 127.0.0.1; `CLIENTS` concurrent clients, each
   posting signed batches of `BATCH` new orders, `PUSH_ORDERS` orders in all. Reported: orders/s,
   pushes/s, p50/p99 latency of a push (the 202 comes after the log acknowledged).
3. Restart: the time to rebuild the last known state from `REBUILD_N` order events (replay + fold).
4. Fairness: a tenant flooding pushes next to a normal one under the per-tenant rate limit; the normal
   tenant's p99 with the flood against its p99 alone.
The load generator shares the machine's 2 cores with the broker and the server: figures are for this
machine and this load, compare ratios rather than absolutes. Bounded well under 60 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer  # the bench's raw baseline only; services never import aiokafka

from mallbridge_core.eventlog import OutgoingRecord, open_event_log
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_ingest.adapters.signature import sign
from mallbridge_ingest.bootstrap import build_service
from mallbridge_ingest.config import IngestSettings
from mallbridge_ingest.domain import plan_batch
from mallbridge_ingest.imports.command import resolve_workers, run_import
from mallbridge_ingest.imports.summary import ImportSummary
from mallbridge_ingest.imports.worker import ImportJob
from mallbridge_ingest.metrics import IngestMetrics
from mallbridge_schema.serde import encode_event, event_key
from mallbridge_schema.snapshot import OrderSnapshot
from tests.bench.goals import goal

IMPORT_N = 40_000
ROUNDS = 3
CHUNK = 500
CLIENTS = 20
BATCH = 10
PUSH_ORDERS = 4_000
LIGHT_ORDERS = 1_000
REBUILD_N = 100_000
PARTITIONS = 6
STATUSES = ["nevyřízená", "vyřizuje se", "vyřízená", "pending", "settled"]


def snapshot(i: int, prefix: str = "B") -> dict[str, Any]:
    data: dict[str, Any] = {
        "order_number": f"{prefix}-{i:07d}",
        "mall_order_id": str(10_000_000_000_000 + i),
        "status": STATUSES[i % len(STATUSES)],
        "changed_at": "2026-11-20T09:15:00+01:00",
    }
    if i % 3 == 0:
        data.update(tracking_number=f"DR{i:09d}", tracking_url=f"https://tracking.example/DR{i:09d}")
    return data


def _now() -> datetime:
    return datetime.now(UTC)


def _service(url: str, prefix: str, tenant_id: str, **settings: Any) -> Any:
    tenant = Tenant(tenant_id=tenant_id, mall_client_id=None, ingest_secret=None)
    log = open_event_log(url, partitions=PARTITIONS)
    service = build_service(
        settings=IngestSettings(topic_prefix=prefix, **settings),
        log=log,
        tenants={tenant_id: tenant},
        metrics=IngestMetrics(),
        clock=_now,
    )
    return log, service


async def _raw_send(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> tuple[float, float]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=2, max_batch_size=1 << 20
    )
    await producer.start()
    try:
        # Warm every partition, so that no send in the timed part waits for a leader of the new topic.
        for partition in range(PARTITIONS):
            await (await producer.send(topic, value=b"warm-up", key=b"warm-up", partition=partition))
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(records), CHUNK):
            futures = [await producer.send(topic, value=v, key=k) for k, v in records[i : i + CHUNK]]
            await asyncio.gather(*futures)
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        await producer.stop()


async def _import(bootstrap: str, file: Path, workers: int) -> tuple[ImportSummary, list[tuple[bytes, bytes]]]:
    """`mallbridge ingest import` as the command runs it (same function, `workers` worker processes)."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    job = ImportJob(
        log_url=f"kafka://{bootstrap}",
        partitions=PARTITIONS,
        topic_prefix=prefix,
        tenant=Tenant(tenant_id="acme", mall_client_id=None, ingest_secret=None),
        file=file,
        file_format="jsonl",
        chunk_size=CHUNK,
        shards=workers,
    )
    summary = await asyncio.to_thread(run_import, job, total_lines=IMPORT_N, show_progress=False)
    log = open_event_log(job.log_url, partitions=PARTITIONS)
    written: list[tuple[bytes, bytes]] = []
    try:
        async for batch in log.replay(Topics(prefix=prefix).order_events):
            written.extend((r.key or b"", r.value) for r in batch)
    finally:
        await log.close()
    assert not summary.aborted, summary.aborted
    assert summary.events == IMPORT_N == len(written), (summary, len(written))
    return summary, written


async def _import_round(bootstrap: str, tmp: Path, parallel: int) -> dict[str, float]:
    file = tmp / "import.jsonl"
    file.write_text("".join(json.dumps(snapshot(i), ensure_ascii=False) + "\n" for i in range(IMPORT_N)))
    one, written = await _import(bootstrap, file, 1)
    several, _ = await _import(bootstrap, file, parallel)
    raw_topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    log = open_event_log(f"kafka://{bootstrap}", partitions=PARTITIONS)
    try:
        await log.ensure_topics([raw_topic])  # as the import's topic: PARTITIONS partitions
    finally:
        await log.close()
    raw_s, raw_cpu = await _raw_send(bootstrap, raw_topic, written)
    return {
        "one": IMPORT_N / one.seconds,
        "several": IMPORT_N / several.seconds,
        "raw": len(written) / raw_s,
        "bytes": sum(len(v) for _, v in written) / len(written),
        "one_cpu_us": one.cpu_seconds / IMPORT_N * 1e6,
        "several_cpu_us": several.cpu_seconds / IMPORT_N * 1e6,
        "raw_cpu_us": raw_cpu / len(written) * 1e6,
    }


async def bench_import(bootstrap: str, tmp: Path) -> dict[str, Any]:
    """Rounds of (import with 1 worker, import with the default workers, raw) on fresh topics; the means
    damp drift from other load on the machine. The import's time is from the moment its workers have
    rebuilt their state (and the raw producer is started and warm) to the last acknowledgement."""
    parallel = resolve_workers(None, lines=IMPORT_N, log_url=f"kafka://{bootstrap}")
    rounds = [await _import_round(bootstrap, tmp, parallel) for _ in range(ROUNDS)]

    def mean(key: str) -> float:
        return statistics.mean(r[key] for r in rounds)

    goals = [
        goal(
            f"import, default workers ({parallel}) vs a raw producer",
            mean("several"),
            mean("raw"),
            at_least=0.8,
            unit="records/s",
        ),
        goal("import, one worker vs a raw producer", mean("one"), mean("raw"), at_least=0.6, unit="records/s"),
    ]
    return {
        "goals": goals,
        "snapshots_per_round": IMPORT_N,
        "rounds": ROUNDS,
        "chunk": CHUNK,
        "avg_event_bytes": round(mean("bytes")),
        "raw_producer_records_per_s": round(mean("raw")),
        "default_workers": parallel,
        "import_snapshots_per_s": round(mean("several")),
        "import_vs_raw": round(mean("several") / mean("raw"), 3),
        "per_round_ratio": [round(r["several"] / r["raw"], 3) for r in rounds],
        "one_worker_snapshots_per_s": round(mean("one")),
        "one_worker_vs_raw": round(mean("one") / mean("raw"), 3),
        # CPU time per record (all workers together): insensitive to other load on the machine.
        "one_worker_cpu_us_per_snapshot": round(mean("one_cpu_us"), 1),
        "default_workers_cpu_us_per_snapshot": round(mean("several_cpu_us"), 1),
        "raw_cpu_us_per_record": round(mean("raw_cpu_us"), 1),
    }


def _start_server(
    bootstrap: str, tmp: Path, port: int, prefix: str, *, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    tenants = tmp / "tenants.toml"
    tenants.write_text(
        "".join(f'[tenants.{t}]\ningest_secret = "env:BENCH_INGEST_SECRET"\n' for t in ("acme", "normal", "flood"))
    )
    # The throughput figures are for the server, not its rate limit (which bench_fairness measures).
    settings = env or {"MALLBRIDGE_INGEST_PUSH_RATE_PER_S": "0"}
    env = {**os.environ, "BENCH_INGEST_SECRET": "bench-secret", "MALLBRIDGE_LOG_LEVEL": "WARNING", **settings}
    cmd = [
        str(Path(sys.executable).parent / "mallbridge"),
        "ingest",
        "--no-poll",
        "--port",
        str(port),
        "--tenants",
        str(tenants),
        "--kafka",
        bootstrap,
        "--topic-prefix",
        prefix,
        "--partitions",
        str(PARTITIONS),
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=(tmp / "server.log").open("wb"))


async def _wait_ready(client: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "ingest server exited"
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError("ingest server not ready in 30 s")


async def _push(client: httpx.AsyncClient, orders: list[dict[str, Any]], tenant: str = "acme") -> int:
    body = json.dumps({"orders": orders}).encode()
    ts = str(int(time.time()))
    headers = {
        "X-Mallbridge-Timestamp": ts,
        "X-Mallbridge-Signature": sign("bench-secret", ts, body),
        "Content-Type": "application/json",
    }
    return (await client.post(f"/v1/tenants/{tenant}/orders", content=body, headers=headers)).status_code


async def _load(client: httpx.AsyncClient, clients: int, orders: int, prefix: str) -> dict[str, Any]:
    """`clients` workers post signed batches of BATCH new orders until `orders` are sent."""
    queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    for b in range(0, orders, BATCH):
        queue.put_nowait([snapshot(i, prefix) for i in range(b, b + BATCH)])
    latencies: list[float] = []
    codes: dict[int, int] = {}

    async def worker() -> None:
        while not queue.empty():
            batch = queue.get_nowait()
            t0 = time.perf_counter()
            status = await _push(client, batch)
            latencies.append(time.perf_counter() - t0)
            codes[status] = codes.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    wall = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {
        "load": f"{clients} concurrent client(s), batches of {BATCH} new orders, {orders} orders",
        "status_codes": codes,
        "orders_per_s": round(orders / wall),
        "pushes_per_s": round(len(latencies) / wall),
        "latency_p50_ms": round(q[49] * 1000, 1),
        "latency_p99_ms": round(q[98] * 1000, 1),
    }


async def bench_push(bootstrap: str, tmp: Path) -> dict[str, Any]:
    from tests.conftest import free_port

    port = free_port()
    proc = _start_server(bootstrap, tmp, port, f"bench-{uuid.uuid4().hex[:8]}.")
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30, limits=limits) as client:
            await _wait_ready(client, proc)
            await _push(client, [snapshot(i, "W") for i in range(BATCH)])  # connects the server's producer
            light = await _load(client, 1, LIGHT_ORDERS, "L")
            heavy = await _load(client, CLIENTS, PUSH_ORDERS, "P")
            server_side = push_handler_latency((await client.get("/metrics")).text)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    return {
        "setup": "`mallbridge ingest` in its own process; clients (httpx) in the bench process; broker, server "
        "and clients share this machine's 2 cores",
        "light": light,
        "stated_load": heavy,
        "server_side_both_loads": server_side,
    }


def push_handler_latency(metrics: str) -> dict[str, float]:
    """Time inside the server's push handler, from its own histogram (bucket upper bounds for quantiles)."""
    buckets: list[tuple[float, float]] = []
    total = count = 0.0
    for line in metrics.splitlines():
        if not line.startswith("mallbridge_ingest_push_duration_seconds") or 'code="202"' not in line:
            continue
        value = float(line.split()[-1])
        if "_bucket{" in line:
            bound = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if bound == "+Inf" else float(bound), value))
        elif "_sum{" in line:
            total = value
        elif "_count{" in line:
            count = value

    def quantile(q: float) -> float:
        return next(bound for bound, seen in sorted(buckets) if seen >= q * count) * 1000

    return {"mean_ms": round(total / count * 1000, 1), "p50_le_ms": quantile(0.5), "p99_le_ms": quantile(0.99)}


async def bench_rebuild(bootstrap: str) -> dict[str, Any]:
    """Write REBUILD_N real order events (30,000 orders, first seen then changes), then time a rebuild."""
    url, prefix = f"kafka://{bootstrap}", f"bench-{uuid.uuid4().hex[:8]}."
    orders = 30_000
    known: dict[str, Any] = {}
    records: list[OutgoingRecord] = []
    round_no = 0
    while len(records) < REBUILD_N:
        snaps = []
        for i in range(orders):
            data = snapshot(i, "R")
            data["status"] = STATUSES[(i + round_no) % len(STATUSES)]
            snaps.append((i, OrderSnapshot.model_validate(data)))
        plan = plan_batch(known, snaps, tenant_id="acme", received_at=_now(), recorded_at=_now())
        known.update(plan.states)
        records.extend(OutgoingRecord(event_key("acme", e.order_number), encode_event(e)) for e in plan.events)
        round_no += 1
    records = records[:REBUILD_N]
    log, _ = _service(url, prefix, "acme")
    await log.start()
    try:
        topic = Topics(prefix=prefix).order_events
        await log.ensure_topics([topic])
        for i in range(0, len(records), 5_000):
            await log.append(topic, records[i : i + 5_000])
    finally:
        await log.close()
    spilled = await _rebuilt(url, prefix)
    in_memory = await _rebuilt(url, prefix, hot_orders=0)
    return {
        "events": spilled.events,
        "orders": spilled.orders,
        "rebuild_s": round(spilled.seconds, 2),
        "events_per_s": round(spilled.events / spilled.seconds),
        # every round of the log touches all 30,000 orders in turn: the worst case for 5,000 in memory
        "hot_orders": IngestSettings().hot_orders,
        "all_in_memory_rebuild_s": round(in_memory.seconds, 2),
        "all_in_memory_events_per_s": round(in_memory.events / in_memory.seconds),
    }


async def _rebuilt(url: str, prefix: str, **settings: Any) -> Any:
    log, service = _service(url, prefix, "acme", **settings)
    await log.start()
    try:
        return await service.prepare()
    finally:
        await log.close()
        service.close()


FAIR_RATE = 10  # pushes/s per tenant, the limit under test (low: it must bite before the 2 cores do)
NORMAL_RATE = 5  # the normal tenant's pace, well inside its limit
NORMAL_PUSHES = 120
FLOOD_CLIENTS = 16


async def _paced(client: httpx.AsyncClient, prefix: str) -> tuple[list[float], dict[int, int]]:
    """The normal tenant: NORMAL_PUSHES pushes of BATCH new orders at NORMAL_RATE a second."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    started = time.perf_counter()
    for n in range(NORMAL_PUSHES):
        await asyncio.sleep(max(0.0, started + n / NORMAL_RATE - time.perf_counter()))
        t0 = time.perf_counter()
        code = await _push(client, [snapshot(i, prefix) for i in range(n * BATCH, n * BATCH + BATCH)], "normal")
        latencies.append(time.perf_counter() - t0)
        codes[code] = codes.get(code, 0) + 1
    return latencies, codes


def _flood_process(base_url: str, seconds: float, result: Any) -> None:
    """The flooding tenant, in a process of its own (its load must not slow the normal client's loop):
    FLOOD_CLIENTS clients pushing as fast as answers come, ignoring Retry-After."""

    async def flood() -> dict[int, int]:
        codes: dict[int, int] = {}
        deadline = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=FLOOD_CLIENTS)
        async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:

            async def one(k: int) -> None:
                n = 0
                while time.monotonic() < deadline:
                    n += 1
                    code = await _push(client, [snapshot(n * 100 + k, "F")], "flood")
                    codes[code] = codes.get(code, 0) + 1

            await asyncio.gather(*(one(k) for k in range(FLOOD_CLIENTS)))
        return codes

    result.update(asyncio.run(flood()))


async def bench_fairness(bootstrap: str, tmp: Path) -> dict[str, Any]:
    """A flooding tenant next to a normal one, both limited to FAIR_RATE pushes/s: the normal tenant's
    p99 push latency with the flood, against its p99 alone (goal: within 2x)."""
    import multiprocessing

    from tests.conftest import free_port

    port = free_port()
    limit = {"MALLBRIDGE_INGEST_PUSH_RATE_PER_S": str(FAIR_RATE), "MALLBRIDGE_INGEST_PUSH_BURST": str(FAIR_RATE)}
    proc = _start_server(bootstrap, tmp, port, f"bench-{uuid.uuid4().hex[:8]}.", env=limit)
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            await _wait_ready(client, proc)
            await _push(client, [snapshot(0, "W")], "normal")  # connects the server's producer
            alone, alone_codes = await _paced(client, "N1")
            context = multiprocessing.get_context("spawn")
            flood_codes = context.Manager().dict()
            flooder = context.Process(
                target=_flood_process, args=(base_url, NORMAL_PUSHES / NORMAL_RATE + 8, flood_codes)
            )
            flooder.start()
            await asyncio.sleep(3)  # the flood under way
            flooded, flooded_codes = await _paced(client, "N2")
            await asyncio.to_thread(flooder.join, 120)
    finally:
        proc.terminate()
        proc.wait(timeout=15)

    def p99(values: list[float]) -> float:
        return round(statistics.quantiles(values, n=100)[98] * 1000, 1)

    return {
        "setup": f"limit {FAIR_RATE} pushes/s per tenant; normal tenant {NORMAL_RATE} pushes/s of {BATCH} orders; "
        f"flooding tenant {FLOOD_CLIENTS} clients as fast as answered, ignoring Retry-After, in its own process",
        "normal_alone_p50_ms": round(statistics.median(alone) * 1000, 1),
        "normal_alone_p99_ms": p99(alone),
        "normal_with_flood_p50_ms": round(statistics.median(flooded) * 1000, 1),
        "normal_with_flood_p99_ms": p99(flooded),
        "p99_ratio": round(p99(flooded) / p99(alone), 2),
        "normal_codes": {"alone": alone_codes, "with_flood": flooded_codes},
        "flood_codes": dict(flood_codes),
    }


async def run(bootstrap: str, tmpdir: str | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as own:
        tmp = Path(tmpdir or own)
        imported = await bench_import(bootstrap, tmp)
        return {
            "goals": imported.pop("goals"),
            "import": imported,
            "push": await bench_push(bootstrap, tmp),
            "fairness": await bench_fairness(bootstrap, tmp),
            "restart": await bench_rebuild(bootstrap),
        }


if __name__ == "__main__":
    given = os.environ.get("MALLBRIDGE_KAFKA")
    if given:
        print(json.dumps(asyncio.run(run(given)), indent=2))
    else:
        from tests.conftest import LocalBroker

        broker = LocalBroker()
        broker.start()
        try:
            print(json.dumps(asyncio.run(run(broker.bootstrap)), indent=2))
        finally:
            broker.stop()
