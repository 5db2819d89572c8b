"""One order's timeline: FastCentrik facts, MALL requests and answers, and people's actions, in time order.

FastCentrik facts sit at their `occurred_at` (when FastCentrik changed), MALL requests and answers and
operator actions (who and why) at their `recorded_at` (when mallbridge sent, heard or recorded them).
Ties keep a fact before the others, then each topic's own order.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import singledispatch

from mallbridge_audit.model import TimelineEntry
from mallbridge_schema.events import (
    AttentionAcknowledged,
    AttentionNeeded,
    AttentionResolved,
    DeliveryDateSet,
    Event,
    MallStateObserved,
    MallStatusUpdated,
    MallUpdateRejected,
    MallUpdateRequested,
    MdpFlagSet,
    OperatorEventBase,
    OrderEventBase,
    OrderFirstSeen,
    OrderResyncRequested,
    OrderReturnRequested,
    OrderStatusChanged,
    StepDeferred,
    TrackingAssigned,
)


def timeline_entry(event: Event) -> TimelineEntry:
    data = event.model_dump(mode="json")
    if isinstance(event, OperatorEventBase):
        return TimelineEntry(
            at=event.recorded_at,
            side="operator",
            type=data["type"],
            event_id=str(event.event_id),
            seq=0,
            summary=_summary(event),
            event=data,
        )
    if isinstance(event, OrderEventBase):
        return TimelineEntry(
            at=event.occurred_at,
            side="fastcentrik",
            type=data["type"],
            event_id=str(event.event_id),
            seq=event.seq,
            summary=_summary(event),
            event=data,
        )
    return TimelineEntry(
        at=event.recorded_at,
        side="mall",
        type=data["type"],
        event_id=str(event.event_id),
        seq=getattr(event, "based_on_seq", 0),
        summary=_summary(event),
        event=data,
    )


def with_lags(entries: list[TimelineEntry]) -> tuple[TimelineEntry, ...]:
    """Sort the merged history; give each MallStatusUpdated its lag behind the fact it was based on."""
    ordered = sorted(enumerate(entries), key=lambda item: (item[1].at, item[1].side != "fastcentrik", item[0]))
    occurred = {e.seq: e.at for _, e in ordered if e.side == "fastcentrik"}
    out: list[TimelineEntry] = []
    for _, entry in ordered:
        if entry.type == "MallStatusUpdated" and entry.seq in occurred:
            entry = replace(entry, lag_s=(entry.at - occurred[entry.seq]).total_seconds())
        out.append(entry)
    return tuple(out)


def _body(body: dict[str, object]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(", ", ": "))


@singledispatch
def _summary(event: Event) -> str:
    return type(event).__name__


@_summary.register
def _(event: OrderFirstSeen) -> str:
    extra = [f"delivery date {event.delivered_at}"] if event.delivered_at else []
    if event.tracking_number or event.tracking_url:
        extra.append(f"tracking {event.tracking_number or '—'} {event.tracking_url or '—'}")
    if event.mdp:
        extra.append("MALL Delivery")
    return f"first seen: {event.status_label} ({event.status})" + "".join(f", {x}" for x in extra)


@_summary.register
def _(event: OrderStatusChanged) -> str:
    return f"status {event.from_status} → {event.to_status} ({event.status_label})"


@_summary.register
def _(event: DeliveryDateSet) -> str:
    return f"delivery date set: {event.delivered_at}" if event.delivered_at else "delivery date cleared"


@_summary.register
def _(event: TrackingAssigned) -> str:
    return f"tracking: {event.tracking_number or '—'} {event.tracking_url or '—'}"


@_summary.register
def _(event: MdpFlagSet) -> str:
    return f"MALL Delivery: {'yes' if event.mdp else 'no'}"


@_summary.register
def _(event: MallUpdateRequested) -> str:
    return f"PUT #{event.request_no} {event.status}: {_body(event.request)}"


@_summary.register
def _(event: MallStatusUpdated) -> str:
    retries = f", {event.attempts} attempts" if event.attempts > 1 else ""
    return (
        f"MALL accepted #{event.request_no} {event.status} "
        f"(HTTP {event.http_status}, {event.latency_ms:.0f} ms{retries})"
    )


@_summary.register
def _(event: MallUpdateRejected) -> str:
    return f"MALL refused #{event.request_no} {event.status}: HTTP {event.http_status} {event.message}"


@_summary.register
def _(event: MallStateObserved) -> str:
    settles = f" (settles #{event.request_no})" if event.request_no else ""
    return f"MALL read: {event.status}, confirmed={'yes' if event.confirmed else 'no'}{settles}"


@_summary.register
def _(event: StepDeferred) -> str:
    until = f" (until {event.until.isoformat()})" if event.until else ""
    return f"deferred {event.status}: {event.reason}{until}"


@_summary.register
def _(event: AttentionNeeded) -> str:
    return f"attention [{event.code}] ({event.scope}): {event.reason}"


def _by(event: OperatorEventBase) -> str:
    why = f": “{event.reason}”" if event.reason else ""
    return f" by {event.by}{why}"


@_summary.register
def _(event: OrderReturnRequested) -> str:
    return "return requested (PUT returned once)" + _by(event)


@_summary.register
def _(event: OrderResyncRequested) -> str:
    return "resync requested (read MALL and plan again)" + _by(event)


@_summary.register
def _(event: AttentionAcknowledged) -> str:
    return f"attention [{event.code}] acknowledged" + _by(event)


@_summary.register
def _(event: AttentionResolved) -> str:
    return f"attention resolved [{event.code}] ({event.scope})"
