"""`mallbridge log export` / `mallbridge log import` move a log between the engines with event ids kept.

Sync tests on purpose: the commands run their own event loop (asyncio.run), as they do from a shell.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mallbridge_core.cli import main
from mallbridge_core.eventlog import EventLog, LogRecord, OutgoingRecord, open_event_log
from mallbridge_core.topics import Topics
from mallbridge_schema.events import AttentionNeeded, OrderFirstSeen, OrderStatusChanged
from mallbridge_schema.serde import (
    decode_order_event,
    decode_sync_event,
    encode_event,
    event_key,
)
from mallbridge_schema.statuses import FastCentrikStatus

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _order_events(tenant: str, orders: int) -> list[OutgoingRecord]:
    out: list[OutgoingRecord] = []
    for n in range(orders):
        number = f"{tenant.upper()}-{1000 + n}"
        common = {"tenant_id": tenant, "order_number": number, "mall_order_id": str(90000 + n)}
        first = OrderFirstSeen(
            event_id=uuid.uuid4(),
            seq=1,
            occurred_at=T0 + timedelta(minutes=n),
            recorded_at=T0 + timedelta(minutes=n, seconds=1),
            status=FastCentrikStatus.PENDING,
            status_label="Čeká na vyřízení",  # non-ASCII, must survive byte for byte
            **common,
        )
        changed = OrderStatusChanged(
            event_id=uuid.uuid4(),
            seq=2,
            occurred_at=T0 + timedelta(hours=1, minutes=n),
            recorded_at=T0 + timedelta(hours=1, minutes=n, seconds=1),
            from_status=FastCentrikStatus.PENDING,
            to_status=FastCentrikStatus.IN_PROCESS,
            status_label="Vyřizuje se",
            **common,
        )
        out += [OutgoingRecord(key=event_key(tenant, number), value=encode_event(e)) for e in (first, changed)]
    return out


def _sync_events(tenant: str, orders: int) -> list[OutgoingRecord]:
    return [
        OutgoingRecord(
            key=event_key(tenant, f"{tenant.upper()}-{1000 + n}"),
            value=encode_event(
                AttentionNeeded(
                    event_id=uuid.uuid4(),
                    tenant_id=tenant,
                    order_number=f"{tenant.upper()}-{1000 + n}",
                    mall_order_id=str(90000 + n),
                    occurred_at=T0,
                    recorded_at=T0,
                    based_on_seq=2,
                    code="tracking_missing",
                    reason="Order shipped without tracking number; add one in FastCentrik.",
                )
            ),
        )
        for n in range(orders)
    ]


def _dead_letters() -> list[OutgoingRecord]:
    return [
        OutgoingRecord(
            key=b"acme:ACME-1",
            value=b"\xff\xfe not UTF-8 \x00",
            headers=(("source_topic", b"mallbridge.order-events.v1"), ("error", b"\x80bad bytes")),
        ),
        OutgoingRecord(key=None, value=b"[1, 2]", headers=(("error", b"event is not a JSON object"),)),
    ]


def _content(prefix: str) -> dict[str, list[OutgoingRecord]]:
    default, lane = Topics(prefix=prefix), Topics(prefix=prefix, lane="bigshop")
    return {
        default.order_events: _order_events("acme", 30),
        default.sync_events: _sync_events("acme", 10),
        default.dead_letter: _dead_letters(),
        lane.order_events: _order_events("bigshop", 15),
    }


async def _fill(url: str, content: dict[str, list[OutgoingRecord]]) -> None:
    log = open_event_log(url)
    await log.start()
    try:
        await log.ensure_topics(list(content))
        for topic, records in content.items():
            for i in range(0, len(records), 7):  # several appends per topic
                await log.append(topic, records[i : i + 7])
    finally:
        await log.close()


async def _replay(url: str, topics: list[str]) -> dict[str, list[LogRecord]]:
    log: EventLog = open_event_log(url)
    await log.start()
    try:
        return {t: [r async for batch in log.replay(t) for r in batch] for t in topics}
    finally:
        await log.close()


def _cli(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def _per_key(records: list[LogRecord]) -> dict[bytes | None, list[tuple[bytes, tuple[tuple[str, bytes], ...]]]]:
    """Per key, (value, headers) in log order: what must survive a move (offsets and partitions may not)."""
    out: dict[bytes | None, list[tuple[bytes, tuple[tuple[str, bytes], ...]]]] = {}
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        out.setdefault(r.key, []).append((r.value, r.headers))
    return out


def _event_ids(topic: str, records: list[LogRecord]) -> list[str]:
    if "order-events" in topic:
        return [str(decode_order_event(r.value).event_id) for r in records]
    if "sync-events" in topic:
        return [str(decode_sync_event(r.value).event_id) for r in records]
    return []


@pytest.mark.kafka
def test_export_embedded_import_into_kafka_and_back_keeps_every_record_and_event_id(
    kafka_bootstrap: str, tmp_path: Path, topic_prefix: str
) -> None:
    sqlite_url = f"sqlite://{tmp_path}/source.db"
    content = _content("mallbridge.")
    asyncio.run(_fill(sqlite_url, content))

    # sqlite -> file, with the topics found by listing (lane included).
    exported = tmp_path / "from-sqlite.jsonl"
    result = _cli("log", "export", "--log", sqlite_url, "--topic-prefix", "mallbridge.", str(exported))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == sum(len(v) for v in content.values())
    assert {line["topic"] for line in lines} == {
        "order-events.v1",
        "sync-events.v1",
        "dead-letter.v1",
        "lane-bigshop.order-events.v1",
    }
    dead = next(line for line in lines if line["topic"] == "dead-letter.v1")
    assert "value_b64" in dead  # bytes that are not UTF-8 travel base64-encoded
    assert "Čeká na vyřízení" in next(line["value"] for line in lines if "OrderFirstSeen" in line.get("value", ""))

    # file -> Kafka, under the test's own prefix.
    kafka_url = f"kafka://{kafka_bootstrap}"
    result = _cli("log", "import", "--log", kafka_url, "--topic-prefix", topic_prefix, str(exported))
    assert result.exit_code == 0, result.output
    source = asyncio.run(_replay(sqlite_url, list(content)))
    in_kafka = asyncio.run(_replay(kafka_url, [t.replace("mallbridge.", topic_prefix, 1) for t in content]))
    for topic in content:
        moved = in_kafka[topic.replace("mallbridge.", topic_prefix, 1)]
        assert _per_key(moved) == _per_key(source[topic]), topic
        assert sorted(_event_ids(topic, moved)) == sorted(_event_ids(topic, source[topic])), topic
    assert sum(len(v) for v in in_kafka.values()) == len(lines)

    # Importing the same file again is refused (it would duplicate every event), and writes nothing.
    again = _cli("log", "import", "--log", kafka_url, "--topic-prefix", topic_prefix, str(exported))
    assert again.exit_code != 0
    assert "already holds records" in again.output
    assert sum(len(v) for v in asyncio.run(_replay(kafka_url, list(in_kafka))).values()) == len(lines)

    # Kafka -> file -> a new sqlite file: back where we started.
    back_file = tmp_path / "from-kafka.jsonl"
    result = _cli("log", "export", "--log", kafka_url, "--topic-prefix", topic_prefix, str(back_file))
    assert result.exit_code == 0, result.output
    back_url = f"sqlite://{tmp_path}/back.db"
    result = _cli("log", "import", "--log", back_url, "--topic-prefix", "mallbridge.", str(back_file))
    assert result.exit_code == 0, result.output
    back = asyncio.run(_replay(back_url, list(content)))
    for topic in content:
        assert _per_key(back[topic]) == _per_key(source[topic]), topic
        assert sorted(_event_ids(topic, back[topic])) == sorted(_event_ids(topic, source[topic])), topic


def test_import_checks_the_whole_file_first_and_writes_nothing_on_a_bad_line(tmp_path: Path) -> None:
    good = {"topic": "order-events.v1", "partition": 0, "offset": 0, "timestamp_ms": 1, "key": "a:1", "value": "{}"}
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([json.dumps(good), json.dumps(good), json.dumps({**good, "value": None})]) + "\n")
    url = f"sqlite://{tmp_path}/target.db"
    result = _cli("log", "import", "--log", url, "--topic-prefix", "p.", str(path))
    assert result.exit_code != 0
    assert "line 3" in result.output
    assert "nothing was written" in result.output
    assert asyncio.run(_replay(url, ["p.order-events.v1"])) == {"p.order-events.v1": []}


def test_a_record_without_a_key_moves_between_logs_without_a_key(tmp_path: Path) -> None:
    # a dead letter of a record read without a key: the import refused the whole export ("key missing")
    source, target = f"sqlite://{tmp_path}/source.db", f"sqlite://{tmp_path}/target.db"
    asyncio.run(_fill(source, {"p.dead-letter.v1": _dead_letters()}))
    assert _cli("log", "export", "--log", source, "--topic-prefix", "p.", str(tmp_path / "out.jsonl")).exit_code == 0
    result = _cli("log", "import", "--log", target, "--topic-prefix", "p.", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 0, result.output
    moved = asyncio.run(_replay(target, ["p.dead-letter.v1"]))["p.dead-letter.v1"]
    assert [(r.key, r.value, r.headers) for r in moved] == [(r.key, r.value, r.headers) for r in _dead_letters()]


def test_export_of_named_topics_to_stdout(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/events.db"
    asyncio.run(_fill(url, {"p.order-events.v1": _order_events("acme", 2), "p.other": _dead_letters()}))
    result = _cli("log", "export", "--log", url, "--topic-prefix", "p.", "--topic", "order-events.v1", "-")
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["offset"] for line in lines] == [0, 1, 2, 3]
    assert {line["topic"] for line in lines} == {"order-events.v1"}
