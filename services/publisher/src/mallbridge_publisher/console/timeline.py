"""An order's timeline for the console: FastCentrik's side, MALL's side and people's actions, in time order.

FastCentrik facts sit at their `occurred_at` (when the shop changed), everything mallbridge sent, read or
decided at its `recorded_at`; ties keep the log's order. Each row says in a sentence what happened.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from mallbridge_publisher.console.labels import fastcentrik_label
from mallbridge_publisher.order_history import OrderHistory
from mallbridge_schema.events import (
    AttentionAcknowledged,
    AttentionNeeded,
    AttentionResolved,
    DeliveryDateSet,
    Event,
    MallOrderChanged,
    MallReadRefused,
    MallStateObserved,
    MallStatusUpdated,
    MallUpdateRejected,
    MallUpdateRequested,
    MdpFlagSet,
    OrderEventBase,
    OrderFirstSeen,
    OrderResyncRequested,
    OrderReturnRequested,
    OrderStatusChanged,
    StepDeferred,
    TrackingAssigned,
)
from mallbridge_schema.mall_format import request_kind

Side = Literal["fastcentrik", "mall", "operator"]


@dataclass(frozen=True, slots=True)
class TimelineRow:
    at: datetime
    side: Side
    what: str
    who: str = ""


def _body(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(", ", ": "))


def _first_seen(e: OrderFirstSeen) -> str:
    extra = [f"delivery date {e.delivered_at}"] if e.delivered_at else []
    if e.tracking_number:
        extra.append(f"tracking {e.tracking_number}")
    if e.mdp:
        extra.append("MALL Delivery")
    return f"first seen as {fastcentrik_label(e.status)}" + "".join(f", {x}" for x in extra)


def _observed(e: MallStateObserved) -> str:
    why = {"balance": "mallbridge balance", "resync": "a resync", "refusal": "after a refusal"}.get(e.source, e.source)
    confirmed = {True: "confirmed", False: "not confirmed", None: "confirmed unknown"}[e.confirmed]
    changed = f"; changed: {', '.join(e.changed)}" if e.changed else "; nothing new"
    return f"MALL read ({why}): {e.status}, {confirmed}{changed}"


def _what(e: MallStatusUpdated) -> str:
    return f"the tracking correction ({e.status})" if request_kind(e.request) == "tracking" else str(e.status)


_TEXTS: dict[type[Event], Callable[[Any], str]] = {
    OrderFirstSeen: _first_seen,
    OrderStatusChanged: lambda e: f"status {fastcentrik_label(e.from_status)} → {fastcentrik_label(e.to_status)}",
    DeliveryDateSet: lambda e: f"delivery date set: {e.delivered_at}" if e.delivered_at else "delivery date cleared",
    TrackingAssigned: lambda e: f"tracking: {e.tracking_number or '—'} {e.tracking_url or ''}".rstrip(),
    MdpFlagSet: lambda e: f"MALL Delivery: {'yes' if e.mdp else 'no'}",
    MallOrderChanged: lambda e: "MALL's webhook named the order as changed at MALL",
    MallUpdateRequested: lambda e: f"PUT #{e.request_no} {e.status}: {_body(e.request)}",
    MallStatusUpdated: lambda e: f"MALL accepted #{e.request_no} {_what(e)} (HTTP {e.http_status})",
    MallUpdateRejected: lambda e: f"MALL refused #{e.request_no} {e.status}: HTTP {e.http_status} {e.message}",
    MallStateObserved: _observed,
    MallReadRefused: lambda e: f"MALL refused the read ({e.source}): HTTP {e.http_status} {e.message}",
    StepDeferred: lambda e: f"deferred {e.status}: {e.reason}",
    AttentionNeeded: lambda e: f"attention [{e.code}]: {e.reason}",
    AttentionResolved: lambda e: f"attention [{e.code}] resolved",
    OrderReturnRequested: lambda e: "return requested (PUT returned once)",
    OrderResyncRequested: lambda e: "resync requested (read MALL and plan again)",
    AttentionAcknowledged: lambda e: f"attention [{e.code}] acknowledged",
}


def _side(event: Event) -> Side:
    if isinstance(event, OrderEventBase):
        return "mall" if isinstance(event, MallOrderChanged) else "fastcentrik"
    if isinstance(event, OrderReturnRequested | OrderResyncRequested | AttentionAcknowledged):
        return "operator"
    return "mall"


def _row(event: Event) -> TimelineRow:
    text = _TEXTS.get(type(event), lambda e: type(e).__name__)(event)
    at = event.occurred_at if isinstance(event, OrderEventBase) else event.recorded_at
    who = ""
    if isinstance(event, OrderReturnRequested | OrderResyncRequested | AttentionAcknowledged):
        who = event.by
        if event.reason:
            text += f": “{event.reason}”"
    return TimelineRow(at, _side(event), text, who)


def timeline(history: OrderHistory) -> list[TimelineRow]:
    rows = [_row(entry.event) for entry in history.entries]
    order = {"fastcentrik": 0, "mall": 1, "operator": 2}
    indexed = sorted(enumerate(rows), key=lambda pair: (pair[1].at, order[pair[1].side], pair[0]))
    return [row for _, row in indexed]
