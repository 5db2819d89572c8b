"""The event-log port and how to open one of its adapters from a URL."""

from __future__ import annotations

from pathlib import Path

from mallbridge_core.eventlog.port import (
    EventLog,
    LogRecord,
    LogUnavailableError,
    OutgoingRecord,
    Subscription,
)

__all__ = [
    "EventLog",
    "LogRecord",
    "LogUnavailableError",
    "OutgoingRecord",
    "Subscription",
    "key_partition",
    "missing_embedded_log",
    "open_event_log",
]


class LogUrlError(ValueError):
    """A --log / MALLBRIDGE_LOG value that names no supported engine."""


def open_event_log(url: str, *, partitions: int = 6) -> EventLog:
    """`kafka://host:port[,host:port]` or `sqlite:///path/to/events.db` → an EventLog (not yet started)."""
    if url.startswith("kafka://"):
        from mallbridge_core.eventlog.kafka import KafkaEventLog

        bootstrap = url.removeprefix("kafka://").rstrip("/")
        if not bootstrap:
            raise LogUrlError("--log kafka:// needs host:port, e.g. kafka://127.0.0.1:9092")
        return KafkaEventLog(bootstrap, partitions=partitions)
    if url.startswith("sqlite://"):
        from mallbridge_core.eventlog.sqlite import SqliteEventLog

        path = _embedded_path(url)
        if path is None:
            raise LogUrlError("--log sqlite:// needs a path, e.g. sqlite:///var/lib/mallbridge/events.db")
        return SqliteEventLog(path)
    raise LogUrlError(f"unsupported --log {url!r}; allowed: kafka://HOST:PORT or sqlite:///PATH")


def key_partition(key: bytes, partitions: int) -> int:
    """The partition an append gives `key` in a topic of `partitions` partitions.

    Kafka's default partitioner (murmur2 of the key), which the Kafka adapter appends with; the embedded
    log has one partition per topic, so there it is always 0. For a reader that must find an order's
    records in topics of different partition counts (a lane's history in the default lane's topics).
    """
    if partitions <= 1:
        return 0
    from mallbridge_core.eventlog.kafka.partitioner import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % partitions


def missing_embedded_log(url: str) -> str | None:
    """Why `url` cannot be read, when it names an embedded log file that does not exist (None otherwise).

    For the commands that only read a log someone else wrote (audit, balance, order): a mistyped path is
    a mistake to report, not a new empty log to report on (opening one creates the file)."""
    path = _embedded_path(url) if url.startswith("sqlite://") else None
    if path is not None and not Path(path).is_file():
        return f"no event log at {url} (the file does not exist)"
    return None  # another engine, or no path at all (open_event_log says what is allowed)


def _embedded_path(url: str) -> str | None:
    """The file a `sqlite:///path` URL names (an absolute path), or None when it names none."""
    path = url.removeprefix("sqlite://")
    return path if path.startswith("/") and len(path) >= 2 else None
