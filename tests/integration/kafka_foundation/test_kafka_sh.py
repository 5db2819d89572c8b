"""`infra/kafka/kafka.sh up|down` (what `make kafka-up` / `make kafka-down` run), on a private broker.

Proves: `down` leaves no java process of that broker behind; a second `up` while one runs says so and
changes nothing; the next `up` starts on a fresh data directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.conftest import KAFKA_SH, LocalBroker

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _processes_mentioning(text: str) -> list[tuple[int, str]]:
    """(pid, command line) of every live process whose command line contains `text`."""
    found: list[tuple[int, str]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append((int(entry.name), cmdline))
    return found


def _java_of(broker: LocalBroker) -> list[tuple[int, str]]:
    return [(pid, cmd) for pid, cmd in _processes_mentioning(str(broker.state)) if "java" in cmd]


def _cluster_id(broker: LocalBroker) -> str:
    for line in (broker.state / "data" / "meta.properties").read_text().splitlines():
        if line.startswith("cluster.id="):
            return line.split("=", 1)[1]
    raise AssertionError("no cluster.id in meta.properties")


def _kafka_sh(broker: LocalBroker, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KAFKA_SH), command], env=broker.env, capture_output=True, text=True, timeout=180, check=False
    )


async def _topics(bootstrap: str) -> set[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return set(await consumer.topics())
    finally:
        await consumer.stop()


@pytest.fixture
def private_broker() -> Iterator[LocalBroker]:
    broker = LocalBroker()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(broker.state, ignore_errors=True)


async def test_up_down_leaves_nothing_second_up_changes_nothing_next_up_is_fresh(
    private_broker: LocalBroker,
) -> None:
    broker = private_broker

    first = _kafka_sh(broker, "up")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == broker.bootstrap
    pid = int((broker.state / "kafka.pid").read_text())
    assert [p for p, _ in _java_of(broker)] == [pid]
    cluster_id = _cluster_id(broker)

    # Leave data behind: a topic with one record.
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait("kept-until-next-up", b"hello")
    finally:
        await producer.stop()
    assert "kept-until-next-up" in await _topics(broker.bootstrap)

    # A second `up` while it runs: says so, exits 0 with the same address, changes nothing.
    second = _kafka_sh(broker, "up")
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stderr
    assert second.stdout.strip() == broker.bootstrap
    assert int((broker.state / "kafka.pid").read_text()) == pid
    assert [p for p, _ in _java_of(broker)] == [pid]
    assert _cluster_id(broker) == cluster_id
    assert "kept-until-next-up" in await _topics(broker.bootstrap)

    # `down`: stopped cleanly, no java process of this broker left.
    stopped = _kafka_sh(broker, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped" in stopped.stderr
    assert _java_of(broker) == []
    assert not (broker.state / "kafka.pid").exists()
    assert _kafka_sh(broker, "status").returncode == 3

    # The next `up` starts on a fresh data directory: new cluster id, the old topic is gone.
    third = _kafka_sh(broker, "up")
    assert third.returncode == 0, third.stderr
    assert _cluster_id(broker) != cluster_id
    assert "kept-until-next-up" not in await _topics(broker.bootstrap)
    new_pid = int((broker.state / "kafka.pid").read_text())
    assert [p for p, _ in _java_of(broker)] == [new_pid]

    assert _kafka_sh(broker, "down").returncode == 0
    assert _java_of(broker) == []


def test_two_concurrent_ups_start_one_broker(private_broker: LocalBroker) -> None:
    """`up` takes a lock per state dir: the second waits, then finds the broker running and changes nothing
    (without the lock both formatted the same dir under each other). `down` is not blocked by the broker
    holding the lock: the broker does not inherit it."""
    broker = private_broker
    runs = [
        subprocess.Popen(
            [str(KAFKA_SH), "up"], env=broker.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outcomes = [(run.wait(timeout=180), *run.communicate()) for run in runs]
    assert [code for code, _, _ in outcomes] == [0, 0], outcomes
    assert [out.strip() for _, out, _ in outcomes] == [broker.bootstrap] * 2
    assert sum("already running" in err for _, _, err in outcomes) == 1, outcomes
    pid = int((broker.state / "kafka.pid").read_text())
    assert [p for p, _ in _java_of(broker)] == [pid]
    stopped = _kafka_sh(broker, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert _java_of(broker) == []
