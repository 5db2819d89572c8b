"""End-to-end latency, push sent → PUT received at MALL, at a steady 200 changes/s, against its floor.

Every component runs as its own process on 127.0.0.1: `mallbridge sandbox` (MALL), `mallbridge ingest`,
`mallbridge publisher`, all with their defaults. First `WARM_S` seconds of the load below, once, to take
the stack past its start-up (its figures are reported as `warm_up`, not judged). Then, for MALL answering
at once and after 50 ms (the sandbox's `PUT /sandbox/latency`), in this order:

1. the floor's parts, each measured here at the same rate: a raw aiokafka producer (the adapter's
   settings: idempotent, acks=all, linger 2 ms) sending one record at a time to a raw consumer
   (produce → consume p99); raw httpx PUTs to the sandbox (the MALL round trip p99);
2. the load: signed pushes of one new order each (one PUT each) at `RATE`/s for `DURATION_S` seconds.
   Latency = the sandbox's receipt time of the PUT − the moment the push was sent; the push's own p99
   (sent → 202) is the floor's third part.

Goals: p99 ≤ 2 × floor (raw produce→consume p99 + push p99 + MALL round trip p99); with MALL at 50 ms,
the one tenant's PUTs keep up with the pushes (PUT rate ≥ 0.95 of the accepted push rate). The 2 cores
are shared by the broker, the sandbox, ingest, the publisher and this load generator.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # the raw baseline only

from mallbridge_core.eventlog import open_event_log
from tests.bench.goals import goal
from tests.bench.stack import (
    CID,
    IN_FLIGHT,
    TENANT,
    Processes,
    PutWatch,
    Sandbox,
    bench_env,
    free_port,
    p50,
    p99,
    paced,
    processes,
    service_args,
    signed,
    wait_http,
)

RATE = 200
DURATION_S = int(os.environ.get("BENCH_E2E_S", "15"))
FLOOR_S = 10
WARM_S = 2  # seconds of load before anything is measured (see _with_services)
LATENCIES_MS = (0, 50)
PARTITIONS = 6


async def raw_kafka(bootstrap: str, rate: float, seconds: float) -> dict[str, float]:
    """Produce → consume latency of single records at `rate`/s with bare aiokafka clients."""
    topic = f"bench-e2e-raw-{uuid.uuid4().hex[:8]}"
    log = open_event_log(f"kafka://{bootstrap}", partitions=PARTITIONS)
    try:
        await log.ensure_topics([topic])
    finally:
        await log.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=2, max_batch_size=1 << 20
    )
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, isolation_level="read_committed")
    await producer.start()
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        for p in range(PARTITIONS):  # warm every partition's leader before the timed part
            await (await producer.send(topic, value=b"warm", partition=p))
        n = int(rate * seconds)
        sent: dict[int, float] = {}
        got: dict[int, float] = {}

        async def consume() -> None:
            while len(got) < n:
                for msgs in (await consumer.getmany(timeout_ms=200)).values():
                    now = time.perf_counter()
                    for m in msgs:
                        if m.value != b"warm":
                            got.setdefault(int(m.value or b"0"), now)

        async def produce(i: int) -> None:
            sent[i] = time.perf_counter()
            await (await producer.send(topic, value=str(i).encode(), key=str(i).encode()))

        reader = asyncio.create_task(consume())
        await paced(rate, n, produce)
        await asyncio.wait_for(reader, timeout=60)
    finally:
        await producer.stop()
        await consumer.stop()
    latencies = [(got[i] - sent[i]) * 1000 for i in got]
    return {"records": len(latencies), "p50_ms": round(p50(latencies), 2), "p99_ms": round(p99(latencies), 2)}


async def raw_puts(sandbox: Sandbox, ids: list[str], rate: float) -> dict[str, float]:
    """The MALL round trip: httpx PUTs straight to the sandbox at `rate`/s, as many in flight as it takes."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=f"{sandbox.url}/v1", timeout=30) as client:
        await client.get("/orders", params={"client_id": CID})  # connect outside the timed part

        async def put(i: int) -> None:
            t0 = time.perf_counter()
            r = await client.put(
                f"/orders/{ids[i]}", params={"client_id": CID}, json={"status": "shipping", "confirmed": True}
            )
            r.raise_for_status()
            latencies.append((time.perf_counter() - t0) * 1000)

        held = await paced(rate, len(ids), put, in_flight=IN_FLIGHT)
    return {
        "puts": len(latencies),
        "held_back": held,
        "p50_ms": round(p50(latencies), 2),
        "p99_ms": round(p99(latencies), 2),
    }


