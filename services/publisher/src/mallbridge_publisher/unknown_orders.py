"""The MALL orders the shop never got, as `mallbridge balance` last saw them (ARCHITECTURE.md §6): per tenant,
the latest `UnknownMallOrdersObserved` of the partitions this member owns.

Balance writes one to the lane's operator-events.v1 whenever the set of MALL orders open there for over an
hour that no FastCentrik snapshot has named changes; each carries the whole set, so the latest replaces every
earlier one and an empty one says there are none any more. The event is tenant-level (key `{tenant}:`): all
of a tenant's sit in one partition, and the member that owns that partition holds them (with several members
each console shows its share, as for the queue). "Latest" is by `recorded_at`, not by the order of folding: a
rebuild folds the default lane's history before the lane's own topic, and a live tail may have folded a newer
one before a rebuild of another partition.

A revoke drops what came from the revoked partitions (the member no longer owns them; the new owner's rebuild
brings them back). Pure: no I/O, no clock; the engine feeds it from the rebuild and the operator tail.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from mallbridge_schema.events import Event, UnknownMallOrder, UnknownMallOrdersObserved


@dataclass(frozen=True, slots=True)
class UnknownOrders:
    """One tenant's MALL orders the shop never got, as one balance run saw them."""

    tenant_id: str
    orders: tuple[UnknownMallOrder, ...]  # at most MAX_UNKNOWN_LISTED of them, oldest first
    total: int  # how many there were in all (`orders` lists the first of them)
    seen_at: datetime  # when balance saw them (the observation's `occurred_at`)
    recorded_at: datetime  # what makes one observation newer than another
    partition: int  # the operator-events partition it came from


class UnknownOrdersBook:
    """The latest observation per tenant of `tenants` (another lane's tenants are that lane's business)."""

    def __init__(self, tenants: Collection[str]) -> None:
        self._tenants = frozenset(tenants)
        self._latest: dict[str, UnknownOrders] = {}

    def fold(self, event: Event, partition: int) -> None:
        """Take in an event of no order read from `partition`; anything but an `UnknownMallOrdersObserved` of
        one of the tenants is ignored, and so is one recorded before the observation already held."""
        if type(event) is not UnknownMallOrdersObserved or event.tenant_id not in self._tenants:
            return
        known = self._latest.get(event.tenant_id)
        if known is not None and known.recorded_at > event.recorded_at:
            return  # an older one (of equal moments the one folded last wins; a redelivery changes nothing)
        self._latest[event.tenant_id] = UnknownOrders(
            event.tenant_id, event.orders, event.total, event.occurred_at, event.recorded_at, partition
        )

    def drop(self, partitions: Collection[int]) -> None:
        """Forget what came from `partitions` (they went to another member)."""
        for tenant in [t for t, seen in self._latest.items() if seen.partition in partitions]:
            del self._latest[tenant]

    def latest(self, tenant_id: str) -> UnknownOrders | None:
        """The tenant's latest observation held (None: none), an empty one included."""
        return self._latest.get(tenant_id)

    def total(self, tenant_id: str) -> int:
        """How many the latest observation of the tenant counts (0: none held, or none any more)."""
        seen = self._latest.get(tenant_id)
        return 0 if seen is None else seen.total

    def outstanding(self) -> list[UnknownOrders]:
        """The latest observations that count at least one order, by tenant."""
        return sorted((seen for seen in self._latest.values() if seen.total), key=lambda seen: seen.tenant_id)
