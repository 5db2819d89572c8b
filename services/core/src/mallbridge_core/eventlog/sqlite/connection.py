"""One sqlite3 connection of the embedded log, used only on a thread of its own, and its write transactions.

Durability: `synchronous=FULL`. In WAL mode that syncs the WAL on every commit, so a record is on disk
when `append` returns, even across a power loss or an OS crash, which is the port's contract.
`NORMAL` would only survive a crash of the process (the OS still holds the data) and could lose the
last appends on power loss, after `append` had returned. The cost is one fsync per `append` call, not
per record: batch records into one call where you can.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class Connection:
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
            mode = _switch_to_wal(conn, within_s=self._busy_timeout_s)
            if mode.lower() != "wal":
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
        """Run `fn(connection)` on this connection's thread (connecting on first use)."""
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


def _switch_to_wal(conn: sqlite3.Connection, *, within_s: float) -> str:
    """`PRAGMA journal_mode = WAL`, tried again while SQLite says the file is busy, up to `within_s`.

    On a file another connection is creating at the same moment, SQLite answers the switch with "database
    is locked" at once, without waiting out busy_timeout (seen in about 1 of 20 fresh files opened by four
    connections at once: `mallbridge run` and `demo` open several on a new file)."""
    deadline = time.monotonic() + within_s
    pause_s = 0.005
    while True:
        try:
            (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return str(mode)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(pause_s)  # on this connection's own thread, before it serves anything
        pause_s = min(pause_s * 2, 0.1)


def in_write_transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
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
