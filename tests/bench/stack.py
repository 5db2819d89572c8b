"""The stack the publisher benches run: real `mallbridge` processes on 127.0.0.1, and the sandbox's admin API.

`Processes` starts `mallbridge sandbox|ingest|publisher` as their own processes (BENCH_LOG_DIR=path keeps
each one's stderr there, to look into a stall afterwards) and stops every one it started. `Sandbox`
wraps the admin calls the benches need: bulk orders, the request log read incrementally, latency.
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
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from mallbridge_ingest.adapters.signature import sign
from tests.support.procs import MALLBRIDGE

CID, SECRET, TENANT = "bench-client-id-not-real", "bench-ingest-secret", "bench"
IN_FLIGHT = 64
"""Requests the load generator has in flight at most (httpx's pool gets slow with thousands queued); a
request due while that many are out waits (counted as `held_back`: the figures then flatter)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ts(text: str) -> float:
    """A sandbox request-log time (ISO 8601, aware) as a Unix timestamp."""
    return datetime.fromisoformat(text).timestamp()


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)] if ordered else float("nan")


def p50(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def paced(rate: float, n: int, start: Any, *, in_flight: int | None = None) -> int:
    """`start(i)` for i in 0..n-1 as tasks, the i-th due at i/`rate` s; at most `in_flight` running."""
    began = time.perf_counter()
    held_back: list[int] = []
    slots = asyncio.Semaphore(in_flight or n)

    async def one(i: int) -> None:
        if slots.locked():
            held_back.append(i)
        async with slots:
            await start(i)

    tasks = []
    for i in range(n):
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return len(held_back)


def rss_kib(pid: int) -> int | None:
    """The resident set of a process (VmRSS), or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Processes:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log_dir = os.environ.get("BENCH_LOG_DIR")
        stderr: Any = subprocess.DEVNULL
        if log_dir:
            Path(log_dir).mkdir(parents=True, exist_ok=True)
            stderr = (Path(log_dir) / f"{args[0]}-{len(self.procs)}-{int(time.time())}.log").open("wb")
        proc = subprocess.Popen(
            [str(MALLBRIDGE), *args], env={**self.env, **(env or {})}, stdout=subprocess.DEVNULL, stderr=stderr
        )
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
                proc.wait(timeout=10)
        self.procs.clear()


@contextlib.contextmanager
def processes(env: dict[str, str]) -> Iterator[Processes]:
    p = Processes(env)
    try:
        yield p
    finally:
        p.stop_all()


async def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} not ready in {timeout} s")


class Sandbox:
    """`mallbridge sandbox` with one partner (the bench tenant), and the admin calls the benches use."""

    def __init__(self, procs: Processes, tmp: Path) -> None:
        partners = tmp / "partners.toml"
        partners.write_text(f'[partners.{TENANT}]\nclient_id = "{CID}"\nquota = 100000000\n')
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = procs.start(
            "sandbox", "--port", str(self.port), "--partners", str(partners), "--log-level", "warning"
        )
        self.tenants = tmp / "tenants.toml"
        self.tenants.write_text(
            f'[tenants.{TENANT}]\nmall_client_id = "env:BENCH_CID"\ningest_secret = "env:BENCH_SECRET"\n'
            f'mall_base_url = "{self.url}/v1"\n'
        )
        self._client = httpx.AsyncClient(base_url=self.url, timeout=120)

    async def start(self) -> Sandbox:
        await wait_http(f"{self.url}/healthz")
        return self

    async def close(self) -> None:
        await self._client.aclose()

    async def create_orders(self, ids: Sequence[str], **fields: Any) -> None:
        for i in range(0, len(ids), 20_000):
            body = {"orders": [{"partner": TENANT, "id": mall_id, **fields} for mall_id in ids[i : i + 20_000]]}
            (await self._client.post("/sandbox/orders/bulk", json=body)).raise_for_status()

    async def set_latency(self, ms: int) -> None:
        (await self._client.put("/sandbox/latency", json={"latency_ms": ms})).raise_for_status()

    async def last_seq(self) -> int:
        """The seq of the newest request in the log (0 when empty): read requests after it with `since`."""
        r = await self._client.get("/sandbox/requests")
        r.raise_for_status()
        return max((int(e["seq"]) for e in r.json()["requests"]), default=0)

    async def requests_since(self, since: int, method: str = "PUT") -> list[dict[str, Any]]:
        r = await self._client.get("/sandbox/requests", params={"method": method, "since": since})
        r.raise_for_status()
        return list(r.json()["requests"])


class PutWatch:
    """The first PUT the sandbox received for each of a set of orders, read incrementally from its log."""

    def __init__(self, sandbox: Sandbox, ids: Sequence[str], since: int) -> None:
        self._sandbox = sandbox
        self._wanted = set(ids)
        self._since = since
        self.received: dict[str, float] = {}
        self.statuses: dict[int, int] = {}

    async def poll(self) -> int:
        entries = await self._sandbox.requests_since(self._since)
        for e in entries:
            self._since = max(self._since, int(e["seq"]))
            if e["order_id"] in self._wanted and e["order_id"] not in self.received:
                self.received[e["order_id"]] = ts(e["time"])
                self.statuses[e["status"]] = self.statuses.get(e["status"], 0) + 1
        return len(self.received)

    async def wait_all(self, timeout_s: float, interval_s: float = 1.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if await self.poll() >= len(self._wanted):
                return True
            await asyncio.sleep(interval_s)
        return await self.poll() >= len(self._wanted)


def bench_env() -> dict[str, str]:
    return {**os.environ, "BENCH_CID": CID, "BENCH_SECRET": SECRET}


def service_args(bootstrap: str, tenants: Path, prefix: str) -> list[str]:
    return ["--kafka", bootstrap, "--tenants", str(tenants), "--topic-prefix", prefix, "--log-level", "WARNING"]


def signed(orders: list[dict[str, Any]]) -> tuple[bytes, dict[str, str]]:
    """A push body of `orders` and its headers, signed with the bench tenant's ingest secret."""
    body = json.dumps({"orders": orders}).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Mallbridge-Timestamp": stamp,
        "X-Mallbridge-Signature": sign(SECRET, stamp, body),
    }
    return body, headers
