"""`mallbridge audit` on a real log: the recorded scenario is written to the topics through the EventLog,
then the command is run through click's CliRunner and its output compared with hand-computed figures."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mallbridge_audit.cli import audit
from mallbridge_core.eventlog import OutgoingRecord, open_event_log
from mallbridge_core.topics import Topics
from mallbridge_schema.events import MallStatusUpdated, MallUpdateRequested
from mallbridge_schema.serde import encode_event, event_key
from tests.unit.audit import scenario as sc

pytestmark = pytest.mark.kafka

AS_OF = "2026-10-20T12:00:00+00:00"


def write_log(url: str, prefix: str, orders: list[sc.Order], *, lanes: dict[str, str] | None = None) -> None:
    """Append the orders' events as ingest and a publisher would: order events, then sync events."""

    async def go() -> None:
        log = open_event_log(url, partitions=3)
        await log.start()
        try:
            by_lane: dict[str, list[sc.Order]] = {}
            for order in orders:
                by_lane.setdefault((lanes or {}).get(order.tenant, "default"), []).append(order)
            for lane, members in by_lane.items():
                topics = Topics(prefix=prefix, lane=lane)
                await log.ensure_topics([topics.order_events, topics.sync_events])
                for topic, events in (
                    (topics.order_events, sc.order_events(members)),
                    (topics.sync_events, sc.sync_events(members)),
                ):
                    records = [OutgoingRecord(event_key(e.tenant_id, e.order_number), encode_event(e)) for e in events]
                    await log.append(topic, records)
        finally:
            await log.close()

    asyncio.run(go())


def run(url: str, prefix: str, *args: str) -> Result:
    result = CliRunner().invoke(
        audit,
        ["--log", url, "--topic-prefix", prefix, "--as-of", AS_OF, "--no-progress", *args],
        catch_exceptions=False,
    )
    return result


def run_json(url: str, prefix: str, *args: str, expect_exit: int = 0) -> dict[str, Any]:
    result = run(url, prefix, "--format", "json", *args)
    assert result.exit_code == expect_exit, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _order(orders: list[sc.Order], number: str) -> sc.Order:
    return next(o for o in orders if o.number == number)


def test_report_matches_the_hand_computed_figures(event_log_url: str, topic_prefix: str) -> None:
    write_log(event_log_url, topic_prefix, sc.build())
    data = run_json(event_log_url, topic_prefix)
    assert data["events"]["order_events"] == sc.EXPECTED_COUNTS["order_events"]
    assert data["events"]["sync_events"] == sc.EXPECTED_COUNTS["sync_events"]
    assert data["events"]["undecodable"] == 0
    tenants = {t["tenant_id"]: t for t in data["tenants"]}
    assert set(tenants) == {"alpha", "beta"}
    for tenant, expected in sc.EXPECTED.items():
        for name, value in expected.items():
            assert tenants[tenant][name] == pytest.approx(value), f"{tenant}.{name}"
    assert tenants["alpha"]["cancel_rate_limit"] == 0.015
    assert tenants["beta"]["tenant_attention"] == [
        {"code": "mall_unauthorized", "reason": "reason for mall_unauthorized"}
    ]
    orders = {o["order_number"]: (o["desired"], o["mall_status"], o["state"]) for o in data["orders"]}
    assert orders == sc.EXPECTED_ORDERS
    a2 = next(o for o in data["orders"] if o["order_number"] == "A2")
    assert a2["lags_s"] == [31.0, 41.0, 51.0]
    assert a2["delivered_lag_s"] == 47 * 3600 + 51
    assert a2["on_time"] is False
    assert data["timelines"] == []  # no --order: no timelines kept
    assert data["verify"] is None


def test_table_output_flags_breaches_and_lists_orders_that_need_a_look(event_log_url: str, topic_prefix: str) -> None:
    write_log(event_log_url, topic_prefix, sc.build())
    result = run(event_log_url, topic_prefix)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "20.0% (1) ✗" in out  # alpha's cancel rate breaches 1.5%
    assert "50.0% (1/2) ✗" in out  # alpha's on-time delivery is under 90%
    for number in ("A4", "A5", "B2"):  # deferred, attention, attention
        assert number in out
    assert "mall_unauthorized" in out


