"""What the embedded engine promises beyond the port (the docs of mallbridge_core.eventlog.sqlite): WAL and
FULL sync, append-only, all-or-nothing appends, a locked file reported as unavailable, one member per group
with takeover and fencing.

The engine is used through the port; what the port does not show (commits, leases) is read and written
in the file directly, with the stdlib sqlite3 module."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from mallbridge_core.eventlog import LogUnavailableError, OutgoingRecord, open_event_log
from mallbridge_core.eventlog.sqlite import SqliteEventLog, SqliteSubscription
from mallbridge_core.eventlog.sqlite.connection import Connection
from mallbridge_core.eventlog.sqlite.lease import HOST


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


@pytest.fixture
async def log(db: Path) -> AsyncIterator[SqliteEventLog]:
    engine = SqliteEventLog(str(db), busy_timeout_s=0.3, session_timeout_s=1.0)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.close()


def _sql(db: Path, statement: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """One statement on the file itself, in autocommit mode (another process, as far as the engine knows)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        return conn.execute(statement, params).fetchall()
    finally:
        conn.close()


def _committed(db: Path, group: str, topic: str) -> dict[int, int]:
    rows = _sql(db, "SELECT part, off FROM commits WHERE grp = ? AND topic = ?", (group, topic))
    return {int(part): int(off) for part, off in rows}


def _records(n: int, tag: str = "r") -> list[OutgoingRecord]:
    return [OutgoingRecord(key=f"k{i % 3}".encode(), value=f"{tag}{i}".encode()) for i in range(n)]


async def _values(log: SqliteEventLog, topic: str) -> list[bytes]:
    return [r.value async for batch in log.replay(topic) for r in batch]


class Recorder:
    """on_assigned / on_revoked callbacks that remember their calls."""

    def __init__(self, start: Mapping[int, int] | None = None) -> None:
        self.calls: list[tuple[str, frozenset[int]]] = []
        self._start = dict(start or {})

    async def on_assigned(self, parts: frozenset[int]) -> Mapping[int, int]:
        self.calls.append(("assigned", parts))
        return self._start

    async def on_revoked(self, parts: frozenset[int]) -> None:
        self.calls.append(("revoked", parts))


async def _subscribe(log: SqliteEventLog, topic: str, group: str, recorder: Recorder) -> SqliteSubscription:
    return await log.subscribe(topic, group=group, on_assigned=recorder.on_assigned, on_revoked=recorder.on_revoked)


def test_open_event_log_gives_the_sqlite_engine_for_a_sqlite_url(tmp_path: Path) -> None:
    engine = open_event_log(f"sqlite://{tmp_path}/x/events.db")
    assert isinstance(engine, SqliteEventLog)
    assert engine.url == f"sqlite://{tmp_path}/x/events.db"


