"""The lease that makes one member of a consumer group the active one, in the `members` table.

A topic of this engine has one partition, so a group has **one active member at a time** (as Kafka
behaves with a one-partition topic). The member holds a lease (a row with an expiry), renewed by a
heartbeat while its event loop runs. Another member of the group may take the lease when it has
expired, when its holder left, or at once when the holder's process on this host is gone (killed).
Every function runs inside a write transaction, so two processes never both hold one group.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from mallbridge_core.eventlog.sqlite.records import now_ms


def _host_identity() -> str:
    """This host as seen by PIDs: hostname plus PID namespace (containers sharing a file and a hostname
    still have PIDs of their own, so a PID is only checked where it means the same process)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = "?"
    return f"{socket.gethostname()}/{namespace}"


HOST = _host_identity()


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


@dataclass(frozen=True, slots=True)
class Lease:
    """One member's claim on (group, topic); `session_timeout_s` is how long a claim lasts unrenewed."""

    group: str
    topic: str
    member: str
    session_timeout_s: float

    def _expiry(self) -> int:
        return now_ms() + int(self.session_timeout_s * 1000)

    def try_acquire(self, conn: sqlite3.Connection) -> bool:
        """Take the lease unless another member holds a live one; True when this member holds it now."""
        row = conn.execute(
            "SELECT member, host, pid, expires_ms FROM members WHERE grp = ? AND topic = ?", (self.group, self.topic)
        ).fetchone()
        if row is not None:
            member, host, pid, expires_ms = row
            holder_gone = host == HOST and int(pid) != os.getpid() and _process_gone(int(pid))
            if member != self.member and expires_ms > now_ms() and not holder_gone:
                return False
        conn.execute(
            "INSERT INTO members(grp, topic, member, host, pid, expires_ms) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(grp, topic) DO UPDATE SET member = excluded.member, host = excluded.host, "
            "pid = excluded.pid, expires_ms = excluded.expires_ms",
            (self.group, self.topic, self.member, HOST, os.getpid(), self._expiry()),
        )
        return True

    def renew(self, conn: sqlite3.Connection) -> bool:
        """Extend the lease; False when this member no longer holds it."""
        cursor = conn.execute(
            "UPDATE members SET expires_ms = ? WHERE grp = ? AND topic = ? AND member = ?",
            (self._expiry(), self.group, self.topic, self.member),
        )
        return cursor.rowcount == 1

    def holds(self, conn: sqlite3.Connection) -> bool:
        row = conn.execute(
            "SELECT member FROM members WHERE grp = ? AND topic = ?", (self.group, self.topic)
        ).fetchone()
        return row is not None and row[0] == self.member

    def release(self, conn: sqlite3.Connection) -> None:
        """Give the lease up (another member may take it at once)."""
        conn.execute(
            "DELETE FROM members WHERE grp = ? AND topic = ? AND member = ?", (self.group, self.topic, self.member)
        )
