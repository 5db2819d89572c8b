"""The port's Subscription on the embedded log: the one active member of a consumer group (`lease.py`).

A member that holds the lease gets partition 0: on taking it over it calls `on_assigned({0})` and
starts at the offset that returns, else at the committed offset, else at 0. A member that waits has
an empty assignment and tries again while it polls. A member that lost its lease (it stopped
renewing it and another took over) gets `on_revoked({0})` on its next poll, and its commits are
refused (logged), so two processes never both commit for one group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import uuid
from collections.abc import Callable, Mapping
from functools import partial
from typing import Protocol, TypeVar

from mallbridge_core.eventlog.port import LogRecord, LogUnavailableError, OnAssigned, OnRevoked
from mallbridge_core.eventlog.sqlite import records
from mallbridge_core.eventlog.sqlite.connection import Connection
from mallbridge_core.eventlog.sqlite.lease import Lease
from mallbridge_core.eventlog.sqlite.schema import PARTITION

T = TypeVar("T")


class LogFile(Protocol):
    """What a subscription needs of its `SqliteEventLog`: connections, serialized writes, append wake-ups."""

    poll_interval_s: float
    session_timeout_s: float

    @property
    def url(self) -> str: ...

    def new_connection(self, name: str) -> Connection: ...

    async def write(self, work: Callable[[sqlite3.Connection], T], *, what: str) -> T: ...

    async def query(self, work: Callable[[sqlite3.Connection], T]) -> T: ...

    async def topic_id(self, topic: str, *, create: bool = False) -> int | None: ...

    async def wait_for_append(self, timeout_s: float) -> None: ...


log = logging.getLogger(__name__)

_PARTITIONS = frozenset({PARTITION})


class SqliteSubscription:
    """The single active member of a consumer group on one topic of a SqliteEventLog (port's Subscription)."""

    def __init__(
        self,
        log: LogFile,
        topic: str,
        *,
        group: str,
        on_assigned: OnAssigned,
        on_revoked: OnRevoked,
    ) -> None:
        self._log = log
        self.topic = topic
        self.group = group
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked
        self._lease = Lease(group, topic, uuid.uuid4().hex, log.session_timeout_s)
        self._owner = False
        self._lost = False
        self._position = 0
        self._next_attempt = 0.0
        self._conn = log.new_connection("subscription")
        self._heartbeat: asyncio.Task[None] | None = None
        self._closed = False

    # ---- membership ----------------------------------------------------------------------------------

    async def _acquire(self) -> None:
        """Try to become the group's member; on success call on_assigned({0}) and seek."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_attempt:
            return
        self._next_attempt = loop.time() + min(1.0, self._log.session_timeout_s / 4)
        if not await self._log.write(self._lease.try_acquire, what="group membership"):
            return
        self._owner, self._lost = True, False
        positions = await self._on_assigned(_PARTITIONS)
        if PARTITION in positions:
            self._position = int(positions[PARTITION])
        else:
            committed = await self._log.query(partial(records.committed, group=self.group, topic=self.topic))
            self._position = committed.get(PARTITION, 0)
        log.info("joined group %s on %s at offset %d", self.group, self.topic, self._position)

    async def _heartbeat_loop(self) -> None:
        interval = max(0.05, self._log.session_timeout_s / 5)
        while not self._closed:
            await asyncio.sleep(interval)
            if not self._owner:
                continue
            try:
                if not await self._log.write(self._lease.renew, what="heartbeat"):
                    self._lost = True
            except LogUnavailableError as exc:
                log.warning("heartbeat of group %s on %s failed: %s", self.group, self.topic, exc)

    async def _maintain(self) -> None:
        if self._owner and self._lost:
            self._owner = False
            log.warning("group %s on %s: this member lost the group to another", self.group, self.topic)
            await self._on_revoked(_PARTITIONS)
        if not self._owner:
            await self._acquire()

    # ---- the port's Subscription ---------------------------------------------------------------------

    async def start(self) -> None:
        await self._acquire()
        self._heartbeat = asyncio.create_task(self._heartbeat_loop(), name=f"sqlite-heartbeat-{self.group}")

    async def poll(self, *, timeout_s: float, max_records: int = 500) -> list[LogRecord]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        topic_id = await self._log.topic_id(self.topic, create=True)
        assert topic_id is not None
        while True:
            await self._maintain()
            if self._owner:
                read = partial(
                    records.read,
                    topic=self.topic,
                    topic_id=topic_id,
                    start=self._position,
                    stop=None,
                    limit=max_records,
                )
                try:
                    batch = await self._conn.run(read)
                except (sqlite3.Error, OSError) as exc:
                    raise LogUnavailableError(f"the event log {self._log.url} could not be read: {exc}") from exc
                if batch:
                    self._position = batch[-1].offset + 1
                    return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await self._log.wait_for_append(min(remaining, self._log.poll_interval_s))

    async def commit(self, offsets: Mapping[int, int]) -> None:
        """Store the offsets, checking in the same transaction that this member still holds the group.

        When it no longer does, nothing is written, the loss is logged, and the next poll calls on_revoked.
        """
        owned = {p: off for p, off in offsets.items() if p == PARTITION and self._owner}
        if not owned:
            return

        def work(conn: sqlite3.Connection) -> bool:
            if not self._lease.holds(conn):
                return False
            records.store_commit(conn, self.group, self.topic, owned)
            return True

        if await self._log.write(work, what="commit"):
            return
        self._lost = True
        log.warning("group %s on %s: commit refused, this member no longer holds the group", self.group, self.topic)

    def assignment(self) -> frozenset[int]:
        return _PARTITIONS if self._owner else frozenset()

    async def close(self) -> None:
        """Leave the group (another member may take over at once) without calling on_revoked, as Kafka's does."""
        self._closed = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._heartbeat
        if self._owner:
            self._owner = False
            with contextlib.suppress(LogUnavailableError):
                await self._log.write(self._lease.release, what="leave group")
        await self._conn.close()
