"""The embedded adapter of the event-log port: an append-only log in one SQLite file (one machine, no broker).

Layout (one file, WAL mode, schema version in `PRAGMA user_version`):
- `topics(id, name)`: every topic ever written, subscribed to or registered by `ensure_topics`.
- `records(topic_id, off, key, value, headers, ts_ms)`: one ordered log per topic, a single partition 0.
  Offsets are 0, 1, 2, … per topic with no gap: they are assigned inside the write transaction
  (`BEGIN IMMEDIATE` takes the file's write lock first), so appends from several processes are
  serialized, lose nothing and never share an offset. Triggers refuse UPDATE and DELETE: append-only.
- `commits(grp, topic, part, off)`: committed positions (the offset of the next record to read).
- `members(grp, topic, member, host, pid, expires_ms)`: the one live member of each group (see below).

Durability: `synchronous=FULL`. In WAL mode that syncs the WAL on every commit, so a record is on disk
when `append` returns, even across a power loss or an OS crash, which is the port's contract.
`NORMAL` would only survive a crash of the process (the OS still holds the data) and could lose the
last appends on power loss, after `append` had returned. The cost is one fsync per `append` call, not
per record: batch records into one call where you can.

Consumer groups: one topic has one partition, so a group has **one active member at a time** (as
Kafka behaves with a one-partition topic). A member holds a lease in `members`, renewed by a
heartbeat while its event loop runs; another member of the group waits with an empty assignment and
takes over when the lease expires (`session_timeout_s`), when the holder closes, or at once when the
holder's process on this host is gone (killed). On takeover it calls `on_assigned({0})` and starts at
the offset that returns, else at the committed offset, else at 0. A member that lost its lease gets
`on_revoked({0})` on its next poll and its commits are refused (logged), so two processes never both
commit for one group.

Extension beyond the port: `append_and_commit` appends records and stores a group's committed
position in **one** transaction (a reader that writes its output to this log never sees its output
written without its input marked done, or the reverse). `SqliteSubscription.append_and_commit` does
the same and also checks, in that transaction, that this member still holds the group.

The file must be on a local filesystem (WAL needs shared memory between the processes using it).
Every call runs the stdlib sqlite3 module on a thread of its own per connection, never on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

from mallbridge_core.eventlog.port import (
    Headers,
    LogRecord,
    LogUnavailableError,
    OnAssigned,
    OnRevoked,
    OutgoingRecord,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA_VERSION = 1
PARTITION = 0  # the only partition of every topic in this engine

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS topics (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    )""",
    """CREATE TABLE IF NOT EXISTS records (
        topic_id INTEGER NOT NULL REFERENCES topics(id),
        off INTEGER NOT NULL,
        key BLOB,
        value BLOB NOT NULL,
        headers TEXT,
        ts_ms INTEGER NOT NULL,
        PRIMARY KEY (topic_id, off)
    ) WITHOUT ROWID""",
    """CREATE TRIGGER IF NOT EXISTS records_never_updated BEFORE UPDATE ON records
        BEGIN SELECT RAISE(ABORT, 'append-only log: records are never updated'); END""",
    """CREATE TRIGGER IF NOT EXISTS records_never_deleted BEFORE DELETE ON records
        BEGIN SELECT RAISE(ABORT, 'append-only log: records are never deleted'); END""",
    """CREATE TABLE IF NOT EXISTS commits (
        grp TEXT NOT NULL,
        topic TEXT NOT NULL,
        part INTEGER NOT NULL,
        off INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (grp, topic, part)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS members (
        grp TEXT NOT NULL,
        topic TEXT NOT NULL,
        member TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        PRIMARY KEY (grp, topic)
    ) WITHOUT ROWID""",
)


def _host_identity() -> str:
    """This host as seen by PIDs: hostname plus PID namespace (containers sharing a file and a hostname
    still have PIDs of their own, so a PID is only checked where it means the same process)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = "?"
    return f"{socket.gethostname()}/{namespace}"


_HOST = _host_identity()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _encode_headers(headers: Headers) -> str | None:
    if not headers:
        return None
    return json.dumps([[k, base64.b64encode(v).decode("ascii")] for k, v in headers])


def _decode_headers(raw: str | None) -> Headers:
    if not raw:
        return ()
    return tuple((str(k), base64.b64decode(v)) for k, v in json.loads(raw))


def _process_gone(pid: int) -> bool:
    """True when no live process has `pid` on this host (a zombie counts as gone: it was killed)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # Field 3, after the parenthesised command name, is the state; Z = zombie, X = dead.
    return stat.rpartition(")")[2].split()[0] in {"Z", "X"}


