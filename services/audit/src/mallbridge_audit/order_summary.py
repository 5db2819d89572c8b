"""What the audit concludes about one folded order: the MALL status it should have, its state, its summary."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from mallbridge_audit.model import QUIET_STATES, OrderSummary
from mallbridge_audit.order_fold import CANCELLED, DELIVERED_SENT, DELIVERY, SHIPPED, TRACKED, OrderAcc
from mallbridge_core.domain.sla import is_on_time
from mallbridge_schema.mapping import desired_mall_status
from mallbridge_schema.statuses import MallStatus

_S = MallStatus


def desired_of(acc: OrderAcc) -> MallStatus | None:
    """The MALL status FastCentrik's side calls for (DESIGN §2); None before any FastCentrik status."""
    if acc.fc_status is None:
        return None
    return desired_mall_status(acc.fc_status, has_delivery_date=bool(acc.flags & DELIVERY))


def order_state(
    desired: MallStatus | None,
    mall: MallStatus,
    *,
    attention: bool,
    deferred: bool,
    mdp: bool,
    acknowledged: bool = False,
) -> str:
    """in_sync | attention | acknowledged | deferred | mdp_by_mall | behind | unknown (the README defines
    each). `attention`: an open item; `acknowledged`: an item a person has handled."""
    if attention:
        return "attention"
    if desired is None:
        return "unknown"
    if desired == mall:
        return "in_sync"
    if acknowledged:
        return "acknowledged"
    if mdp and desired in (_S.DELIVERED, _S.RETURNED) and mall is _S.SHIPPED:
        return "mdp_by_mall"  # MALL sets delivered/returned itself on MALL Delivery orders
    if deferred:
        return "deferred"
    return "behind"


def state_of(acc: OrderAcc, desired: MallStatus | None) -> str:
    return order_state(
        desired,
        acc.mall,
        attention=acc.attention_open,
        deferred=acc.deferral is not None,
        mdp=acc.mdp,
        acknowledged=acc.attention_acknowledged,
    )


def is_listed(acc: OrderAcc, state: str, orders: str) -> bool:
    """Whether a report listing `orders` ("all", "flagged" or "none") shows this order; flagged: not in
    sync, with an open item, or orphaned (what the table shows). An item a person acknowledged is handled."""
    quiet = state in QUIET_STATES or state == "acknowledged"
    return orders == "all" or (orders == "flagged" and (not quiet or acc.n_occ == 0))


def on_time(acc: OrderAcc) -> bool | None:
    """None when no `delivered` of ours was accepted; else whether it reached MALL within 24 h."""
    if acc.mall is not _S.DELIVERED or not acc.flags & DELIVERED_SENT:
        return None
    return is_on_time(acc.dlv_lag)


def summary(acc: OrderAcc, desired: MallStatus | None, state: str, first: float) -> OrderSummary:
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
        state=state,
        requests=acc.n_req,
        updates=acc.n_upd,
        rejections=acc.n_rej,
        deferrals=acc.n_def,
        observations=acc.n_obs,
        attention_raised=acc.n_att,
        partner_cancelled=bool(acc.flags & CANCELLED),
        lags_s=tuple(acc.lags()),
        tracking=(bool(acc.flags & TRACKED) or acc.mdp) if acc.flags & SHIPPED else None,
        delivered_lag_s=acc.dlv_lag,
        on_time=on_time(acc),
        deferral=acc.deferral if state == "deferred" else None,
        attention=acc.attention,
        rejection=acc.rejection,
        orphan=acc.n_occ == 0,
        attention_acknowledged=acc.attention_acknowledged,
        operator_actions=sum(len(ids) for ids in acc.people.ids.values()) if acc.people is not None else 0,
    )
