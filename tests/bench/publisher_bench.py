"""Publisher throughput and end-to-end latency, each next to a baseline measured in the same run.

Every component runs as its own process on 127.0.0.1, as in production: `mallbridge sandbox` (the MALL
stand-in, no faults), `mallbridge ingest`, `mallbridge publisher` (one or two instances in one group).

1. MALL updates/s: `UPDATES_N` orders whose events are already in the log (one PUT each); the time from
   the first to the last PUT the sandbox received, with one publisher and with two. Raw baseline: an
   httpx client sending the same number of PUTs straight to the sandbox with the same concurrency.
2. End-to-end latency: signed pushes of one order change each at a steady `RATE`/s for `DURATION_S`
   seconds; latency = the sandbox's receipt time of the PUT − the moment ingest answered 202.
   Reported p50/p99 and the rate really achieved, and p50/p99 from the moment each push was sent (an
   upper bound, and one a stalled load generator cannot drive negative).
The 2 cores are shared by the broker, the sandbox, ingest, the publisher(s) and the load generator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from mallbridge_core.eventlog import open_event_log
from mallbridge_core.topics import Topics
from tests.bench.ingest_bench import push_handler_latency
from tests.support.orders import OrderEventWriter
from tests.support.procs import MALLBRIDGE, publisher_args

UPDATES_N = 3000
RATE = 200
DURATION_S = 15
CONCURRENCY = 8
CID, SECRET, TENANT = "bench-client-id-not-real", "bench-ingest-secret", "bench"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Processes:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        # BENCH_LOG_DIR=path keeps each process's log (stderr) there, to look into a stall afterwards.
        log_dir = os.environ.get("BENCH_LOG_DIR")
        stderr: Any = subprocess.DEVNULL
        if log_dir:
            Path(log_dir).mkdir(parents=True, exist_ok=True)
            stderr = (Path(log_dir) / f"{args[0]}-{len(self.procs)}-{int(time.time())}.log").open("wb")
        proc = subprocess.Popen([str(MALLBRIDGE), *args], env=self.env, stdout=subprocess.DEVNULL, stderr=stderr)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


@contextlib.contextmanager
def processes(env: dict[str, str]) -> Iterator[Processes]:
    p = Processes(env)
    try:
        yield p
    finally:
        p.stop_all()


async def _wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} not ready")


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


async def _create_orders(sandbox: str, ids: list[str]) -> None:
    async with httpx.AsyncClient(base_url=sandbox, timeout=30) as client:
        sem = asyncio.Semaphore(16)

        async def one(mall_id: str) -> None:
            async with sem:
                r = await client.post("/sandbox/orders", json={"partner": TENANT, "id": mall_id})
                r.raise_for_status()

        await asyncio.gather(*(one(i) for i in ids))


async def _puts(sandbox: str, since: int = 0) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=sandbox, timeout=60) as client:
        r = await client.get("/sandbox/requests", params={"method": "PUT", "since": since})
        return list(r.json()["requests"])


async def _raw_baseline(sandbox: str, ids: list[str]) -> float:
    """The same number of PUTs, straight from httpx with the publisher's concurrency: the ceiling here."""
    async with httpx.AsyncClient(base_url=f"{sandbox}/v1", timeout=30) as client:
        queue = list(ids)
        started = time.perf_counter()

        async def worker() -> None:
            while queue:
                mall_id = queue.pop()
                r = await client.put(
                    f"/orders/{mall_id}", params={"client_id": CID}, json={"status": "shipping", "confirmed": True}
                )
                r.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return len(ids) / (time.perf_counter() - started)


async def _updates_per_second(
    bootstrap: str, sandbox: str, procs: Processes, tenants: Path, instances: int
) -> dict[str, Any]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    base = 10_000_000_000 + instances * 1_000_000
    ids = [str(base + i) for i in range(UPDATES_N)]
    await _create_orders(sandbox, ids)
    log = open_event_log(f"kafka://{bootstrap}", partitions=6)
    topics = Topics(prefix=prefix)
    await log.ensure_topics([topics.order_events, topics.sync_events, topics.dead_letter])
    writer = OrderEventWriter(log, topics.order_events)
    events = [writer.first_seen(TENANT, f"U-{i}", mall_id, "in_process") for i, mall_id in enumerate(ids)]
    for chunk in range(0, len(events), 1000):
        await writer.write(*events[chunk : chunk + 1000])
    await log.close()
    since = len(await _puts(sandbox))
    group = f"bench-{uuid.uuid4().hex[:6]}"
    for _ in range(instances):
        procs.start(*publisher_args(bootstrap, tenants, prefix, group=group, http_port=_free_port()))
    deadline = time.monotonic() + 180
    puts: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        await asyncio.sleep(1)
        puts = [p for p in (await _puts(sandbox, since)) if p["order_id"] in set(ids)]
        if len(puts) >= UPDATES_N:
            break
    procs.stop_all()
    times = sorted(_ts(p["time"]) for p in puts)
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    return {"instances": instances, "puts": len(puts), "updates_per_s": round(len(puts) / span, 1) if span else None}


