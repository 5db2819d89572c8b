"""What `--verify`'s findings say: each PUT, plan and pending read in words a maintainer reads once."""

from __future__ import annotations

import json
from typing import Any

from mallbridge_core.domain.projection import OrderState
from mallbridge_core.domain.reconciler import Plan
from mallbridge_schema.mall_format import request_kind
from mallbridge_schema.statuses import MallStatus


def body_text(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def put_text(status: MallStatus | str, body: dict[str, Any]) -> str:
    """A PUT as the finding names it; a confirm-only PUT or a tracking correction (no status in its body)
    says so."""
    kind = request_kind(body)
    if kind == "confirm":
        return f"a confirm-only PUT {body_text(body)} (MALL at {status})"
    if kind == "tracking":
        return f"a tracking correction {body_text(body)} (MALL at {status})"
    return f"{status} {body_text(body)}"


def why_nothing(planned: Plan, state: OrderState, *, recorded: dict[str, Any]) -> str:
    """Why the reconciler planned no PUT where one was recorded."""
    read = planned.read
    if planned.read_first and read is not None:
        return _pending_read(read.source, read.request_no)
    if planned.attention is not None:
        return f"attention [{planned.attention.code}]"
    if planned.deferral is not None:
        return f"deferred: {planned.deferral.reason}"
    reached = f"MALL already has the desired status {planned.desired}"
    kind = request_kind(recorded)
    if kind == "tracking":
        return reached + (
            ", and no tracking correction is due (FastCentrik's tracking is what MALL has or was sent already, "
            "MALL would refuse it, or the order ships with MALL Delivery)"
        )
    if kind == "confirm" and state.mall.confirmed is not False:
        return reached + ", and nothing says MALL has it unconfirmed (a confirm-only PUT follows a MALL change)"
    return reached


def _pending_read(source: str, request_no: int) -> str:
    if source == "refusal":
        return f"MALL had refused request #{request_no} and had not been read since (one read comes first)"
    if source == "resync":
        return "a resync (a person's, or a drift mallbridge balance recorded) was not yet answered by a read of MALL"
    return f"request #{request_no} was still in doubt (MALL must be read first)"


READ_FINDINGS: dict[str, str] = {
    "outcome_unknown": "request_without_outcome",
    "refusal": "refusal_not_read",
    "resync": "resync_not_read",
}
"""The end-check finding for each read the reconciler still asks for."""


def unread_text(source: str, request_no: int, request: tuple[str, dict[str, Any]] | None, asked_by: str) -> str:
    """What the end check says about a read of MALL the log still owes."""
    if source == "refusal":
        what = put_text(*request) if request is not None else "?"
        return (
            f"MALL refused request #{request_no} ({what}) and no read of the order was recorded after it "
            "(the publisher reads MALL once after a refusal, to learn why)"
        )
    if source == "resync":
        return (
            f"the resync asked for by {asked_by} has no read of MALL (a MallStateObserved, source resync) answering it"
        )
    what = put_text(*request) if request is not None else "?"
    return f"request #{request_no} ({what}) has no recorded outcome and no MallStateObserved settling it"


def missing_text(status: MallStatus, body: dict[str, Any], *, seq: int, mall: MallStatus, returning: bool) -> str:
    """What the end check says about a PUT that is due and was never sent."""
    if returning:
        return f"the operator's return is due ({put_text(status, body)}, MALL at {mall}) but it was never sent"
    kind = request_kind(body)
    if kind == "confirm":
        return (
            f"{put_text(status, body)} is due (MALL has the order unconfirmed after its change) but it was never sent"
        )
    if kind == "tracking":
        return f"{put_text(status, body)} is due (FastCentrik's tracking changed, seq {seq}) but it was never sent"
    return (
        f"the reconciler says {put_text(status, body)} is due (FastCentrik as of seq {seq}, MALL at {mall}) "
        "but it was never sent"
    )
