"""A real publisher process killed with SIGKILL mid-stream, then restarted: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.conftest import free_port
from tests.integration.publisher.conftest import PARTNERS, Harness
from tests.support.eventually import eventually

MALLBRIDGE = Path(sys.executable).parent / "mallbridge"
N = 1000
TRACK = ("K-1", "https://tracking.example/K-1")


def _start(h: Harness, tenants_file: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(MALLBRIDGE),
            "publisher",
            "--log",
            h.log_url,
            "--tenants",
            str(tenants_file),
            "--topic-prefix",
            h.prefix,
            "--http-port",
            str(free_port()),
            "--log-level",
            "WARNING",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # a pipe nobody reads fills up and stays open (ResourceWarning)
    )


async def test_publisher_killed_mid_stream_converges_without_sending_twice(harness: Harness, tmp_path: Path) -> None:
    h = harness
    ids = [str(10085350000 + i) for i in range(N)]
    h.create_orders("acme", ids)
    tenants_file = tmp_path / "tenants.toml"
    tenants_file.write_text(
        f'[tenants.acme]\nmall_client_id = "env:ACME_CID"\nmall_base_url = "{h.sandbox.base_url}"\n'
    )
    # A PUT the kill cut is read once it may have settled at MALL (the read timeout and a margin after it
    # went out): a 2 s read timeout keeps that wait short (the sandbox answers at once).
    env = {**os.environ, "ACME_CID": PARTNERS["acme"], "MALLBRIDGE_PUBLISHER_READ_TIMEOUT_S": "2"}
    w = h.writer
    events = []
    for i, mid in enumerate(ids):
        events.append(w.first_seen("acme", f"K-{i}", mid, "in_process"))
        events.append(w.tracking("acme", f"K-{i}", mid, *TRACK))
        events.append(w.status("acme", f"K-{i}", mid, "settled"))
    for chunk in range(0, len(events), 500):
        await w.write(*events[chunk : chunk + 500])
    first = _start(h, tenants_file, env)
    try:
        await eventually(lambda: len(h.puts()) >= 300, timeout=120, interval=0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    killed_at = len(h.puts())
    assert killed_at < N, "the kill came too late to test anything"
    second = _start(h, tenants_file, env)
    try:
        await eventually(lambda: all(o["status"] == "shipped" for o in _orders(h)), timeout=240, interval=0.5)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=30)
        except subprocess.TimeoutExpired:
            second.kill()
    puts = h.puts()
    # A SIGKILL can cut a request after its headers: MALL then receives a PUT with no body, which it
    # refuses. That request never carried a status, so it is neither illegal nor a repeat; every
    # complete request must have been accepted.
    refused = [r for r in puts if r["body"] is not None and r["status"] is not None and r["status"] >= 400]
    assert refused == [], refused[:5]  # no illegal transition and no repeated status reached MALL
    complete = [r for r in puts if r["body"] is not None]
    assert sum(1 for r in puts if r["body"] is None) <= 8  # only the few requests cut by the kill
    sent = Counter((r["order_id"], r["body"]["status"]) for r in complete)
    assert [k for k, n in sent.items() if n > 1] == []
    assert len(sent) == N  # open → shipped directly, one PUT per order
    await asyncio.sleep(0)


def _orders(h: Harness) -> list[dict[str, object]]:
    with h.admin() as admin:
        return list(admin.get("/sandbox/orders", params={"partner": "acme"}).json()["orders"])