class _Connection:
    """One sqlite3 connection, opened and used only on its own thread (sqlite3 objects are not shared)."""

    def __init__(self, path: str, *, busy_timeout_s: float, name: str) -> None:
        self._path = path
        self._busy_timeout_s = busy_timeout_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"mallbridge-sqlite-{name}")
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False)
        try:
            # busy_timeout first: switching to WAL needs a lock another process may hold for a moment.
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
            (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"could not switch {self._path} to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")  # durable when append returns; see the module doc
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._conn = self._connect()
        return fn(self._conn)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def _close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.run(lambda _conn: self._close())
        self._executor.shutdown(wait=False)


def _in_write_transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run `work` inside BEGIN IMMEDIATE … COMMIT (the write lock is taken up front, waiting busy_timeout)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return result


def _create_schema(conn: sqlite3.Connection) -> None:
    def work(c: sqlite3.Connection) -> None:
        (version,) = c.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise LogUnavailableError(
                f"event log schema version {version} is newer than this mallbridge ({SCHEMA_VERSION})"
            )
        for statement in _SCHEMA:
            c.execute(statement)
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    _in_write_transaction(conn, work)


def _topic_id(conn: sqlite3.Connection, topic: str, *, create: bool) -> int | None:
    if create:
        conn.execute("INSERT OR IGNORE INTO topics(name) VALUES (?)", (topic,))
    row = conn.execute("SELECT id FROM topics WHERE name = ?", (topic,)).fetchone()
    return None if row is None else int(row[0])


def _end_offset(conn: sqlite3.Connection, topic_id: int) -> int:
    (end,) = conn.execute("SELECT COALESCE(MAX(off) + 1, 0) FROM records WHERE topic_id = ?", (topic_id,)).fetchone()
    return int(end)


def _insert(conn: sqlite3.Connection, topic: str, records: Sequence[OutgoingRecord]) -> None:
    topic_id = _topic_id(conn, topic, create=True)
    assert topic_id is not None
    first = _end_offset(conn, topic_id)
    now = _now_ms()
    conn.executemany(
        "INSERT INTO records(topic_id, off, key, value, headers, ts_ms) VALUES (?, ?, ?, ?, ?, ?)",
        [(topic_id, first + i, r.key, r.value, _encode_headers(r.headers), now) for i, r in enumerate(records)],
    )


def _store_commit(conn: sqlite3.Connection, group: str, topic: str, offsets: Mapping[int, int]) -> None:
    now = _now_ms()
    conn.executemany(
        "INSERT INTO commits(grp, topic, part, off, updated_ms) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(grp, topic, part) DO UPDATE SET off = excluded.off, updated_ms = excluded.updated_ms",
        [(group, topic, part, int(off), now) for part, off in offsets.items()],
    )


