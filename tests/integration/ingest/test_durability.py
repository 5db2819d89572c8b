"""Durability under a hard crash (issue: ingest tells the truth under hostile input).

A stream of pushes, each a new order, from a few concurrent clients against `mallbridge ingest` as a real
process; then the broker or the writer is killed with SIGKILL (no clean stop) mid-stream. After a restart
the log holds every snapshot that got a 202, nothing twice, and every other answer was a 503 (requests in
flight when ingest itself is killed get no answer at all). On the embedded engine the file also passes
`PRAGMA integrity_check`. A full disk (a size-limited tmpfs) and a read-only file system (the same tmpfs
remounted read-only) answer 503 and leave nothing half-written; once there is room again the same push
succeeds. (tmpfs mounts need root, as this project's test machines and CI run.)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from mallbridge_ingest.adapters.signature import sign
from tests.conftest import LocalBroker, free_port
from tests.integration.ingest.support import order_topic, read_events
from tests.support.eventually import eventually_sync
from tests.support.procs import ServiceProcess

SECRET = "durability-secret-3c1d"
CLIENTS = 4


@dataclass
class Stream:
    """Pushes one new order per request from CLIENTS threads until stopped; remembers every answer."""

    base_url: str
    prefix: str = "D"
    acknowledged: set[str] = field(default_factory=set)
    answers: Counter[str] = field(default_factory=Counter)
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def order(self) -> str:
        with self._lock:
            self._next += 1
            return f"{self.prefix}-{self._next:06d}"

    def push(self, client: httpx.Client, order: str) -> None:
        body = json.dumps(
            {
                "orders": [
                    {"order_number": order, "mall_order_id": str(8 * 10**12 + int(order[-6:])), "status": "pending"}
                ]
            }
        ).encode()
        ts = str(int(time.time()))
        headers = {"X-Mallbridge-Timestamp": ts, "X-Mallbridge-Signature": sign(SECRET, ts, body)}
        try:
            r = client.post("/v1/tenants/acme/orders", content=body, headers=headers)
        except httpx.TransportError:
            with self._lock:
                self.answers["no answer"] += 1
            return
        with self._lock:
            self.answers[str(r.status_code)] += 1
            if r.status_code == 202:
                self.acknowledged.add(order)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(60, connect=2)) as client:
            while not self._stop.is_set():
                self.push(client, self.order())
                time.sleep(0.005)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in self._threads), "a client never got an answer nor an error"

    def wait_for(self, code: str, at_least: int) -> None:
        eventually_sync(lambda: self.answers[code] >= at_least, timeout=120, what=f"{at_least} answers {code}")


def start_ingest(tmp_path: Path, log_url: str, prefix: str, *, wait_ready: bool = True) -> ServiceProcess:
    tenants = tmp_path / "tenants.toml"
    tenants.write_text('[tenants.acme]\ningest_secret = "env:DURABILITY_SECRET"\n')
    port = free_port()
    args = ["ingest", "--no-poll", "--port", str(port), "--tenants", str(tenants), "--log", log_url]
    env = {**os.environ, "DURABILITY_SECRET": SECRET, "MALLBRIDGE_INGEST_PUSH_RATE_PER_S": "0"}
    proc = ServiceProcess(
        [*args, "--topic-prefix", prefix, "--log-level", "WARNING"],
        env,
        http_port=port,
        log_file=tmp_path / "ingest.log",
    )
    if wait_ready:
        eventually_sync(proc.ready, timeout=90, what="ingest ready")
    return proc


def written_orders(log_url: str, prefix: str) -> Counter[str]:
    """How often each order's OrderFirstSeen is in the log (each pushed order is new: once is right)."""
    events = asyncio.run(read_events(log_url, order_topic(prefix)))
    return Counter(e.order_number for _, e in events if type(e).__name__ == "OrderFirstSeen")


