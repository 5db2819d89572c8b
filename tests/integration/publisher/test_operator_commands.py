"""`mallbridge order return|resync|ack` as real processes, acted on by a running publisher against the sandbox
MALL over real HTTP, on both engines."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

from mallbridge_schema.events import AttentionNeeded, MallStateObserved
from tests.integration.publisher.conftest import Harness, RunningPublisher
from tests.support.eventually import eventually
from tests.support.procs import MALLBRIDGE

T = "acme"
TRACK = ("ZX12345-CZ", "https://tracking.example/ZX12345-CZ")


async def order_cmd(h: Harness, tenants: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(MALLBRIDGE), "order", *args, "--log", h.log_url, "--tenants", str(tenants)]
    command += ["--topic-prefix", h.prefix, "--by", "jana"]
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60, check=False)


async def audit(h: Harness, tenants: Path, *orders: str) -> dict[str, Any]:
    """`mallbridge audit --verify --format json` of the orders (exit 0: every PUT is the one the rules call for)."""
    command = [str(MALLBRIDGE), "audit", "--log", h.log_url, "--tenants", str(tenants), "--topic-prefix", h.prefix]
    command += ["--format", "json", "--verify", "--grace", "0", *(arg for o in orders for arg in ("--order", o))]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def people(report: dict[str, Any], order: str) -> list[tuple[str, str, str]]:
    """(type, by, reason) of each operator action in the order's audit timeline."""
    [timeline] = [t for t in report["timelines"] if t["order_number"] == order]
    return [(e["type"], e["event"]["by"], e["event"]["reason"]) for e in timeline["entries"] if e["side"] == "operator"]


def _open_attention(publisher: RunningPublisher, code: str) -> float | None:
    return publisher.service.metrics.registry.get_sample_value(
        "mallbridge_publisher_open_attention", {"tenant": T, "code": code}
    )


async def test_return_is_refused_unless_shipped_and_not_mdp_then_goes_out_once(
    harness: Harness, tenants_file: Path
) -> None:
    h, shipped, pending, mdp = harness, "10085339601", "10085339602", "10085339603"
    h.create_orders(T, [shipped, pending])
    h.create_orders(T, [mdp], mdp=True)
    w = h.writer
    await w.write(
        w.first_seen(T, "R-1", shipped, "settled", tracking_number=TRACK[0], tracking_url=TRACK[1]),
        w.first_seen(T, "R-2", pending, "pending"),
        w.first_seen(T, "R-3", mdp, "settled", mdp=True),
    )
    publisher = h.start_publisher(operator_tail_interval_s=0.1)
    try:
        await eventually(lambda: h.mall_status(shipped) == "shipped" and h.mall_status(mdp) == "shipped")
        open_order = await order_cmd(h, tenants_file, "return", "--tenant", T, "--order", "R-2")
        mdp_order = await order_cmd(h, tenants_file, "return", "--tenant", T, "--order", "R-3")
        assert (open_order.returncode, mdp_order.returncode) == (1, 1), open_order.stderr + mdp_order.stderr
        assert "not shipped" in open_order.stderr
        assert "MALL Delivery" in mdp_order.stderr
        done = await order_cmd(h, tenants_file, "return", "--tenant", T, "--order", "R-1", "--reason", "came back")
        assert done.returncode == 0, done.stderr
        assert "Recorded OrderReturnRequested" in done.stdout
        await eventually(lambda: h.mall_status(shipped) == "returned")
        final = await order_cmd(h, tenants_file, "return", "--tenant", T, "--order", "R-1")
        assert final.returncode == 1, final.stderr
        assert "final status" in final.stderr
        # a marker order going out proves the publisher has worked past everything written above
        h.create_orders(T, ["10085339609"])
        await w.write(w.first_seen(T, "M-1", "10085339609", "in_process"))
        await eventually(lambda: h.mall_status("10085339609") == "shipping")
    finally:
        await publisher.stop()
    returned = [r["body"] for r in h.puts(shipped) if r["body"].get("status") == "returned"]
    assert returned == [{"status": "returned"}]
    assert [r["body"]["status"] for r in h.puts(pending)] == []
    assert "returned" not in [r["body"].get("status") for r in h.puts(mdp)]
    report = await audit(h, tenants_file, "R-1", "R-2")
    assert people(report, "R-1") == [("OrderReturnRequested", "jana", "came back")]
    assert people(report, "R-2") == []  # refused: nothing recorded
    [tenant] = report["tenants"]
    assert (tenant["returns_requested"], tenant["resyncs_requested"], tenant["acknowledgements"]) == (1, 0, 0)
    assert report["verify"]["differences"] == []  # the returned PUT is the one the rules call for


async def test_resync_after_a_mall_side_cancel_plans_from_it_and_ack_leaves_the_gauge_at_0(
    harness: Harness, tenants_file: Path
) -> None:
    h, mid = harness, "10085339611"
    h.create_orders(T, [mid])
    w = h.writer
    await w.write(w.first_seen(T, "S-1", mid, "in_process"))
    publisher = h.start_publisher(operator_tail_interval_s=0.1)
    try:
        await eventually(lambda: h.mall_status(mid) == "shipping")
        with h.admin() as admin:  # the customer cancels at MALL; no webhook tells mallbridge
            assert admin.post(f"/sandbox/orders/{mid}/actions/customer-cancel").status_code == 200
        resync = await order_cmd(
            h, tenants_file, "resync", "--tenant", T, "--order", "S-1", "--reason", "customer called"
        )
        assert resync.returncode == 0, resync.stderr

        async def attention() -> list[AttentionNeeded]:
            return [e for e in await h.sync_events() if isinstance(e, AttentionNeeded) and e.order_number == "S-1"]

        await eventually(attention, what="the cancelled_at_mall attention item")
        assert [e.code for e in await attention()] == ["cancelled_at_mall"]
        await eventually(lambda: _open_attention(publisher, "cancelled_at_mall") == 1)
        ack = await order_cmd(
            h, tenants_file, "ack", "--tenant", T, "--order", "S-1", "--note", "cancelled in the shop"
        )
        assert ack.returncode == 0, ack.stderr
        await eventually(lambda: _open_attention(publisher, "cancelled_at_mall") == 0)
        again = await order_cmd(h, tenants_file, "ack", "--tenant", T, "--order", "S-1")
        assert again.returncode == 1
        assert "already acknowledged" in again.stderr
    finally:
        await publisher.stop()
    observed = [e for e in await h.sync_events() if isinstance(e, MallStateObserved) and e.order_number == "S-1"]
    assert [(e.source, e.status.value) for e in observed] == [("resync", "cancelled")]
    assert [r["body"]["status"] for r in h.puts(mid)] == ["shipping"]  # nothing sent after MALL's cancel
    report = await audit(h, tenants_file, "S-1")
    assert people(report, "S-1") == [
        ("OrderResyncRequested", "jana", "customer called"),
        ("AttentionAcknowledged", "jana", "cancelled in the shop"),
    ]
    [order] = report["orders"]
    assert (order["attention"][0], order["attention_acknowledged"], order["state"]) == (
        "cancelled_at_mall",
        True,
        "acknowledged",
    )
    [tenant] = report["tenants"]
    assert (tenant["open_attention"], tenant["resyncs_requested"], tenant["acknowledgements"]) == (0, 1, 1)
    assert report["verify"]["differences"] == []
