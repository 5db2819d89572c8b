"""People's actions about one order in the audit's fold (operator-events.v1): who did what and why.

The rules are the projection's (`mallbridge_core.domain.operator_side`, `projection.attention_item`):
- each action is kept once by its event_id (a redelivered copy changes nothing);
- an attention item is acknowledged when a person acknowledged its code at or after the moment it was
  raised (`occurred_at` of both); a newer item of the same code is open again.
`mallbridge balance`'s observations on the same topic are reads of MALL (`mall_fold.fold_observation`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from mallbridge_audit.mall_fold import NOT_A_READ, fold_observation
from mallbridge_audit.model import OperatorAction
from mallbridge_audit.order_fold import OrderAcc
from mallbridge_audit.views import OperatorFact

ACTION_KINDS: dict[str, str] = {
    "OrderReturnRequested": "return",
    "OrderResyncRequested": "resync",
    "AttentionAcknowledged": "ack",
}
"""Operator event type → the action's kind (the `mallbridge order` subcommand)."""

Action = tuple[str, str, str, str, str, float, float]
"""(kind, event_id, by, reason, code, occurred_at, recorded_at) as the accumulator keeps it."""


def fold_operator_fact(acc: OrderAcc, fact: OperatorFact) -> int:
    """One operator event. Returns the read's code for a balance observation, else NOT_A_READ."""
    if fact.type == "MallStateObserved":
        return fold_observation(acc, fact)
    kind = ACTION_KINDS.get(fact.type)
    if kind is None:
        return NOT_A_READ
    event_id = str(fact.event_id)
    ops = acc.ops
    if ops is not None and any(action[1] == event_id for action in ops):
        return NOT_A_READ
    action: Action = (
        kind,
        event_id,
        fact.by,
        fact.reason,
        (fact.code or "") if kind == "ack" else "",  # a `code` on another action is a newer writer's field
        fact.occurred_at.timestamp(),
        fact.recorded_at.timestamp(),
    )
    acc.ops = [action] if ops is None else [*ops, action]
    return NOT_A_READ


def acknowledged(acc: OrderAcc) -> bool:
    """Whether the order's recorded attention item was acknowledged by a person after it was raised."""
    item = acc.attention
    if item is None or acc.ops is None:
        return False
    code, _, raised = item
    acks = [action[5] for action in acc.ops if action[0] == "ack" and action[4] == code]
    return bool(acks) and max(acks) >= raised


def actions_of(acc: OrderAcc) -> tuple[OperatorAction, ...]:
    """The order's actions in the order they were recorded."""
    if acc.ops is None:
        return ()
    ordered = sorted(acc.ops, key=lambda action: action[6])
    return tuple(
        OperatorAction(
            kind=kind,
            by=by,
            reason=reason,
            code=code or None,
            at=datetime.fromtimestamp(recorded, UTC),
        )
        for kind, _, by, reason, code, _, recorded in ordered
    )
