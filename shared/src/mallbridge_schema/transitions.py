"""MALL's partner transition graph (ARCHITECTURE.md §1) and the shortest legal path between two statuses."""

from __future__ import annotations

from collections import deque
from functools import cache

from mallbridge_schema.statuses import MallStatus

_S = MallStatus

PARTNER_TRANSITIONS: dict[MallStatus, frozenset[MallStatus]] = {
    _S.OPEN: frozenset({_S.SHIPPING, _S.SHIPPED, _S.CANCELLED}),
    _S.SHIPPING: frozenset({_S.SHIPPED, _S.CANCELLED}),
    _S.SHIPPED: frozenset({_S.DELIVERED, _S.RETURNED}),
}

# MALL Delivery (MDP): the order must pass through shipping, and MALL alone sets delivered/returned.
_MDP_FORBIDDEN: frozenset[tuple[MallStatus, MallStatus]] = frozenset(
    {(_S.OPEN, _S.SHIPPED), (_S.SHIPPED, _S.DELIVERED), (_S.SHIPPED, _S.RETURNED)}
)


def is_partner_transition(current: MallStatus, target: MallStatus, *, mdp: bool) -> bool:
    """True when the partner may move an order from `current` to `target` in one PUT."""
    if target not in PARTNER_TRANSITIONS.get(current, frozenset()):
        return False
    return not (mdp and (current, target) in _MDP_FORBIDDEN)


def partner_targets(current: MallStatus, *, mdp: bool) -> list[MallStatus]:
    return sorted(
        (t for t in PARTNER_TRANSITIONS.get(current, frozenset()) if is_partner_transition(current, t, mdp=mdp)),
        key=list(MallStatus).index,
    )


@cache  # 8 × 8 × 2 possible questions, asked for every plan: answer each once
def shortest_path(current: MallStatus, target: MallStatus, *, mdp: bool) -> tuple[MallStatus, ...] | None:
    """The statuses to PUT, in order, to reach `target` (empty when equal); None when no legal path exists."""
    if current == target:
        return ()
    previous: dict[MallStatus, MallStatus] = {}
    queue = deque([current])
    while queue:
        node = queue.popleft()
        for nxt in partner_targets(node, mdp=mdp):
            if nxt in previous or nxt == current:
                continue
            previous[nxt] = node
            if nxt == target:
                path = [nxt]
                while path[-1] != current and previous[path[-1]] != current:
                    path.append(previous[path[-1]])
                return tuple(reversed(path))
            queue.append(nxt)
    return None