def test_timeline_of_one_order_as_csv(event_log_url: str, topic_prefix: str) -> None:
    write_log(event_log_url, topic_prefix, sc.build())
    result = run(event_log_url, topic_prefix, "--order", "A2", "--format", "csv", "--csv-table", "timeline")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["type"] for r in rows] == [
        "OrderFirstSeen",
        "MallUpdateRequested",
        "MallStatusUpdated",
        "OrderStatusChanged",
        "TrackingAssigned",
        "MallUpdateRequested",
        "MallStatusUpdated",
        "DeliveryDateSet",
        "MallUpdateRequested",
        "MallStatusUpdated",
    ]
    assert [r["lag_s"] for r in rows if r["type"] == "MallStatusUpdated"] == ["31", "41", "51"]
    assert {r["order_number"] for r in rows} == {"A2"}
    ids = {str(e.event_id) for e in [*_order(sc.build(), "A2").order_events, *_order(sc.build(), "A2").sync_events]}
    assert {r["event_id"] for r in rows} == ids


def test_filters_by_tenant_and_window(event_log_url: str, topic_prefix: str) -> None:
    write_log(event_log_url, topic_prefix, sc.build())
    beta = run_json(event_log_url, topic_prefix, "--tenant", "beta")
    assert [t["tenant_id"] for t in beta["tenants"]] == ["beta"]
    assert beta["events"]["order_events"] == 11
    # Orders that reached open between 10:15 and 11:00 Prague time (08:15–09:00 UTC): A3, A4, A5.
    window = run_json(event_log_url, topic_prefix, "--since", "2026-10-05T10:15:00", "--until", "2026-10-05T11:00:00")
    assert [o["order_number"] for o in window["orders"]] == ["A3", "A4", "A5"]
    alpha = window["tenants"][0]
    assert (alpha["orders"], alpha["partner_cancellations"]) == (3, 1)
    rows = list(csv.DictReader(io.StringIO(run(event_log_url, topic_prefix, "--format", "csv").stdout)))
    assert len(rows) == 9
    typo = run(event_log_url, topic_prefix, "--tenant", "betta", "--order", "A9")
    assert typo.exit_code == 0  # a filter that matches nothing is no error, but it is said
    assert "Note: no order of tenant 'betta' in this report (check the name)" in typo.stderr
    assert "Note: no order 'A9' in this report (check the number)" in typo.stderr
    assert "Note:" not in run(event_log_url, topic_prefix, "--tenant", "beta").stderr


def test_lanes_of_the_tenants_file_are_read(event_log_url: str, topic_prefix: str, tmp_path: Path) -> None:
    write_log(event_log_url, topic_prefix, sc.build(), lanes={"beta": "bulk"})
    without = run_json(event_log_url, topic_prefix)
    assert [t["tenant_id"] for t in without["tenants"]] == ["alpha"]
    tenants_file = tmp_path / "tenants.toml"
    # Secrets are references the audit never resolves: these variables need not exist.
    tenants_file.write_text(
        '[tenants.alpha]\nmall_client_id = "env:NOPE_A"\n\n'
        '[tenants.beta]\nmall_client_id = "env:NOPE_B"\nlane = "bulk"\n',
        encoding="utf-8",
    )
    with_lanes = run_json(event_log_url, topic_prefix, "--tenants", str(tenants_file))
    assert [t["tenant_id"] for t in with_lanes["tenants"]] == ["alpha", "beta"]
    assert with_lanes["lanes"] == ["default", "bulk"]
    by_option = run_json(event_log_url, topic_prefix, "--lanes", "bulk", "--verify")
    assert {t["tenant_id"]: t["orders"] for t in by_option["tenants"]} == {"alpha": 5, "beta": 4}
    assert by_option["verify"]["clean"] is True


# ---- --verify ------------------------------------------------------------------------------------------


def test_verify_is_clean_on_the_honest_log(event_log_url: str, topic_prefix: str) -> None:
    write_log(event_log_url, topic_prefix, sc.build())
    data = run_json(event_log_url, topic_prefix, "--verify")
    assert data["verify"]["clean"] is True
    assert data["verify"]["differences"] == []
    assert data["verify"]["puts_checked"] == 13
    assert data["verify"]["orders_checked"] == 9
    table = run(event_log_url, topic_prefix, "--verify")
    assert table.exit_code == 0
    assert "verify: clean" in table.stdout


def _drop_a1_shipped_answer(orders: list[sc.Order]) -> None:
    a1 = _order(orders, "A1")
    a1.sync_events = [e for e in a1.sync_events if not (isinstance(e, MallStatusUpdated) and e.request_no == 2)]