def _read(
    conn: sqlite3.Connection, topic: str, topic_id: int, start: int, stop: int | None, limit: int
) -> list[LogRecord]:
    if stop is None:
        rows = conn.execute(
            "SELECT off, key, value, headers, ts_ms FROM records WHERE topic_id = ? AND off >= ? ORDER BY off LIMIT ?",
            (topic_id, start, limit),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT off, key, value, headers, ts_ms FROM records WHERE topic_id = ? AND off >= ? AND off < ? "
            "ORDER BY off LIMIT ?",
            (topic_id, start, stop, limit),
        ).fetchall()
    return [
        LogRecord(
            topic=topic,
            partition=PARTITION,
            offset=off,
            key=key,
            value=value,
            timestamp_ms=ts_ms,
            headers=_decode_headers(headers),
        )
        for off, key, value, headers, ts_ms in rows
    ]


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
        self._writer: _Connection | None = None
        self._reader: _Connection | None = None
        self._open_lock = asyncio.Lock()
        self._topic_ids: dict[str, int] = {}
        # Set (and replaced) on every append from this process, so local subscribers wake at once;
        # appends from other processes are seen by the subscribers' periodic check.
        self._appended = asyncio.Event()

    @property
    def url(self) -> str:
        return f"sqlite://{self._path}"

    @property
    def path(self) -> str:
        return self._path

    # ---- connections ---------------------------------------------------------------------------------

    def new_connection(self, name: str) -> _Connection:
        return _Connection(self._path, busy_timeout_s=self._busy_timeout_s, name=name)

    async def _open(self) -> tuple[_Connection, _Connection]:
        if self._writer is not None and self._reader is not None:
            return self._writer, self._reader
        async with self._open_lock:
            if self._writer is None or self._reader is None:
                writer = self.new_connection("writer")
                try:
                    await writer.run(_create_schema)
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
            return await writer.run(lambda conn: _in_write_transaction(conn, work))
        except (sqlite3.Error, OSError) as exc:
            raise LogUnavailableError(f"the event log {self.url} did not take the {what}: {exc}") from exc

    async def query(self, work: Callable[[sqlite3.Connection], T]) -> T:
        _, reader = await self._open()
        try:
            return await reader.run(work)
        except (sqlite3.Error, OSError) as exc:
            raise LogUnavailableError(f"the event log {self.url} could not be read: {exc}") from exc

    async def topic_id(self, topic: str, *, create: bool = False) -> int | None:
        known = self._topic_ids.get(topic)
        if known is not None:
            return known
        if create:
            found = await self.write(lambda conn: _topic_id(conn, topic, create=True), what="topic")
        else:
            found = await self.query(lambda conn: _topic_id(conn, topic, create=False))
        if found is not None:
            self._topic_ids[topic] = found
        return found

    def notify_appended(self) -> None:
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
                found = _topic_id(conn, name, create=True)
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
        await self.write(lambda conn: _insert(conn, topic, records), what="append")
        self.notify_appended()

    async def append_and_commit(
        self,
        topic: str,
        records: Sequence[OutgoingRecord],
        *,
        group: str,
        commit_topic: str,
        offsets: Mapping[int, int],
    ) -> None:
        """Extension: append `records` to `topic` AND store `group`'s position on `commit_topic`, atomically.

        Either both are durable when this returns, or neither is written (LogUnavailableError). Does not
        check group membership; use `SqliteSubscription.append_and_commit` for that.
        """

        def work(conn: sqlite3.Connection) -> None:
            if records:
                _insert(conn, topic, records)
            _store_commit(conn, group, commit_topic, offsets)

        await self.write(work, what="append and commit")
        if records:
            self.notify_appended()

    async def commit(self, group: str, topic: str, offsets: Mapping[int, int]) -> None:
        """Store `group`'s position on `topic` (extension; subscriptions use this)."""
        await self.write(lambda conn: _store_commit(conn, group, topic, offsets), what="commit")

    async def committed(self, group: str, topic: str) -> dict[int, int]:
        """`group`'s committed positions on `topic` (extension; for tools and tests)."""
        rows = await self.query(
            lambda conn: conn.execute(
                "SELECT part, off FROM commits WHERE grp = ? AND topic = ?", (group, topic)
            ).fetchall()
        )
        return {int(part): int(off) for part, off in rows}

    # ---- reading -------------------------------------------------------------------------------------

    async def end_offsets(self, topic: str) -> dict[int, int]:
        """{0: next offset} for a known topic; {} for a topic this log never saw (as Kafka does)."""
        topic_id = await self.topic_id(topic)
        if topic_id is None:
            return {}
        return {PARTITION: await self.query(lambda conn: _end_offset(conn, topic_id))}

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
                        partial(_read, topic=topic, topic_id=topic_id, start=position, stop=end, limit=max_records)
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
        """Join `group` on `topic`. The group's only member gets partition 0; others wait (see module doc)."""
        await self.topic_id(topic, create=True)
        subscription = SqliteSubscription(self, topic, group=group, on_assigned=on_assigned, on_revoked=on_revoked)
        await subscription.start()
        return subscription


