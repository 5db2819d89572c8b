"""The tables of the embedded log's file (WAL mode, schema version in `PRAGMA user_version`).

- `topics(id, name)`: every topic ever written, subscribed to or registered by `ensure_topics`.
- `records(topic_id, off, key, value, headers, ts_ms)`: one ordered log per topic, a single partition 0.
  Offsets are 0, 1, 2, … per topic with no gap: they are assigned inside the write transaction
  (`BEGIN IMMEDIATE` takes the file's write lock first), so appends from several processes are
  serialized, lose nothing and never share an offset. Triggers refuse UPDATE and DELETE: append-only.
- `commits(grp, topic, part, off)`: committed positions (the offset of the next record to read).
- `members(grp, topic, member, host, pid, expires_ms)`: the one live member of each group (`lease.py`).
"""

from __future__ import annotations

import sqlite3

from mallbridge_core.eventlog.port import LogUnavailableError
from mallbridge_core.eventlog.sqlite.connection import in_write_transaction

SCHEMA_VERSION = 1
PARTITION = 0  # the only partition of every topic in this engine

_STATEMENTS = (
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


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the tables when missing; refuse a file written by a newer mallbridge."""

    def work(c: sqlite3.Connection) -> None:
        (version,) = c.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise LogUnavailableError(
                f"event log schema version {version} is newer than this mallbridge ({SCHEMA_VERSION})"
            )
        for statement in _STATEMENTS:
            c.execute(statement)
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    in_write_transaction(conn, work)