def _alter_b2_tracking(orders: list[sc.Order]) -> None:
    b2 = _order(orders, "B2")
    b2.sync_events = [
        e.model_copy(update={"request": {**e.request, "tracking_number": "OTHER"}})
        if isinstance(e, MallUpdateRequested | MallStatusUpdated)
        else e
        for e in b2.sync_events
    ]


@pytest.mark.parametrize(
    ("tamper", "order", "kind"),
    [(_drop_a1_shipped_answer, "A1", "unexpected_put"), (_alter_b2_tracking, "B2", "different_put")],
    ids=["sync-event-removed", "sync-event-altered"],
)
def test_verify_fails_naming_the_order(
    event_log_url: str,
    topic_prefix: str,
    tamper: Callable[[list[sc.Order]], None],
    order: str,
    kind: str,
) -> None:
    orders = sc.build()
    tamper(orders)
    write_log(event_log_url, topic_prefix, orders)
    data = run_json(event_log_url, topic_prefix, "--verify", expect_exit=1)
    assert data["verify"]["clean"] is False
    assert [(d["order_number"], d["kind"]) for d in data["verify"]["differences"]] == [(order, kind)]
    (difference,) = data["verify"]["differences"]
    tampered_ids = {str(e.event_id) for e in _order(orders, order).sync_events}
    assert set(difference["event_ids"]) & tampered_ids
    table = run(event_log_url, topic_prefix, "--verify")
    assert table.exit_code == 1
    assert "difference" in table.stdout
    assert order in table.stdout


# ---- worker processes ----------------------------------------------------------------------------------


def test_workers_over_disjoint_partitions_give_the_same_report(event_log_url: str, topic_prefix: str) -> None:
    write_log(event_log_url, topic_prefix, sc.build())
    one = run_json(event_log_url, topic_prefix, "--workers", "1")
    two = run_json(event_log_url, topic_prefix, "--workers", "2")
    assert one["workers"] == 1
    # Workers split partitions: Kafka topics here have several, the embedded log has one per topic.
    assert two["workers"] == (2 if event_log_url.startswith("kafka://") else 1)
    for key in ("tenants", "orders", "events"):
        assert two[key] == one[key], key


@pytest.mark.parametrize(
    ("tamper", "differences"),
    [
        (lambda orders: None, []),
        (_drop_a1_shipped_answer, [("A1", "unexpected_put")]),
        (_alter_b2_tracking, [("B2", "different_put")]),
    ],
    ids=["honest", "sync-event-removed", "sync-event-altered"],
)
def test_verify_in_workers_finds_what_one_process_finds(
    event_log_url: str,
    topic_prefix: str,
    tamper: Callable[[list[sc.Order]], None],
    differences: list[tuple[str, str]],
) -> None:
    orders = sc.build()
    tamper(orders)
    write_log(event_log_url, topic_prefix, orders)
    exit_code = 1 if differences else 0
    as_of = ["--as-of", "2030-01-01T00:00:00+00:00"]  # one end moment for both runs: the same late work
    one = run_json(event_log_url, topic_prefix, "--verify", *as_of, "--workers", "1", expect_exit=exit_code)
    two = run_json(event_log_url, topic_prefix, "--verify", *as_of, "--workers", "2", expect_exit=exit_code)
    assert two["workers"] == (2 if event_log_url.startswith("kafka://") else 1)
    assert [(d["order_number"], d["kind"]) for d in two["verify"]["differences"]] == differences
    assert two["verify"] == one["verify"]
    assert two["verify"]["orders_checked"] == 9
    for key in ("tenants", "orders", "events"):
        assert two[key] == one[key], key


def test_workers_fall_back_to_one_process_when_an_order_lacks_its_order_events(
    event_log_url: str, topic_prefix: str
) -> None:
    orders = sc.build()
    _order(orders, "B3").order_events = []  # its sync events are orphans now
    write_log(event_log_url, topic_prefix, orders)
    data = run_json(event_log_url, topic_prefix, "--workers", "2")
    assert data["workers"] == 1
    b3 = next(o for o in data["orders"] if o["order_number"] == "B3")
    assert b3["orphan"] is True
    assert {t["tenant_id"]: t["orders"] for t in data["tenants"]} == {"alpha": 5, "beta": 4}


def test_a_forced_progress_bar_keeps_json_on_stdout_clean(event_log_url: str, topic_prefix: str) -> None:
    write_log(event_log_url, topic_prefix, sc.build())
    result = CliRunner().invoke(
        audit, ["--log", event_log_url, "--topic-prefix", topic_prefix, "--progress", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"]["order_events"] == sc.EXPECTED_COUNTS["order_events"]
