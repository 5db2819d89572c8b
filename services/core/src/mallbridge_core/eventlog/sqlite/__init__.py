"""The embedded adapter of the event-log port: an append-only log in one SQLite file (one machine, no broker).

Where each part lives:
- `schema.py`: the tables of the file and its schema version;
- `connection.py`: one sqlite3 connection on a thread of its own, WAL and `synchronous=FULL`, write
  transactions;
- `records.py`: the SQL that appends, reads and commits positions;
- `lease.py`: the lease that makes one member of a consumer group the active one;
- `log.py`: `SqliteEventLog`, the port's EventLog;
- `subscription.py`: `SqliteSubscription`, the port's Subscription.

The file must be on a local filesystem (WAL needs shared memory between the processes using it).
Every call runs the stdlib sqlite3 module on a thread of its own per connection, never on the event loop.
"""

from __future__ import annotations

from mallbridge_core.eventlog.sqlite.log import SqliteEventLog
from mallbridge_core.eventlog.sqlite.subscription import SqliteSubscription

__all__ = ["SqliteEventLog", "SqliteSubscription"]
