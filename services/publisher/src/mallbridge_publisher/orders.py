"""The projection of the orders of one member's partitions: each order's state and its partition.

Every change goes through here, so the state gauges follow it; the bulk fold of a rebuild is the one
exception (it is the hot path of a restart), and the rebuilt orders are counted once afterwards. What the
SLA figures need beyond the state (`SlaMarks`) is noted from every event folded.
"""

from __future__ import annotations

from collections.abc import Collection

from mallbridge_core.domain.projection import OrderState, apply
from mallbridge_publisher.gauges import StateGauges
from mallbridge_publisher.sla_marks import SlaMarks
from mallbridge_schema.events import Event

Key = tuple[str, str]


def key_of(event: Event) -> Key:
    return (event.tenant_id, event.order_number)


class OrderBook:
    def __init__(self, gauges: StateGauges) -> None:
        self.states: dict[Key, OrderState] = {}
        self._partition_of: dict[Key, int] = {}
        self._gauges = gauges
        self.sla = SlaMarks()

    def fold(self, event: Event, partition: int) -> Key:
        """Fold an event of either topic read from `partition`; the gauges are not touched (see `counted`)."""
        key = (event.tenant_id, event.order_number)
        known = self.states.get(key)
        state = apply(known, event)
        if known is None:
            key = (state.tenant_id, state.order_number)  # a new order's key: the state's own strings, one copy
        self.states[key] = state
        self._partition_of[key] = partition
        self.sla.note(key, event)
        return key

    def fold_live(self, event: Event, partition: int) -> Key:
        """Fold an event that arrived while running, and keep the gauges current."""
        key = self.fold(event, partition)
        self._gauges.update(key, self.states[key])
        return key

    def record(self, event: Event) -> None:
        """Fold a sync event this member just wrote about one of its orders."""
        key = key_of(event)
        state = self.states.get(key)
        if state is not None:
            self.states[key] = apply(state, event)
            self.sla.note(key, event)
            self._gauges.update(key, self.states[key])

    def marked(self) -> list[Key]:
        """The orders with an open attention item or a deferral now (what the gauges count)."""
        return self._gauges.marked()

    def keys_in(self, partitions: Collection[int]) -> list[Key]:
        return [key for key, partition in self._partition_of.items() if partition in partitions]

    def counted(self, keys: Collection[Key]) -> None:
        """Count `keys`' orders in the gauges (after a rebuild folded them)."""
        self._gauges.refresh((key, self.states[key]) for key in keys)

    def drop(self, keys: Collection[Key]) -> None:
        """Forget `keys`' orders (their partitions went to another member)."""
        for key in keys:
            self.states.pop(key, None)
            self._partition_of.pop(key, None)
            self.sla.forget(key)
            self._gauges.update(key, None)