class SqliteSubscription:
    """The single active member of a consumer group on one topic of a SqliteEventLog (port's Subscription)."""

    def __init__(
        self,
        log: SqliteEventLog,
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
        self.member = uuid.uuid4().hex
        self._owner = False
        self._lost = False
        self._position = 0
        self._next_attempt = 0.0
        self._conn = log.new_connection("subscription")
        self._heartbeat: asyncio.Task[None] | None = None
        self._closed = False

    # ---- membership ----------------------------------------------------------------------------------

    def _try_acquire_tx(self, conn: sqlite3.Connection) -> bool:
        now = _now_ms()
        row = conn.execute(
            "SELECT member, host, pid, expires_ms FROM members WHERE grp = ? AND topic = ?", (self.group, self.topic)
        ).fetchone()
        if row is not None:
            member, host, pid, expires_ms = row
            holder_gone = host == _HOST and int(pid) != os.getpid() and _process_gone(int(pid))
            if member != self.member and expires_ms > now and not holder_gone:
                return False
        conn.execute(
            "INSERT INTO members(grp, topic, member, host, pid, expires_ms) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(grp, topic) DO UPDATE SET member = excluded.member, host = excluded.host, "
            "pid = excluded.pid, expires_ms = excluded.expires_ms",
            (self.group, self.topic, self.member, _HOST, os.getpid(), now + int(self._log.session_timeout_s * 1000)),
        )
        return True

    def _renew_tx(self, conn: sqlite3.Connection) -> bool:
        expires = _now_ms() + int(self._log.session_timeout_s * 1000)
        cursor = conn.execute(
            "UPDATE members SET expires_ms = ? WHERE grp = ? AND topic = ? AND member = ?",
            (expires, self.group, self.topic, self.member),
        )
        return cursor.rowcount == 1

    def _holds_tx(self, conn: sqlite3.Connection) -> bool:
        row = conn.execute(
            "SELECT member FROM members WHERE grp = ? AND topic = ?", (self.group, self.topic)
        ).fetchone()
        return row is not None and row[0] == self.member

    async def _acquire(self) -> None:
        """Try to become the group's member; on success call on_assigned({0}) and seek."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_attempt:
            return
        self._next_attempt = loop.time() + min(1.0, self._log.session_timeout_s / 4)
        if not await self._log.write(self._try_acquire_tx, what="group membership"):
            return
        self._owner, self._lost = True, False
        parts = frozenset({PARTITION})
        positions = await self._on_assigned(parts)
        if PARTITION in positions:
            self._position = int(positions[PARTITION])
        else:
            self._position = (await self._log.committed(self.group, self.topic)).get(PARTITION, 0)
        log.info("joined group %s on %s at offset %d", self.group, self.topic, self._position)

    async def _heartbeat_loop(self) -> None:
        interval = max(0.05, self._log.session_timeout_s / 5)
        while not self._closed:
            await asyncio.sleep(interval)
            if not self._owner:
                continue
            try:
                if not await self._log.write(self._renew_tx, what="heartbeat"):
                    self._lost = True
            except LogUnavailableError as exc:
                log.warning("heartbeat of group %s on %s failed: %s", self.group, self.topic, exc)

    async def _maintain(self) -> None:
        if self._owner and self._lost:
            self._owner = False
            log.warning("group %s on %s: this member lost the group to another", self.group, self.topic)
            await self._on_revoked(frozenset({PARTITION}))
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
                    _read, topic=self.topic, topic_id=topic_id, start=self._position, stop=None, limit=max_records
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
        await self.append_and_commit(None, (), offsets)

    async def append_and_commit(
        self, topic: str | None, records: Sequence[OutgoingRecord], offsets: Mapping[int, int]
    ) -> None:
        """Extension: append `records` to `topic` and commit `offsets`, in one transaction, as this member.

        When this member no longer holds the group, nothing is written, the loss is logged, and the next
        poll calls on_revoked.
        """
        owned = {p: off for p, off in offsets.items() if p == PARTITION and self._owner}
        if not owned and not records:
            return

        def work(conn: sqlite3.Connection) -> bool:
            if not self._holds_tx(conn):
                return False
            if records and topic is not None:
                _insert(conn, topic, records)
            if owned:
                _store_commit(conn, self.group, self.topic, owned)
            return True

        if await self._log.write(work, what="commit"):
            if records:
                self._log.notify_appended()
            return
        self._lost = True
        log.warning("group %s on %s: commit refused, this member no longer holds the group", self.group, self.topic)

    def assignment(self) -> frozenset[int]:
        return frozenset({PARTITION}) if self._owner else frozenset()

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
                await self._log.write(
                    lambda conn: conn.execute(
                        "DELETE FROM members WHERE grp = ? AND topic = ? AND member = ?",
                        (self.group, self.topic, self.member),
                    ),
                    what="leave group",
                )
        await self._conn.close()
