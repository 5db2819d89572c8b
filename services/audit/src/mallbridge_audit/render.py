"""Rendering a Report: a readable rich table for people, JSON and CSV for machines (stdout)."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mallbridge_audit.model import (
    QUIET_STATES,
    Finding,
    OrderSummary,
    Report,
    TenantFigures,
    TimelineEntry,
    VerifyResult,
)
from mallbridge_core.domain.sla import CANCEL_RATE_LIMIT, ON_TIME_TARGET

CSV_TABLES = ("orders", "tenants", "timeline", "findings")


# ---- JSON --------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _record(item: Any) -> dict[str, Any]:
    data = {f.name: _plain(getattr(item, f.name)) for f in dataclasses.fields(item)}
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
        tenants.append(row)
    return {
        **meta,
        "as_of": report.as_of.isoformat(),
        "window": {"since": _plain(report.since), "until": _plain(report.until)},
        "events": {
            "order_events": report.order_events,
            "sync_events": report.sync_events,
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
        for row in rows:
            row["tenant_attention"] = [f"{c}: {r}" for c, r in row["tenant_attention"]]
        fields = [f.name for f in dataclasses.fields(TenantFigures)]
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
    return fields, (_record(o) for o in report.orders)


def write_csv(report: Report, out: IO[str], *, table: str = "orders") -> None:
    fields, rows = _csv_rows(report, table)
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})


# ---- the readable table ------------------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    sign, s = ("-" if seconds < 0 else ""), abs(seconds)
    if s < 60:
        return f"{sign}{s:.0f}s"
    if s < 3600:
        return f"{sign}{int(s // 60)}m {int(s % 60):02d}s"
    if s < 86400:
        return f"{sign}{int(s // 3600)}h {int(s % 3600 // 60):02d}m"
    return f"{sign}{int(s // 86400)}d {int(s % 86400 // 3600):02d}h"


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _flagged(text: str, bad: bool) -> Text:
    return Text(text + (" ✗" if bad else ""), style="bold red" if bad else "")


def _row(table: Table, *cells: str | Text) -> None:
    """Cells are data, never rich markup: an order number or a reason may hold square brackets."""
    table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells))


def _tenant_table(tenants: Sequence[TenantFigures]) -> Table:
    table = Table(title="MALL SLA figures per tenant", title_justify="left", show_lines=False)
    for name, justify in (
        ("Tenant", "left"),
        ("Orders", "right"),
        (f"Cancel rate (≤{CANCEL_RATE_LIMIT:.1%})", "right"),
        ("Tracking rate", "right"),
        (f"On-time (≥{ON_TIME_TARGET:.0%})", "right"),
        ("Lag p50 / p95 / max", "right"),
        ("Open attention", "right"),
        ("Deferred", "right"),
        ("Requests / updates / rejections / deferrals", "right"),
        ("People: returns / resyncs / acks", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for t in tenants:
        own = f", own {_pct(t.tracking_rate_own)}" if t.tracking_mdp else ""
        mdp = f", MDP {t.tracking_mdp}" if t.tracking_mdp else ""
        attention = str(t.open_attention) + (f" + {len(t.tenant_attention)} tenant" if t.tenant_attention else "")
        _row(
            table,
            t.tenant_id,
            str(t.orders),
            _flagged(f"{_pct(t.cancel_rate)} ({t.partner_cancellations})", t.cancel_breach),
            f"{_pct(t.tracking_rate)} ({t.tracking_with}/{t.tracking_orders}{mdp}{own})",
            _flagged(f"{_pct(t.on_time_rate)} ({t.delivered_on_time}/{t.delivered_orders})", t.on_time_breach),
            f"{duration(t.lag_p50_s)} / {duration(t.lag_p95_s)} / {duration(t.lag_max_s)}",
            Text(attention, style="bold yellow" if t.open_attention or t.tenant_attention else ""),
            str(t.orders_deferred),
            f"{t.requests} / {t.updates} / {t.rejections} / {t.deferrals}",
            f"{t.returns_requested} / {t.resyncs_requested} / {t.acknowledgements}",
        )
    return table


def _order_detail(o: OrderSummary) -> Text:
    return Text(_detail_text(o))


def _detail_text(o: OrderSummary) -> str:
    if o.attention is not None:
        return f"[{o.attention[0]}] {o.attention[1]}"
    if o.deferral is not None:
        return f"{o.deferral[0]} deferred: {o.deferral[1]}"
    if o.rejection is not None:
        return f"last rejection: {o.rejection[0]} HTTP {o.rejection[1]} {o.rejection[2]}"
    if o.orphan:
        return "sync events but no order event"
    return ""


def _orders_table(orders: Sequence[OrderSummary], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("Tenant", "Order", "MALL id", "FastCentrik", "Desired", "MALL", "State", "Max lag", "Detail"):
        table.add_column(name, overflow="fold")
    for o in orders:
        _row(
            table,
            o.tenant_id,
            o.order_number,
            o.mall_order_id,
            (o.fc_status or "—") + (" (MDP)" if o.mdp else ""),
            o.desired or "—",
            o.mall_status,
            Text(o.state, style="" if o.state in QUIET_STATES else "bold yellow"),
            duration(o.max_lag_s),
            _order_detail(o),
        )
    return table


def _timeline_table(key: tuple[str, str], entries: Sequence[TimelineEntry]) -> Table:
    table = Table(title=f"Timeline of {key[0]}:{key[1]}", title_justify="left")
    for name in ("When", "Side", "Seq", "Event", "Lag", "Event id"):
        table.add_column(name, overflow="fold")
    for e in entries:
        _row(
            table,
            e.at.isoformat(sep=" ", timespec="seconds"),
            {"fastcentrik": "FastCentrik", "operator": "operator"}.get(e.side, "MALL"),
            str(e.seq),
            e.summary,
            duration(e.lag_s) if e.lag_s is not None else "",
            e.event_id[:8],
        )
    return table


def _findings_table(title: str, findings: Sequence[Finding], style: str) -> Table:
    table = Table(title=title, title_justify="left", title_style=style)
    for name in ("Tenant", "Order", "Kind", "What", "Events"):
        table.add_column(name, overflow="fold")
    for f in findings:
        _row(table, f.tenant_id, f.order_number, f.kind, f.message, "\n".join(f.event_ids))
    return table


def write_table(
    report: Report, console: Console, *, meta: dict[str, Any], all_orders: bool = False, limit: int = 30
) -> None:
    _print_header(report, console, meta)
    console.print(_tenant_table(report.tenants))
    for t in report.tenants:
        for code, reason in t.tenant_attention:
            console.print(Text(f"tenant {t.tenant_id} attention [{code}]: {reason}", style="bold yellow"))
    _print_orders(report, console, all_orders=all_orders, limit=limit)
    for key, entries in report.timelines.items():
        console.print(_timeline_table(key, entries))
    if report.verify is not None:
        _print_verify(report.verify, console)


def _print_header(report: Report, console: Console, meta: dict[str, Any]) -> None:
    window = ""
    if report.since or report.until:
        window = f" · orders that reached open from {_plain(report.since) or '…'} until {_plain(report.until) or '…'}"
    console.print(
        f"[bold]mallbridge audit[/] of {escape(str(meta.get('log', '?')))} "
        f"(lanes: {escape(', '.join(meta.get('lanes', [])))}) as of {report.as_of.isoformat(timespec='seconds')}"
        f"{escape(window)}"
    )
    console.print(
        f"{report.order_events} order events, {report.sync_events} sync events read"
        + (f", {report.skipped_unknown} of unknown types skipped" if report.skipped_unknown else "")
        + (f", [bold red]{report.undecodable} undecodable[/]" if report.undecodable else "")
    )
    for u in report.undecodable_samples:
        console.print(Text(f"  undecodable {u.topic}[{u.partition}]@{u.offset}: {u.error}"))


def _print_orders(report: Report, console: Console, *, all_orders: bool, limit: int) -> None:
    if all_orders or report.timelines:
        console.print(_orders_table(report.orders, "Orders"))
        return
    flagged = [o for o in report.orders if o.state not in QUIET_STATES or o.orphan]  # "flagged" lists only these
    if not flagged:
        console.print("Every order is in sync (or waits on MALL Delivery).")
        return
    more = (
        f" (first {limit} of {len(flagged)}; --all-orders or --format json/csv for all)" if len(flagged) > limit else ""
    )
    console.print(_orders_table(flagged[:limit], f"Orders that need a look{more}"))


def _print_verify(verify: VerifyResult, console: Console) -> None:
    if verify.clean:
        console.print(
            f"[bold green]verify: clean[/] — {verify.puts_checked} PUTs checked over {verify.orders_checked} "
            "orders; every PUT is the one the reconciler plans, and nothing due is missing"
        )
    else:
        console.print(
            f"[bold red]verify: {len(verify.differences)} difference(s)[/] ({verify.puts_checked} PUTs over "
            f"{verify.orders_checked} orders checked)"
        )
        console.print(_findings_table("Differences", verify.differences, "bold red"))
    if verify.warnings:
        console.print(_findings_table("Warnings", verify.warnings, "yellow"))
