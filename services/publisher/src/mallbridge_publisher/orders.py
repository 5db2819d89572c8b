"""The projection of the orders of one member's partitions: per order one record (its state, its partition,
what the SLA figures need), and what must be answered without reading every order.

Records: with `hot_orders` set, the most recently used that many in memory and the rest in a private
temporary file (`mallbridge_core.spill`: a cache of the fold, rebuilt from the log at every start), so a
publisher's memory does not grow with the merchant's history; with 0, all in memory. An order is one
value, so it spills and comes back whole, and each is filed under its partition (a revoke finds and drops a
partition's orders without reading them).

Kept in step with every change instead of recomputed over every order:
- the state gauges (`StateGauges`: the orders with an open attention item or a deferral, which the console's
  queue reads); the bulk fold of a rebuild is the one exception (the hot path of a restart): the rebuilt
  orders are counted once afterwards (`counted`);
- the SLA cohorts per partition and tenant (`SlaCohorts`: how many orders share each day and part in the
  figures), which the console's tenants page sums;
- the MALL order ids (tenant, MALL id -> order), which the unconfirmed poll looks its listed orders up in,
  and how many orders FastCentrik has named per partition and tenant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable
from typing import NamedTuple, TypeVar

import msgspec

from mallbridge_core.domain.projection import OrderState, apply
from mallbridge_core.domain.sla import Cohort, SlaCohorts
from mallbridge_core.spill import SpillFile, SpillingMap, TaggedDict, index_hot
from mallbridge_publisher.gauges import StateGauges
from mallbridge_publisher.sla_marks import NO_MARKS, SlaMarks, cohort_of, noted
from mallbridge_schema.events import Event

Key = tuple[str, str]
K = TypeVar("K")
V = TypeVar("V")


class OrderRecord(NamedTuple):
    """All the publisher keeps of one order, in one value (what spills to the file as one row)."""

    state: OrderState
    partition: int
    marks: SlaMarks = NO_MARKS


_TaggedMap = SpillingMap[K, V] | TaggedDict[K, V]


def key_of(event: Event) -> Key:
    return (event.tenant_id, event.order_number)


def _key_text(key: tuple[str, str]) -> str:
    return f"{key[0]}\x1f{key[1]}"  # a tenant id never holds \x1f (TENANT_ID_PATTERN)


def _text_key(text: str) -> tuple[str, str]:
    tenant, _, rest = text.partition("\x1f")
    return tenant, rest


def _record_partition(record: OrderRecord) -> int:
    return record.partition


def _index_partition(entry: tuple[str, int]) -> int:
    return entry[1]


# A record in the file: JSON by msgspec, read back typed (dates keep their offsets, enums, UUIDs and frozensets
# their types): about 1 µs each way, where pickle took 20-60 µs. Every state the book holds goes through it
# whenever a test keeps one record in memory (tests/unit/publisher/test_orders.py, engine tests "spilled").
_ENCODE = msgspec.json.Encoder().encode
_DECODE_RECORD = msgspec.json.Decoder(OrderRecord).decode
_DECODE_INDEXED = msgspec.json.Decoder(tuple[str, int]).decode


def _part_may_differ(old: OrderRecord, new: OrderRecord) -> bool:
    """Whether the order's cohort may have changed: what it depends on is MALL's side, the SLA marks, whether
    FastCentrik named the order and its MDP flag (`sla.order_sla`); most order events change none of them."""
    before, after = old.state, new.state
    return (
        before.mall is not after.mall
        or old.marks is not new.marks
        or (before.fc.status is None) is not (after.fc.status is None)
        or before.fc.mdp is not after.fc.mdp
    )


class OrderBook:
    def __init__(self, gauges: StateGauges, *, hot_orders: int = 0) -> None:
        """`hot_orders`: how many orders' records stay in memory, the rest in a temporary file; 0: all."""
        self._gauges = gauges
        self._file = SpillFile() if hot_orders else None
        self._records: _TaggedMap[Key, OrderRecord] = self._map(hot_orders, _record_partition, _DECODE_RECORD)
        # (tenant, MALL order id) -> (order number, partition); an id stays with the first order that named it
        self._mall_ids: _TaggedMap[tuple[str, str], tuple[str, int]] = self._map(
            index_hot(hot_orders), _index_partition, _DECODE_INDEXED
        )
        self._sla: dict[int, SlaCohorts] = {}
        self._named: Counter[tuple[int, str]] = Counter()  # (partition, tenant) -> orders FastCentrik named

    def _map(self, hot: int, tag: Callable[[V], int], decode: Callable[[bytes], V]) -> _TaggedMap[tuple[str, str], V]:
        if self._file is None:
            return TaggedDict(tag)
        return SpillingMap(
            self._file,
            hot=hot,
            encode=_ENCODE,
            decode=decode,
            key_text=_key_text,
            text_key=_text_key,
            tag=tag,
        )

    def close(self) -> None:
        """Remove the temporary file (the book is not used after this)."""
        if self._file is not None:
            self._file.close()

    # ---- reading -----------------------------------------------------------------------------------------

    def state(self, key: Key) -> OrderState | None:
        record = self._records.get(key)
        return None if record is None else record.state

    def __contains__(self, key: object) -> bool:
        return key in self._records

    def __len__(self) -> int:
        return len(self._records)

    @property
    def in_memory(self) -> int:
        """Orders whose record is in memory now (all of them without `hot_orders`)."""
        return self._records.in_memory

    def keys_in(self, partitions: Collection[int]) -> list[Key]:
        return self._records.keys_tagged(partitions)

    def marked(self) -> list[Key]:
        """The orders with an open attention item or a deferral now (what the gauges count)."""
        return self._gauges.marked()

    def order_of_mall_id(self, tenant_id: str, mall_order_id: str) -> Key | None:
        """The order FastCentrik named with this MALL id (None: none of this member's orders)."""
        found = self._mall_ids.get((tenant_id, mall_order_id))
        if found is None:
            return None
        key = (tenant_id, found[0])
        state = self.state(key)
        if state is None or state.fc.status is None or state.mall_order_id != mall_order_id:
            return None
        return key

    def names_orders_of(self, tenant_id: str) -> bool:
        """Whether this member holds an order of the tenant that FastCentrik has named."""
        return any(count for (_, tenant), count in self._named.items() if tenant == tenant_id)

    def sla_cohorts(self, tenant_id: str) -> list[tuple[Cohort, int]]:
        """How many of the tenant's orders share each cohort (day and part in the SLA figures)."""
        counts: Counter[Cohort] = Counter()
        for cohorts in self._sla.values():
            for cohort, times in cohorts.cohorts(tenant_id):
                counts[cohort] += times
        return [(cohort, times) for cohort, times in counts.items() if times]

    # ---- changing ----------------------------------------------------------------------------------------

    def fold(self, event: Event, partition: int) -> Key:
        """Fold an event of either topic read from `partition`; the gauges are not touched (see `counted`)."""
        key = (event.tenant_id, event.order_number)
        old = self._records.get(key)
        if old is None:
            state = apply(None, event)
            key = (state.tenant_id, state.order_number)  # a new order's key: the state's own strings, one copy
            marks = noted(NO_MARKS, event)
        else:
            state, marks = apply(old.state, event), noted(old.marks, event)
            if state is old.state and marks is old.marks and partition == old.partition:
                return key  # nothing new (a redelivery)
        self._put(key, old, OrderRecord(state, partition, marks))
        return key

    def fold_live(self, event: Event, partition: int) -> Key:
        """Fold an event that arrived while running, and keep the gauges current."""
        key = self.fold(event, partition)
        self._gauges.update(key, self.state(key))
        return key

    def record(self, event: Event) -> None:
        """Fold a sync event this member just wrote about one of its orders."""
        key = key_of(event)
        old = self._records.get(key)
        if old is None:
            return
        state, marks = apply(old.state, event), noted(old.marks, event)
        if state is not old.state or marks is not old.marks:
            self._put(key, old, OrderRecord(state, old.partition, marks))
        self._gauges.update(key, state)

    def counted(self, keys: Iterable[Key]) -> None:
        """Count `keys`' orders in the gauges (after a rebuild folded them)."""
        self._gauges.refresh((key, state) for key in keys if (state := self.state(key)) is not None)

    def drop(self, partitions: Collection[int], keys: Iterable[Key]) -> None:
        """Forget the orders of `partitions` (they went to another member); `keys` are theirs (`keys_in`)."""
        for key in keys:
            self._gauges.update(key, None)
        self._records.remove_tagged(partitions)
        self._mall_ids.remove_tagged(partitions)
        for partition in partitions:
            self._sla.pop(partition, None)
        for counted in [c for c in self._named if c[0] in partitions]:
            del self._named[counted]

    def _put(self, key: Key, old: OrderRecord | None, new: OrderRecord) -> None:
        """Store `new` as `key`'s record and move what is kept in step with it from `old` to `new`."""
        self._records[key] = new
        tenant = key[0]
        moved = old is not None and old.partition != new.partition
        if moved or old is None or _part_may_differ(old, new):
            before = None if old is None else cohort_of(old.state, old.marks)
            after = cohort_of(new.state, new.marks)
            if before != after or moved:
                if before is not None and old is not None:
                    self._cohorts(old.partition).add(tenant, before, -1)
                if after is not None:
                    self._cohorts(new.partition).add(tenant, after)
        was_named = old is not None and old.state.fc.status is not None
        named = new.state.fc.status is not None
        if was_named != named or (moved and named):
            if was_named and old is not None:
                self._named[(old.partition, tenant)] -= 1
            if named:
                self._named[(new.partition, tenant)] += 1
        mall_order_id = new.state.mall_order_id
        if mall_order_id and (old is None or old.state.mall_order_id != mall_order_id):
            index = (tenant, mall_order_id)
            if index not in self._mall_ids:
                self._mall_ids[index] = (key[1], new.partition)

    def _cohorts(self, partition: int) -> SlaCohorts:
        cohorts = self._sla.get(partition)
        if cohorts is None:
            cohorts = self._sla[partition] = SlaCohorts()
        return cohorts
