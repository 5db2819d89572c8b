"""`mallbridge audit` on a real log with MALL's side and people's actions: the gamma scenario
(tests/unit/audit/mall_scenario.py) written to all three topics through the EventLog, the command run
through click's CliRunner, its output compared with the hand-computed figures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mallbridge_audit.cli import audit
from mallbridge_core.eventlog import OutgoingRecord, open_event_log
from mallbridge_core.topics import Topics
from mallbridge_schema.events import Event, MallStateObserved, MallStatusUpdated, MallUpdateRequested
from mallbridge_schema.serde import encode_event, event_key
from tests.unit.audit import mall_scenario as ms

pytestmark = pytest.mark.kafka

AS_OF = ms.AS_OF.isoformat()
Tamper = Callable[[dict[str, ms.MallOrder]], None]


def write_log(url: str, prefix: str, orders: list[ms.MallOrder]) -> None:
    """Append the orders' events as ingest, the operators' commands and a publisher would."""

    async def go() -> None:
        log = open_event_log(url, partitions=3)
        await log.start()
        try:
            topics = Topics(prefix=prefix)
            await log.ensure_topics([topics.order_events, topics.operator_events, topics.sync_events])
            written: tuple[tuple[str, list[Event]], ...] = (
                (topics.order_events, ms.order_events(orders)),
                (topics.operator_events, ms.operator_events(orders)),
                (topics.sync_events, ms.sync_events(orders)),
            )
            for topic, events in written:
                records = [OutgoingRecord(event_key(e.tenant_id, e.order_number), encode_event(e)) for e in events]
                await log.append(topic, records)
        finally:
            await log.close()

    asyncio.run(go())


def run(url: str, prefix: str, *args: str) -> Result:
    return CliRunner().invoke(
        audit,
        ["--log", url, "--topic-prefix", prefix, "--as-of", AS_OF, "--no-progress", *args],
        catch_exceptions=False,
    )


def run_json(url: str, prefix: str, *args: str, expect_exit: int = 0) -> dict[str, Any]:
    result = run(url, prefix, "--format", "json", *args)
    assert result.exit_code == expect_exit, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _as_json(name: str, value: Any) -> Any:
    """EXPECTED's (name, count) pairs as the JSON report writes them."""
    if name in ("mall_reads", "mall_changes"):
        return dict(value)
    if name == "operator_people":
        people: dict[str, dict[str, int]] = {}
        for by, kind, n in value:
            people.setdefault(by, {})[kind] = n
        return people
    return value


def test_malls_side_and_peoples_actions_match_the_hand_computed_figures(event_log_url: str, topic_prefix: str) -> None:
    orders = ms.build()
    write_log(event_log_url, topic_prefix, orders)
    data = run_json(event_log_url, topic_prefix)
    # MALL's webhook receipts are about the tenant, not an order: in the tenant's figures, not the order events
    assert data["events"]["order_events"] == len(ms.order_events(orders)) - data["tenants"][0]["webhook_receipts"]
    assert data["events"]["operator_events"] == len(ms.operator_events(orders))
    assert data["events"]["undecodable"] == 0
    [gamma] = data["tenants"]
    for name, value in ms.EXPECTED.items():
        expected = _as_json(name, value)
        assert gamma[name] == (pytest.approx(expected) if isinstance(expected, float) else expected), name
    got = {o["order_number"]: (o["desired"], o["mall_status"], o["mall_status_by"], o["state"]) for o in data["orders"]}
    assert got == ms.EXPECTED_ORDERS
    g1 = next(o for o in data["orders"] if o["order_number"] == "G1")
    assert g1["mall_changes"] == [{"kind": "cancelled_at_mall", "source": "webhook"}]
    assert (g1["attention_acknowledged"], g1["partner_cancelled"]) == (True, False)
    assert [(a["kind"], a["by"]) for a in g1["actions"]] == [("ack", "eva")]
    assert gamma["unknown_to_fastcentrik"] == UNKNOWN_JSON  # balance's later word (key `gamma:`), no order row


UNKNOWN_JSON = {
    "total": ms.EXPECTED_UNKNOWN[0],
    "mall_order_ids": list(ms.EXPECTED_UNKNOWN[1]),
    "seen_at": ms.EXPECTED_UNKNOWN[2].isoformat(),
}


