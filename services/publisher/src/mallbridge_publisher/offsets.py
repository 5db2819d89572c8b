"""Offset bookkeeping of the order-events partitions this member owns.

Orders are worked on concurrently, so a partition's consumer position says nothing about what is
done. The position committed is the lowest offset whose order has not settled yet (or the next offset
to read when every order has): a restart re-reads at most unsettled work, and correctness never hangs
on it anyway (every assignment rebuilds from offset 0). ARCHITECTURE.md §5, "Concurrency versus offsets".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

Key = tuple[str, str]


class OffsetBook:
    def __init__(self) -> None:
        self.assigned: frozenset[int] = frozenset()
        self._unsettled: dict[int, set[int]] = defaultdict(set)
        self._offsets_of: dict[Key, list[tuple[int, int]]] = defaultdict(list)
        self._next: dict[int, int] = {}

    def assign(self, partitions: Collection[int]) -> None:
        self.assigned = self.assigned | frozenset(partitions)

    def revoke(self, partitions: Collection[int], keys: Collection[Key]) -> None:
        """Forget `partitions` and the unsettled offsets of `keys` (the orders of those partitions)."""
        for key in keys:
            self._offsets_of.pop(key, None)
        for partition in partitions:
            self._unsettled.pop(partition, None)
            self._next.pop(partition, None)
        self.assigned = self.assigned - frozenset(partitions)

    def passed(self, partition: int, offset: int) -> None:
        """The record at `offset` was read and needs no work (e.g. it was dead-lettered)."""
        self._next[partition] = offset + 1

    def consumed(self, partition: int, offset: int, key: Key) -> None:
        """The order event at `offset` was read; it stays unsettled until `settle(key)`."""
        self._next[partition] = offset + 1
        self._unsettled[partition].add(offset)
        self._offsets_of[key].append((partition, offset))

    def settle(self, key: Key) -> None:
        """`key`'s order is in step with MALL (or waits for something that will wake it): its offsets are done."""
        for partition, offset in self._offsets_of.pop(key, []):
            self._unsettled.get(partition, set()).discard(offset)

    def positions(self) -> dict[int, int]:
        """Per assigned partition read from, the offset to commit."""
        out: dict[int, int] = {}
        for partition in self.assigned:
            unsettled = self._unsettled.get(partition)
            if unsettled:
                out[partition] = min(unsettled)
            elif partition in self._next:
                out[partition] = self._next[partition]
        return out

    def unsettled(self, partition: int) -> int:
        return len(self._unsettled.get(partition, ()))
