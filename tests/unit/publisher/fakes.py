"""Working in-memory doubles of the publisher's own ports: an EventLog with partitions and one group
member, and a MallClient that keeps orders and fails on cue. For unit tests: no broker, no HTTP."""

from __future__ import annotations

import asyncio
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mallbridge_core.eventlog.port import LogRecord, OnAssigned, OnRevoked, OutgoingRecord
from mallbridge_core.tenants import Tenant
from mallbridge_publisher.ports import MallAnswer, MallBasicOrder, MallError, MallOrder, MallOrderPage
from mallbridge_schema.statuses import MallStatus


class FakeEventLog:
    """Topics of `partitions` partitions (a key always lands in the same partition number, on every topic)."""

    def __init__(self, partitions: int = 3) -> None:
        self.partitions = partitions
        self.topics: dict[str, dict[int, list[LogRecord]]] = {}
        self.subscriptions: list[FakeSubscription] = []
        self.committed: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)  # (group, topic) → offsets

    @property
    def url(self) -> str:
        return "fake://memory"

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> bool:
        return True

    def _topic(self, topic: str) -> dict[int, list[LogRecord]]:
        return self.topics.setdefault(topic, {p: [] for p in range(self.partitions)})

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        for topic in topics:
            self._topic(topic)

    def partition_of(self, key: bytes | None) -> int:
        return zlib.crc32(key or b"") % self.partitions

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> None:
        stored = self._topic(topic)
        for r in records:
            p = self.partition_of(r.key)
            stored[p].append(LogRecord(topic, p, len(stored[p]), r.key, r.value, 0, r.headers))

    async def end_offsets(self, topic: str) -> dict[int, int]:
        return {p: len(records) for p, records in self._topic(topic).items()}

    async def replay(
        self, topic: str, *, start: Mapping[int, int] | None = None, stop: Mapping[int, int] | None = None
    ) -> AsyncIterator[list[LogRecord]]:
        for p, records in list(self._topic(topic).items()):
            begin = (start or {}).get(p, 0)
            end = (stop or {}).get(p, len(records))
            if begin < end:
                yield records[begin:end]

    async def subscribe(
        self, topic: str, *, group: str, on_assigned: OnAssigned, on_revoked: OnRevoked
    ) -> FakeSubscription:
        subscription = FakeSubscription(self, topic, on_assigned, on_revoked, committed=self.committed[(group, topic)])
        self.subscriptions.append(subscription)
        return subscription

    def records(self, topic: str) -> list[LogRecord]:
        return [r for records in self._topic(topic).values() for r in records]


class FakeSubscription:
    """The only member of its group: it receives every partition at its first poll; `rebalance()` moves
    partitions away and back as a group coordinator would."""

    def __init__(
        self,
        log: FakeEventLog,
        topic: str,
        on_assigned: OnAssigned,
        on_revoked: OnRevoked,
        *,
        committed: dict[int, int],
    ) -> None:
        self._log = log
        self._topic = topic
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked
        self._assigned: frozenset[int] | None = None
        self._position: dict[int, int] = {}
        self.committed = committed  # the group's, kept by the log across members
        self.closed = False

    async def rebalance(self, partitions: frozenset[int]) -> None:
        old = self._assigned or frozenset()
        if old - partitions:
            await self._on_revoked(old - partitions)
        self._assigned = partitions
        if partitions - old:
            starts = await self._on_assigned(partitions - old)
            for p in partitions - old:
                self._position[p] = starts.get(p, self.committed.get(p, 0))

    async def poll(self, *, timeout_s: float, max_records: int = 500) -> list[LogRecord]:
        if self._assigned is None:
            await self.rebalance(frozenset(range(self._log.partitions)))
        out: list[LogRecord] = []
        for p in sorted(self._assigned or ()):
            records = self._log._topic(self._topic)[p]
            chunk = records[self._position[p] : self._position[p] + max_records - len(out)]
            self._position[p] += len(chunk)
            out += chunk
        if not out:
            await asyncio.sleep(min(timeout_s, 0.01))
        return out

    async def commit(self, offsets: Mapping[int, int]) -> None:
        self.committed.update(offsets)

    def assignment(self) -> frozenset[int]:
        return self._assigned or frozenset()

    async def close(self) -> None:
        self.closed = True


