"""What the audit concludes about one folded order: the MALL status it should have, its state, its part in the
SLA figures (the domain's one rule, `mallbridge_core.domain.sla.order_contribution`), its summary."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from mallbridge_audit.mall_fold import read_of
from mallbridge_audit.model import QUIET_STATES, MallChange, OrderSummary
from mallbridge_audit.operator_fold import acknowledged, actions_of
from mallbridge_audit.order_fold import DELIVERED_SENT, DELIVERY, TRACKED, OrderAcc
from mallbridge_core.domain.sla import OrderSla, delivered_lag_s, order_contribution
from mallbridge_schema.mapping import desired_mall_status
from mallbridge_schema.statuses import FINAL_MALL_STATUSES, MallStatus

_S = MallStatus


def desired_of(acc: OrderAcc) -> MallStatus | None:
    """The MALL status FastCentrik's side calls for (ARCHITECTURE.md §2); None before any FastCentrik status."""
    if acc.fc_status is None:
        return None
    return desired_mall_status(acc.fc_status, has_delivery_date=bool(acc.flags & DELIVERY))


def ends_the_order(desired: MallStatus, mall: MallStatus, *, by: str, mdp: bool) -> bool:
    """A final status MALL has that ends the order normally although FastCentrik calls for another, so
    nothing more is sent (the reconciler's rule, ARCHITECTURE.md §6): `returned` or `lost` while
    FastCentrik says shipped or cancelled; `delivered` MALL set itself, or on a MALL Delivery order, while
    FastCentrik says shipped."""
    if mall not in FINAL_MALL_STATUSES or desired is mall:
        return False
    if mall in (_S.RETURNED, _S.LOST):
        return desired in (_S.SHIPPED, _S.CANCELLED)
    return mall is _S.DELIVERED and desired is _S.SHIPPED and (by == "mall" or mdp)


def order_state(
    desired: MallStatus | None,
    mall: MallStatus,
    *,
    by: str,
    attention: bool,
    acknowledged: bool,
    deferred: bool,
    mdp: bool,
) -> str:
    """in_sync | attention | acknowledged | deferred | mdp_by_mall | ended | behind | unknown (the README
    defines each)."""
    if attention:
        return "acknowledged" if acknowledged else "attention"
    if desired is None:
        return "unknown"
    if desired == mall:
        return "in_sync"
    if mdp and desired in (_S.DELIVERED, _S.RETURNED) and mall is _S.SHIPPED:
        return "mdp_by_mall"  # MALL sets delivered/returned itself on MALL Delivery orders
    if ends_the_order(desired, mall, by=by, mdp=mdp):
        return "ended"
    if deferred:
        return "deferred"
    return "behind"


def state_of(acc: OrderAcc, desired: MallStatus | None) -> str:
    return order_state(
        desired,
        acc.mall,
        by=acc.status_by,
        attention=acc.attention is not None,
        acknowledged=acknowledged(acc),
        deferred=acc.deferral is not None,
        mdp=acc.mdp,
    )


def is_listed(acc: OrderAcc, state: str, orders: str) -> bool:
    """Whether a report listing `orders` ("all", "flagged" or "none") shows this order; flagged: not in
    sync, with an open item, or orphaned (what the table shows)."""
    return orders == "all" or (orders == "flagged" and (state not in QUIET_STATES or acc.n_occ == 0))


def sla_of(acc: OrderAcc) -> OrderSla:
    """The order's part in its tenant's SLA figures: the domain's rule, fed from the compact fold."""
    flags = acc.flags
    return order_contribution(
        status=acc.mall,
        status_by=acc.status_by,
        mdp=acc.mdp,
        tracking=bool(flags & TRACKED),
        delivered_sent=bool(flags & DELIVERED_SENT),
        delivered_lag=acc.dlv_lag,
        requested_lag=_requested_lag(acc),
    )


def _requested_lag(acc: OrderAcc) -> float | None:
    """The lag of our last `delivered` request, as of when it was sent (None: none unanswered)."""
    if acc.req_lag is None:
        return None
    _, sent, at = acc.req_lag
    return delivered_lag_s(sent, accepted_at=at)


def mall_changes_of(acc: OrderAcc) -> tuple[MallChange, ...]:
    """The MALL-side changes the order's reads showed, in the order they were read."""
    changes = []
    for code in acc.said or ():
        source, kind = read_of(code)
        if kind:
            changes.append(MallChange(kind, source))
    return tuple(changes)


def _delivered_lag(acc: OrderAcc) -> float | None:
    """The lag of our `delivered`: the accepted one's, or, when its answer was lost and a read showed it
    landed, the request's (measured when it was recorded)."""
    if acc.flags & DELIVERED_SENT or acc.mall is not MallStatus.DELIVERED or acc.status_by != "us":
        return acc.dlv_lag
    return _requested_lag(acc)


def summary(acc: OrderAcc, desired: MallStatus | None, state: str, first: float, sla: OrderSla) -> OrderSummary:
    return OrderSummary(
        tenant_id=acc.tenant,
        order_number=acc.number,
        mall_order_id=str(acc.mall_id),
        first_seen=datetime.fromtimestamp(first, UTC) if math.isfinite(first) else None,
        fc_status=acc.fc_status.value if acc.fc_status is not None else None,
        fc_delivery_date=bool(acc.flags & DELIVERY),
        mdp=acc.mdp,
        desired=desired.value if desired is not None else None,
        mall_status=acc.mall.value,
        mall_status_by=acc.status_by,
        state=state,
        requests=acc.n_req,
        updates=acc.n_upd,
        rejections=acc.n_rej,
        deferrals=acc.n_def,
        observations=acc.n_obs,
        attention_raised=acc.n_att,
        partner_cancelled=sla.partner_cancelled,
        lags_s=tuple(acc.lags()),
        tracking=sla.tracked,
        delivered_lag_s=_delivered_lag(acc),
        on_time=sla.on_time,
        deferral=acc.deferral if state == "deferred" else None,
        attention=acc.attention[:2] if acc.attention is not None else None,
        attention_acknowledged=state == "acknowledged",
        rejection=acc.rejection,
        orphan=acc.n_occ == 0,
        mall_changes=mall_changes_of(acc),
        operator_actions=len(acc.ops or ()),
        actions=actions_of(acc),
    )
