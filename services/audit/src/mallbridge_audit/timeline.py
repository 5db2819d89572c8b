"""One order's timeline: FastCentrik's side, MALL's side and people's actions, merged in time order.

Facts of order-events.v1 sit at their `occurred_at` (when FastCentrik changed; for `MallOrderChanged`,
when MALL's webhook named the order), everything else at its `recorded_at` (when mallbridge sent a
request, heard an answer, read MALL, or a person's action was recorded). Ties keep a FastCentrik fact
first, then the order the audit read them in. Each read of MALL says why it was made (its source) and the
MALL-side change it showed (`mall_fold.CHANGES`); each person's action who and why.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import singledispatch

from mallbridge_audit.mall_fold import CHANGES
from mallbridge_audit.model import TimelineEntry
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
    OperatorEventBase,
    OrderEventBase,
    OrderFirstSeen,
    OrderResyncRequested,
    OrderReturnRequested,
    OrderStatusChanged,
    StepDeferred,
    TrackingAssigned,
)
from mallbridge_schema.mall_format import request_kind


def timeline_entry(event: Event, *, change: str | None = None) -> TimelineEntry:
    """One event as a timeline entry; `change`: the MALL-side change a read showed (None: not a read)."""
    data = event.model_dump(mode="json")
    if isinstance(event, OrderEventBase):
        side = "mall" if isinstance(event, MallOrderChanged) else "fastcentrik"
        return TimelineEntry(
            event.occurred_at, side, data["type"], str(event.event_id), event.seq, _summary(event), event=data
        )
    who = why = ""
    if isinstance(event, OperatorEventBase):
        who, why = event.by, event.reason
    elif isinstance(event, MallStateObserved):
        why = event.source
    text = _summary(event)
    if change:
        text += f" — {CHANGES[change]}"
    return TimelineEntry(
        at=event.recorded_at,
        side="operator" if isinstance(event, OperatorEventBase) else "mall",
        type=data["type"],
        event_id=str(event.event_id),
        seq=getattr(event, "based_on_seq", 0),
        summary=text,
        who=who,
        why=why,
        change=change,
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


def _what(status: str, body: dict[str, object]) -> str:
    """The status a PUT sets, or that it only confirms or corrects the tracking (no status in its body)."""
    kind = request_kind(body)
    if kind == "status":
        return str(status)
    return f"{'tracking correction' if kind == 'tracking' else 'confirm-only'} (MALL at {status})"


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
    return f"PUT #{event.request_no} {_what(event.status, event.request)}: {_body(event.request)}"


@_summary.register
def _(event: MallStatusUpdated) -> str:
    retries = f", {event.attempts} attempts" if event.attempts > 1 else ""
    return (
        f"MALL accepted #{event.request_no} {_what(event.status, event.request)} "
        f"(HTTP {event.http_status}, {event.latency_ms:.0f} ms{retries})"
    )


@_summary.register
def _(event: MallUpdateRejected) -> str:
    what = _what(event.status, event.request)
    return f"MALL refused #{event.request_no} {what}: HTTP {event.http_status} {event.message}"


_READ_BECAUSE = {
    "outcome_unknown": "a PUT's outcome was unknown",
    "refusal": "after MALL refused a PUT",
    "webhook": "MALL's webhook named it",
    "poll": "MALL's unconfirmed queue listed it",
    "resync": "a resync was asked for",
    "balance": "mallbridge balance",
}


@_summary.register
def _(event: MallStateObserved) -> str:
    settles = f", settles #{event.request_no}" if event.request_no else ""
    confirmed = {True: "confirmed", False: "not confirmed", None: "confirmed not said"}[event.confirmed]
    changed = f"; changed: {', '.join(event.changed)}" if event.changed else "; nothing new"
    why = _READ_BECAUSE.get(event.source, event.source)
    return f"MALL read ({why}{settles}): {event.status}, {confirmed}{changed}"


@_summary.register
def _(event: MallReadRefused) -> str:
    why = _READ_BECAUSE.get(event.source, event.source)
    return f"MALL refused the read ({why}): HTTP {event.http_status} {event.message}; not read again for it"


@_summary.register
def _(event: MallOrderChanged) -> str:
    return f"MALL's webhook named the order as changed (receipt {str(event.receipt_id)[:8]})"


@_summary.register
def _(event: OrderReturnRequested) -> str:
    return "return requested (PUT returned once)" + _by(event)


@_summary.register
def _(event: OrderResyncRequested) -> str:
    return "resync requested (read MALL and plan again)" + _by(event)


@_summary.register
def _(event: AttentionAcknowledged) -> str:
    return f"attention [{event.code}] acknowledged" + _by(event)


def _by(event: OperatorEventBase) -> str:
    why = f": “{event.reason}”" if event.reason else ""
    return f" by {event.by}{why}"


@_summary.register
def _(event: StepDeferred) -> str:
    until = f" (until {event.until.isoformat()})" if event.until else ""
    return f"deferred {event.status}: {event.reason}{until}"


@_summary.register
def _(event: AttentionNeeded) -> str:
    return f"attention [{event.code}] ({event.scope}): {event.reason}"


@_summary.register
def _(event: AttentionResolved) -> str:
    return f"attention resolved [{event.code}] ({event.scope})"
