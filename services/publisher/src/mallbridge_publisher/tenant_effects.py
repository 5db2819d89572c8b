"""What a MALL request tells of the tenant as a whole: its client_id refused (pause), working again
(resume), or a rate limit (wait). The same for a request about an order and for one about no order.

Pure, like `outcomes.py`, which adds these effects to an order's own. A tenant is paused by the first
401/403 (its attention item raised once, scope tenant) and resumed by any answer but 401/403, 429 and 5xx:
a refusal of the request itself (400, 404) says MALL took the client_id.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mallbridge_core.domain.projection import OrderState
from mallbridge_publisher.effects import Effects, GateAction, GateChange, Next, Stamp
from mallbridge_publisher.ports import MallError, MallRateLimited, MallRejected, MallUnauthorized
from mallbridge_schema.events import AttentionNeeded, AttentionResolved

UNAUTHORIZED = "mall_unauthorized"


def after_listing(
    tenant_id: str, outcome: MallError | None, *, tenant_paused: bool, pause_probe_s: float, stamp: Stamp
) -> Effects:
    """What MALL's answer to a request about no order (a page of the unconfirmed queue: `outcome` None) or
    its failure causes for the tenant: the same as for an order's request. An answer or a refusal of the
    request itself resumes a paused tenant (its item resolved), a 401/403 pauses it (the item raised
    once), a 429 makes it wait; the rest says nothing of the tenant. So a tenant with no order to work on
    learns of a refused client_id, and of its fix, from the poll alone."""
    if outcome is None or isinstance(outcome, MallRejected):
        return with_tenant_resume(Effects(), tenant_id, 0, tenant_paused=tenant_paused, stamp=stamp)
    if isinstance(outcome, MallUnauthorized):
        return pause_tenant(tenant_id, 0, outcome, Pause(tenant_paused, pause_probe_s), stamp=stamp, then=Next.BACKOFF)
    if isinstance(outcome, MallRateLimited):
        return rate_limited(outcome, then=Next.BACKOFF)
    return Effects(next=Next.BACKOFF)


def with_resume(effects: Effects, state: OrderState, *, tenant_paused: bool, stamp: Stamp) -> Effects:
    """MALL answered (with the order, or a refusal of the request itself): the client_id works, so a paused
    tenant resumes and its attention item is resolved, first."""
    return with_tenant_resume(effects, state.tenant_id, state.fc.seq, tenant_paused=tenant_paused, stamp=stamp)


def with_tenant_resume(
    effects: Effects, tenant_id: str, based_on_seq: int, *, tenant_paused: bool, stamp: Stamp
) -> Effects:
    if not tenant_paused:
        return effects
    envelope = stamp.tenant_envelope(tenant_id, based_on_seq=based_on_seq)
    resolved = AttentionResolved(**envelope, code=UNAUTHORIZED, scope="tenant")
    return replace(effects, events=(resolved, *effects.events), gate=GateChange(GateAction.RESUME))


def rate_limited(outcome: MallRateLimited, *, then: Next) -> Effects:
    gate = GateChange(GateAction.RATE_LIMIT, retry_after_s=outcome.retry_after_s)
    return Effects(gate=gate, next=then, retry_reason="rate_limited")


@dataclass(frozen=True, slots=True)
class Pause:
    """Whether the tenant is paused already, and how often a paused tenant is probed again."""

    paused: bool
    probe_s: float


def pause_tenant_of(state: OrderState, outcome: MallError, pause: Pause, *, stamp: Stamp, then: Next) -> Effects:
    """401/403: pause the tenant; the first order to see it raises the tenant's attention item."""
    return pause_tenant(state.tenant_id, state.fc.seq, outcome, pause, stamp=stamp, then=then)


def pause_tenant(
    tenant_id: str, based_on_seq: int, outcome: MallError, pause: Pause, *, stamp: Stamp, then: Next
) -> Effects:
    if pause.paused:
        return Effects(gate=GateChange(GateAction.PAUSE), next=then)
    reason = (
        f"MALL refused the tenant's client_id (HTTP {outcome.http_status}). All of this tenant's updates are "
        f"paused and retried every {pause.probe_s:g} s; check mall_client_id in the tenants file and the "
        "Partner account."
    )
    envelope = stamp.tenant_envelope(tenant_id, based_on_seq=based_on_seq)
    attention = AttentionNeeded(**envelope, code=UNAUTHORIZED, reason=reason, scope="tenant")
    return Effects(events=(attention,), gate=GateChange(GateAction.PAUSE), next=then)
