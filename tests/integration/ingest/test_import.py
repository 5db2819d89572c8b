"""`mallbridge ingest import FILE --tenant T`: JSON Lines and CSV, skip-and-report, idempotent re-runs."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mallbridge_core.cli import main
from tests.integration.ingest.support import by_key, order_topic, read_events, summary

EXAMPLES = Path(__file__).resolve().parents[3] / "services" / "ingest" / "examples"
# The import needs only the tenant's existence and lane: the secrets named here are never resolved.
TENANTS = """
[tenants.acme]
ingest_secret = "env:MALLBRIDGE_TEST_UNSET_SECRET_1"
mall_client_id = "env:MALLBRIDGE_TEST_UNSET_SECRET_2"

[tenants.vip]
ingest_secret = "env:MALLBRIDGE_TEST_UNSET_SECRET_3"
lane = "vip"
"""


def run_import(tmp_path: Path, url: str, prefix: str, file: Path, *extra: str, tenant: str = "acme") -> Result:
    tenants = tmp_path / "tenants.toml"
    tenants.write_text(TENANTS)
    args = [
        "ingest",
        "import",
        str(file),
        "--tenant",
        tenant,
        "--tenants",
        str(tenants),
        "--log",
        url,
        "--topic-prefix",
        prefix,
        *extra,
    ]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def events(url: str, topic: str) -> dict[bytes, list[tuple[str, int]]]:
    return {k: summary(v) for k, v in by_key(asyncio.run(read_events(url, topic))).items()}


def test_jsonl_import_skips_and_reports_the_bad_line_and_reruns_write_nothing(
    tmp_path: Path, event_log_url: str, topic_prefix: str
) -> None:
    file = tmp_path / "orders.jsonl"
    lines = (EXAMPLES / "snapshots.jsonl").read_text().splitlines()
    bad = json.dumps({"order_number": "2026-000299", "mall_order_id": "12x", "status": "pending"})
    file.write_text("\n".join([*lines[:2], bad, "", "{broken", *lines[2:]]) + "\n")

    result = run_import(tmp_path, event_log_url, topic_prefix, file, "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert (report["read"], report["changed"], report["unchanged"], report["rejected"]) == (6, 4, 0, 2)
    reasons = {r["line"]: r["reason"] for r in report["rejections"]}
    assert set(reasons) == {3, 5}
    assert "order_number '2026-000299'" in reasons[3]
    assert "mall_order_id" in reasons[3]
    assert "digits" in reasons[3]
    assert "not valid JSON" in reasons[5]
    written = events(event_log_url, order_topic(topic_prefix))
    assert set(written) == {b"acme:2026-000201", b"acme:2026-000202", b"acme:2026-000203", b"acme:2026-000204"}
    assert all(v == [("OrderFirstSeen", 1)] for v in written.values())

    again = run_import(tmp_path, event_log_url, topic_prefix, file, "--json")
    assert again.exit_code == 1
    rerun = json.loads(again.stdout)
    assert (rerun["changed"], rerun["unchanged"], rerun["events"]) == (0, 4, 0)
    assert events(event_log_url, order_topic(topic_prefix)) == written


def test_csv_import_with_a_rejected_line_and_then_a_change(
    tmp_path: Path, event_log_url: str, topic_prefix: str
) -> None:
    file = tmp_path / "orders.csv"
    text = (EXAMPLES / "snapshots.csv").read_text()
    file.write_text(text + "2026-000304,1000000000304,doručeno,,,,,\n")
    result = run_import(tmp_path, event_log_url, topic_prefix, file)
    assert result.exit_code == 1, result.output
    assert "read 4, changed 3, unchanged 0, stale 0, rejected 1" in result.stdout
    assert "line 5 (order_number '2026-000304'): status: unknown FastCentrik status 'doručeno'" in result.stdout
    assert "importing orders.csv" in result.stderr  # the progress bar goes to stderr

    file.write_text(text.replace("2026-000301,1000000000301,pending", "2026-000301,1000000000301,settled"))
    result = run_import(tmp_path, event_log_url, topic_prefix, file)
    assert result.exit_code == 0, result.output
    assert "read 3, changed 1, unchanged 2, stale 0, rejected 0" in result.stdout
    written = events(event_log_url, order_topic(topic_prefix))
    assert written[b"acme:2026-000301"] == [("OrderFirstSeen", 1), ("OrderStatusChanged", 2)]
    assert written[b"acme:2026-000303"] == [("OrderFirstSeen", 1)]


def test_import_into_a_lane_tenant_and_errors(tmp_path: Path, event_log_url: str, topic_prefix: str) -> None:
    file = tmp_path / "o.jsonl"
    shutil.copy(EXAMPLES / "snapshots.jsonl", file)
    assert run_import(tmp_path, event_log_url, topic_prefix, file, tenant="vip").exit_code == 0
    assert len(events(event_log_url, order_topic(topic_prefix, "vip"))) == 4

    unknown = run_import(tmp_path, event_log_url, topic_prefix, file, tenant="nobody")
    assert unknown.exit_code == 2
    assert "no tenant 'nobody'" in unknown.stderr
    odd = tmp_path / "o.txt"
    odd.write_text("x")
    assert run_import(tmp_path, event_log_url, topic_prefix, odd).exit_code == 2
    bad_csv = tmp_path / "b.csv"
    bad_csv.write_text("number,status\n1,pending\n")
    result = run_import(tmp_path, event_log_url, topic_prefix, bad_csv)
    assert result.exit_code == 2
    assert "mall_order_id" in result.stderr


Expected = dict[bytes, list[tuple[str, int]]]


def _history_file(path: Path, orders: int) -> tuple[Expected, dict[str, dict[str, str]]]:
    """`orders` orders, most with several lines (a status history, then tracking), some order numbers
    spelled with surrounding whitespace, one unreadable line. Returns the events each key must get and
    the last snapshot of each order."""
    lines: list[str] = []
    expected: Expected = {}
    last: dict[str, dict[str, str]] = {}
    for i in range(orders):
        number = f"2026-{i:06d}"
        key = f"acme:{number}".encode()
        base = {"order_number": number, "mall_order_id": str(10**12 + i), "status": "pending"}
        lines.append(json.dumps(base))
        expected[key] = [("OrderFirstSeen", 1)]
        last[number] = base
        if i % 2:
            last[number] = {**base, "status": "vyřizuje se"}
            lines.append(json.dumps({**last[number], "order_number": f"  {number}\t"}))
            expected[key].append(("OrderStatusChanged", 2))
        if i % 3 == 0:
            last[number] = {**last[number], "tracking_number": f"T{i}", "tracking_url": f"https://t.example/{i}"}
            lines.append(json.dumps(last[number]))
            expected[key].append(("TrackingAssigned", len(expected[key]) + 1))
    lines.insert(len(lines) // 2, "{not json")
    path.write_text("\n".join(lines) + "\n")
    return expected, last


@pytest.mark.kafka
def test_parallel_import_writes_each_order_once_in_order_and_any_worker_count_carries_on(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str
) -> None:
    """Workers own orders, not lines: an order's lines, in whatever spelling, all reach one worker, so its
    events are numbered 1, 2, 3 without gaps; later imports with other worker counts rebuild every order
    (nothing unchanged is written again, and the next change continues the order's numbering)."""
    url = f"kafka://{kafka_bootstrap}"
    file = tmp_path / "history.jsonl"
    expected, last = _history_file(file, 600)
    total_lines = len(file.read_text().splitlines())

    result = run_import(tmp_path, url, topic_prefix, file, "--workers", "3", "--json")
    assert result.exit_code == 1, result.output  # the unreadable line
    report = json.loads(result.stdout)
    assert report["read"] == total_lines
    assert report["rejected"] == 1
    assert [r["line"] for r in report["rejections"]] == [total_lines // 2 + 1]
    assert report["events"] == sum(map(len, expected.values()))
    assert report["aborted"] is None
    assert "state rebuilt (3 workers)" in result.stderr
    assert events(url, order_topic(topic_prefix)) == expected

    final = tmp_path / "final.jsonl"
    final.write_text("".join(json.dumps(snapshot) + "\n" for snapshot in last.values()))
    for workers in ("2", "1"):
        again = json.loads(run_import(tmp_path, url, topic_prefix, final, "--workers", workers, "--json").stdout)
        assert (again["changed"], again["unchanged"], again["events"]) == (0, 600, 0)

    final.write_text("".join(json.dumps({**s, "status": "vyřízená"}) + "\n" for s in last.values()))
    moved = json.loads(run_import(tmp_path, url, topic_prefix, final, "--workers", "4", "--json").stdout)
    assert (moved["changed"], moved["events"]) == (600, 600)
    for history in expected.values():
        history.append(("OrderStatusChanged", len(history) + 1))
    assert events(url, order_topic(topic_prefix)) == expected


def test_more_than_one_worker_needs_kafka(tmp_path: Path) -> None:
    file = tmp_path / "o.jsonl"
    shutil.copy(EXAMPLES / "snapshots.jsonl", file)
    result = run_import(tmp_path, f"sqlite://{tmp_path / 'e.db'}", "p.", file, "--workers", "2")
    assert result.exit_code == 2
    assert "--workers" in result.stderr
    assert "needs a Kafka log" in result.stderr
    assert not (tmp_path / "e.db").exists()


@pytest.mark.parametrize(
    ("url", "workers"), [("kafka://127.0.0.1:9", "2"), ("kafka://127.0.0.1:9", "1"), ("sqlite:///proc/no/e.db", "1")]
)
def test_an_unreachable_log_aborts_the_import_with_a_reason(tmp_path: Path, url: str, workers: str) -> None:
    file = tmp_path / "o.jsonl"
    shutil.copy(EXAMPLES / "snapshots.jsonl", file)
    result = run_import(tmp_path, url, "p.", file, "--workers", workers)
    assert result.exit_code == 2
    assert "ABORTED" in result.stdout
    assert "the event log is not reachable, nothing was imported" in result.stdout
    assert "read 0, changed 0" in result.stdout
