"""The gauges that are state: open attention per tenant and code, deferred steps per tenant.

They count the orders of the partitions this member owns, from the projection: recomputed for the
orders of newly assigned partitions once they are rebuilt (`refresh`), kept current on every change of
an order (`update`), and dropped with the partitions on a revoke (`update(key, None)`). So they are
right after restarts and rebalances, and a resolved or acknowledged item leaves them at once.

An order counts as deferred the way the audit counts it: a deferral recorded, no attention open, MALL
not yet at the desired status, and not a MALL Delivery order waiting for MALL's own delivered/returned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable

from mallbridge_core.domain.projection import OrderState, attention_item
from mallbridge_core.domain.reconciler import desired_status, effective_mdp
from mallbridge_publisher.metrics import PublisherMetrics
from mallbridge_schema.statuses import MallStatus

Key = tuple[str, str]
Marks = tuple[str | None, bool]
"""What one order adds to the gauges: the code of its open attention item, and whether it is deferred."""

UNMARKED: Marks = (None, False)
_MALL_SETS_ITSELF = (MallStatus.DELIVERED, MallStatus.RETURNED)


def marks_of(state: OrderState) -> Marks:
    item = attention_item(state)
    if item is not None:
        return (item.code if item.open else None), False  # an acknowledged item is handled, not open
    if state.mall.deferral is None:
        return UNMARKED
    desired = desired_status(state)
    if desired is None or desired == state.mall.status:
        return UNMARKED
    if effective_mdp(state) and desired in _MALL_SETS_ITSELF and state.mall.status is MallStatus.SHIPPED:
        return UNMARKED
    return None, True


class StateGauges:
    """Open attention and deferred orders of the tenants one lane serves (another lane's tenants, whose
    old history this lane's projection may hold, are counted by that lane's publishers)."""

    def __init__(self, metrics: PublisherMetrics, tenants: Collection[str]) -> None:
        self._metrics = metrics
        self._tenants = frozenset(tenants)
        self._marks: dict[Key, Marks] = {}
        self._attention: Counter[tuple[str, str]] = Counter()
        self._deferred: Counter[str] = Counter()
        for tenant in self._tenants:
            metrics.deferred_open.labels(tenant).set(0)

    def update(self, key: Key, state: OrderState | None) -> None:
        """`key`'s order is now `state` (None: no longer this member's)."""
        if key[0] not in self._tenants:
            return
        new = UNMARKED if state is None else marks_of(state)
        old = self._marks.get(key, UNMARKED)
        if new == old:
            return
        if new == UNMARKED:
            del self._marks[key]
        else:
            self._marks[key] = new
        self._count(key[0], old, -1)
        self._count(key[0], new, +1)

    def marked(self) -> list[Key]:
        """The orders counted now (an open attention item, or deferred): the console's queue reads these
        instead of every order."""
        return list(self._marks)

    def refresh(self, states: Iterable[tuple[Key, OrderState]]) -> None:
        for key, state in states:
            self.update(key, state)

    def _count(self, tenant: str, marks: Marks, delta: int) -> None:
        code, deferred = marks
        if code is not None:
            self._attention[(tenant, code)] += delta
            self._metrics.open_attention.labels(tenant, code).set(self._attention[(tenant, code)])
        if deferred:
            self._deferred[tenant] += delta
            self._metrics.deferred_open.labels(tenant).set(self._deferred[tenant])
