"""One asyncio lock per key, created on demand and dropped when nobody holds or waits for it.

A batch takes the locks of all its keys in sorted order, so two batches never deadlock, and batches
with no key in common never wait for each other (striped locks would make large batches collide).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable

Key = tuple[str, str]


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[Key, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    def _take(self, key: Key) -> asyncio.Lock:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        return lock

    def _drop(self, key: Key) -> None:
        lock, users = self._locks[key]
        if users == 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)

    @contextlib.asynccontextmanager
    async def hold(self, keys: Iterable[Key]) -> AsyncIterator[None]:
        held: list[tuple[Key, asyncio.Lock]] = []
        try:
            for key in sorted(set(keys)):
                lock = self._take(key)
                try:
                    await lock.acquire()
                except BaseException:  # cancelled while waiting: this lock was never ours
                    self._drop(key)
                    raise
                held.append((key, lock))
            yield
        finally:
            for key, lock in reversed(held):
                lock.release()
                self._drop(key)