async def _watch_loop_stalls(stalls: list[float]) -> None:
    """The load generator's own event-loop stalls: how late each 10 ms sleep wakes up."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        stalls.append(time.perf_counter() - before - 0.01)


async def steady_load(sandbox: Sandbox, ingest: str, ids: list[str], tag: str) -> dict[str, Any]:
    """One push (one new order, one PUT) per id at RATE/s; when each was sent, answered, and PUT at MALL."""
    watch = PutWatch(sandbox, ids, await sandbox.last_seq())
    sent: dict[str, float] = {}
    accepted: dict[str, float] = {}
    failed: dict[str, int] = {}
    # No pool timeout: if ingest falls behind, pushes queue here and the latency from sending says so.
    async with httpx.AsyncClient(base_url=ingest, timeout=httpx.Timeout(30.0, pool=None)) as client:

        async def push(i: int) -> None:
            mall_id = ids[i]
            body, headers = signed([{"order_number": f"{tag}-{i}", "mall_order_id": mall_id, "status": "in_process"}])
            sent[mall_id] = time.time()
            try:
                r = await client.post(f"/v1/tenants/{TENANT}/orders", content=body, headers=headers)
            except httpx.TransportError as exc:  # counted and reported, not fatal to the measurement
                failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1
                return
            if r.status_code == 202:
                accepted[mall_id] = time.time()
            else:
                failed[str(r.status_code)] = failed.get(str(r.status_code), 0) + 1

        stalls: list[float] = []
        watcher = asyncio.create_task(_watch_loop_stalls(stalls))
        try:
            held = await paced(RATE, len(ids), push, in_flight=IN_FLIGHT)
        finally:
            watcher.cancel()
    await watch.wait_all(timeout_s=120)
    got = {k: v for k, v in watch.received.items() if k in accepted}
    from_send = [(got[k] - sent[k]) * 1000 for k in got]
    from_202 = [(got[k] - accepted[k]) * 1000 for k in got]
    push_ms = [(accepted[k] - sent[k]) * 1000 for k in accepted]
    first_sent, last_sent = min(sent.values()), max(sent.values())
    return {
        "changes_accepted": len(accepted),
        "puts_received": len(got),
        "push_rate_per_s": round(len(accepted) / max(last_sent - first_sent, 1e-9), 1),
        "put_rate_per_s": round(len(got) / max(max(got.values(), default=first_sent) - first_sent, 1e-9), 1),
        "push_ms_p50": round(p50(push_ms), 1),
        "push_ms_p99": round(p99(push_ms), 1),
        "from_send_ms_p50": round(p50(from_send), 1),
        "from_send_ms_p99": round(p99(from_send), 1),
        "from_send_ms_max": round(max(from_send, default=float("nan")), 1),
        "from_202_ms_p50": round(p50(from_202), 1),
        "from_202_ms_p99": round(p99(from_202), 1),
        "held_back": held,
        "load_generator_max_stall_ms": round(max(stalls, default=0.0) * 1000, 1),
        "pushes_failed": failed,
    }


async def at_latency(bootstrap: str, sandbox: Sandbox, ingest: str, latency_ms: int, base: int) -> dict[str, Any]:
    await sandbox.set_latency(latency_ms)
    floor_ids = [str(base + i) for i in range(RATE * FLOOR_S)]
    load_ids = [str(base + 500_000 + i) for i in range(RATE * DURATION_S)]
    await sandbox.create_orders(floor_ids + load_ids)
    mall = await raw_puts(sandbox, floor_ids, RATE)
    kafka = await raw_kafka(bootstrap, RATE, FLOOR_S)
    load = await steady_load(sandbox, ingest, load_ids, f"E{latency_ms}")
    floor = kafka["p99_ms"] + load["push_ms_p99"] + mall["p99_ms"]
    short = load["push_rate_per_s"] < 0.9 * RATE
    unmet = f"the load reached only {load['push_rate_per_s']}/s" if short else None
    goals = [
        goal(
            f"e2e p99 push sent -> PUT at {RATE}/s, MALL at {latency_ms} ms, vs 2 x floor",
            load["from_send_ms_p99"],
            floor,
            at_most=2.0,
            unit="ms",
            unmet_because=unmet,
            note=f"floor = kafka {kafka['p99_ms']} + push {load['push_ms_p99']} + MALL {mall['p99_ms']}",
        )
    ]
    if latency_ms:
        goals.append(
            goal(
                f"one tenant keeps up at {RATE}/s, MALL at {latency_ms} ms (PUT rate vs push rate)",
                load["put_rate_per_s"],
                load["push_rate_per_s"],
                at_least=0.95,
                unit="/s",
            )
        )
    return {"goals": goals, "floor_ms": round(floor, 1), "raw_kafka": kafka, "raw_mall_put": mall, "load": load}


async def run(bootstrap: str) -> dict[str, Any]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    with tempfile.TemporaryDirectory(prefix="mallbridge-e2e-") as tmp, processes(bench_env()) as procs:
        sandbox = await Sandbox(procs, Path(tmp)).start()
        try:
            warm_up, phases = await _with_services(bootstrap, sandbox, procs, prefix)
        finally:
            await sandbox.close()
    return {
        "goals": [g for r in phases.values() for g in r.pop("goals")],
        "warm_up": warm_up,
        **phases,
        "note": "2 cores shared by broker, sandbox, ingest, publisher and the load generator",
    }


async def _with_services(
    bootstrap: str, sandbox: Sandbox, procs: Processes, prefix: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The warm-up's figures, and each MALL latency's phase (its goals included)."""
    common = service_args(bootstrap, sandbox.tenants, prefix)
    ingest_port, pub_port = free_port(), free_port()
    procs.start("ingest", *common, "--port", str(ingest_port), "--no-poll")
    procs.start("publisher", *common, "--http-port", str(pub_port), "--group", f"bench-{uuid.uuid4().hex[:8]}")
    ingest = f"http://127.0.0.1:{ingest_port}"
    await wait_http(f"{ingest}/readyz")
    await wait_http(f"http://127.0.0.1:{pub_port}/readyz")
    # WARM_S seconds of the load first: producers connected, partitions assigned, pools warm. With only
    # 20 orders of warm-up, the first second of the first measured load had a tail of its own in 4 of 5
    # runs (p99 89-150 ms at MALL 0 ms; ingest's answers and the publisher's PUTs slowed together, so
    # the cold part is likely what they share; not pinned down). With 2 s of warm-up, none of 7 runs
    # did (p99 12-18 ms); the tail then falls into the warm-up (its p99 15-26 ms in 3 of 4 runs that
    # recorded it, 179 ms in one). The goal is the steady tail; `warm_up` shows the start-up.
    warm_up = await steady_load(sandbox, ingest, await _warm_ids(sandbox), "W")
    phases = {}
    for n, latency_ms in enumerate(LATENCIES_MS):
        phases[f"mall_{latency_ms}ms"] = await at_latency(
            bootstrap, sandbox, ingest, latency_ms, 13_000_000_000 + n * 1_000_000
        )
    return warm_up, phases


async def _warm_ids(sandbox: Sandbox) -> list[str]:
    ids = [str(12_900_000_000 + i) for i in range(RATE * WARM_S)]
    await sandbox.create_orders(ids)
    return ids
