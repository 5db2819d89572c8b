"""A soak: `RATE` changes/s for BENCH_SOAK_S seconds through ingest and the publisher; is RSS flat?

The default is a 120 s soak so that `make bench` stays short; the goal's full 10 minutes is
`BENCH_SOAK_S=600 make bench` (or `BENCH_SOAK_S=600 .venv/bin/python -m tests.bench soak`).

`mallbridge sandbox`, `mallbridge ingest` and `mallbridge publisher` as their own processes, defaults.
Half the changes are new orders (in process: a PUT `shipping`), half settle, with a tracking number,
the order created `SETTLE_AFTER` changes earlier (a PUT `shipped`), so orders come and go as in a shop.
The resident set (VmRSS) of ingest and of the publisher is sampled every second. Goal, for each: the
mean of the last minute within 10 % of the mean of the first (for a soak shorter than 5 minutes, a
fifth of it stands for the minute). Also reported: the growth in KiB per 1,000 orders, over the whole
soak and over its second half (bounded caches fill early; what still grows in the second half grows
with the orders), and that every change reached MALL.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.bench.goals import goal
from tests.bench.stack import (
    IN_FLIGHT,
    TENANT,
    PutWatch,
    Sandbox,
    bench_env,
    free_port,
    paced,
    processes,
    rss_kib,
    service_args,
    signed,
    wait_http,
)

RATE = 100
SOAK_S = int(os.environ.get("BENCH_SOAK_S", "120"))
SETTLE_AFTER = 2_000
BASE_ID = 15_000_000_000


def change(k: int) -> dict[str, Any]:
    """The k-th change: a new order (even k, and every k below SETTLE_AFTER), else the settling of the
    order created SETTLE_AFTER + 1 changes earlier (an even change, so a new order, settled only once)."""
    if k < SETTLE_AFTER or k % 2 == 0:
        return {"order_number": f"S-{k}", "mall_order_id": str(BASE_ID + k), "status": "in_process"}
    n = k - SETTLE_AFTER - 1
    return {
        "order_number": f"S-{n}",
        "mall_order_id": str(BASE_ID + n),
        "status": "settled",
        "tracking_number": f"SK{n:09d}",
        "tracking_url": f"https://tracking.example/SK{n:09d}",
    }


async def _sample(pids: dict[str, int], samples: dict[str, list[tuple[float, int]]], stop: asyncio.Event) -> None:
    started = time.monotonic()
    while not stop.is_set():
        for name, pid in pids.items():
            rss = rss_kib(pid)
            if rss is not None:
                samples[name].append((time.monotonic() - started, rss))
        await asyncio.sleep(1.0)


def _flatness(series: list[tuple[float, int]], window_s: float) -> dict[str, float]:
    end = series[-1][0]
    first = [rss for t, rss in series if t <= window_s]
    middle = [rss for t, rss in series if abs(t - end / 2) <= window_s / 2]
    last = [rss for t, rss in series if t >= end - window_s]
    return {
        "first_window_mib": statistics.mean(first) / 1024,
        # growth that goes on in the second half is growth with the orders, not a bounded cache filling
        "middle_window_mib": statistics.mean(middle) / 1024,
        "last_window_mib": statistics.mean(last) / 1024,
        "max_mib": max(rss for _, rss in series) / 1024,
    }


async def run(bootstrap: str) -> dict[str, Any]:
    n = RATE * SOAK_S
    orders = [c for c in (change(k) for k in range(n)) if c["status"] == "in_process"]
    ids = [c["mall_order_id"] for c in orders]
    window = min(60.0, SOAK_S / 5)
    prefix = f"bench-soak-{uuid.uuid4().hex[:8]}."
    with tempfile.TemporaryDirectory(prefix="mallbridge-soak-") as tmp, processes(bench_env()) as procs:
        sandbox = await Sandbox(procs, Path(tmp)).start()
        try:
            await sandbox.create_orders(ids)
            common = service_args(bootstrap, sandbox.tenants, prefix)
            ingest_port, pub_port = free_port(), free_port()
            ingest_proc = procs.start("ingest", *common, "--port", str(ingest_port), "--no-poll")
            pub_proc = procs.start(
                "publisher", *common, "--http-port", str(pub_port), "--group", f"bench-{uuid.uuid4().hex[:8]}"
            )
            ingest = f"http://127.0.0.1:{ingest_port}"
            await wait_http(f"{ingest}/readyz")
            await wait_http(f"http://127.0.0.1:{pub_port}/readyz")
            watch = PutWatch(sandbox, ids, await sandbox.last_seq())
            samples: dict[str, list[tuple[float, int]]] = {"ingest": [], "publisher": []}
            stop = asyncio.Event()
            sampler = asyncio.create_task(
                _sample({"ingest": ingest_proc.pid, "publisher": pub_proc.pid}, samples, stop)
            )
            codes: dict[str, int] = {}
            async with httpx.AsyncClient(base_url=ingest, timeout=httpx.Timeout(30.0, pool=None)) as client:

                async def push(k: int) -> None:
                    body, headers = signed([change(k)])
                    try:
                        r = await client.post(f"/v1/tenants/{TENANT}/orders", content=body, headers=headers)
                        code = str(r.status_code)
                    except httpx.TransportError as exc:
                        code = type(exc).__name__
                    codes[code] = codes.get(code, 0) + 1

                started = time.perf_counter()
                held = await paced(RATE, n, push, in_flight=IN_FLIGHT)
                wall = time.perf_counter() - started
            stop.set()
            await sampler
            await watch.wait_all(timeout_s=120)
            shipped = len(await sandbox.requests_since(0))
        finally:
            await sandbox.close()
    figures = {name: _flatness(series, window) for name, series in samples.items()}
    goals = [
        goal(
            f"soak {SOAK_S} s at {RATE}/s: {name} RSS, last vs first {window:.0f} s",
            f["last_window_mib"],
            f["first_window_mib"],
            at_most=1.10,
            unit="MiB",
        )
        for name, f in figures.items()
    ]
    return {
        "goals": goals,
        "soak_s": SOAK_S,
        "changes": n,
        "achieved_rate_per_s": round(n / wall, 1),
        "held_back": held,
        "push_status_codes": codes,
        "orders": len(ids),
        "orders_put_at_mall": len(watch.received),
        "puts_in_all": shipped,
        "puts_expected": n,
        "rss": {name: {k: round(v, 1) for k, v in f.items()} for name, f in figures.items()},
        "growth_kib_per_1000_orders": {
            name: round((f["last_window_mib"] - f["first_window_mib"]) * 1024 / (len(ids) / 1000), 1)
            for name, f in figures.items()
        },
        "second_half_growth_kib_per_1000_orders": {
            name: round((f["last_window_mib"] - f["middle_window_mib"]) * 1024 / (len(ids) / 2000), 1)
            for name, f in figures.items()
        },
    }
