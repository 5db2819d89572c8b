"""Out-of-order input on a real server and log (DESIGN §3): today's pushes, then yesterday's file, then a
restart and a client's late retry. Older snapshots change nothing, on every path, and are counted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from click.testing import CliRunner

from mallbridge_core.cli import main
from tests.integration.ingest.support import IngestServer, by_key, order_topic, read_events, summary, tenant

SETTLED = {
    "order_number": "O-1",
    "mall_order_id": "7100000000001",
    "status": "vyřízená",
    "tracking_number": "DR1",
    "tracking_url": "https://t/DR1",
    "changed_at": "2026-11-20T12:00:00+01:00",
}
OLDER = {
    "order_number": "O-1",
    "mall_order_id": "7100000000001",
    "status": "vyřizuje se",
    "changed_at": "2026-11-20T10:00:00+01:00",
}
TENANTS = '[tenants.acme]\ningest_secret = "env:MALLBRIDGE_TEST_UNSET_SECRET_1"\n'


def import_file(tmp_path: Path, url: str, prefix: str, lines: Sequence[Mapping[str, object]]) -> dict[str, object]:
    file = tmp_path / "yesterday.jsonl"
    file.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    tenants = tmp_path / "tenants.toml"
    tenants.write_text(TENANTS)
    args = ["ingest", "import", str(file), "--tenant", "acme", "--tenants", str(tenants), "--log", url]
    result = CliRunner().invoke(main, [*args, "--topic-prefix", prefix, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.stdout)
    return report


async def test_older_snapshots_change_nothing_on_push_import_and_after_a_restart(
    tmp_path: Path, event_log_url: str, topic_prefix: str
) -> None:
    tenants = {"acme": tenant("acme")}
    async with IngestServer(log_url=event_log_url, tenants=tenants, topic_prefix=topic_prefix) as srv:
        assert (await srv.push("acme", [SETTLED])).json()["events"] == 1
        r = await srv.push("acme", [OLDER])
        assert r.json() == {"accepted": 1, "events": 0, "unchanged": 0, "stale": 1}
        assert 'mallbridge_ingest_snapshots_stale_total{source="push",tenant="acme"} 1.0' in await srv.metrics()

    new_order = {**OLDER, "order_number": "O-2", "mall_order_id": "7100000000002"}
    report = await asyncio.to_thread(import_file, tmp_path, event_log_url, topic_prefix, [OLDER, new_order])
    assert (report["read"], report["changed"], report["stale"], report["events"]) == (2, 1, 1, 1)

    # A fresh process knows the newest changed_at of O-1 from the events alone.
    async with IngestServer(log_url=event_log_url, tenants=tenants, topic_prefix=topic_prefix) as srv:
        r = await srv.push("acme", [OLDER, {**SETTLED, "status": "stornovaná", "changed_at": "2026-11-20T13:00+01:00"}])
        assert r.json() == {"accepted": 2, "events": 1, "unchanged": 0, "stale": 1}

    events = by_key(await read_events(event_log_url, order_topic(topic_prefix)))
    assert summary(events[b"acme:O-1"]) == [("OrderFirstSeen", 1), ("OrderStatusChanged", 2)]
    assert [e.changed_at.isoformat() if e.changed_at else None for e in events[b"acme:O-1"]] == [
        "2026-11-20T12:00:00+01:00",
        "2026-11-20T13:00:00+01:00",
    ]
    assert summary(events[b"acme:O-2"]) == [("OrderFirstSeen", 1)]


async def test_a_replay_after_a_restart_is_covered_by_the_stale_rule(event_log_url: str, topic_prefix: str) -> None:
    """The replay cache does not outlive the process: after a restart the same signed push is processed again, and its
    snapshots, older than what was applied since, are stale: nothing is written."""
    tenants = {"acme": tenant("acme")}
    async with IngestServer(log_url=event_log_url, tenants=tenants, topic_prefix=topic_prefix) as srv:
        ts = srv.next_timestamp()
        first = await srv.push("acme", [OLDER], timestamp=ts)
        assert first.json()["events"] == 1
        assert (await srv.push("acme", [SETTLED])).json()["events"] == 2
        assert (await srv.push("acme", [OLDER], timestamp=ts)).json() == {**first.json(), "replayed": True}
    async with IngestServer(log_url=event_log_url, tenants=tenants, topic_prefix=topic_prefix) as srv:
        again = await srv.push("acme", [OLDER], timestamp=ts)
        assert again.json() == {"accepted": 1, "events": 0, "unchanged": 0, "stale": 1}
    assert len(await read_events(event_log_url, order_topic(topic_prefix))) == 3
