"""The SQL of the embedded log's records and committed positions (tables in `schema.py`).

Every function takes an open sqlite3 connection and runs on that connection's thread; the writing ones
are called inside a write transaction (`connection.in_write_transaction`), where the next offset of a
topic is read and used under the file's write lock, so offsets never repeat and never skip.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections.abc import Mapping, Sequence

from mallbridge_core.eventlog.port import Headers, LogRecord, OutgoingRecord
from mallbridge_core.eventlog.sqlite.schema import PARTITION


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _encode_headers(headers: Headers) -> str | None:
    if not headers:
        return None
    return json.dumps([[k, base64.b64encode(v).decode("ascii")] for k, v in headers])


def _decode_headers(raw: str | None) -> Headers:
    if not raw:
        return ()
    return tuple((str(k), base64.b64decode(v)) for k, v in json.loads(raw))


def lookup_topic(conn: sqlite3.Connection, topic: str, *, create: bool) -> int | None:
    """The topic's id; None when it is unknown and `create` is False."""
    if create:
        conn.execute("INSERT OR IGNORE INTO topics(name) VALUES (?)", (topic,))
    row = conn.execute("SELECT id FROM topics WHERE name = ?", (topic,)).fetchone()
    return None if row is None else int(row[0])


def end_offset(conn: sqlite3.Connection, topic_id: int) -> int:
    (end,) = conn.execute("SELECT COALESCE(MAX(off) + 1, 0) FROM records WHERE topic_id = ?", (topic_id,)).fetchone()
    return int(end)


def insert(conn: sqlite3.Connection, topic: str, records: Sequence[OutgoingRecord]) -> None:
    """Append `records` at the topic's next offsets (inside a write transaction)."""
    found = lookup_topic(conn, topic, create=True)
    assert found is not None
    first = end_offset(conn, found)
    now = now_ms()
    conn.executemany(
        "INSERT INTO records(topic_id, off, key, value, headers, ts_ms) VALUES (?, ?, ?, ?, ?, ?)",
        [(found, first + i, r.key, r.value, _encode_headers(r.headers), now) for i, r in enumerate(records)],
    )


def read(
    conn: sqlite3.Connection, topic: str, topic_id: int, start: int, stop: int | None, limit: int
) -> list[LogRecord]:
    """At most `limit` records of the topic from offset `start` (up to `stop` exclusive, when given)."""
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


def store_commit(conn: sqlite3.Connection, group: str, topic: str, offsets: Mapping[int, int]) -> None:
    now = now_ms()
    conn.executemany(
        "INSERT INTO commits(grp, topic, part, off, updated_ms) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(grp, topic, part) DO UPDATE SET off = excluded.off, updated_ms = excluded.updated_ms",
        [(group, topic, part, int(off), now) for part, off in offsets.items()],
    )


def committed(conn: sqlite3.Connection, group: str, topic: str) -> dict[int, int]:
    """`group`'s committed positions on `topic` ({} when it never committed)."""
    rows = conn.execute("SELECT part, off FROM commits WHERE grp = ? AND topic = ?", (group, topic)).fetchall()
    return {int(part): int(off) for part, off in rows}
