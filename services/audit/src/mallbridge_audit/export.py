"""Rendering a Report for machines: JSON (everything) and CSV (one table), on stdout."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterable
from datetime import datetime
from typing import IO, Any

from mallbridge_audit.model import Finding, OrderSummary, Report, TenantFigures, TimelineEntry, UnknownToFastCentrik
from mallbridge_core.domain.sla import CANCEL_RATE_LIMIT, ON_TIME_TARGET

CSV_TABLES = ("orders", "tenants", "timeline", "findings")
_COUNTS = ("mall_reads", "mall_changes")  # (name, count) pairs: objects in JSON


# ---- JSON --------------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _record(item: Any) -> dict[str, Any]:
    data = {f.name: plain(getattr(item, f.name)) for f in dataclasses.fields(item)}
    if isinstance(item, OrderSummary):
        data["max_lag_s"] = item.max_lag_s
    return data


def report_json(report: Report, *, meta: dict[str, Any]) -> dict[str, Any]:
    tenants = []
    for t in report.tenants:
        row = _record(t)
        row["cancel_rate_limit"] = CANCEL_RATE_LIMIT
        row["on_time_target"] = ON_TIME_TARGET
        row["tenant_attention"] = [{"code": c, "reason": r} for c, r in t.tenant_attention]
        for name in _COUNTS:
            row[name] = dict(getattr(t, name))
        people: dict[str, dict[str, int]] = {}
        for by, kind, n in t.operator_people:
            people.setdefault(by, {})[kind] = n
        row["operator_people"] = people
        tenants.append(row)
    return {
        **meta,
        "as_of": report.as_of.isoformat(),
        "window": {"since": plain(report.since), "until": plain(report.until)},
        "events": {
            "order_events": report.order_events,
            "sync_events": report.sync_events,
            "operator_events": report.operator_events,
            "skipped_unknown_types": report.skipped_unknown,
            "undecodable": report.undecodable,
            "undecodable_samples": [_record(u) for u in report.undecodable_samples],
        },
        "tenants": tenants,
        "orders": [_record(o) for o in report.orders],
        "timelines": [
            {"tenant_id": t, "order_number": o, "entries": [_record(e) for e in entries]}
            for (t, o), entries in report.timelines.items()
        ],
        "verify": None
        if report.verify is None
        else {
            "clean": report.verify.clean,
            "orders_checked": report.verify.orders_checked,
            "puts_checked": report.verify.puts_checked,
            "differences": [_record(f) for f in report.verify.differences],
            "warnings": [_record(f) for f in report.verify.warnings],
        },
    }


def write_json(report: Report, out: IO[str], *, meta: dict[str, Any]) -> None:
    json.dump(report_json(report, meta=meta), out, ensure_ascii=False, indent=2)
    out.write("\n")


# ---- CSV ---------------------------------------------------------------------------------------------


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ";".join(str(_csv_cell(v)) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def _csv_rows(report: Report, table: str) -> tuple[list[str], Iterable[dict[str, Any]]]:
    if table == "tenants":
        rows: list[dict[str, Any]] = [_record(t) for t in report.tenants]
        for row, t in zip(rows, report.tenants, strict=True):
            row["tenant_attention"] = [f"{c}: {r}" for c, r in t.tenant_attention]
            for name in _COUNTS:
                row[name] = [f"{k}={n}" for k, n in getattr(t, name)]
            row["operator_people"] = [f"{by} {kind}={n}" for by, kind, n in t.operator_people]
            row.update(_csv_unknown(t.unknown_to_fastcentrik))
        fields = [f.name for f in dataclasses.fields(TenantFigures)]
        at = fields.index("unknown_to_fastcentrik") + 1
        fields[at:at] = list(_CSV_UNKNOWN_MORE)
        return fields, rows
    if table == "timeline":
        fields = [
            "tenant_id",
            "order_number",
            *(f.name for f in dataclasses.fields(TimelineEntry) if f.name != "event"),
        ]
        return fields, (
            {"tenant_id": t, "order_number": o, **_record(e)}
            for (t, o), entries in report.timelines.items()
            for e in entries
        )
    if table == "findings":
        fields = ["result", *(f.name for f in dataclasses.fields(Finding))]
        verify = report.verify
        found = (
            []
            if verify is None
            else [
                *({"result": "difference", **_record(f)} for f in verify.differences),
                *({"result": "warning", **_record(f)} for f in verify.warnings),
            ]
        )
        return fields, found
    fields = [f.name for f in dataclasses.fields(OrderSummary)]
    fields.insert(fields.index("lags_s") + 1, "max_lag_s")
    return fields, (_csv_order(o) for o in report.orders)


_CSV_UNKNOWN_MORE = ("unknown_to_fastcentrik_ids", "unknown_to_fastcentrik_seen_at")


def _csv_unknown(unknown: UnknownToFastCentrik | None) -> dict[str, Any]:
    """Balance's MALL orders FastCentrik never got, flat: the total (blank: balance never recorded any), the
    ids it listed, when."""
    if unknown is None:
        return dict.fromkeys(("unknown_to_fastcentrik", *_CSV_UNKNOWN_MORE))
    return {
        "unknown_to_fastcentrik": unknown.total,
        "unknown_to_fastcentrik_ids": list(unknown.mall_order_ids),
        "unknown_to_fastcentrik_seen_at": unknown.seen_at.isoformat(),
    }


def _csv_order(order: OrderSummary) -> dict[str, Any]:
    row = _record(order)
    row["mall_changes"] = [str(c) for c in order.mall_changes]
    row["actions"] = [str(a) for a in order.actions]
    return row


def write_csv(report: Report, out: IO[str], *, table: str = "orders") -> None:
    fields, rows = _csv_rows(report, table)
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
