"""Scale per tenant with real processes on the real broker: instances sharing a group, one killed;
the broker stopped for 20 s mid-stream; a lane tenant under load next to a small tenant."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mallbridge_core.eventlog import open_event_log
from mallbridge_core.topics import Topics
from mallbridge_sandbox.app import create_app
from mallbridge_sandbox.partners import Partner
from mallbridge_sandbox.server import SandboxServer
from tests.conftest import LocalBroker, free_port
from tests.support.eventually import eventually
from tests.support.orders import OrderEventWriter
from tests.support.procs import ServiceProcess, publisher_args

pytestmark = pytest.mark.slow
TRACK = ("S-1", "https://tracking.example/S-1")
CIDS = {"acme": "acme-scale-cid", "big": "big-scale-cid", "small": "small-scale-cid"}


def _tenants_file(tmp: Path, sandbox: SandboxServer, lanes: dict[str, str] | None = None) -> Path:
    lines = []
    for name in CIDS:
        lines += [
            f"[tenants.{name}]",
            f'mall_client_id = "env:CID_{name.upper()}"',
            f'mall_base_url = "{sandbox.base_url}"',
        ]
        if lanes and name in lanes:
            lines.append(f'lane = "{lanes[name]}"')
    path = tmp / "tenants.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _env() -> dict[str, str]:
    return {**os.environ, **{f"CID_{k.upper()}": v for k, v in CIDS.items()}}


def _publisher(bootstrap: str, tenants: Path, prefix: str, *extra: str, group: str = "scale") -> ServiceProcess:
    port = free_port()
    log_file = tenants.parent / f"publisher-{port}.log"
    args = publisher_args(bootstrap, tenants, prefix, group=group, http_port=port, extra=extra)
    return ServiceProcess(args, _env(), http_port=port, log_file=log_file)


def _puts(sandbox: SandboxServer) -> list[dict[str, Any]]:
    import httpx

    return list(httpx.get(f"{sandbox.url}/sandbox/requests", params={"method": "PUT"}, timeout=30).json()["requests"])


def _statuses(sandbox: SandboxServer, tenant: str) -> dict[str, str]:
    import httpx

    orders = httpx.get(f"{sandbox.url}/sandbox/orders", params={"partner": tenant}, timeout=30).json()["orders"]
    return {o["id"]: o["status"] for o in orders}


def _create(sandbox: SandboxServer, tenant: str, ids: list[str]) -> None:
    import httpx

    with httpx.Client(base_url=sandbox.url, timeout=30) as admin:
        for mall_id in ids:
            admin.post("/sandbox/orders", json={"partner": tenant, "id": mall_id}).raise_for_status()


def _faults(sandbox: SandboxServer, tenant: str, **config: Any) -> None:
    import httpx

    httpx.put(f"{sandbox.url}/sandbox/partners/{tenant}/faults", json=config, timeout=10).raise_for_status()


def _partitions(proc: ServiceProcess, topic: str) -> set[int]:
    """The partitions of `topic` a publisher process holds: its lag gauge has one sample per assigned one."""
    try:
        text = httpx.get(f"http://127.0.0.1:{proc.http_port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return set()
    samples = re.findall(r"^mallbridge_publisher_lag\{([^}]*)\}", text, re.MULTILINE)
    labels = [dict(re.findall(r'(\w+)="([^"]*)"', sample)) for sample in samples]
    return {int(label["partition"]) for label in labels if label.get("topic") == topic}


def _split_between(a: set[int], b: set[int], partitions: int = 6) -> bool:
    return bool(a) and bool(b) and not a & b and a | b == set(range(partitions))


def _assert_nothing_twice(sandbox: SandboxServer) -> None:
    puts = _puts(sandbox)
    # A SIGKILL can cut a request after its headers (no body); it carried no status. Every complete
    # request must have been accepted, and no (order, status) may have been sent twice.
    complete = [r for r in puts if r["body"] is not None]
    assert [r for r in complete if r["status"] is not None and r["status"] >= 400] == []
    sent = Counter((r["order_id"], r["body"]["status"]) for r in complete)
    assert [k for k, n in sent.items() if n > 1] == []


@pytest.fixture
def sandbox() -> Any:
    server = SandboxServer(create_app([Partner(n, c, quota=10_000_000) for n, c in CIDS.items()], seed=3))
    server.start()
    yield server
    server.stop()


async def _write_orders(bootstrap: str, prefix: str, tenant: str, ids: list[str], *, lane: str = "default") -> None:
    log = open_event_log(f"kafka://{bootstrap}", partitions=6)
    topics = Topics(prefix=prefix, lane=lane)
    await log.ensure_topics([topics.order_events, topics.sync_events, topics.dead_letter])
    w = OrderEventWriter(log, topics.order_events)
    events = []
    for mall_id in ids:
        order = f"{tenant}-{mall_id}"
        events += [
            w.first_seen(tenant, order, mall_id, "in_process"),
            w.tracking(tenant, order, mall_id, *TRACK),
            w.status(tenant, order, mall_id, "settled"),
        ]
    for chunk in range(0, len(events), 600):
        await w.write(*events[chunk : chunk + 600])
    await log.close()


async def test_two_instances_share_the_work_and_survive_one_killed(
    kafka_bootstrap: str, topic_prefix: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    ids = [str(10085360000 + i) for i in range(1000)]
    _create(sandbox, "acme", ids)
    tenants = _tenants_file(tmp_path, sandbox)
    await _write_orders(kafka_bootstrap, topic_prefix, "acme", [])  # the topics, so both join one assignment
    a = _publisher(kafka_bootstrap, tenants, topic_prefix)
    b = _publisher(kafka_bootstrap, tenants, topic_prefix)
    try:
        await eventually(lambda: a.ready() and b.ready(), timeout=60, interval=0.2)
        # The group has settled with both members: each holds some partitions, together all of them, apart.
        order_events = Topics(prefix=topic_prefix).order_events
        await eventually(lambda: _split_between(_partitions(a, order_events), _partitions(b, order_events)), timeout=60)
        _faults(sandbox, "acme", latency_ms=20)  # stretch the stream so the kill lands mid-way
        await _write_orders(kafka_bootstrap, topic_prefix, "acme", ids)
        metric = "mallbridge_publisher_updates_sent_total"
        await eventually(lambda: a.metric(metric) > 20 and b.metric(metric) > 20, timeout=120, interval=0.2)
        a.kill()
        await eventually(lambda: set(_statuses(sandbox, "acme").values()) == {"shipped"}, timeout=240, interval=1)
    finally:
        a.stop()
        b.stop()
    _assert_nothing_twice(sandbox)


async def test_broker_stopped_for_20s_mid_stream_loses_nothing(
    topic_prefix: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    broker = LocalBroker()
    broker.start()
    publisher = None
    try:
        ids = [str(10085370000 + i) for i in range(600)]
        _create(sandbox, "acme", ids)
        tenants = _tenants_file(tmp_path, sandbox)
        await _write_orders(broker.bootstrap, topic_prefix, "acme", ids[:400])
        publisher = _publisher(broker.bootstrap, tenants, topic_prefix)
        await eventually(lambda: len(_puts(sandbox)) >= 100, timeout=120, interval=0.1)
        await asyncio.to_thread(broker.stop)
        down_at = time.monotonic()
        await asyncio.sleep(20)
        await asyncio.to_thread(broker.start_keeping_data)
        assert time.monotonic() - down_at >= 20
        await _write_orders(broker.bootstrap, topic_prefix, "acme", ids[400:])
        try:
            await eventually(lambda: set(_statuses(sandbox, "acme").values()) == {"shipped"}, timeout=120, interval=1)
        except AssertionError:
            left = Counter(_statuses(sandbox, "acme").values())
            server_out = (broker.state / "server.out").read_text(errors="replace").splitlines()[-15:]
            raise AssertionError(
                f"not converged: {left}\nbroker:\n"
                + "\n".join(server_out)
                + "\npublisher:\n"
                + publisher.log_tail(20)
                + f"\nLOGFILE {publisher.log_file}"
            ) from None
    finally:
        if publisher is not None:
            publisher.stop()
        broker.stop()
    _assert_nothing_twice(sandbox)


async def _small_orders_at_mall(bootstrap: str, prefix: str, sandbox: SandboxServer, ids: list[str]) -> None:
    """Write small-tenant order events one by one and wait until MALL has every one of them `shipping`."""
    log = open_event_log(f"kafka://{bootstrap}", partitions=6)
    w = OrderEventWriter(log, Topics(prefix=prefix).order_events)
    for i, mall_id in enumerate(ids):
        await w.write(w.first_seen("small", f"small-{mall_id}-{i}", mall_id, "in_process"))
    await log.close()
    await eventually(lambda: all(_statuses(sandbox, "small").get(m) == "shipping" for m in ids), timeout=60)


async def test_a_lane_tenant_under_load_does_not_slow_a_small_tenant(
    kafka_bootstrap: str, topic_prefix: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    tenants = _tenants_file(tmp_path, sandbox, lanes={"big": "big"})
    small = [str(10085381000 + i) for i in range(20)]
    big = [str(10085390000 + i) for i in range(2000)]
    _create(sandbox, "small", small)
    _create(sandbox, "big", big)
    # MALL answers the big tenant after 100 ms: its 2,000 PUTs take 12 s at 16 in flight, so its lane still
    # has work queued while the small tenant's orders go out (at MALL's full speed the big lane finished first).
    with httpx.Client(base_url=sandbox.url, timeout=30) as admin:
        admin.patch("/sandbox/partners/big", json={"latency_ms": 100}).raise_for_status()
    await _write_orders(kafka_bootstrap, topic_prefix, "small", [])  # creates the default lane topics
    default_pub = _publisher(kafka_bootstrap, tenants, topic_prefix, "--lanes", "default", group="lane-default")
    big_pub = _publisher(kafka_bootstrap, tenants, topic_prefix, "--lanes", "big", group="lane-big")
    try:
        await _write_orders(kafka_bootstrap, topic_prefix, "big", big, lane="big")
        await eventually(lambda: sum(1 for r in _puts(sandbox) if r["partner"] == "big") > 50, timeout=60)
        await _small_orders_at_mall(kafka_bootstrap, topic_prefix, sandbox, small)
        big_done = sum(1 for s in _statuses(sandbox, "big").values() if s == "shipped")
    finally:
        default_pub.stop()
        big_pub.stop()
    # The outcome, not a clock: every small order reached MALL while the big lane still had work queued.
    assert big_done < len(big), "the big tenant finished first: the small tenant was not shown to pass it"


async def test_moving_a_tenant_to_a_lane_as_documented_sends_nothing_twice(
    kafka_bootstrap: str, topic_prefix: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    """README, "Lanes": set the lane, restart the default lane's publishers, then start the lane's. Orders
    whose `delivered` waits for its moment across the move get it once: a default-lane publisher still
    running on the old tenants file would send it as well (MALL refuses the second). The proof that the
    default lane's publisher got past that moment: an order of a default-lane tenant whose `delivered` is
    due two seconds later reaches MALL (its timers fire in the order of their moments)."""
    ids = [str(10085395000 + i) for i in range(10)]
    marker = str(10085395900)
    _create(sandbox, "big", ids)
    _create(sandbox, "small", [marker])
    tenants = _tenants_file(tmp_path, sandbox)
    log = open_event_log(f"kafka://{kafka_bootstrap}", partitions=6)
    topics = Topics(prefix=topic_prefix)
    await log.ensure_topics([topics.order_events, topics.sync_events, topics.dead_letter])
    w = OrderEventWriter(log, topics.order_events)
    due = (datetime.now(UTC) + timedelta(seconds=40)).isoformat()
    events = []
    for mall_id in ids:
        order = f"big-{mall_id}"
        events += [
            w.first_seen("big", order, mall_id, "in_process"),
            w.tracking("big", order, mall_id, *TRACK),
            w.status("big", order, mall_id, "settled"),
            w.delivered("big", order, mall_id, due),
        ]
    later = (datetime.now(UTC) + timedelta(seconds=42)).isoformat()
    events += [
        w.first_seen("small", "small-marker", marker, "in_process"),
        w.tracking("small", "small-marker", marker, *TRACK),
        w.status("small", "small-marker", marker, "settled"),
        w.delivered("small", "small-marker", marker, later),
    ]
    await w.write(*events)
    await log.close()
    default_pub = _publisher(kafka_bootstrap, tenants, topic_prefix, "--lanes", "default", group="lane-default")
    lane_pub = None
    try:
        await eventually(lambda: set(_statuses(sandbox, "big").values()) == {"shipped"}, timeout=60, interval=0.5)
        _tenants_file(tmp_path, sandbox, lanes={"big": "big"})
        default_pub.stop()
        default_pub = _publisher(kafka_bootstrap, tenants, topic_prefix, "--lanes", "default", group="lane-default")
        lane_pub = _publisher(kafka_bootstrap, tenants, topic_prefix, "--lanes", "big", group="lane-big")
        await eventually(lambda: default_pub.ready() and lane_pub is not None and lane_pub.ready(), timeout=60)
        assert set(_statuses(sandbox, "big").values()) == {"shipped"}, "the move did not happen before the moment"
        await eventually(lambda: set(_statuses(sandbox, "big").values()) == {"delivered"}, timeout=90, interval=0.5)
        await eventually(lambda: _statuses(sandbox, "small").get(marker) == "delivered", timeout=30, interval=0.2)
    finally:
        default_pub.stop()
        if lane_pub is not None:
            lane_pub.stop()
    _assert_nothing_twice(sandbox)
