"""`mallbridge balance` against the sandbox MALL over real HTTP, on a real event log (both engines):
50 of 5,000 orders drifted → exit 1, exactly those 50 listed and recorded, the requests spent equal to the
pages read; a second run → exit 0. MALL refusing the client_id or the log away → exit 2, one Error: line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mallbridge_core.cli import main
from mallbridge_core.eventlog import open_event_log
from mallbridge_core.topics import Topics
from mallbridge_sandbox.app import create_app
from mallbridge_sandbox.clock import ManualClock
from mallbridge_sandbox.partners import Partner
from mallbridge_sandbox.server import SandboxServer
from mallbridge_schema.events import MallStateObserved
from mallbridge_schema.serde import decode_operator_event
from tests.integration.publisher.conftest import PARTNERS
from tests.support.orders import OrderEventWriter

ORDERS, DRIFTED = 5000, 50
FIRST_ID = 10085400000


def tenants_file(tmp_path: Path, sandbox: SandboxServer) -> Path:
    path = tmp_path / "tenants.toml"
    path.write_text(
        f'[tenants.acme]\nmall_client_id = "env:BALANCE_ACME_CID"\nmall_base_url = "{sandbox.base_url}"\n'
        "mall_poll_interval_s = 0\n"
    )
    return path


def write_first_seen(url: str, prefix: str, ids: list[int]) -> None:
    async def go() -> None:
        log = open_event_log(url, partitions=3)
        await log.start()
        try:
            topics = Topics(prefix=prefix)
            await log.ensure_topics([topics.order_events, topics.sync_events, topics.operator_events])
            w = OrderEventWriter(log, topics.order_events)
            await w.write(*[w.first_seen("acme", f"B-{i}", str(i), "pending") for i in ids])
        finally:
            await log.close()

    asyncio.run(go())


def recorded(url: str, prefix: str) -> list[Any]:
    async def go() -> list[Any]:
        log = open_event_log(url, partitions=3)
        await log.start()
        try:
            topic = Topics(prefix=prefix).operator_events
            return [decode_operator_event(r.value) async for batch in log.replay(topic) for r in batch]
        finally:
            await log.close()

    return asyncio.run(go())


def balance(url: str, prefix: str, tenants: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main,
        ["balance", "--log", url, "--topic-prefix", prefix, "--tenants", str(tenants), "--no-progress", *args],
        env={"BALANCE_ACME_CID": PARTNERS["acme"]},
    )
    return result.exit_code, result.stdout, result.stderr


def test_fifty_drifted_of_five_thousand_are_listed_recorded_and_not_listed_again(
    sandbox: SandboxServer, event_log_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    ids = list(range(FIRST_ID, FIRST_ID + ORDERS))
    drifted = set(ids[::100][:DRIFTED])  # MALL has these shipping (set in the portal, say); the log: open
    orders = [
        {"partner": "acme", "id": str(i), "status": "shipping" if i in drifted else "open", "confirmed": True}
        for i in ids
    ]
    with httpx.Client(base_url=sandbox.url, timeout=60) as admin:
        assert admin.post("/sandbox/orders/bulk", json={"orders": orders}).status_code == 201
        admin.delete("/sandbox/requests")
    write_first_seen(event_log_url, topic_prefix, ids)
    tenants = tenants_file(tmp_path, sandbox)

    code, out, err = balance(event_log_url, topic_prefix, tenants, "--format", "json")
    assert (code, err) == (1, "")
    report = json.loads(out)
    assert {d["mall_order_id"] for d in report["drift"]} == {str(i) for i in drifted}
    assert {(d["kind"], d["log_status"], d["mall_status"]) for d in report["drift"]} == {("status", "open", "shipping")}
    assert report["tenants"] == [{"tenant": "acme", "listed": ORDERS, "drifted": DRIFTED, "recorded": DRIFTED}]
    with httpx.Client(base_url=sandbox.url, timeout=60) as admin:
        mall_requests = admin.get("/sandbox/requests").json()["requests"]
    assert report["requests"] == {"total": 5, "list_pages": 5, "detail_reads": 0, "rate_limited": 0}
    assert len(mall_requests) == 5  # what it printed is what MALL saw
    assert {r["method"] for r in mall_requests} == {"GET"}
    observations = recorded(event_log_url, topic_prefix)
    assert {e.mall_order_id for e in observations} == {str(i) for i in drifted}
    assert all(isinstance(e, MallStateObserved) and e.source == "balance" for e in observations)

    code, out, _ = balance(event_log_url, topic_prefix, tenants)
    assert code == 0
    assert out.splitlines()[-2:] == ["MALL requests spent: 5 (5 list pages, 0 detail reads)", "in balance"]
    assert len(recorded(event_log_url, topic_prefix)) == DRIFTED  # nothing recorded twice


def test_an_order_fastcentrik_never_named_is_drift_once_open_for_an_hour(
    event_log_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    clock = ManualClock(datetime.now(UTC) - timedelta(hours=2))
    with SandboxServer(create_app([Partner("acme", PARTNERS["acme"])], clock=clock)) as sandbox:
        with httpx.Client(base_url=sandbox.url, timeout=10) as admin:
            for mall_id, status in (("10085500001", "open"), ("10085500003", "blocked")):
                admin.post("/sandbox/orders", json={"partner": "acme", "id": mall_id, "status": status})
            clock.set(datetime.now(UTC))
            admin.post("/sandbox/orders", json={"partner": "acme", "id": "10085500002", "status": "open"})
        write_first_seen(event_log_url, topic_prefix, [])
        code, out, _ = balance(event_log_url, topic_prefix, tenants_file(tmp_path, sandbox), "--format", "json")
    report = json.loads(out)
    assert code == 1
    assert [(d["kind"], d["mall_order_id"], d["order_number"]) for d in report["drift"]] == [
        ("unknown_to_fastcentrik", "10085500001", None)
    ]
    assert report["requests"] == {"total": 3, "list_pages": 1, "detail_reads": 2, "rate_limited": 0}
    # no order number, so nothing for the publisher to act on: the tenant's set is recorded for the console
    assert [
        (type(e).__name__, e.total, [(o.mall_order_id, o.status.value) for o in e.orders])
        for e in recorded(event_log_url, topic_prefix)
    ] == [("UnknownMallOrdersObserved", 1, [("10085500001", "open")])]
    assert report["unknown_recorded_for"] == ["acme"]


def test_mall_refusing_the_client_id_is_exit_2_with_one_error_line(
    sandbox: SandboxServer, tmp_path: Path, topic_prefix: str
) -> None:
    url = f"sqlite:///{tmp_path}/events.db"
    write_first_seen(url, topic_prefix, [FIRST_ID])
    env = {**os.environ, "BALANCE_ACME_CID": "not-the-client-id"}
    command = [str(Path(sys.executable).parent / "mallbridge"), "balance", "--log", url, "--topic-prefix", topic_prefix]
    command += ["--tenants", str(tenants_file(tmp_path, sandbox))]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("Error: tenant acme: MALL refused the client_id (HTTP 401)")
    assert "not-the-client-id" not in done.stderr


@pytest.mark.parametrize("log", ["kafka://127.0.0.1:1", "sqlite:///nowhere/events.db"])
def test_a_log_that_cannot_be_reached_is_exit_2(sandbox: SandboxServer, tmp_path: Path, log: str) -> None:
    code, out, err = balance(log, "x.", tenants_file(tmp_path, sandbox))
    assert (code, out) == (2, "")
    assert err.startswith("Error: ")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("read_timeout_s", "expected_code"), [("0.3", 2), ("10", 0)])
def test_balance_waits_for_mall_as_long_as_the_publishers_read_timeout_says(
    tmp_path: Path, topic_prefix: str, read_timeout_s: str, expected_code: int
) -> None:
    url = f"sqlite:///{tmp_path}/events.db"
    with SandboxServer(create_app([Partner("acme", PARTNERS["acme"])], latency_ms=1000)) as sandbox:
        write_first_seen(url, topic_prefix, [])
        tenants = str(tenants_file(tmp_path, sandbox))
        command = ["balance", "--log", url, "--topic-prefix", topic_prefix, "--tenants", tenants, "--no-progress"]
        env = {"BALANCE_ACME_CID": PARTNERS["acme"], "MALLBRIDGE_PUBLISHER_READ_TIMEOUT_S": read_timeout_s}
        result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code == expected_code, result.output
    if expected_code == 2:  # it used a 10 s of its own and waited the answer out
        assert "no answer within the timeout" in result.stderr
    else:
        assert result.stdout.splitlines()[-1] == "in balance"