async def _watch_loop_stalls(stalls: list[float]) -> None:
    """The load generator's own event-loop stalls (a stalled client delays the 202s it sees and can time
    out on a healthy server): how late each 10 ms sleep wakes up."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        stalls.append(time.perf_counter() - before - 0.01)


async def _latency(bootstrap: str, sandbox: str, procs: Processes, tenants: Path) -> dict[str, Any]:
    from mallbridge_ingest.adapters.signature import sign

    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    n = RATE * DURATION_S
    ids = [str(12_000_000_000 + i) for i in range(n)]
    await _create_orders(sandbox, ids)
    ingest_port = _free_port()
    common = ["--kafka", bootstrap, "--tenants", str(tenants), "--topic-prefix", prefix]
    procs.start("ingest", *common, "--port", str(ingest_port), "--no-poll", "--log-level", "WARNING")
    pub_port = _free_port()
    procs.start("publisher", *common, "--http-port", str(pub_port), "--log-level", "WARNING")
    await _wait_http(f"http://127.0.0.1:{ingest_port}/readyz")
    await _wait_http(f"http://127.0.0.1:{pub_port}/readyz")
    since = len(await _puts(sandbox))
    accepted: dict[str, float] = {}
    sent: dict[str, float] = {}
    failed: dict[str, int] = {}
    # No pool timeout: if ingest falls behind the target rate, pushes queue here and the achieved rate and
    # the latency from sending say so (a crash of the load generator would say nothing).
    timeout = httpx.Timeout(30.0, pool=None)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ingest_port}", timeout=timeout) as client:

        async def push(i: int, mall_id: str) -> None:
            body = json.dumps(
                {"orders": [{"order_number": f"L-{i}", "mall_order_id": mall_id, "status": "in_process"}]}
            ).encode()
            ts = str(int(time.time()))
            sent[mall_id] = time.time()
            try:
                r = await client.post(
                    f"/v1/tenants/{TENANT}/orders",
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Mallbridge-Timestamp": ts,
                        "X-Mallbridge-Signature": sign(SECRET, ts, body),
                    },
                )
            except httpx.TransportError as exc:  # counted and reported, not fatal to the measurement
                failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1
                return
            if r.status_code == 202:
                accepted[mall_id] = time.time()

        stalls: list[float] = []
        watcher = asyncio.create_task(_watch_loop_stalls(stalls))
        started = time.perf_counter()
        tasks = []
        for i, mall_id in enumerate(ids):
            target = started + i / RATE
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(push(i, mall_id)))
        try:
            await asyncio.gather(*tasks)
        finally:
            watcher.cancel()
        achieved = len(accepted) / (time.perf_counter() - started)
        handler = push_handler_latency((await client.get("/metrics")).text)
    deadline = time.monotonic() + 120
    received: dict[str, float] = {}
    while time.monotonic() < deadline and len(received) < len(accepted):
        await asyncio.sleep(1)
        received = {p["order_id"]: _ts(p["time"]) for p in await _puts(sandbox, since) if p["order_id"] in accepted}
    procs.stop_all()
    latencies = sorted((received[k] - accepted[k]) * 1000 for k in received)
    if not latencies:
        return {"error": "no PUT arrived"}
    # From the push being sent: an upper bound that a stalled load generator cannot push below zero (the
    # 202 can reach a starved client after MALL already has the PUT).
    from_send = sorted((received[k] - sent[k]) * 1000 for k in received)
    return {
        "target_rate_per_s": RATE,
        "achieved_rate_per_s": round(achieved, 1),
        "changes": len(accepted),
        "puts_received": len(received),
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1], 1),
        "latency_ms_max": round(latencies[-1], 1),
        "from_send_ms_p50": round(statistics.median(from_send), 1),
        "from_send_ms_p99": round(from_send[int(len(from_send) * 0.99) - 1], 1),
        "ingest_push_handler": handler,
        "load_generator_max_stall_ms": round(max(stalls, default=0.0) * 1000, 1),
        "pushes_failed": failed,
    }


async def run(bootstrap: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mallbridge-pubbench-") as tmp:
        partners = Path(tmp) / "partners.toml"
        partners.write_text(f'[partners.{TENANT}]\nclient_id = "{CID}"\nquota = 10000000\n')
        sandbox_port = _free_port()
        env = {**os.environ, "BENCH_CID": CID, "BENCH_SECRET": SECRET}
        with processes(env) as sandbox_procs:
            sandbox_procs.start("sandbox", "--port", str(sandbox_port), "--partners", str(partners))
            sandbox = f"http://127.0.0.1:{sandbox_port}"
            await _wait_http(f"{sandbox}/healthz")
            tenants = Path(tmp) / "tenants.toml"
            tenants.write_text(
                f'[tenants.{TENANT}]\nmall_client_id = "env:BENCH_CID"\ningest_secret = "env:BENCH_SECRET"\n'
                f'mall_base_url = "{sandbox}/v1"\n'
            )
            raw_ids = [str(11_000_000_000 + i) for i in range(UPDATES_N)]
            await _create_orders(sandbox, raw_ids)
            raw = await _raw_baseline(sandbox, raw_ids)
            with processes(env) as procs:
                one = await _updates_per_second(bootstrap, sandbox, procs, tenants, 1)
                two = await _updates_per_second(bootstrap, sandbox, procs, tenants, 2)
                latency = await _latency(bootstrap, sandbox, procs, tenants)
    return {
        "raw_httpx_puts_per_s": round(raw, 1),
        "one_publisher": {
            **one,
            "ratio_to_raw": round(one["updates_per_s"] / raw, 2) if one["updates_per_s"] else None,
        },
        "two_publishers": {
            **two,
            "ratio_to_raw": round(two["updates_per_s"] / raw, 2) if two["updates_per_s"] else None,
        },
        "end_to_end": latency,
        "note": "2 cores shared by broker, sandbox, ingest, publishers and load generator; the sandbox is the ceiling",
    }
