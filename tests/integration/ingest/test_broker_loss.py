"""The broker stopped: pushes get 503 and nothing is acknowledged; once it is back the same push succeeds."""

from __future__ import annotations

import asyncio
import time

import pytest

from mallbridge_ingest.domain import UNKNOWN, apply_event
from mallbridge_schema.statuses import FastCentrikStatus as S
from tests.conftest import LocalBroker
from tests.integration.ingest.support import IngestServer, by_key, order_topic, read_events, summary, tenant

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ORDER = {"order_number": "L-1", "mall_order_id": "7000000000001", "status": "pending"}


async def test_broker_down_is_503_then_the_same_push_succeeds(private_broker: LocalBroker, topic_prefix: str) -> None:
    url = f"kafka://{private_broker.bootstrap}"
    async with IngestServer(log_url=url, tenants={"acme": tenant("acme")}, topic_prefix=topic_prefix) as srv:
        assert (await srv.push("acme", [ORDER])).json()["events"] == 1

        await asyncio.to_thread(private_broker.stop)
        shipped = {**ORDER, "status": "settled", "tracking_number": "Z9", "tracking_url": "https://t/Z9"}
        r = await srv.push("acme", [shipped])
        assert r.status_code == 503
        assert "nothing was written" in r.json()["detail"]
        assert r.headers.get("retry-after")
        assert (await srv.client.get("/readyz")).status_code == 503
        assert (await srv.client.get("/healthz")).status_code == 200

        await asyncio.to_thread(private_broker.restart_keeping_data)
        deadline = time.monotonic() + 90
        while True:
            r = await srv.push("acme", [shipped])
            if r.status_code == 202:
                break
            assert r.status_code == 503, r.text
            assert time.monotonic() < deadline, "push did not succeed after the broker came back"
            await asyncio.sleep(1)
        assert r.json() == {"accepted": 1, "events": 2, "unchanged": 0, "stale": 0}
        assert (await srv.push("acme", [shipped])).json()["events"] == 0
        await srv.wait_ready()
        assert 'reason="log_unavailable"' in await srv.metrics()

    events = by_key(await read_events(url, order_topic(topic_prefix)))[b"acme:L-1"]
    got = summary(events)
    # The answer was 503, yet the unacknowledged attempt may still reach the log once the broker is back
    # (at-least-once). Its seqs were reserved, so no seq is ever reused: the retry follows with new ones
    # and a consumer folding the facts ends in the same state either way.
    assert got[0] == ("OrderFirstSeen", 1)
    assert [name for name, _ in got[-2:]] == ["TrackingAssigned", "OrderStatusChanged"]
    assert len(got) in (3, 5)
    seqs = [seq for _, seq in got]
    assert seqs == sorted(set(seqs))
    state = UNKNOWN
    for event in events:
        state = apply_event(state, event)
    assert (state.fc.status, state.fc.tracking_number) == (S.SETTLED, "Z9")
