"""Append and replay throughput of the embedded log (SQLite) next to Kafka's, same records, same run.

Both engines go through the port (`open_event_log`), as the services use them: the same 200,000
records of ~400 bytes (JSON with an event id, keys spread over 5,000 orders), appended in calls of
1,000 records (one durable write per call: an fsync for SQLite, acks=all for Kafka), then replayed from
offset 0. Also the latency of a one-record append, which is what a single ingest push costs.
Each phase has a time budget so the whole bench stays under a minute; a phase cut short reports the
records it did, and its rate stays valid.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from mallbridge_core.eventlog import EventLog, OutgoingRecord, open_event_log

RECORDS = 200_000
BATCH = 1_000
SINGLE_APPENDS = 200
PHASE_BUDGET_S = 12.0


def make_records(n: int) -> list[OutgoingRecord]:
    records: list[OutgoingRecord] = []
    for i in range(n):
        order = f"ORD-{i % 5000:05d}"
        value = {
            "schema_version": 1,
            "type": "OrderStatusChanged",
            "event_id": str(uuid.UUID(int=i + 1)),
            "tenant_id": "acme",
            "order_number": order,
            "mall_order_id": f"{100000000 + i % 5000}",
            "occurred_at": "2026-11-20T09:00:00+01:00",
            "recorded_at": "2026-11-20T09:00:01.123456+01:00",
            "seq": i // 5000 + 2,
            "from_status": "pending",
            "to_status": "in_process",
            "status_label": "Vyřizuje se",
        }
        raw = json.dumps(value, ensure_ascii=False)
        raw = raw[:-1] + ', "note": "' + "x" * max(0, 400 - len(raw.encode()) - 12) + '"}'
        records.append(OutgoingRecord(key=f"acme:{order}".encode(), value=raw.encode()))
    return records


async def _measure(log: EventLog, topic: str, records: list[OutgoingRecord]) -> dict[str, Any]:
    await log.start()
    try:
        await log.ensure_topics([topic, f"{topic}.single"])
        # Warm up connections (producer, metadata) outside the timed part.
        await log.append(f"{topic}.single", records[:1])

        appended = 0
        started = time.perf_counter()
        for i in range(0, len(records), BATCH):
            await log.append(topic, records[i : i + BATCH])
            appended += len(records[i : i + BATCH])
            if time.perf_counter() - started > PHASE_BUDGET_S:
                break
        append_s = time.perf_counter() - started

        replayed = 0
        started = time.perf_counter()
        async for batch in log.replay(topic):
            replayed += len(batch)
            if time.perf_counter() - started > PHASE_BUDGET_S:
                break
        replay_s = time.perf_counter() - started

        latencies: list[float] = []
        for record in records[:SINGLE_APPENDS]:
            t0 = time.perf_counter()
            await log.append(f"{topic}.single", [record])
            latencies.append((time.perf_counter() - t0) * 1000)
        latencies.sort()
    finally:
        await log.close()
    return {
        "appended": appended,
        "append_records_per_s": round(appended / append_s),
        "append_mb_per_s": round(sum(len(r.value) for r in records[:appended]) / append_s / 1e6, 1),
        "replayed": replayed,
        "replay_records_per_s": round(replayed / replay_s),
        "single_append_ms_p50": round(statistics.median(latencies), 2),
        "single_append_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1], 2),
    }


def fsync_ms(directory: str, rounds: int = 200) -> float:
    """What one 4 KiB write + fsync costs on this disk: the floor of a durable SQLite append."""
    path = Path(directory) / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(rounds):
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
        return round((time.perf_counter() - started) / rounds * 1000, 3)
    finally:
        os.close(fd)
        path.unlink()


async def run(bootstrap: str, tmpdir: str) -> dict[str, Any]:
    records = make_records(RECORDS)
    topic = f"bench-{uuid.uuid4().hex[:8]}.order-events.v1"
    db = Path(tmpdir) / "events.db"

    sqlite = await _measure(open_event_log(f"sqlite://{db}"), topic, records)
    sqlite["file_bytes_per_record"] = round(
        sum(p.stat().st_size for p in db.parent.glob(f"{db.name}*")) / (sqlite["appended"] + SINGLE_APPENDS + 1)
    )
    kafka = await _measure(open_event_log(f"kafka://{bootstrap}"), topic, records)

    return {
        "records": RECORDS,
        "value_bytes": round(statistics.mean(len(r.value) for r in records)),
        "records_per_append": BATCH,
        "fsync_ms_on_this_disk": fsync_ms(tmpdir),
        "sqlite": sqlite,
        "kafka": kafka,
        "sqlite_vs_kafka": {
            "append": round(sqlite["append_records_per_s"] / kafka["append_records_per_s"], 2),
            "replay": round(sqlite["replay_records_per_s"] / kafka["replay_records_per_s"], 2),
        },
        "notes": "sqlite: WAL, synchronous=FULL (one fsync per append call); kafka: 6 partitions, "
        "idempotent producer acks=all, replay read_committed; both through the event-log port",
    }
