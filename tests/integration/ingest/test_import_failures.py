"""A parallel import that goes wrong half-way: the broker stops (the import ends ABORTED, exit 2, instead of
hanging, and a re-run once the broker is back completes it with every order written exactly once), or the
command is killed (its workers do not go on writing unsupervised)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from tests.conftest import LocalBroker
from tests.integration.ingest.support import order_topic, read_events

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ORDERS = 200_000  # long enough (several seconds) that the broker is stopped while the workers write
TENANTS = '[tenants.acme]\ningest_secret = "env:MALLBRIDGE_TEST_UNSET_SECRET_1"\n'


def _orders_file(path: Path) -> Path:
    with path.open("w") as out:
        for i in range(ORDERS):
            out.write(f'{{"order_number": "X-{i:07d}", "mall_order_id": "{10**12 + i}", "status": "pending"}}\n')
    return path


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _import(broker: LocalBroker, tmp_path: Path, prefix: str, file: Path) -> subprocess.Popen[str]:
    (tmp_path / "tenants.toml").write_text(TENANTS)
    command = [
        *(sys.executable, "-c", "from mallbridge_core.cli import main; main()"),
        *("ingest", "import", str(file), "--tenant", "acme", "--tenants", str(tmp_path / "tenants.toml")),
        *("--log", f"kafka://{broker.bootstrap}", "--topic-prefix", prefix, "--workers", "2", "--json"),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def _wait_for_records(bootstrap: str, topic: str, count: int, importing: subprocess.Popen[str]) -> None:
    """Until `topic` (6 partitions, the default) holds `count` records; the import must still be running."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(6)]
        deadline = time.monotonic() + 120
        while True:
            assert importing.poll() is None, importing.communicate()
            assert time.monotonic() < deadline, "the import wrote nothing"
            if topic in await consumer.topics():  # topics() also refreshes the metadata end_offsets needs
                with contextlib.suppress(KafkaError):
                    if sum((await consumer.end_offsets(partitions)).values()) >= count:
                        return
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()


async def test_broker_lost_mid_import_aborts_and_a_rerun_completes_exactly_once(
    private_broker: LocalBroker, tmp_path: Path, topic_prefix: str
) -> None:
    file = _orders_file(tmp_path / "orders.jsonl")
    topic = order_topic(topic_prefix)

    first = _import(private_broker, tmp_path, topic_prefix, file)
    await _wait_for_records(private_broker.bootstrap, topic, 2_000, first)
    await asyncio.to_thread(private_broker.stop)
    out, err = await asyncio.to_thread(first.communicate, timeout=120)
    assert first.returncode == 2, (out, err)
    report = json.loads(out)
    assert report["aborted"], report
    assert report["events"] < ORDERS

    await asyncio.to_thread(private_broker.start_keeping_data)
    second = _import(private_broker, tmp_path, topic_prefix, file)
    out, err = await asyncio.to_thread(second.communicate, timeout=300)
    assert second.returncode == 0, (out, err)
    rerun = json.loads(out)
    assert rerun["aborted"] is None
    assert rerun["read"] == ORDERS
    # What reached the log before the broker stopped is unchanged now; the rest is written once.
    assert rerun["unchanged"] + rerun["changed"] == ORDERS
    assert rerun["unchanged"] >= report["events"]

    events = await read_events(f"kafka://{private_broker.bootstrap}", topic)
    per_order = Counter(key for key, _ in events)
    assert len(per_order) == ORDERS
    assert set(per_order.values()) == {1}
    assert {(type(e).__name__, e.seq) for _, e in events} == {("OrderFirstSeen", 1)}


async def test_killing_the_import_stops_its_workers(
    private_broker: LocalBroker, tmp_path: Path, topic_prefix: str
) -> None:
    file = _orders_file(tmp_path / "orders.jsonl")
    importing = _import(private_broker, tmp_path, topic_prefix, file)
    try:
        await _wait_for_records(private_broker.bootstrap, order_topic(topic_prefix), 2_000, importing)
        workers = [pid for pid in _children(importing.pid) if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]
        assert len(workers) == 2
        importing.send_signal(signal.SIGKILL)
        importing.wait(timeout=10)
        deadline = time.monotonic() + 5  # the rest of their lines would take them longer than this
        while any(_alive(pid) for pid in workers):
            assert time.monotonic() < deadline, "import workers outlived the killed command"
            await asyncio.sleep(0.1)
    finally:
        if importing.poll() is None:
            importing.kill()
        importing.communicate()