async def test_file_is_in_wal_mode_with_full_sync_and_records_are_append_only(log: SqliteEventLog, db: Path) -> None:
    await log.append("t", _records(3))
    conn = Connection(str(db), busy_timeout_s=1.0, name="test")  # what every connection of the engine is
    try:
        assert await conn.run(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 2  # FULL
    finally:
        await conn.close()
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("UPDATE records SET value = x'00'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("DELETE FROM records")
    finally:
        raw.close()
    assert await _values(log, "t") == [b"r0", b"r1", b"r2"]


async def test_an_append_is_all_or_nothing(log: SqliteEventLog) -> None:
    await log.append("t", _records(2))
    broken = [*_records(3, "x"), OutgoingRecord(key=b"k", value=None)]  # type: ignore[arg-type]
    with pytest.raises(LogUnavailableError):
        await log.append("t", broken)
    await log.append("t", _records(1, "y"))
    assert await _values(log, "t") == [b"r0", b"r1", b"y0"]
    assert await log.end_offsets("t") == {0: 3}


async def test_several_connections_opening_a_new_file_at_once_all_open_it(tmp_path: Path) -> None:
    """SQLite answers a switch to WAL on a file another connection is creating with "database is locked"
    at once, busy_timeout or not (about 1 in 20 new files with four connections): `mallbridge run` on a
    new file failed to start now and then. 200 new files, four connections each at the same moment."""
    failures: list[BaseException] = []
    for n in range(200):
        path = str(tmp_path / f"new-{n}.db")
        connections = [Connection(path, busy_timeout_s=15, name=f"c{i}") for i in range(4)]
        try:
            opened = await asyncio.gather(
                *(c.run(lambda conn: conn.execute("PRAGMA journal_mode").fetchone()[0]) for c in connections),
                return_exceptions=True,
            )
        finally:
            for connection in connections:
                await connection.close()
        failures += [o for o in opened if isinstance(o, BaseException)]
        assert all(o == "wal" for o in opened if not isinstance(o, BaseException))
    assert failures == []


async def test_a_file_locked_past_busy_timeout_is_unavailable_and_nothing_is_written(
    log: SqliteEventLog, db: Path
) -> None:
    await log.append("t", _records(2))
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        # The blocker holds the lock until the end: the append gives up (busy_timeout_s) instead of waiting
        # for it, and the guard only catches one that would wait forever.
        async with asyncio.timeout(60):
            with pytest.raises(LogUnavailableError, match="locked"):
                await log.append("t", _records(5, "lost"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await log.append("t", _records(1, "after"))
    assert await _values(log, "t") == [b"r0", b"r1", b"after0"]


async def test_one_member_per_group_the_next_takes_over_when_it_closes(log: SqliteEventLog, db: Path) -> None:
    await log.append("t", _records(10))
    first_calls, second_calls = Recorder(), Recorder()
    first = await _subscribe(log, "t", "g", first_calls)
    second = await _subscribe(log, "t", "g", second_calls)
    try:
        assert first.assignment() == frozenset({0})
        assert first_calls.calls == [("assigned", frozenset({0}))]
        assert second.assignment() == frozenset()
        assert [r.value for r in await first.poll(timeout_s=1, max_records=4)] == [b"r0", b"r1", b"r2", b"r3"]
        await first.commit({0: 3})
        assert _committed(db, "g", "t") == {0: 3}
        # One pass (timeout 0): records 3..9 are in the file past the group's commit, so a member holding
        # the group would get them at once; the second gets none because the first holds it.
        assert await second.poll(timeout_s=0) == []
        await first.close()
        got = await second.poll(timeout_s=3, max_records=100)
        assert second_calls.calls == [("assigned", frozenset({0}))]
        assert [r.offset for r in got] == list(range(3, 10))  # resumes at the committed offset
    finally:
        await first.close()
        await second.close()


async def test_a_member_whose_process_is_gone_is_replaced_at_once(log: SqliteEventLog, db: Path) -> None:
    await log.append("t", _records(4))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        far = int(time.time() * 1000) + 600_000
        for pid in (alive.pid, dead.pid):
            _sql(db, "INSERT OR REPLACE INTO members VALUES ('g', 't', 'other', ?, ?, ?)", (HOST, pid, far))
            recorder = Recorder()
            sub = await _subscribe(log, "t", "g", recorder)
            try:
                if pid == alive.pid:
                    assert sub.assignment() == frozenset(), "a live holder with a valid lease keeps the group"
                else:
                    assert sub.assignment() == frozenset({0}), "a dead holder's lease is taken over at once"
                    assert len(await sub.poll(timeout_s=1)) == 4
            finally:
                await sub.close()
    finally:
        alive.kill()
        alive.wait()


async def test_a_member_that_lost_the_group_is_revoked_and_its_commits_refused(log: SqliteEventLog, db: Path) -> None:
    await log.append("t", _records(6))
    stale_calls, new_calls = Recorder(), Recorder()
    stale = await _subscribe(log, "t", "g", stale_calls)
    try:
        await stale.poll(timeout_s=1, max_records=2)
        # The stale member hangs (no heartbeat), its lease runs out, and another member takes the group.
        assert stale._heartbeat is not None
        stale._heartbeat.cancel()
        _sql(db, "UPDATE members SET expires_ms = 0")
        new = await _subscribe(log, "t", "g", new_calls)
        try:
            assert new.assignment() == frozenset({0})
            await new.commit({0: 5})
            await stale.commit({0: 2})  # refused: it no longer holds the group
            assert _committed(db, "g", "t") == {0: 5}
            # One pass (timeout 0): records 2..5 are there past the stale member's position, so it would get
            # them at once if it still held the group; it learns it lost it instead (on_revoked, below).
            assert await stale.poll(timeout_s=0) == []
            assert stale_calls.calls[-1] == ("revoked", frozenset({0}))
            assert stale.assignment() == frozenset()
        finally:
            await new.close()
    finally:
        await stale.close()


async def test_a_waiting_poll_sees_an_append_of_another_process_long_before_its_timeout(
    log: SqliteEventLog, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's append does not wake this one's subscribers (no shared event): the waiting poll
    finds it by its periodic check. It is appended once the poll is known to be waiting (a barrier in the
    wait), and the poll, asked to wait up to ten minutes, must return it well within the deadline below."""
    waiting_for_append = asyncio.Event()
    wait_for_append = log.wait_for_append

    async def noted_wait(timeout_s: float) -> None:
        waiting_for_append.set()
        await wait_for_append(timeout_s)

    monkeypatch.setattr(log, "wait_for_append", noted_wait)
    sub = await _subscribe(log, "t", "g", Recorder())
    other = SqliteEventLog(str(db))
    try:
        async with asyncio.timeout(60):  # a deadlock guard, ten times shorter than the poll's own timeout
            waiting = asyncio.create_task(sub.poll(timeout_s=600))
            await waiting_for_append.wait()
            await other.append("t", _records(1))
            got = await waiting
        assert [r.value for r in got] == [b"r0"]
    finally:
        await other.close()
        await sub.close()


async def test_unknown_topic_has_no_end_offsets_and_replays_nothing(log: SqliteEventLog) -> None:
    assert await log.end_offsets("never-written") == {}
    assert await _values(log, "never-written") == []
    await log.ensure_topics(["a", "b"])
    assert await log.list_topics() == ["a", "b"]
    assert await log.end_offsets("a") == {0: 0}
    assert await log.ping() is True
