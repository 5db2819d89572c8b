"""The notifier's pure core: tolerant reading, which events alert, how an alert reads, the ledger fold."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from mallbridge_notify.domain.alerts import MAX_ORDERS_SHOWN, alert_for, alert_id, is_stale
from mallbridge_notify.domain.ledger import (
    AlertDelivered,
    AlertQueued,
    LedgerState,
    decode_entry,
    encode_entry,
    fold_ledger,
)
from mallbridge_notify.domain.messages import console_link, render, slack_payload
from mallbridge_notify.domain.records import UnreadableRecord, read_operator_record, read_sync_record
from mallbridge_schema.events import OPERATOR_EVENT_TYPES, SYNC_EVENT_TYPES, AttentionNeeded
from mallbridge_schema.examples import OPERATOR_EXAMPLES, SYNC_EXAMPLES
from mallbridge_schema.serde import encode_event
from tests.unit.notify.fakes import NOW, needed, resolved, unknown_orders, updated

BASE = "https://console.example:8443"

# ---- tolerant reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("event", SYNC_EXAMPLES, ids=lambda e: type(e).__name__)
def test_every_sync_event_type_reads_as_itself(event: object) -> None:
    raw = encode_event(event)  # type: ignore[arg-type]
    assert read_sync_record(raw) == event


def test_an_unknown_event_type_reads_as_unreadable_not_an_error() -> None:
    data = json.loads(encode_event(SYNC_EXAMPLES[0]))
    data["type"] = "MallInvoiceIssued"  # a newer publisher's event
    record = read_sync_record(json.dumps(data).encode())
    assert isinstance(record, UnreadableRecord)
    assert record.kind == "unknown_type"
    assert "MallInvoiceIssued" in record.problem


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe garbage", b"[1, 2]", b'{"type": "AttentionNeeded"}', b"", 42],
    ids=["not-utf8", "not-an-object", "known-type-missing-fields", "empty", "not-bytes"],
)
def test_a_broken_record_reads_as_malformed(raw: object) -> None:
    record = read_sync_record(raw)
    assert isinstance(record, UnreadableRecord)
    assert record.kind == "malformed"


def test_unknown_fields_are_ignored() -> None:
    event = needed("acme")
    data = {**json.loads(encode_event(event)), "colour": "red"}
    assert read_sync_record(json.dumps(data)) == event


@pytest.mark.parametrize("event", OPERATOR_EXAMPLES, ids=lambda e: type(e).__name__)
def test_every_operator_event_type_reads_as_itself(event: object) -> None:
    # a person's actions and balance's per-order observations are known events (no alert), never unreadable
    assert read_operator_record(encode_event(event)) == event  # type: ignore[arg-type]


def test_an_unknown_operator_event_type_and_a_broken_one_read_as_unreadable() -> None:
    data = json.loads(encode_event(OPERATOR_EXAMPLES[0]))
    unknown = read_operator_record(json.dumps({**data, "type": "InvoiceRequested"}).encode())
    assert isinstance(unknown, UnreadableRecord)
    assert unknown.kind == "unknown_type"
    broken = read_operator_record(json.dumps({**data, "by": ""}).encode())  # a known type, not valid
    assert isinstance(broken, UnreadableRecord)
    assert broken.kind == "malformed"


# ---- which events alert ------------------------------------------------------------------------------------


def test_only_attention_events_alert() -> None:
    kinds = {type(e).__name__: getattr(alert_for(e), "kind", None) for e in SYNC_EXAMPLES}  # type: ignore[arg-type]
    assert kinds == {
        "MallUpdateRequested": None,
        "MallStatusUpdated": None,
        "MallUpdateRejected": None,
        "MallReadRefused": None,
        "MallStateObserved": None,
        "StepDeferred": None,
        "AttentionNeeded": "tenant_paused",  # the example is tenant-scoped
        "AttentionResolved": "tenant_resumed",
    }
    assert set(kinds) == {cls.__name__ for cls in SYNC_EVENT_TYPES}
    assert alert_for(UnreadableRecord(kind="unknown_type", problem="x")) is None


def test_order_attention_and_resolution_carry_the_order() -> None:
    event = needed("acme", "FC-2026/0042")
    alert = alert_for(event)
    assert alert is not None
    assert (alert.kind, alert.event_id, alert.order_number, alert.mall_order_id, alert.code) == (
        "attention",
        event.event_id,
        "FC-2026/0042",
        "10085339302",
        "cancelled_at_mall",
    )
    assert alert.reason == event.reason
    done = alert_for(resolved("acme", "FC-2026/0042"))
    assert done is not None
    assert done.kind == "resolved"
    paused = alert_for(needed("acme", "", code="mall_unauthorized"))
    assert paused is not None
    assert paused.kind == "tenant_paused"
    assert alert_for(updated("acme")) is None


def test_of_the_operator_events_only_unknown_mall_orders_alert() -> None:
    kinds = {type(e).__name__: getattr(alert_for(e), "kind", None) for e in OPERATOR_EXAMPLES}  # type: ignore[arg-type]
    assert kinds == {
        "OrderReturnRequested": None,
        "OrderResyncRequested": None,
        "AttentionAcknowledged": None,
        "MallStateObserved": None,
        "UnknownMallOrdersObserved": "unknown_mall_orders",
    }
    assert set(kinds) == {cls.__name__ for cls in OPERATOR_EVENT_TYPES}


def test_an_unknown_set_alert_keeps_the_first_orders_shown_and_the_total() -> None:
    event = unknown_orders("acme", 25, total=1200)
    alert = alert_for(event)
    assert alert is not None
    assert (alert.kind, alert.event_id, alert.tenant_id, alert.code) == (
        "unknown_mall_orders",
        event.event_id,
        "acme",
        "unknown_to_fastcentrik",
    )
    assert (alert.order_number, alert.mall_order_id) == ("", "")
    assert alert.total == 1200
    assert [o.mall_order_id for o in alert.orders] == [o.mall_order_id for o in event.orders[:MAX_ORDERS_SHOWN]]
    assert [(o.status, o.opened_at) for o in alert.orders[:2]] == [("open", "2026-11-19 00:15:00"), ("shipping", None)]


def test_an_empty_set_is_the_none_left_alert() -> None:
    alert = alert_for(unknown_orders("acme", 0))
    assert alert is not None
    assert (alert.kind, alert.total, alert.orders) == ("unknown_mall_orders_cleared", 0, ())


def test_staleness_and_alert_ids() -> None:
    assert not is_stale(NOW - timedelta(seconds=59), now=NOW, max_age_s=60)
    assert is_stale(NOW - timedelta(seconds=61), now=NOW, max_age_s=60)
    event_id = uuid.UUID(int=7)
    assert alert_id(event_id, "webhook") != alert_id(event_id, "email")


# ---- how an alert reads -------------------------------------------------------------------------------------


def test_an_order_alert_names_order_mall_id_reason_and_console_link() -> None:
    alert = alert_for(needed("acme", "FC-2026/0042"))
    assert alert is not None
    message = render(alert, console_base_url=BASE)
    assert message.link == f"{BASE}/console/orders/acme/FC-2026%2F0042"
    for part in ("FC-2026/0042", "10085339302", "MALL says the customer cancelled", "cancelled_at_mall"):
        assert part in message.text
        assert part in message.body
    assert message.link in message.body
    payload = slack_payload(message)
    assert message.link in payload["text"]
    assert "FC-2026/0042" in payload["text"]
    assert payload["blocks"][1]["elements"][0]["url"] == message.link
    assert json.loads(json.dumps(payload)) == payload


def test_a_tenant_pause_links_the_tenants_attention_list() -> None:
    alert = alert_for(needed("acme co", "", code="mall_unauthorized"))
    assert alert is not None
    message = render(alert, console_base_url=BASE + "/")
    assert message.link == f"{BASE}/console/queue?tenant=acme+co"
    assert message.headline == "Tenant paused"
    assert console_link(BASE, alert) == message.link


def test_markup_and_line_breaks_in_a_reason_stay_text() -> None:
    event = needed("acme").model_copy(update={"reason": "see <https://evil.example|here> & \r\nBcc: x@y"})
    alert = alert_for(event)
    assert alert is not None
    message = render(alert, console_base_url=BASE)
    payload = slack_payload(message)
    for shown in (payload["blocks"][0]["text"]["text"], payload["text"]):  # the fallback text is formatted too
        assert "<https://evil" not in shown
        assert "&lt;https://evil.example|here&gt; &amp;" in shown
    assert "\n" not in message.subject
    assert "\r" not in message.subject


def test_an_unknown_set_names_the_first_orders_and_counts_the_rest() -> None:
    alert = alert_for(unknown_orders("acme co", 12, total=40))
    assert alert is not None
    message = render(alert, console_base_url=BASE + "/")
    assert message.link == f"{BASE}/console/queue?tenant=acme+co#unknown-mall-orders"
    assert message.headline == "MALL orders the shop never got"
    assert message.sentence.startswith("40 MALL orders of tenant acme co never reached FastCentrik")
    assert "10085339400 (open, opened 2026-11-19 00:15:00), 10085339401 (shipping), " in message.sentence
    assert "10085339409 (shipping) and 30 more." in message.sentence
    assert "10085339410" not in message.text
    assert "bring each into FastCentrik or cancel it at MALL [unknown_to_fastcentrik]" in message.sentence
    assert message.subject == (
        "[mallbridge] MALL orders the shop never got: 40 MALL orders of tenant acme co [unknown_to_fastcentrik]"
    )
    assert message.link in message.body
    assert message.link in slack_payload(message)["text"]


@pytest.mark.parametrize(
    ("listed", "total", "named"),
    [
        (
            1,
            1,
            "1 MALL order of tenant acme never reached FastCentrik (open at MALL for over an hour): "
            "10085339400 (open, opened 2026-11-19 00:15:00). ",
        ),
        (2, 2, ": 10085339400 (open, opened 2026-11-19 00:15:00) and 10085339401 (shipping). "),
        (10, 10, "10085339408 (open, opened 2026-11-19 08:15:00) and 10085339409 (shipping). "),
        (1, 3, "10085339400 (open, opened 2026-11-19 00:15:00) and 2 more. "),
    ],
    ids=["one", "two", "exactly-the-cap", "one-and-more"],
)
def test_how_an_unknown_set_lists_its_orders(listed: int, total: int, named: str) -> None:
    alert = alert_for(unknown_orders("acme", listed, total=total))
    assert alert is not None
    assert named in render(alert, console_base_url=BASE).sentence


def test_the_none_left_alert_is_short_and_links_the_tenants_queue() -> None:
    alert = alert_for(unknown_orders("acme", 0))
    assert alert is not None
    message = render(alert, console_base_url=BASE)
    assert message.text == (
        "No MALL orders left that the shop never got: tenant acme has none any more; each reached FastCentrik "
        "or is no longer open at MALL [unknown_to_fastcentrik]"
    )
    assert message.link == f"{BASE}/console/queue?tenant=acme#unknown-mall-orders"


def test_malls_text_in_an_unknown_set_stays_text() -> None:
    event = unknown_orders("acme", 1)
    odd = event.orders[0].model_copy(update={"opened_at": "<!channel> & more"})
    alert = alert_for(event.model_copy(update={"orders": (odd,)}))
    assert alert is not None
    payload = slack_payload(render(alert, console_base_url=BASE))
    for shown in (payload["blocks"][0]["text"]["text"], payload["text"]):
        assert "<!channel>" not in shown
        assert "&lt;!channel&gt; &amp; more" in shown


# ---- the ledger fold -------------------------------------------------------------------------------------------


def _queued(event: AttentionNeeded, channel: str = "webhook") -> AlertQueued:
    alert = alert_for(event)
    assert alert is not None
    return AlertQueued(
        alert_id=alert_id(alert.event_id, channel),  # type: ignore[arg-type]
        channel=channel,  # type: ignore[arg-type]
        tenant_id=alert.tenant_id,
        alert=alert,
        queued_at=NOW,
    )


def _delivered(queued: AlertQueued) -> AlertDelivered:
    return AlertDelivered(
        alert_id=queued.alert_id,
        channel=queued.channel,
        tenant_id=queued.tenant_id,
        delivered_at=NOW,
        attempts=1,
        recorded_at=queued.alert.recorded_at,
    )


def test_the_fold_owes_what_is_queued_and_not_delivered_in_event_order() -> None:
    later, earlier, done = _queued(needed("a", age_s=1)), _queued(needed("b", age_s=9)), _queued(needed("c"))
    state = fold_ledger([later, done, earlier, _delivered(done)], now=NOW, max_age_s=3600)
    assert list(state.pending) == [earlier.alert_id, later.alert_id]
    assert state.delivered == {done.alert_id}
    assert all(state.knows(q.alert_id) for q in (later, earlier, done))


def test_a_delivered_alert_queued_again_stays_delivered() -> None:
    queued = _queued(needed("a"))
    state = LedgerState()
    for entry in (queued, _delivered(queued), queued):
        state.apply(entry)
    assert state.pending == {}
    assert state.delivered == {queued.alert_id}


def test_old_delivered_ids_are_forgotten_but_old_owed_alerts_are_not() -> None:
    old_done, old_owed = _queued(needed("a", age_s=7200)), _queued(needed("b", age_s=7200))
    state = fold_ledger([old_done, _delivered(old_done), old_owed], now=NOW, max_age_s=3600)
    assert state.delivered == set()
    assert list(state.pending) == [old_owed.alert_id]


def test_ledger_records_round_trip_and_unknown_ones_are_skipped() -> None:
    queued = _queued(needed("a"))
    for entry in (queued, _delivered(queued)):
        assert decode_entry(encode_entry(entry)) == entry
    assert decode_entry(b'{"type": "AlertEscalated", "alert_id": "x"}') is None
    assert decode_entry(b"garbage") is None


def test_an_unknown_set_alert_round_trips_through_the_ledger() -> None:
    alert = alert_for(unknown_orders("acme", 3, total=5))
    assert alert is not None
    queued = AlertQueued(
        alert_id=alert_id(alert.event_id, "email"), channel="email", tenant_id="acme", alert=alert, queued_at=NOW
    )
    assert decode_entry(encode_entry(queued)) == queued


def test_an_older_notifiers_ledger_record_still_reads() -> None:
    # written before alerts had `orders` and `total`
    queued = _queued(needed("a"))
    data = json.loads(encode_entry(queued))
    del data["alert"]["orders"], data["alert"]["total"]
    older = decode_entry(json.dumps(data).encode())
    assert older == queued
    assert isinstance(older, AlertQueued)
    assert (older.alert.orders, older.alert.total) == ((), 0)
