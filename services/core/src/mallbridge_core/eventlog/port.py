"""The event-log port owned by the core (ARCHITECTURE.md §4, §5): what every service needs from a log.

Two adapters implement it: Kafka (`kafka/`, aiokafka) and an embedded append-only log in one SQLite
file (`sqlite/`). Services only ever see this module, so both engines serve them unchanged.

Semantics every adapter keeps:
- `append` returns only when every record is durable (Kafka: acknowledged with acks=all by an
  idempotent producer); otherwise it raises `LogUnavailableError` and the caller must treat nothing
  as written. Records with the same key keep their order.
- Offsets are per topic-partition, start at 0 and grow by one per record. `commit` stores the offset
  of the *next* record to read.
- `replay` is bounded: it stops at the end offsets taken when it starts (never waits for new data)
  and commits nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import NamedTuple, Protocol

Headers = tuple[tuple[str, bytes], ...]


class LogRecord(NamedTuple):
    """One record read from the log. Named tuples (immutable, and about half the cost of a frozen
    dataclass to create): one is made per record read, and every replay reads them all."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int
    headers: Headers = ()


class OutgoingRecord(NamedTuple):
    key: bytes | None  # None only where a record read without a key is moved on unchanged (a dead letter)
    value: bytes
    headers: Headers = ()


class LogUnavailableError(RuntimeError):
    """The log did not acknowledge an append (or could not be reached); nothing may be assumed written."""


# Called with the partitions newly assigned to this member; returns the offset to start each one at
# (a partition left out starts at its committed offset, or at 0 when nothing was committed).
OnAssigned = Callable[[frozenset[int]], Awaitable[Mapping[int, int]]]
# Called before partitions are taken away, so the member can finish and record its work on them.
OnRevoked = Callable[[frozenset[int]], Awaitable[None]]


class Subscription(Protocol):
    """A consumer-group member reading one topic; partitions are shared among members of the group."""

    async def poll(self, *, timeout_s: float, max_records: int = 500) -> list[LogRecord]:
        """Records from the assigned partitions, in offset order per partition; [] after the timeout."""
        ...

    async def commit(self, offsets: Mapping[int, int]) -> None:
        """Store, per partition, the offset of the next record to read."""
        ...

    def assignment(self) -> frozenset[int]: ...

    async def close(self) -> None: ...


class EventLog(Protocol):
    """An append-only, partitioned log of records, per topic."""

    @property
    def url(self) -> str:
        """Where the log is (`kafka://host:port` or `sqlite:///path`), with no secret in it."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """True when the log answers right now (for readiness probes)."""
        ...

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        """Create the topics if missing, with the adapter's configured partition count."""
        ...

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> None:
        """Write all records durably, in order per key; raise LogUnavailableError otherwise."""
        ...

    async def end_offsets(self, topic: str) -> dict[int, int]:
        """Per partition, the offset the next appended record will get."""
        ...

    def replay(
        self,
        topic: str,
        *,
        start: Mapping[int, int] | None = None,
        stop: Mapping[int, int] | None = None,
    ) -> AsyncIterator[list[LogRecord]]:
        """Batches of records from `start` (default 0) up to `stop` (default: end offsets taken now).

        Without a group and without commits. Partitions absent from `stop` are read to their end too.
        """
        ...

    async def subscribe(
        self,
        topic: str,
        *,
        group: str,
        on_assigned: OnAssigned,
        on_revoked: OnRevoked,
    ) -> Subscription:
        """Join `group` as a member reading `topic`."""
        ...
