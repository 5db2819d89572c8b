"""The event-log port's contract (port.py), one suite run against both engines (issue 8, "Must show").

Every test takes `event_log_url` / `event_log` (conftest.py), parametrized over Kafka and SQLite.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from mallbridge_core.eventlog import EventLog, LogRecord, LogUnavailableError, OutgoingRecord, open_event_log
from mallbridge_core.eventlog.kafka import KafkaEventLog
from tests.conftest import ROOT, free_port
from tests.support.eventually import eventually


async def _replay_all(log: EventLog, topic: str, **kwargs: Any) -> list[LogRecord]:
    out: list[LogRecord] = []
    async for batch in log.replay(topic, **kwargs):
        out.extend(batch)
    return out


def _per_key_sequences(records: list[LogRecord]) -> dict[str, list[int]]:
    """Per key, the `seq` field of its values in log order (offset order within the key's partition)."""
    by_key: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for r in records:
        assert r.key is not None
        by_key[r.key.decode()].append((r.partition, r.offset, json.loads(r.value)["seq"]))
    out: dict[str, list[int]] = {}
    for key, entries in by_key.items():
        assert len({p for p, _, _ in entries}) == 1, f"key {key} spread over partitions"
        out[key] = [seq for _, _, seq in sorted(entries)]
    return out


def _records(keys: list[str], rounds: int) -> list[OutgoingRecord]:
    return [
        OutgoingRecord(
            key=key.encode(),
            value=json.dumps({"event_id": str(uuid.uuid4()), "key": key, "seq": seq}).encode(),
        )
        for seq in range(rounds)
        for key in keys
    ]


def _offsets_are_gap_free(records: list[LogRecord], ends: Mapping[int, int]) -> None:
    per_partition: dict[int, list[int]] = defaultdict(list)
    for r in records:
        per_partition[r.partition].append(r.offset)
    for partition, offsets in per_partition.items():
        assert offsets == list(range(ends[partition])), f"partition {partition}: offsets not 0..end-1 in order"


async def test_order_per_key_is_kept(event_log: EventLog, topic_prefix: str) -> None:
    topic = f"{topic_prefix}order-events.v1"
    await event_log.ensure_topics([topic])
    keys = [f"acme:{n}" for n in range(12)]
    records = _records(keys, 20)
    # Several appends of different sizes, keys interleaved within each.
    for chunk_start in range(0, len(records), 37):
        await event_log.append(topic, records[chunk_start : chunk_start + 37])

    replayed = await _replay_all(event_log, topic)
    assert len(replayed) == len(records)
    assert _per_key_sequences(replayed) == {key: list(range(20)) for key in keys}


async def test_append_then_replay_yields_every_record_once_in_order_with_end_offsets(
    event_log: EventLog, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}sync-events.v1"
    await event_log.ensure_topics([topic])
    before = await event_log.end_offsets(topic)
    assert before, "ensure_topics must make the topic known"
    assert set(before.values()) == {0}
    assert await _replay_all(event_log, topic) == []  # an empty topic replays to nothing, without waiting

    records = _records([f"t:{n}" for n in range(5)], 40)
    records[3] = OutgoingRecord(key=records[3].key, value=records[3].value, headers=(("origin", b"\x00\xffraw"),))
    await event_log.append(topic, records[:100])
    await event_log.append(topic, records[100:])

    ends = await event_log.end_offsets(topic)
    assert sum(ends.values()) == len(records)
    replayed = await _replay_all(event_log, topic)
    assert sorted(r.value for r in replayed) == sorted(r.value for r in records)  # each exactly once
    assert len({r.value for r in replayed}) == len(records)
    _offsets_are_gap_free(replayed, ends)
    sent_order = {r.value: i for i, r in enumerate(records)}
    for partition in ends:
        in_partition = [sent_order[r.value] for r in replayed if r.partition == partition]
        assert in_partition == sorted(in_partition), "a partition does not hold records in append order"
    with_header = next(r for r in replayed if r.value == records[3].value)
    assert with_header.headers == (("origin", b"\x00\xffraw"),)
    assert all(r.topic == topic and r.timestamp_ms > 0 for r in replayed)

    # Bounded: a replay stops at the end offsets taken when it starts (or at `stop`), never later data.
    replay = event_log.replay(topic, stop=ends)
    first = await anext(replay)
    await event_log.append(topic, _records(["late:1"], 3))
    rest = [r async for batch in replay for r in batch]
    assert {r.value for r in first + rest} == {r.value for r in records}

    # From given start offsets: exactly the records at or after them.
    start = {p: e // 2 for p, e in ends.items()}
    tail = await _replay_all(event_log, topic, start=start, stop=ends)
    assert len(tail) == sum(e - e // 2 for e in ends.values())
    assert all(r.offset >= start[r.partition] for r in tail)


async def test_replay_from_zero_yields_every_event_once_in_order_whatever_a_group_committed(
    event_log: EventLog, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}order-events.v1"
    await event_log.ensure_topics([topic])
    records = _records([f"acme:{n}" for n in range(8)], 25)
    await event_log.append(topic, records)

    # A group reads part of the topic and commits: replay must not care.
    async def on_assigned(parts: frozenset[int]) -> Mapping[int, int]:
        return {}

    async def on_revoked(parts: frozenset[int]) -> None:
        return None

    sub = await event_log.subscribe(topic, group=f"{topic_prefix}g", on_assigned=on_assigned, on_revoked=on_revoked)
    try:
        seen: list[LogRecord] = []

        async def fifty_seen() -> bool:
            seen.extend(await sub.poll(timeout_s=0.5, max_records=50))
            return len(seen) >= 50

        await eventually(fifty_seen, what="50 records from the subscription")
        positions: dict[int, int] = {}
        for r in seen:
            positions[r.partition] = r.offset + 1
        await sub.commit(positions)
    finally:
        await sub.close()

    replayed = await _replay_all(event_log, topic, start={p: 0 for p in await event_log.end_offsets(topic)})
    event_ids = [json.loads(r.value)["event_id"] for r in replayed]
    assert sorted(event_ids) == sorted(json.loads(r.value)["event_id"] for r in records)
    assert len(set(event_ids)) == len(records)
    _offsets_are_gap_free(replayed, await event_log.end_offsets(topic))
    assert _per_key_sequences(replayed) == {f"acme:{n}": list(range(25)) for n in range(8)}


async def test_subscription_starts_where_on_assigned_says(event_log: EventLog, topic_prefix: str) -> None:
    topic = f"{topic_prefix}order-events.v1"
    await event_log.ensure_topics([topic])
    await event_log.append(topic, _records([f"k{n}" for n in range(6)], 10))
    ends = await event_log.end_offsets(topic)
    start_at = {p: e // 2 for p, e in ends.items()}
    assigned: list[frozenset[int]] = []

    async def on_assigned(parts: frozenset[int]) -> Mapping[int, int]:
        assigned.append(parts)
        return {p: start_at[p] for p in parts}

    async def on_revoked(parts: frozenset[int]) -> None:
        return None

    sub = await event_log.subscribe(topic, group=f"{topic_prefix}g", on_assigned=on_assigned, on_revoked=on_revoked)
    try:
        got: list[LogRecord] = []
        expected = sum(e - start_at[p] for p, e in ends.items())

        async def all_got() -> None:
            got.extend(await sub.poll(timeout_s=0.5))
            assert len(got) >= expected, f"got {len(got)} of {expected}"

        await eventually(all_got)
        # Nothing before the start positions comes later: markers on every partition, appended now, are the
        # only records that follow (the subscription has read past where stray ones would be).
        markers = [OutgoingRecord(key=f"marker-{n}".encode(), value=b"marker") for n in range(48)]
        await event_log.append(topic, markers)
        assert all(e > ends[p] for p, e in (await event_log.end_offsets(topic)).items())
        after: list[LogRecord] = []

        async def all_markers() -> None:
            after.extend(await sub.poll(timeout_s=0.5))
            assert len(after) >= len(markers), f"got {len(after)} of {len(markers)} markers"

        await eventually(all_markers)
        assert [r.value for r in after] == [b"marker"] * len(markers)
        assert set().union(*assigned) == set(ends) == set(sub.assignment())
        first: dict[int, int] = {}
        for r in got:
            first.setdefault(r.partition, r.offset)
        assert first == {p: o for p, o in start_at.items() if o < ends[p]}
    finally:
        await sub.close()


def _read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    """`python -m ARGS` from the project root (so `tests.…` modules import)."""
    return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.slow
async def test_reader_killed_with_sigkill_resumes_exactly_after_its_last_commit(
    event_log: EventLog, event_log_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    topic = f"{topic_prefix}order-events.v1"
    group = f"{topic_prefix}publisher"
    await event_log.ensure_topics([topic])
    n = 120
    await event_log.append(topic, [OutgoingRecord(key=f"k{i % 9}".encode(), value=f"v{i}".encode()) for i in range(n)])
    child = "tests.integration.eventlog._reader_child"

    # 1. A real process reads, processes 25 records, commits after 10 and 20, and is killed mid-batch.
    first_out = tmp_path / "first.jsonl"
    first = _spawn(child, event_log_url, topic, group, str(first_out), "crash", "25")
    try:

        def ready() -> bool:
            if first.poll() is not None:
                raise RuntimeError("the first reader exited on its own")
            return any(line["event"] == "ready" for line in _read_lines(first_out))

        await eventually(ready, timeout=60, what="the first reader at 25 records")
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.kill()
        first.wait()  # reaped: the process is really gone
    assert first.returncode == -signal.SIGKILL

    lines = _read_lines(first_out)
    processed_first = [(line["p"], line["o"], line["v"]) for line in lines if line["event"] == "processed"]
    commits = [line["offsets"] for line in lines if line["event"] == "committed"]
    assert len(processed_first) == 25
    assert len(commits) == 2
    committed = {int(p): o for p, o in commits[-1].items()}
    done_first = {v for p, o, v in processed_first if o < committed.get(p, 0)}
    uncommitted_first = {v for p, o, v in processed_first if o >= committed.get(p, 0)}
    assert len(done_first) == 20
    assert len(uncommitted_first) == 5

    # 2. A new process of the same group resumes exactly at the first uncommitted record and finishes.
    ends = await event_log.end_offsets(topic)
    expected = sum(end - committed.get(p, 0) for p, end in ends.items())
    assert expected == n - 20
    second_out = tmp_path / "second.jsonl"
    second = _spawn(child, event_log_url, topic, group, str(second_out), "finish", str(expected))
    try:
        returncode = await asyncio.to_thread(second.wait, 90)
    finally:
        second.kill()
        second.wait()
    lines = _read_lines(second_out)
    assert returncode == 0, f"second reader failed; its last lines: {lines[-5:]}"
    processed_second = [(line["p"], line["o"], line["v"]) for line in lines if line["event"] == "processed"]

    first_offset: dict[int, int] = {}
    for p, o, _ in processed_second:
        first_offset.setdefault(p, o)
    assert first_offset == {p: committed.get(p, 0) for p, end in ends.items() if committed.get(p, 0) < end}
    values_second = [v for _, _, v in processed_second]
    assert len(values_second) == len(set(values_second)) == expected, "a record was delivered twice"
    assert not done_first & set(values_second), "a committed record was delivered again"
    assert uncommitted_first <= set(values_second), "processed-but-uncommitted work must come again"
    assert done_first | set(values_second) == {f"v{i}" for i in range(n)}, "a record was skipped"


@pytest.mark.slow
async def test_concurrent_appends_from_two_processes_lose_nothing(
    event_log: EventLog, event_log_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    topic = f"{topic_prefix}order-events.v1"
    await event_log.ensure_topics([topic])
    n = 800
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    writers = [
        _spawn("tests.integration.eventlog._writer_child", event_log_url, topic, name, str(n), str(barrier))
        for name in ("alpha", "beta")
    ]
    try:

        def both_ready() -> bool:
            if any(w.poll() is not None for w in writers):
                raise RuntimeError("a writer exited before it was ready")
            return all((barrier / f"ready-{name}").exists() for name in ("alpha", "beta"))

        await eventually(both_ready, timeout=60, interval=0.02, what="both writers connected")
        (barrier / "go").touch()  # both connected: they start appending together
        returncodes = [await asyncio.to_thread(w.wait, 120) for w in writers]
    finally:
        for w in writers:
            w.kill()
            w.wait()
    assert returncodes == [0, 0]

    ends = await event_log.end_offsets(topic)
    assert sum(ends.values()) == 2 * n
    replayed = await _replay_all(event_log, topic)
    assert len(replayed) == 2 * n
    _offsets_are_gap_free(replayed, ends)
    values = [json.loads(r.value) for r in replayed]
    assert len({(v["w"], v["i"]) for v in values}) == 2 * n, "a record was lost or written twice"
    sequences = _per_key_sequences(replayed)
    assert set(sequences) == {f"{w}:k{k}" for w in ("alpha", "beta") for k in range(4)}
    for key, seqs in sequences.items():
        assert seqs == list(range(n // 4)), f"{key} out of order"
    # The two writers really overlapped in time (otherwise this test proves little).
    spans = {
        w: (
            min(r.timestamp_ms for r, v in zip(replayed, values, strict=True) if v["w"] == w),
            max(r.timestamp_ms for r, v in zip(replayed, values, strict=True) if v["w"] == w),
        )
        for w in ("alpha", "beta")
    }
    assert spans["alpha"][0] < spans["beta"][1], f"no overlap: {spans}"
    assert spans["beta"][0] < spans["alpha"][1], f"no overlap: {spans}"


def _unreachable_log(event_log_url: str, tmp_path: Path) -> EventLog:
    if event_log_url.startswith("kafka://"):
        # Nothing listens on this port; short timeouts so the test is quick.
        return KafkaEventLog(f"127.0.0.1:{free_port()}", append_timeout_s=2.0, request_timeout_s=1.0)
    blocker = tmp_path / "a-file-not-a-directory"
    blocker.write_text("x")
    return open_event_log(f"sqlite://{blocker}/events.db")


async def test_append_raises_log_unavailable_when_the_log_is_unreachable(event_log_url: str, tmp_path: Path) -> None:
    log = _unreachable_log(event_log_url, tmp_path)
    try:
        started = time.monotonic()
        with pytest.raises(LogUnavailableError):
            await log.append("mallbridge.order-events.v1", [OutgoingRecord(key=b"k", value=b"v")])
        assert time.monotonic() - started < 10
        assert await log.ping() is False
    finally:
        await log.close()


async def test_looking_at_an_unknown_topic_never_creates_it_and_replay_never_waits(
    event_log: EventLog, event_log_url: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}sync-events.v1"
    assert await event_log.end_offsets(topic) == {}
    assert await _replay_all(event_log, topic) == []
    # Barrier: a topic created after those looks exists, so a creation they had set off would be done
    # too (a broker's controller creates topics in the order it is asked).
    await event_log.ensure_topics([f"{topic_prefix}marker"])
    assert await event_log.end_offsets(topic) == {}

    # Created only by ensure_topics, with the engine's partition count (not a broker default).
    await event_log.ensure_topics([topic])
    expected_partitions = 6 if event_log_url.startswith("kafka://") else 1
    assert sorted(await event_log.end_offsets(topic)) == list(range(expected_partitions))

    await event_log.append(topic, _records(["a", "b", "c"], 2))
    ends = await event_log.end_offsets(topic)
    beyond = {p: e + 10 for p, e in ends.items()}
    replayed = await asyncio.wait_for(_replay_all(event_log, topic, stop=beyond), timeout=15)
    assert len(replayed) == 6
