"""`SqliteEventLog`: the port's EventLog in one SQLite file (see the package doc for where each part lives).

One partition per topic; appends are durable when they return (`connection.py`); positions are kept in
the same file; consumer groups have one active member (`subscription.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

from mallbridge_core.eventlog.port import LogRecord, LogUnavailableError, OnAssigned, OnRevoked, OutgoingRecord
from mallbridge_core.eventlog.sqlite.connection import Connection, in_write_transaction
from mallbridge_core.eventlog.sqlite.records import end_offset, insert, lookup_topic, read
from mallbridge_core.eventlog.sqlite.schema import PARTITION, create_schema
from mallbridge_core.eventlog.sqlite.subscription import SqliteSubscription

T = TypeVar("T")


class SqliteEventLog:
    """EventLog in one SQLite file: one partition per topic, durable appends, positions in the same file."""

    def __init__(
        self,
        path: str,
        *,
        busy_timeout_s: float = 15.0,
        poll_interval_s: float = 0.025,
        session_timeout_s: float = 10.0,
    ) -> None:
        self._path = str(Path(path))
        self._busy_timeout_s = busy_timeout_s
        self.poll_interval_s = poll_interval_s
        self.session_timeout_s = session_timeout_s
        self._writer: Connection | None = None
        self._reader: Connection | None = None
        self._open_lock = asyncio.Lock()
        self._topic_ids: dict[str, int] = {}
        # Set (and replaced) on every append from this process, so local subscribers wake at once;
        # appends from other processes are seen by the subscribers' periodic check.
        self._appended = asyncio.Event()

    @property
    def url(self) -> str:
        return f"sqlite://{self._path}"

    # ---- connections ---------------------------------------------------------------------------------

    def new_connection(self, name: str) -> Connection:
        """A connection of its own to this file (replays and subscriptions read on one each)."""
        return Connection(self._path, busy_timeout_s=self._busy_timeout_s, name=name)

    async def _open(self) -> tuple[Connection, Connection]:
        if self._writer is not None and self._reader is not None:
            return self._writer, self._reader
        async with self._open_lock:
            if self._writer is None or self._reader is None:
                writer = self.new_connection("writer")
                try:
                    await writer.run(create_schema)
                except (sqlite3.Error, OSError) as exc:
                    await writer.close()
                    raise LogUnavailableError(f"cannot open the event log {self.url}: {exc}") from exc
                except BaseException:
                    await writer.close()
                    raise
                self._writer, self._reader = writer, self.new_connection("reader")
            return self._writer, self._reader

    async def write(self, work: Callable[[sqlite3.Connection], T], *, what: str) -> T:
        """Run `work` in one write transaction; any SQLite or OS failure becomes LogUnavailableError."""
        writer, _ = await self._open()
        try:
            return await writer.run(lambda conn: in_write_transaction(conn, work))
        except (sqlite3.Error, OSError) as exc:
            raise LogUnavailableError(f"the event log {self.url} did not take the {what}: {exc}") from exc

    async def query(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` on the shared reading connection; any SQLite or OS failure becomes LogUnavailableError."""
        _, reader = await self._open()
        try:
            return await reader.run(work)
        except (sqlite3.Error, OSError) as exc:
            raise LogUnavailableError(f"the event log {self.url} could not be read: {exc}") from exc

    async def topic_id(self, topic: str, *, create: bool = False) -> int | None:
        """The topic's id in this file (registering it when `create`); None for a topic never seen."""
        known = self._topic_ids.get(topic)
        if known is not None:
            return known
        if create:
            found = await self.write(lambda conn: lookup_topic(conn, topic, create=True), what="topic")
        else:
            found = await self.query(lambda conn: lookup_topic(conn, topic, create=False))
        if found is not None:
            self._topic_ids[topic] = found
        return found

    def _notify_appended(self) -> None:
        event, self._appended = self._appended, asyncio.Event()
        event.set()

    async def wait_for_append(self, timeout_s: float) -> None:
        """Return after an append from this process or after `timeout_s`, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._appended.wait(), timeout=timeout_s)

    # ---- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the file (creating it and its schema when new); raises LogUnavailableError if it cannot."""
        await self._open()

    async def close(self) -> None:
        writer, reader = self._writer, self._reader
        self._writer = self._reader = None
        for conn in (reader, writer):
            if conn is not None:
                await conn.close()

    async def ping(self) -> bool:
        try:
            await self.query(lambda conn: conn.execute("SELECT 1 FROM topics LIMIT 1").fetchall())
        except Exception:  # any failure means "not usable now"
            return False
        return True

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        """Register the topics (one partition each); nothing else to create in this engine."""
        missing = [t for t in topics if t not in self._topic_ids]
        if not missing:
            return

        def work(conn: sqlite3.Connection) -> dict[str, int]:
            ids: dict[str, int] = {}
            for name in missing:
                found = lookup_topic(conn, name, create=True)
                assert found is not None
                ids[name] = found
            return ids

        self._topic_ids.update(await self.write(work, what="topic registration"))

    async def list_topics(self) -> list[str]:
        """Every topic of this log, sorted (extension: used by `mallbridge log export`)."""
        rows = await self.query(lambda conn: conn.execute("SELECT name FROM topics ORDER BY name").fetchall())
        return [str(name) for (name,) in rows]

    # ---- writing -------------------------------------------------------------------------------------

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> None:
        """Append all records in one transaction (all or nothing), durable when this returns."""
        if not records:
            return
        await self.write(lambda conn: insert(conn, topic, records), what="append")
        self._notify_appended()

    # ---- reading -------------------------------------------------------------------------------------

    async def end_offsets(self, topic: str) -> dict[int, int]:
        """{0: next offset} for a known topic; {} for a topic this log never saw (as Kafka does)."""
        topic_id = await self.topic_id(topic)
        if topic_id is None:
            return {}
        return {PARTITION: await self.query(lambda conn: end_offset(conn, topic_id))}

    async def replay(
        self,
        topic: str,
        *,
        start: Mapping[int, int] | None = None,
        stop: Mapping[int, int] | None = None,
        max_records: int = 5000,
    ) -> AsyncIterator[list[LogRecord]]:
        ends = await self.end_offsets(topic)
        if not ends:
            return
        end = (stop or {}).get(PARTITION, ends[PARTITION])
        position = (start or {}).get(PARTITION, 0)
        topic_id = await self.topic_id(topic)
        assert topic_id is not None
        # A connection of its own: a long replay never waits behind appends or other readers.
        conn = self.new_connection("replay")
        try:
            while position < end:
                try:
                    batch = await conn.run(
                        partial(read, topic=topic, topic_id=topic_id, start=position, stop=end, limit=max_records)
                    )
                except (sqlite3.Error, OSError) as exc:
                    raise LogUnavailableError(f"the event log {self.url} could not be read: {exc}") from exc
                if not batch:
                    return  # `stop` beyond the end: bounded, never waits for new data
                position = batch[-1].offset + 1
                yield batch
        finally:
            await conn.close()

    async def subscribe(
        self,
        topic: str,
        *,
        group: str,
        on_assigned: OnAssigned,
        on_revoked: OnRevoked,
    ) -> SqliteSubscription:
        """Join `group` on `topic`. The group's only member gets partition 0; others wait (see subscription.py)."""
        await self.topic_id(topic, create=True)
        subscription = SqliteSubscription(self, topic, group=group, on_assigned=on_assigned, on_revoked=on_revoked)
        await subscription.start()
        return subscription
