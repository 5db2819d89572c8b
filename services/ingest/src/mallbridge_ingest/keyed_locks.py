"""One lock per key, held in a dict only while someone holds or waits for it.

A batch takes the locks of all its keys in sorted order, so two batches never deadlock, and batches
with no key in common never wait for each other (striped locks would make large batches collide).
Uncontended keys cost a dict insert and delete (an import takes 500 keys per chunk); a waiter parks on a
future and is handed the key directly by the releasing holder, in arrival order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Iterable

Key = tuple[str, str]


class KeyedLocks:
    def __init__(self) -> None:
        self._held: dict[Key, deque[asyncio.Future[None]]] = {}  # key -> its waiters, in arrival order

    def __len__(self) -> int:
        return len(self._held)

    async def _acquire(self, key: Key) -> None:
        waiters = self._held.get(key)
        if waiters is None:
            self._held[key] = deque()
            return
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(handed)
        try:
            await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self._release(key)  # the key was handed over just as we were cancelled: pass it on
            else:
                waiters.remove(handed)
            raise

    def _release(self, key: Key) -> None:
        waiters = self._held[key]
        while waiters:
            handed = waiters.popleft()
            if not handed.done():
                handed.set_result(None)  # ownership moves to that waiter
                return
        del self._held[key]

    @contextlib.asynccontextmanager
    async def hold(self, keys: Iterable[Key]) -> AsyncIterator[None]:
        held: list[Key] = []
        try:
            for key in sorted(set(keys)):
                await self._acquire(key)
                held.append(key)
            yield
        finally:
            for key in reversed(held):
                self._release(key)