@dataclass
class FakeMallOrder:
    status: MallStatus = MallStatus.OPEN
    confirmed: bool = False
    mdp: bool = False
    opened_at: str | None = None


@dataclass
class FakeMall:
    """A MallClient over in-memory orders. `fail(method, exc)` makes the next call of that method raise."""

    orders: dict[str, FakeMallOrder] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    failures: dict[str, list[MallError]] = field(default_factory=lambda: defaultdict(list))

    def fail(self, method: str, *errors: MallError) -> None:
        self.failures[method].extend(errors)

    async def put_order(self, tenant: Tenant, mall_order_id: str, body: dict[str, Any]) -> MallAnswer:
        await asyncio.sleep(0)  # a network call yields: other orders' calls interleave with it
        self.calls.append(("PUT", mall_order_id, body))
        if self.failures["PUT"]:
            raise self.failures["PUT"].pop(0)
        order = self.orders.setdefault(mall_order_id, FakeMallOrder())
        if "status" in body:  # a confirm-only PUT leaves the status
            order.status = MallStatus(body["status"])
        order.confirmed = order.confirmed or bool(body.get("confirmed"))
        return MallAnswer(200, {"result": {"code": 200, "status": "OK"}}, latency_ms=1.0)

    async def get_order(self, tenant: Tenant, mall_order_id: str) -> MallOrder:
        await asyncio.sleep(0)
        self.calls.append(("GET", mall_order_id, None))
        if self.failures["GET"]:
            raise self.failures["GET"].pop(0)
        order = self.orders.setdefault(mall_order_id, FakeMallOrder())
        return MallOrder(
            id=mall_order_id, status=order.status, confirmed=order.confirmed, mdp=order.mdp, opened_at=order.opened_at
        )

    async def list_orders(
        self,
        tenant: Tenant,
        *,
        unconfirmed: bool = False,
        statuses: tuple[MallStatus, ...] = (),
        page: int = 1,
        page_size: int = 100,
    ) -> MallOrderPage:
        """Sorted by id; blocked only when `statuses` names it (as MALL's lists)."""
        await asyncio.sleep(0)
        self.calls.append(("LIST", "unconfirmed" if unconfirmed else ",".join(statuses), {"page": page}))
        if self.failures["LIST"]:
            raise self.failures["LIST"].pop(0)
        shown = [
            (mall_id, order)
            for mall_id, order in sorted(self.orders.items())
            if (order.status in statuses if statuses else order.status is not MallStatus.BLOCKED)
            and (not unconfirmed or not order.confirmed)
        ]
        chosen = shown[(page - 1) * page_size : page * page_size]
        basic = tuple(MallBasicOrder(i, o.status, o.confirmed, o.mdp) for i, o in chosen)
        return MallOrderPage(basic, page, -(-len(shown) // page_size), len(shown))

    def mall_changes(self, mall_order_id: str, status: MallStatus | None = None) -> None:
        """A change MALL makes: the status (if given), and the order unconfirmed again."""
        order = self.orders.setdefault(mall_order_id, FakeMallOrder())
        order.status = status or order.status
        order.confirmed = False

    async def close(self) -> None:
        return None

    def puts(self, mall_order_id: str | None = None) -> list[dict[str, Any]]:
        return [body or {} for m, oid, body in self.calls if m == "PUT" and mall_order_id in (None, oid)]

    def gets(self, mall_order_id: str | None = None) -> int:
        return sum(1 for m, oid, _ in self.calls if m == "GET" and mall_order_id in (None, oid))
