"""A working in-memory EventLog (our own port) for unit tests: one partition per topic, a `down` switch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence

from mallbridge_core.eventlog.port import LogRecord, LogUnavailableError, OutgoingRecord, Subscription


class FakeEventLog:
    def __init__(self) -> None:
        self.topics: dict[str, list[LogRecord]] = {}
        self.down = False
        self.appends = 0
        self.closed = False

    @property
    def url(self) -> str:
        return "fake://memory"

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self.closed = True

    async def ping(self) -> bool:
        return not self.down

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        if self.down:
            raise LogUnavailableError("fake log is down")
        for topic in topics:
            self.topics.setdefault(topic, [])

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> None:
        if self.down:
            raise LogUnavailableError("fake log is down")
        self.appends += 1
        stored = self.topics.setdefault(topic, [])
        for r in records:
            stored.append(LogRecord(topic, 0, len(stored), r.key, r.value, 0, r.headers))

    async def end_offsets(self, topic: str) -> dict[int, int]:
        return {0: len(self.topics.get(topic, []))}

    async def replay(
        self, topic: str, *, start: Mapping[int, int] | None = None, stop: Mapping[int, int] | None = None
    ) -> AsyncIterator[list[LogRecord]]:
        if self.down:
            raise LogUnavailableError("fake log is down")
        records = list(self.topics.get(topic, []))
        begin = (start or {}).get(0, 0)
        end = (stop or {}).get(0, len(records))
        for i in range(begin, end, 100):
            yield records[i : min(i + 100, end)]

    async def subscribe(self, topic: str, **kwargs: object) -> Subscription:
        raise NotImplementedError("ingest never subscribes")
