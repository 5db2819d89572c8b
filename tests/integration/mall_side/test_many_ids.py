"""1,000 ids in one webhook delivery: at most one GET each, and an observation only for the orders whose
MALL state changed (both engines; counted in the sandbox's request log and in the log)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from mallbridge_core.eventlog import OutgoingRecord
from mallbridge_schema.events import MallStateObserved, MallStatusUpdated
from mallbridge_schema.serde import encode_event, event_key
from mallbridge_schema.statuses import MallStatus
from tests.support.mall_chain import TOKEN, Chain, eventually

COUNT, CHANGED = 1000, 10
FIRST = 10085800000


def shipped_earlier(order: str, mall_id: str) -> OutgoingRecord:
    now = datetime.now(UTC)
    event = MallStatusUpdated(
        event_id=uuid.uuid4(),
        tenant_id="acme",
        order_number=order,
        mall_order_id=mall_id,
        occurred_at=now,
        recorded_at=now,
        based_on_seq=1,
        request_no=1,
        status=MallStatus.SHIPPING,
        request={"status": "shipping", "confirmed": True},
        http_status=200,
        latency_ms=1.0,
    )
    return OutgoingRecord(event_key("acme", order), encode_event(event))


async def test_a_thousand_ids_are_a_thousand_reads_at_most_and_only_changes_are_recorded(
    chain: Chain, event_log_url: str
) -> None:
    ids = [str(FIRST + i) for i in range(COUNT)]
    orders = [{"partner": "acme", "id": mid, "status": "shipping", "confirmed": True} for mid in ids]
    assert (await chain.admin.post("/orders/bulk", json={"orders": orders})).status_code == 201
    # What an earlier publisher recorded: each order's shipping PUT, accepted (the log knows MALL's side).
    await chain.log.append(chain.topics.sync_events, [shipped_earlier(f"K-{i}", mid) for i, mid in enumerate(ids)])
    snapshots = [{"order_number": f"K-{i}", "mall_order_id": mid, "status": "in_process"} for i, mid in enumerate(ids)]
    assert (await chain.ingest.push("acme", snapshots)).status_code == 202
    await chain.start_publisher(event_log_url)
    changed = ids[:: COUNT // CHANGED]
    for mid in changed:
        await chain.act(mid, "edit", external_id=f"edited-{mid}")  # MALL edits them: unconfirmed again
    await chain.admin.delete("/requests")

    body = json.dumps([int(mid) for mid in ids])
    r = await chain.ingest.client.post(f"/v1/tenants/acme/mall-webhook/{TOKEN}", content=body)
    assert r.json() == {"received": COUNT, "known": COUNT, "unknown": 0}

    async def gets() -> list[str]:
        return [req["order_id"] for req in await chain.requests(method="GET") if req["order_id"] in set(ids)]

    async def all_read() -> bool:
        return len(await gets()) >= COUNT

    # one process runs the sandbox, ingest and the publisher here: a thousand reads take a while
    await eventually(all_read, timeout=180, interval=1.0, what="every named order read")
    await chain.processed()
    read = await gets()
    assert len(read) <= COUNT
    assert len(set(read)) == COUNT  # each once
    notices = [e for e in await chain.sync_events() if isinstance(e, MallStateObserved) and e.source == "webhook"]
    assert sorted(e.mall_order_id for e in notices) == sorted(changed)
    assert {e.changed for e in notices} == {("confirmed",)}
    confirms = [req for req in await chain.requests(method="PUT") if req["order_id"] in set(changed)]
    assert [req["body"] for req in confirms] == [{"confirmed": True}] * CHANGED