def kill_broker(broker: LocalBroker) -> None:
    pid = int((broker.state / "kafka.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    eventually_sync(lambda: subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0)


@pytest.mark.kafka
@pytest.mark.slow
def test_broker_and_ingest_sigkilled_mid_stream_lose_no_acknowledged_push(
    tmp_path: Path, private_broker: LocalBroker, topic_prefix: str
) -> None:
    url = f"kafka://{private_broker.bootstrap}"
    ingest = start_ingest(tmp_path, url, topic_prefix)
    stream = Stream(f"http://127.0.0.1:{ingest.http_port}")
    try:
        stream.start()
        stream.wait_for("202", 60)
        kill_broker(private_broker)
        stream.wait_for("503", 8)
        ingest.kill()
        stream.stop()
    finally:
        ingest.stop()
    assert set(stream.answers) <= {"202", "503", "no answer"}, stream.answers
    before_restart = (len(stream.acknowledged), dict(stream.answers))
    private_broker.start_keeping_data()
    again = start_ingest(tmp_path, url, topic_prefix)
    try:
        # The rest are retried after the restart, as a client would: written once, whether or not an
        # unacknowledged attempt landed before the broker died.
        with httpx.Client(base_url=f"http://127.0.0.1:{again.http_port}", timeout=60) as client:
            retried = sorted({f"D-{i:06d}" for i in range(1, stream._next + 1)} - stream.acknowledged)
            for order in retried:
                stream.push(client, order)
    finally:
        again.stop()
    log = written_orders(url, topic_prefix)
    assert stream.acknowledged <= set(log), f"acknowledged but lost: {sorted(stream.acknowledged - set(log))[:5]}"
    assert max(log.values()) == 1, [o for o, n in log.items() if n > 1][:5]
    assert len(log) == stream._next  # every order once: the acknowledged, and the retried rest
    acked, answers = before_restart
    print(f"\nbroker+ingest SIGKILL: {acked} acknowledged, answers {answers}; after the retries {len(log)} in the log")


def test_the_embedded_log_survives_a_sigkilled_writer(tmp_path: Path, topic_prefix: str) -> None:
    db = tmp_path / "events.db"
    url = f"sqlite://{db}"
    ingest = start_ingest(tmp_path, url, topic_prefix)
    stream = Stream(f"http://127.0.0.1:{ingest.http_port}")
    try:
        stream.start()
        stream.wait_for("202", 150)
        ingest.kill()  # SIGKILL while the clients keep pushing: some append is under way
        stream.stop()
    finally:
        ingest.stop()
    assert set(stream.answers) <= {"202", "no answer"}, stream.answers
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    log = written_orders(url, topic_prefix)
    assert stream.acknowledged <= set(log)
    assert max(log.values()) == 1
    # And the writer comes back on the same file.
    again = start_ingest(tmp_path, url, topic_prefix)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{again.http_port}", timeout=60) as client:
            stream.push(client, "D-999999")
    finally:
        again.stop()
    assert "D-999999" in stream.acknowledged
    print(f"\nsqlite writer SIGKILL: {len(stream.acknowledged)} acknowledged, {len(log)} in the file, no duplicate")


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs of this test's own (a full disk on demand); unmounted afterwards."""
    mount = tmp_path / "fs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def remount(mount: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mount)], check=True)


def test_a_full_disk_or_a_read_only_file_is_503_and_nothing_half_written(
    tmp_path: Path, small_fs: Path, topic_prefix: str
) -> None:
    db = small_fs / "events.db"
    url = f"sqlite://{db}"
    ingest = start_ingest(tmp_path, url, topic_prefix)
    stream = Stream(f"http://127.0.0.1:{ingest.http_port}")
    try:
        with httpx.Client(base_url=stream.base_url, timeout=60) as client:
            for _ in range(5000):  # bounded: 1 MiB holds far fewer pushes than this
                stream.push(client, stream.order())
                if stream.answers["503"]:
                    break
            assert stream.answers["503"] == 1, stream.answers
            full = stream._next
            remount(small_fs, "size=16m")  # room again: the same push now succeeds
            stream.push(client, f"D-{full:06d}")
            assert f"D-{full:06d}" in stream.acknowledged
    finally:
        ingest.stop()
    # Read-only: a file system cannot be remounted read-only under a file open for writing, so ingest
    # starts on the read-only one: it cannot open the log, answers 503, and is ready once it can.
    remount(small_fs, "ro")
    ingest = start_ingest(tmp_path, url, topic_prefix, wait_ready=False)
    try:
        with httpx.Client(base_url=stream.base_url.rsplit(":", 1)[0] + f":{ingest.http_port}", timeout=60) as client:
            eventually_sync(lambda: client.get("/healthz").status_code == 200, retry_on=(httpx.TransportError,))
            stream.push(client, stream.order())
            assert stream.answers["503"] == 2, stream.answers
            remount(small_fs, "rw")
            eventually_sync(ingest.ready, timeout=60, what="ingest ready once the file is writable")
            stream.push(client, f"D-{stream._next:06d}")
            assert f"D-{stream._next:06d}" in stream.acknowledged
    finally:
        ingest.stop()
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    log = written_orders(url, topic_prefix)
    assert set(log) == stream.acknowledged  # nothing of a refused push, everything of an accepted one
    assert max(log.values()) == 1
    print(f"\nfull disk / read-only: {len(stream.acknowledged)} acknowledged, answers {dict(stream.answers)}")