def test_the_mall_orders_fastcentrik_never_got_are_the_same_in_workers_and_no_difference(
    event_log_url: str, topic_prefix: str
) -> None:
    write_log(event_log_url, topic_prefix, ms.build())
    for workers in ("1", "2"):
        data = run_json(event_log_url, topic_prefix, "--verify", "--workers", workers)  # exit code 0: clean
        assert data["tenants"][0]["unknown_to_fastcentrik"] == UNKNOWN_JSON, workers
        assert (data["verify"]["clean"], data["verify"]["orders_checked"]) == (True, 7), workers
    # Workers split partitions: Kafka topics here have several, the embedded log has one per topic.
    assert data["workers"] == (2 if event_log_url.startswith("kafka://") else 1)
    table = run(event_log_url, topic_prefix)
    assert table.exit_code == 0, table.output
    assert "tenant gamma: 1 MALL order FastCentrik never got (mallbridge balance at " in table.stdout


def test_the_timelines_show_malls_side_and_the_table_says_why_an_order_ended(
    event_log_url: str, topic_prefix: str
) -> None:
    write_log(event_log_url, topic_prefix, ms.build())
    data = run_json(event_log_url, topic_prefix, "--order", "G1", "--order", "G2")
    timelines = {t["order_number"]: t["entries"] for t in data["timelines"]}
    g1 = [(e["side"], e["type"], e["change"]) for e in timelines["G1"]]
    assert ("mall", "MallOrderChanged", None) in g1
    assert ("mall", "MallStateObserved", "cancelled_at_mall") in g1
    assert ("operator", "AttentionAcknowledged", None) in g1
    g2 = [(e["why"], e["change"]) for e in timelines["G2"] if e["type"] == "MallStateObserved"]
    assert g2 == [("webhook", "delivered_by_mall_delivery"), ("resync", None)]
    table = run(event_log_url, topic_prefix, "--order", "G1", "--order", "G2", "--all-orders")
    assert table.exit_code == 0, table.output
    out = table.stdout
    assert "MALL read (MALL's webhook named it): cancelled, not confirmed" in out  # G1's timeline
    assert "(acknowledged by eva: told the" in out  # G1's detail
    assert "ended at MALL: delivered_by_mall_delivery (read: webhook)" in out  # G2's detail


def _g5_without_confirmed(orders: dict[str, ms.MallOrder]) -> None:
    g5 = orders["G5"]  # MALL opened the blocked order: its next status PUT must carry confirmed: true
    g5.sync_events = [
        e.model_copy(update={"request": {"status": "shipping"}})
        if isinstance(e, MallUpdateRequested | MallStatusUpdated) and e.request_no == 2
        else e
        for e in g5.sync_events
    ]


def _g6_without_its_read(orders: dict[str, ms.MallOrder]) -> None:
    g6 = orders["G6"]  # the confirm-only PUT then answers no MALL change
    g6.sync_events = [e for e in g6.sync_events if not isinstance(e, MallStateObserved)]


def test_verify_is_clean_on_the_honest_log(event_log_url: str, topic_prefix: str) -> None:
    write_log(event_log_url, topic_prefix, ms.build())
    data = run_json(event_log_url, topic_prefix, "--verify")
    assert data["verify"]["clean"] is True
    assert (data["verify"]["puts_checked"], data["verify"]["warnings"]) == (9, [])


@pytest.mark.parametrize(
    ("tamper", "number", "kind", "says"),
    [
        (_g5_without_confirmed, "G5", "different_put", 'planned shipping {"confirmed":true,"status":"shipping"}'),
        (_g6_without_its_read, "G6", "unexpected_put", "nothing says MALL has it unconfirmed"),
    ],
)
def test_verify_names_the_order_and_what_was_expected(
    event_log_url: str, topic_prefix: str, tamper: Tamper, number: str, kind: str, says: str
) -> None:
    orders = ms.build()
    tamper({o.number: o for o in orders})
    write_log(event_log_url, topic_prefix, orders)
    data = run_json(event_log_url, topic_prefix, "--verify", expect_exit=1)
    [finding] = data["verify"]["differences"]
    assert (finding["order_number"], finding["kind"]) == (number, kind)
    assert says in finding["message"]
