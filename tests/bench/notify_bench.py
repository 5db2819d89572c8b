"""The notifier: alert latency at a steady attention rate, and its read rate against raw aiokafka.

`mallbridge notify` runs as its own process on 127.0.0.1, with a webhook receiver (uvicorn) in this
process standing in for each tenant's Slack webhook.

1. Alert latency: AttentionNeeded events for `TENANTS` tenants at a steady `RATE`/s for `DURATION_S`
   seconds, each appended through the event-log port; latency = the receiver's arrival time of the alert
   − the moment the append began (so it includes the write). Reported p50/p99/max and the rate achieved.
2. Events/s: `READ_N` sync events that call for no alert (MallStatusUpdated), then one marker
   AttentionNeeded, already in a fresh topic; the notifier's rate from its first record read (its
   `/metrics`) to the marker's alert at the receiver. Raw baseline in the same run: a bare aiokafka
   consumer in a group reading the same topic from offset 0 in batches of 500, touching each value and
   committing after each batch (the Kafka work the notifier's `AckPolicy.ACK` does), no decoding.
The 2 cores are shared by the broker, the notifier, the receiver and the load generator.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import statistics
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer  # the bench's raw baseline only; services never import aiokafka

from mallbridge_core.eventlog import EventLog, OutgoingRecord, open_event_log
from mallbridge_core.topics import Topics
from mallbridge_schema.events import AttentionNeeded, MallStatusUpdated
from mallbridge_schema.serde import encode_event, event_key
from mallbridge_schema.statuses import MallStatus
from tests.integration.notify.receivers import WebhookReceiver, free_port
from tests.support.procs import MALLBRIDGE

RATE = 100
DURATION_S = 20
TENANTS = 4
READ_N = int(os.environ.get("MALLBRIDGE_BENCH_NOTIFY_EVENTS", "100000"))
PARTITIONS = 6


def _envelope(tenant: str, order: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "event_id": uuid.uuid4(),
        "tenant_id": tenant,
        "order_number": order,
        "mall_order_id": "10085339302",
        "occurred_at": now,
        "recorded_at": now,
    }


def _attention(tenant: str, order: str) -> AttentionNeeded:
    return AttentionNeeded(**_envelope(tenant, order), code="cancelled_at_mall", reason="MALL shows it cancelled")


def _record(event: AttentionNeeded | MallStatusUpdated) -> OutgoingRecord:
    return OutgoingRecord(event_key(event.tenant_id, event.order_number), encode_event(event))


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def _notifier(
    bootstrap: str, prefix: str, receiver: WebhookReceiver, tmpdir: str
) -> AsyncIterator[tuple[int, int]]:
    names = [f"t{i}" for i in range(TENANTS)]
    tenants = Path(tmpdir) / f"tenants-{prefix}toml"
    tenants.write_text("".join(f'[tenants.{t}]\nnotify_webhook_url = "env:{t.upper()}_URL"\n' for t in names))
    env = {**os.environ, **{f"{t.upper()}_URL": receiver.url(t) for t in names}}
    port = free_port()
    args = ["notify", "--kafka", bootstrap, "--tenants", str(tenants), "--topic-prefix", prefix]
    args += ["--http-port", str(port), "--group", f"bench-{uuid.uuid4().hex[:6]}", "--log-level", "WARNING"]
    proc = subprocess.Popen([str(MALLBRIDGE), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await _wait_ready(port, proc)
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"mallbridge notify exited with {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://127.0.0.1:{port}/readyz", timeout=2)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError("mallbridge notify not ready")


def _arrivals(receiver: WebhookReceiver) -> dict[str, float]:
    """Order number -> when its alert arrived."""
    found: dict[str, float] = {}
    for hook in receiver.hooks.values():
        for request in hook.accepted:
            order = request.body["text"].split("order ", 1)[1].split(" ", 1)[0]
            found.setdefault(order, request.at)
    return found


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _latency(bootstrap: str, receiver: WebhookReceiver, tmpdir: str, log: EventLog) -> dict[str, Any]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    await log.ensure_topics([Topics(prefix=prefix).sync_events])
    topic = Topics(prefix=prefix).sync_events
    written: dict[str, float] = {}
    async with _notifier(bootstrap, prefix, receiver, tmpdir) as (_, pid):
        cpu_before = _cpu_s(pid)
        n = RATE * DURATION_S
        started = time.perf_counter()
        for i in range(n):
            await asyncio.sleep(max(0.0, started + i / RATE - time.perf_counter()))
            order = f"L-{i}"
            written[order] = time.time()
            await log.append(topic, [_record(_attention(f"t{i % TENANTS}", order))])
        achieved = n / (time.perf_counter() - started)
        deadline = time.monotonic() + 60
        while len(set(written) & set(_arrivals(receiver))) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        cpu_ms_per_alert = (_cpu_s(pid) - cpu_before) * 1000 / n
    arrivals = _arrivals(receiver)
    latencies = [arrivals[o] - written[o] for o in written if o in arrivals]
    return {
        "items": n,
        "delivered": len(latencies),
        "rate_achieved_per_s": round(achieved, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "notifier_cpu_ms_per_alert": round(cpu_ms_per_alert, 2),
        "load_average_1m": round(os.getloadavg()[0], 1),  # what else wanted the 2 cores meanwhile
    }


async def _fill(log: EventLog, topic: str) -> None:
    for start in range(0, READ_N, 10_000):
        batch = []
        for i in range(start, min(READ_N, start + 10_000)):
            event = MallStatusUpdated(
                **_envelope(f"t{i % TENANTS}", f"R-{i % 5000}"),
                request_no=1,
                status=MallStatus.SHIPPED,
                request={"status": "shipped"},
                http_status=200,
                latency_ms=3.0,
            )
            batch.append(_record(event))
        await log.append(topic, batch)
    await log.append(topic, [_record(_attention("t0", "MARKER"))])


async def _raw_read(bootstrap: str, topic: str, total: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen, size, first = 0, 0, 0.0
        while seen < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            for records in batches.values():
                first = first or time.perf_counter()
                for record in records:
                    size += len(record.value or b"")
                seen += len(records)
            if batches:
                await consumer.commit()
        return (total - 1) / (time.perf_counter() - first)  # the first record starts the clock
    finally:
        await consumer.stop()


async def _events_read(port: int) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics", timeout=2)).text
    return sum(float(v) for v in re.findall(r"^mallbridge_notify_events_read_total\{[^}]*\} ([0-9.e+]+)$", text, re.M))


async def _throughput(bootstrap: str, receiver: WebhookReceiver, tmpdir: str, log: EventLog) -> dict[str, Any]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    topic = Topics(prefix=prefix).sync_events
    await log.ensure_topics([topic])
    await _fill(log, topic)
    total = READ_N + 1
    raw = await _raw_read(bootstrap, topic, total)
    async with _notifier(bootstrap, prefix, receiver, tmpdir) as (port, _):
        first_at, first_count = 0.0, 0.0
        deadline = time.monotonic() + 300
        while "MARKER" not in _arrivals(receiver) and time.monotonic() < deadline:
            if not first_at:
                count = await _events_read(port)
                if count > 0:
                    first_at, first_count = time.time(), count
            await asyncio.sleep(0.02)
        done_at = _arrivals(receiver).get("MARKER")
    if not first_at or done_at is None:
        raise RuntimeError("the notifier did not read the topic through")
    notify = (total - first_count) / (done_at - first_at)  # from its first batch read to the marker's alert
    return {
        "events": total,
        "notify_events_per_s": round(notify),
        "raw_aiokafka_events_per_s": round(raw),
        "ratio_to_raw": round(notify / raw, 3),
    }


async def run(bootstrap: str, tmpdir: str) -> dict[str, Any]:
    log = open_event_log(f"kafka://{bootstrap}", partitions=PARTITIONS)
    await log.start()
    try:
        async with WebhookReceiver().running() as receiver:
            latency = await _latency(bootstrap, receiver, tmpdir, log)
        async with WebhookReceiver().running() as receiver:
            throughput = await _throughput(bootstrap, receiver, tmpdir, log)
    finally:
        await log.close()
    return {"alert_latency": latency, "read_rate": throughput}
