"""Rendering a Report for people: a readable rich table (the JSON and CSV renderers are in export.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mallbridge_audit.export import plain
from mallbridge_audit.model import (
    QUIET_STATES,
    Finding,
    OrderSummary,
    Report,
    TenantFigures,
    TimelineEntry,
    UnknownToFastCentrik,
    VerifyResult,
)
from mallbridge_core.domain.sla import CANCEL_RATE_LIMIT, ON_TIME_TARGET

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
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for t in tenants:
        own = f", own {_pct(t.tracking_rate_own)}" if t.tracking_mdp else ""
        mdp = f", MDP {t.tracking_mdp}" if t.tracking_mdp else ""
        attention = str(t.open_attention) + (f" + {len(t.tenant_attention)} tenant" if t.tenant_attention else "")
        attention += f" ({t.acknowledged_attention} acknowledged)" if t.acknowledged_attention else ""
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
        )
    return table


def _pairs(pairs: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{name} {n}" for name, n in pairs) or "—"


def _sides_table(tenants: Sequence[TenantFigures]) -> Table | None:
    """MALL's side and people's actions per tenant (None when no tenant has any)."""
    shown = [t for t in tenants if t.mall_reads or t.webhook_receipts or t.operator_people or t.acknowledged_attention]
    if not shown:
        return None
    table = Table(title="MALL's side and people's actions per tenant", title_justify="left")
    for name in (
        "Tenant",
        "Webhook receipts (ids, unknown)",
        "MALL reads by why",
        "MALL-side changes",
        "Actions by person",
    ):
        table.add_column(name, overflow="fold")
    for t in shown:
        people: dict[str, list[str]] = {}
        for by, kind, n in t.operator_people:
            people.setdefault(by, []).append(f"{kind} {n}")
        _row(
            table,
            t.tenant_id,
            f"{t.webhook_receipts} ({t.webhook_order_ids}, {t.webhook_unknown_ids})",
            _pairs([("balance drift" if why == "balance" else why, n) for why, n in t.mall_reads]),
            _pairs(t.mall_changes),
            "; ".join(f"{by}: {', '.join(kinds)}" for by, kinds in people.items()) or "—",
        )
    return table


UNKNOWN_IDS_SHOWN = 5
"""How many of the MALL orders FastCentrik never got the table names (JSON has every one balance listed)."""


def _unknown_line(tenant: str, unknown: UnknownToFastCentrik) -> str:
    """One line for a tenant with MALL orders FastCentrik never got (as the last balance run saw them)."""
    shown = unknown.mall_order_ids[:UNKNOWN_IDS_SHOWN]
    more = unknown.total - len(shown)  # those not shown here, listed in JSON or not (balance lists 1000)
    ids = ", ".join(shown) + (f" and {more} more" if shown and more else "")
    noun = "order" if unknown.total == 1 else "orders"
    at = unknown.seen_at.isoformat(sep=" ", timespec="seconds")
    head = f"tenant {tenant}: {unknown.total} MALL {noun} FastCentrik never got (mallbridge balance at {at})"
    return f"{head}: {ids}" if ids else head


def _order_detail(o: OrderSummary) -> Text:
    return Text(_detail_text(o))


def _detail_text(o: OrderSummary) -> str:
    if o.attention is not None:
        return f"[{o.attention[0]}] {o.attention[1]}{_handled(o)}"
    if o.state == "ended":
        return _ended_text(o)
    if o.deferral is not None:
        return f"{o.deferral[0]} deferred: {o.deferral[1]}"
    if o.rejection is not None:
        return f"last rejection: {o.rejection[0]} HTTP {o.rejection[1]} {o.rejection[2]}"
    if o.orphan:
        return "sync events but no order event"
    return ""


def _handled(o: OrderSummary) -> str:
    """Who acknowledged the order's attention item, and their note ("" while it is open)."""
    acks = [a for a in o.actions if a.kind == "ack" and o.attention and a.code == o.attention[0]]
    if not (o.attention_acknowledged and acks):
        return ""
    note = f": {acks[-1].reason}" if acks[-1].reason else ""
    return f" (acknowledged by {acks[-1].by}{note})"


def _ended_text(o: OrderSummary) -> str:
    """Why a final status MALL has ends the order although FastCentrik calls for another."""
    if o.mall_status_by == "mall" and o.mall_changes:
        change = o.mall_changes[-1]
        return f"ended at MALL: {change.kind} (read: {change.source})"
    returns = [a for a in o.actions if a.kind == "return"]
    if o.mall_status == "returned" and returns:
        who = returns[-1]
        return f"ended: returned, the operator return by {who.by}" + (f" ({who.reason})" if who.reason else "")
    return f"ended: MALL has it {o.mall_status}"


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


_SIDES = {"fastcentrik": "FastCentrik", "mall": "MALL", "operator": "Operator"}


def _timeline_table(key: tuple[str, str], entries: Sequence[TimelineEntry]) -> Table:
    # A Text, not markup: an order number is free text and may hold "[/]"
    table = Table(title=Text(f"Timeline of {key[0]}:{key[1]}"), title_justify="left")
    for name in ("When", "Side", "Seq", "Event", "Who", "Lag", "Event id"):
        table.add_column(name, overflow="fold")
    for e in entries:
        _row(
            table,
            e.at.isoformat(sep=" ", timespec="seconds"),
            _SIDES.get(e.side, e.side),
            str(e.seq),
            e.summary,
            e.who,
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
    sides = _sides_table(report.tenants)
    if sides is not None:
        console.print(sides)
    for t in report.tenants:
        for code, reason in t.tenant_attention:
            console.print(Text(f"tenant {t.tenant_id} attention [{code}]: {reason}", style="bold yellow"))
        if t.unknown_to_fastcentrik is not None and t.unknown_to_fastcentrik.total:
            console.print(Text(_unknown_line(t.tenant_id, t.unknown_to_fastcentrik), style="bold yellow"))
    _print_orders(report, console, all_orders=all_orders, limit=limit)
    for key, entries in report.timelines.items():
        console.print(_timeline_table(key, entries))
    if report.verify is not None:
        _print_verify(report.verify, console)


def _print_header(report: Report, console: Console, meta: dict[str, Any]) -> None:
    window = ""
    if report.since or report.until:
        window = f" · orders that reached open from {plain(report.since) or '…'} until {plain(report.until) or '…'}"
    console.print(
        f"[bold]mallbridge audit[/] of {escape(str(meta.get('log', '?')))} "
        f"(lanes: {escape(', '.join(meta.get('lanes', [])))}) as of {report.as_of.isoformat(timespec='seconds')}"
        f"{escape(window)}"
    )
    console.print(
        f"{report.order_events} order events, {report.operator_events} operator events, "
        f"{report.sync_events} sync events read"
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
