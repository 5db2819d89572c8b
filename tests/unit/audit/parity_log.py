"""Random logs of the three topics for the fast-path parity test (test_fast_path_parity.py), written as bytes
the way the writers write them, plus what a newer writer might add: unknown fields, of any name and type,
unknown event types, and a few records that are not events at all. `ListLog` holds them for the audit's
reader."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from mallbridge_core.eventlog.port import LogRecord
from mallbridge_core.topics import Topics
from mallbridge_schema.events import (
    AttentionAcknowledged,
    AttentionNeeded,
    AttentionResolved,
    DeliveryDateSet,
    Event,
    MallOrderChanged,
    MallStateObserved,
    MallStatusUpdated,
    MallUpdateRejected,
    MallUpdateRequested,
    MallWebhookReceived,
    MdpFlagSet,
    OrderFirstSeen,
    OrderResyncRequested,
    OrderReturnRequested,
    OrderStatusChanged,
    StepDeferred,
    TrackingAssigned,
)
from mallbridge_schema.serde import encode_event, event_key
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus

SETTINGS = settings()  # the profile's count and deadline (tests/conftest.py)
TOPICS = Topics(prefix="parity.")
AS_OF = datetime(2026, 12, 1, tzinfo=UTC)
T0 = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)

TENANTS = ("t1", "t2")
NUMBERS = ("A", "B", "C")
MALL_IDS = ("1001", "1002", "0042", "", "x-7")
ORDER_MALL_IDS = MALL_IDS[:3]  # an order event's id is digits (the schema's `MallOrderId`); others are undecodable
UNKNOWN_IDS = ("300000000091", "300000000092", "300000000093", "0042", "0042", "x-7", "")  # the last two: not digits
OPENED = (None, "2026-10-01 08:00:00", "")
CODES = ("mall_rejected", "no_legal_path", "mall_unauthorized", "")
DELIVERIES = (None, "2026-10-02T14:00:00+02:00", "2026-10-02", "", "not a date")
TRACKING = ((None, None), ("DR-1", "https://t.example/1"), ("DR-2", None), ("", ""))
# An unknown field may have a new name, or the name of a field the views read on *other* event types (a
# newer writer may add a field whose name the audit's view already uses for something else), with a value
# the view would take for that name, or any JSON at all.
EXTRAS: dict[str, tuple[Any, ...]] = {
    "zz_new": ("x",),
    "scope": ("tenant", "order"),
    "status": ("shipped", "cancelled", "settled"),
    "to_status": ("settled", "cancelled"),
    "mdp": (True, False),
    "delivered_at": ("2026-10-02", None),
    "code": ("mall_rejected", ""),
    "reason": ("why",),
    "request": ({"status": "shipped", "tracking_number": "T", "tracking_url": "https://t"},),
    "request_no": (1, 9),
    "message": ("no",),
    "http_status": (400,),
    "tracking_number": ("T",),
    "tracking_url": ("https://t",),
    "seq": (1, 9),
    "based_on_seq": (1, 9),
    "by": ("alice", ""),
    "source": ("balance", "webhook"),
    "changed": (["status", "confirmed"], ["tracking"]),
    "confirmed": (True, False),
    "orders": ([{"mall_order_id": "1001", "status": "open"}], [{"mall_order_id": "x"}]),
    "total": (0, 3),
}
SOURCES = ["outcome_unknown", "refusal", "webhook", "poll", "resync", "balance"]
FIELDS = ["status", "confirmed", "tracking", "delivered_at"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "x", "tenant", "order", "shipped", "1"]),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(["a", "status"]), inner, max_size=2),
    max_leaves=4,
)
extras = st.sampled_from(sorted(EXTRAS)).flatmap(
    lambda name: st.tuples(st.just(name), st.sampled_from(EXTRAS[name]) | json_values)
)
moments = st.builds(
    lambda seconds, hours: (T0 + timedelta(seconds=seconds)).astimezone(timezone(timedelta(hours=hours))),
    st.integers(0, 5 * 86400),
    st.sampled_from([0, 2]),
)
fc_statuses = st.sampled_from(list(FastCentrikStatus))
mall_statuses = st.sampled_from(list(MallStatus))


def _envelope(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "event_id": draw(st.uuids()),
        "tenant_id": draw(st.sampled_from(TENANTS)),
        "order_number": draw(st.sampled_from(NUMBERS)),
        "mall_order_id": draw(st.sampled_from(MALL_IDS)),
        "occurred_at": draw(moments),
        "recorded_at": draw(moments),
    }


@st.composite
def order_events(draw: st.DrawFn) -> Event | dict[str, Any]:
    env = {**_envelope(draw), "mall_order_id": draw(st.sampled_from(ORDER_MALL_IDS))}
    seq = draw(st.integers(1, 6))
    kinds = ["first", "first", "status", "status", "delivery", "tracking", "mdp", "mall", "receipt", "bad_id"]
    kind = draw(st.sampled_from([*kinds, "unknown"]))
    if kind == "first":
        number, url = draw(st.sampled_from(TRACKING))
        return OrderFirstSeen(
            seq=seq,
            status=draw(fc_statuses),
            status_label="label",
            delivered_at=draw(st.sampled_from(DELIVERIES)),
            tracking_number=number,
            tracking_url=url,
            mdp=draw(st.booleans()),
            **env,
        )
    if kind == "status":
        return OrderStatusChanged(
            seq=seq, from_status=draw(fc_statuses), to_status=draw(fc_statuses), status_label="label", **env
        )
    if kind == "delivery":
        return DeliveryDateSet(seq=seq, delivered_at=draw(st.sampled_from(DELIVERIES)), **env)
    if kind == "tracking":
        number, url = draw(st.sampled_from(TRACKING))
        return TrackingAssigned(seq=seq, tracking_number=number, tracking_url=url, **env)
    if kind == "mdp":
        return MdpFlagSet(seq=seq, mdp=draw(st.booleans()), **env)
    if kind == "mall":
        return MallOrderChanged(seq=seq, receipt_id=draw(st.uuids()), **env)
    if kind == "receipt":
        env = {k: v for k, v in env.items() if k not in ("order_number", "mall_order_id")}
        return MallWebhookReceived(order_ids=("1001",), **env)
    if kind == "bad_id":  # not MALL's digits: undecodable on every path
        bad = {**_plain(env), "mall_order_id": draw(st.sampled_from(MALL_IDS[3:]))}
        return {**bad, "type": "MdpFlagSet", "seq": seq, "mdp": True, "schema_version": 1}
    return {**_plain(env), "type": "OrderTeleported", "seq": seq, "schema_version": 1}


def _body(draw: st.DrawFn, status: MallStatus) -> dict[str, Any]:
    kind = draw(st.integers(0, 7))
    if kind == 0:
        return {"confirmed": True}  # a confirm-only PUT: the status field of its event is the one it had
    if kind == 1:  # a tracking correction (`/tracking`): the tracking fields alone
        correction = draw(st.sampled_from([t for t in TRACKING if t[0] is not None]))
        return {"tracking_number": correction[0], "tracking_url": correction[1]}
    body: dict[str, Any] = {"status": status.value}
    if draw(st.booleans()):
        body["confirmed"] = True
    number, url = draw(st.sampled_from(TRACKING))
    if number is not None:
        body["tracking_number"] = number
    if url is not None:
        body["tracking_url"] = url
    delivered = draw(st.sampled_from([None, "2026-10-02 14:00:00", "2026-10-03 09:00:00", "garbage"]))
    if delivered is not None:
        body["delivered_at"] = delivered
    return body


@st.composite
def sync_events(draw: st.DrawFn) -> Event | dict[str, Any]:
    env = {**_envelope(draw), "based_on_seq": draw(st.integers(0, 7))}
    request_no = draw(st.integers(1, 4))
    status = draw(mall_statuses)
    kind = draw(
        st.sampled_from(
            ["requested", "updated", "updated", "rejected", "observed", "deferred", "attention", "resolved", "unknown"]
        )
    )
    if kind == "requested":
        return MallUpdateRequested(request_no=request_no, status=status, request=_body(draw, status), **env)
    if kind == "updated":
        return MallStatusUpdated(
            request_no=request_no, status=status, request=_body(draw, status), http_status=204, latency_ms=12.5, **env
        )
    if kind == "rejected":
        return MallUpdateRejected(
            request_no=request_no,
            status=status,
            request=_body(draw, status),
            http_status=400,
            response={"error": "x"},
            message=draw(st.sampled_from(["no", "bad"])),
            **env,
        )
    if kind == "observed":
        return _observation(draw, env, status)
    if kind == "deferred":
        return StepDeferred(status=status, reason=draw(st.sampled_from(["wait", "tracking"])), **env)
    scope = draw(st.sampled_from(["order", "order", "tenant"]))
    if kind == "attention":
        return AttentionNeeded(code=draw(st.sampled_from(CODES)), reason="why", scope=scope, **env)
    if kind == "resolved":
        return AttentionResolved(code=draw(st.sampled_from(CODES)), scope=scope, **env)
    return {**_plain(env), "type": "MallTeleported", "request_no": request_no, "schema_version": 1}


def _observation(draw: st.DrawFn, env: dict[str, Any], status: MallStatus) -> MallStateObserved:
    number, url = draw(st.sampled_from(TRACKING))
    return MallStateObserved(
        request_no=draw(st.integers(0, 4)),
        source=draw(st.sampled_from(SOURCES)),
        changed=tuple(draw(st.sets(st.sampled_from(FIELDS)))),
        status=status,
        confirmed=draw(st.sampled_from([None, True, False])),
        mdp=draw(st.sampled_from([None, True, False])),
        tracking_number=number,
        tracking_url=url,
        **env,
    )


@st.composite
def operator_events(draw: st.DrawFn) -> Event | dict[str, Any]:
    env = _envelope(draw)
    people = {"by": draw(st.sampled_from(["alice", "bob"])), "reason": draw(st.sampled_from(["", "came back"]))}
    kinds = ["return", "resync", "ack", "ack", "balance", "balance", "observed", "unknown_to_fc", "unknown_to_fc"]
    kind = draw(st.sampled_from([*kinds, "unknown"]))
    if kind == "return":
        return OrderReturnRequested(**env, **people)
    if kind == "resync":
        return OrderResyncRequested(**env, **people)
    if kind == "ack":
        return AttentionAcknowledged(code=draw(st.sampled_from([c for c in CODES if c])), **env, **people)
    if kind in ("balance", "observed"):
        observation = _observation(draw, {**env, "based_on_seq": 0}, draw(mall_statuses))
        return observation.model_copy(update={"source": "balance"}) if kind == "balance" else observation
    if kind == "unknown_to_fc":
        return _unknown_orders(draw, env)
    return {**_plain(env), "type": "OrderTeleported", "by": "alice", "schema_version": 1}


def _unknown_orders(draw: st.DrawFn, env: dict[str, Any]) -> dict[str, Any]:
    """Balance's UnknownMallOrdersObserved (tenant-level), as JSON: mostly as balance writes it, sometimes
    what the schema refuses (an order number or MALL id on it, an id not MALL's digits or named twice, a
    total below the count listed), sometimes without the fields that have defaults."""
    listed = draw(st.lists(st.tuples(st.sampled_from(UNKNOWN_IDS), mall_statuses, st.sampled_from(OPENED)), max_size=3))
    orders = [{"mall_order_id": i, "status": s.value, "opened_at": o} for i, s, o in listed]
    value: dict[str, Any] = {
        **_plain(env),
        "type": "UnknownMallOrdersObserved",
        "schema_version": 1,
        "order_number": draw(st.sampled_from(["", "", "", "", "", "A"])),
        "mall_order_id": draw(st.sampled_from(["", "", "", "", "", "1001"])),
        "orders": orders,
        "total": len(orders) + draw(st.sampled_from([0, 0, 0, 2, 2, -1])),
    }
    for name in draw(st.sets(st.sampled_from(["orders", "total"]), max_size=2)):
        del value[name]  # the schema's default: no orders, a total of 0
    return value


def _plain(env: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: (str(v) if isinstance(v, uuid.UUID) else v.isoformat() if isinstance(v, datetime) else v)
        for k, v in env.items()
    }


@st.composite
def records(draw: st.DrawFn, events: st.SearchStrategy[Event | dict[str, Any]]) -> tuple[bytes, bytes]:
    """One record as a writer writes it, sometimes with unknown fields, sometimes not an event at all."""
    event = draw(events)
    if isinstance(event, Event):
        key = event_key(event.tenant_id, event.order_number)
        value = json.loads(encode_event(event))
        known = set(type(event).model_fields)
    else:
        key = event_key(event["tenant_id"], event["order_number"])
        value, known = event, set(event)
    extra = dict(draw(st.lists(extras, max_size=3)))
    value.update({name: v for name, v in extra.items() if name not in known})
    if draw(st.integers(0, 30)) == 0:
        return event_key("t1", "A"), b'{"type": "OrderFirstSeen", "seq": '  # cut off: undecodable on every path
    return key, json.dumps(value).encode()


logs = st.tuples(
    st.lists(records(order_events()), max_size=30),
    st.lists(records(sync_events()), max_size=30),
    st.lists(records(operator_events()), max_size=12),
)
Rows = list[tuple[bytes, bytes]]


class ListLog:
    """The two topics of one lane in memory (the audit only reads: end offsets and bounded replays)."""

    def __init__(self, topics: dict[str, list[tuple[bytes, bytes]]]) -> None:
        self._topics = {
            name: [LogRecord(name, 0, i, key, value, 0) for i, (key, value) in enumerate(rows)]
            for name, rows in topics.items()
        }

    async def end_offsets(self, topic: str) -> dict[int, int]:
        return {0: len(self._topics[topic])} if topic in self._topics else {}

    async def replay(
        self, topic: str, *, start: Mapping[int, int] | None = None, stop: Mapping[int, int] | None = None
    ) -> AsyncIterator[list[LogRecord]]:
        rows = self._topics.get(topic, [])
        begin, end = (start or {}).get(0, 0), (stop or {}).get(0, len(rows))
        for i in range(begin, end, 7):  # small batches: the fold must not care where batches end
            yield rows[i : min(i + 7, end)]
