"""MALL updates/s of the publisher against raw httpx PUTs to the same sandbox, measured in the same run.

Every component runs as its own process on 127.0.0.1, as in production: `mallbridge sandbox` (the MALL
stand-in, no faults, answering at once) and `mallbridge publisher` (one instance, then two in one group).
`UPDATES_N` orders whose events are already in the log (one PUT each); the time from the first to the
last PUT the sandbox received. Raw baseline: an httpx client sending the same number of PUTs straight to
the sandbox, the best of three shapes: as many in flight as the publisher's per-tenant concurrency (its
default) over as many connections or over 8, and 8 over 8 (httpx's default transport gets slower with
its pool and with requests queued for it). Goal:
one publisher ≥ 0.8 of raw. The publisher's MALL client runs on mallbridge's own HTTP/1.1 transport, which
costs less per request than httpx's default one, so the same raw PUTs are also measured on that transport:
the second goal line holds the publisher to 0.8 of the same client stack with nothing else to do.
The 2 cores are shared by the broker, the sandbox, the publisher(s) and the bench.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from mallbridge_core.eventlog import open_event_log
from mallbridge_core.topics import Topics
from mallbridge_publisher.adapters.http1_transport import Http1Transport
from mallbridge_publisher.config import PublisherSettings
from tests.bench.goals import goal
from tests.bench.stack import CID, TENANT, Processes, PutWatch, Sandbox, bench_env, free_port, processes
from tests.support.orders import OrderEventWriter
from tests.support.procs import publisher_args

UPDATES_N = 3000
CONCURRENCY = PublisherSettings().tenant_concurrency  # what the publisher processes get (env included)


async def _raw_baseline(
    sandbox: Sandbox, ids: list[str], *, lean: bool, connections: int = CONCURRENCY, in_flight: int = CONCURRENCY
) -> float:
    """The same number of PUTs, straight from httpx, `in_flight` at a time over `connections`: httpx's
    default transport, or (`lean`) the publisher's own."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    transport = Http1Transport(max_connections=connections) if lean else None
    async with httpx.AsyncClient(
        base_url=f"{sandbox.url}/v1", timeout=30, limits=limits, transport=transport
    ) as client:
        queue = list(ids)
        started = time.perf_counter()

        async def worker() -> None:
            while queue:
                mall_id = queue.pop()
                r = await client.put(
                    f"/orders/{mall_id}", params={"client_id": CID}, json={"status": "shipping", "confirmed": True}
                )
                r.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return len(ids) / (time.perf_counter() - started)


async def _updates_per_second(bootstrap: str, sandbox: Sandbox, procs: Processes, instances: int) -> dict[str, Any]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    base = 10_000_000_000 + instances * 1_000_000
    ids = [str(base + i) for i in range(UPDATES_N)]
    await sandbox.create_orders(ids)
    log = open_event_log(f"kafka://{bootstrap}", partitions=6)
    topics = Topics(prefix=prefix)
    await log.ensure_topics([topics.order_events, topics.sync_events, topics.dead_letter])
    writer = OrderEventWriter(log, topics.order_events)
    events = [writer.first_seen(TENANT, f"U-{i}", mall_id, "in_process") for i, mall_id in enumerate(ids)]
    for chunk in range(0, len(events), 1000):
        await writer.write(*events[chunk : chunk + 1000])
    await log.close()
    watch = PutWatch(sandbox, ids, await sandbox.last_seq())
    group = f"bench-{uuid.uuid4().hex[:6]}"
    for _ in range(instances):
        procs.start(*publisher_args(bootstrap, sandbox.tenants, prefix, group=group, http_port=free_port()))
    await watch.wait_all(timeout_s=180)
    procs.stop_all()
    times = sorted(watch.received.values())
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    return {"instances": instances, "puts": len(times), "updates_per_s": round(len(times) / span, 1) if span else None}


async def run(bootstrap: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mallbridge-pubbench-") as tmp, processes(bench_env()) as own:
        sandbox = await Sandbox(own, Path(tmp)).start()
        try:
            # httpx's default transport slows down with its pool (it visits every connection per request) and
            # with requests queued for it: its best of (in flight, connections) = (concurrency, concurrency),
            # (concurrency, 8) and (8, 8) is the baseline (errs against the publisher).
            raw_by_shape: dict[str, float] = {}
            for n, (in_flight, connections) in enumerate(
                sorted({(CONCURRENCY, CONCURRENCY), (CONCURRENCY, 8), (8, 8)})
            ):
                raw_ids = [str(11_000_000_000 + n * 1_000_000 + i) for i in range(UPDATES_N)]
                await sandbox.create_orders(raw_ids)
                raw_by_shape[f"{in_flight} in flight, {connections} connections"] = await _raw_baseline(
                    sandbox, raw_ids, lean=False, connections=connections, in_flight=in_flight
                )
            raw = max(raw_by_shape.values())
            lean_ids = [str(12_000_000_000 + i) for i in range(UPDATES_N)]
            await sandbox.create_orders(lean_ids)
            raw_lean = await _raw_baseline(sandbox, lean_ids, lean=True)
            with processes(bench_env()) as procs:
                one = await _updates_per_second(bootstrap, sandbox, procs, 1)
                two = await _updates_per_second(bootstrap, sandbox, procs, 2)
        finally:
            await sandbox.close()
    return {
        "goals": [
            goal(
                "MALL updates/s, one publisher vs raw httpx PUTs", one["updates_per_s"], raw, at_least=0.8, unit="PUT/s"
            ),
            goal(
                "MALL updates/s, one publisher vs raw PUTs on its own transport",
                one["updates_per_s"],
                raw_lean,
                at_least=0.8,
                unit="PUT/s",
                aim=True,
            ),
        ],
        "tenant_concurrency": CONCURRENCY,
        "raw_httpx_puts_per_s": round(raw, 1),
        "raw_httpx_puts_per_s_by_shape": {k: round(v, 1) for k, v in raw_by_shape.items()},
        "raw_puts_on_the_publishers_transport_per_s": round(raw_lean, 1),
        "one_publisher": one,
        "two_publishers": {
            **two,
            "ratio_to_raw": round(two["updates_per_s"] / raw, 2) if two["updates_per_s"] else None,
        },
        "note": "2 cores shared by broker, sandbox, publishers and the bench; the sandbox is the ceiling",
    }
