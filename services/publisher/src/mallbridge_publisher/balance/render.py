"""The report of a balance run, as a table (people) or JSON (machines)."""

from __future__ import annotations

import json
from typing import Any

from mallbridge_publisher.balance.drift import Drift
from mallbridge_publisher.balance.run import BalanceReport

COLUMNS = ("tenant", "order", "MALL id", "drift", "log says MALL has", "MALL has")


def _row(drift: Drift) -> tuple[str, ...]:
    mall_has = drift.mall_status.value
    if drift.kind == "unknown_to_fastcentrik":
        mall_has += f" (open since {drift.opened_at})" if drift.opened_at else " (open since: MALL does not say)"
    log_says = drift.log_status.value if drift.log_status is not None else "-"
    return (drift.tenant_id, drift.order_number or "-", drift.mall_order_id, drift.kind, log_says, mall_has)


def _spent_line(report: BalanceReport) -> str:
    spent = report.spent
    details = f", {spent.details} detail read{'s' if spent.details != 1 else ''}"
    limited = f"; {spent.rate_limited} answered 429 and were retried" if spent.rate_limited else ""
    pages = f"{spent.pages} list page{'s' if spent.pages != 1 else ''}"
    return f"MALL requests spent: {spent.total} ({pages}{details}){limited}"


def render_table(report: BalanceReport) -> str:
    lines: list[str] = []
    rows = [_row(d) for d in report.drifts]
    if rows:
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]
        lines.append("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)).rstrip())
        lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows]
        lines.append("")
    for shared in report.shared:
        orders = ", ".join(shared.order_numbers)
        lines.append(
            f"warning: {shared.tenant_id}: MALL order {shared.mall_order_id} is named by FastCentrik orders "
            f"{orders}: each one's statuses go to it"
        )
    for tenant in report.tenants:
        recorded = f" ({tenant.recorded} recorded for the publisher to act on)" if tenant.recorded else ""
        lines.append(
            f"{tenant.tenant_id}: {tenant.listed} MALL orders in a non-final status, "
            f"{len(tenant.drifts)} drifted{recorded}"
        )
        if tenant.unknown_recorded:
            unknown = sum(d.kind == "unknown_to_fastcentrik" for d in tenant.drifts)
            lines.append(
                f"{tenant.tenant_id}: the console's list of MALL orders unknown to FastCentrik recorded ({unknown} now)"
            )
    lines.append(_spent_line(report))
    if report.undecodable:
        lines.append(f"warning: {report.undecodable} records of the log could not be decoded and were skipped")
    lines.append("in balance" if report.in_balance else f"drift found: {len(report.drifts)}")
    return "\n".join(lines)


def report_dict(report: BalanceReport) -> dict[str, Any]:
    return {
        "in_balance": report.in_balance,
        "tenants": [
            {"tenant": t.tenant_id, "listed": t.listed, "drifted": len(t.drifts), "recorded": t.recorded}
            for t in report.tenants
        ],
        "drift": [
            {
                "tenant": d.tenant_id,
                "kind": d.kind,
                "order_number": d.order_number or None,
                "mall_order_id": d.mall_order_id,
                "log_status": d.log_status.value if d.log_status is not None else None,
                "mall_status": d.mall_status.value,
                "opened_at": d.opened_at,
                "recorded": d.recordable,
            }
            for d in report.drifts
        ],
        "unknown_recorded_for": [t.tenant_id for t in report.tenants if t.unknown_recorded],
        "shared_mall_ids": [
            {"tenant": s.tenant_id, "mall_order_id": s.mall_order_id, "order_numbers": list(s.order_numbers)}
            for s in report.shared
        ],
        "requests": {
            "total": report.spent.total,
            "list_pages": report.spent.pages,
            "detail_reads": report.spent.details,
            "rate_limited": report.spent.rate_limited,
        },
        "undecodable_records": report.undecodable,
    }


def render_json(report: BalanceReport) -> str:
    return json.dumps(report_dict(report), ensure_ascii=False)
