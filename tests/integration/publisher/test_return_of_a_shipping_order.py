"""`mallbridge order return` of an order MALL has `shipping` (the parcel is not handed over yet) is refused
as a real process against a running publisher and the sandbox (both engines): exit 1 with the reason,
nothing recorded in operator-events, nothing sent."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from mallbridge_schema.serde import decode_operator_event
from tests.integration.publisher.conftest import Harness
from tests.support.eventually import eventually
from tests.support.procs import MALLBRIDGE

T = "acme"


async def test_return_of_a_shipping_order_exits_1_and_records_and_sends_nothing(
    harness: Harness, tmp_path: Path
) -> None:
    h, mid, marker = harness, "10085339621", "10085339629"
    tenants = tmp_path / "tenants.toml"
    tenants.write_text(f'[tenants.{T}]\nmall_client_id = "env:ACME_MALL_CLIENT_ID_NOT_SET_HERE"\n')
    h.create_orders(T, [mid, marker])
    await h.writer.write(h.writer.first_seen(T, "W-1", mid, "in_process"))
    publisher = h.start_publisher(operator_tail_interval_s=0.1)
    try:
        await eventually(lambda: h.mall_status(mid) == "shipping")
        command = [str(MALLBRIDGE), "order", "return", "--tenant", T, "--order", "W-1", "--reason", "came back"]
        command += ["--log", h.log_url, "--tenants", str(tenants), "--topic-prefix", h.prefix, "--by", "jana"]
        done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "not shipped" in done.stderr
        assert done.stdout == ""
        # the marker going out proves the publisher worked past the refused command
        await h.writer.write(h.writer.first_seen(T, "M-1", marker, "in_process"))
        await eventually(lambda: h.mall_status(marker) == "shipping")
    finally:
        await publisher.stop()
    assert [r["body"] for r in h.puts(mid)] == [{"status": "shipping", "confirmed": True}]
    assert h.mall_status(mid) == "shipping"
    recorded = [decode_operator_event(r.value) async for b in h.log.replay(h.topics.operator_events) for r in b]
    assert recorded == []
