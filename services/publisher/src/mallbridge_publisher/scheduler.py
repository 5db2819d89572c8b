"""The per-order scheduler: one task per order, so an order's steps stay in order and any number of
orders are worked on at once; an order that waits (backoff, a deferral's moment, a paused tenant) holds
only itself.

- `schedule(key)` runs the work of `key` now; while it runs, a new request marks it dirty, and the work
  runs once more when the current pass ends (nothing is lost, nothing runs twice at the same time).
- A pass that raises is logged, waits the order's backoff, and is scheduled again.
- `back_off(key)` waits the order's next backoff delay (the one policy, `mallbridge_core.backoff`);
  `reset_backoff(key)` starts it over after a success.
- `wake_after(key, delay_s)` schedules the order later (a deferred step whose moment comes).
- `stop(keys)` is the graceful stop: no new passes; the running ones get `grace_s` to finish, then are
  cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection

from mallbridge_core.backoff import Backoff

log = logging.getLogger(__name__)
Key = tuple[str, str]


class OrderScheduler:
    def __init__(
        self,
        work: Callable[[Key], Awaitable[None]],
        *,
        on_done: Callable[[Key], None],
        backoff: Callable[[], Backoff],
        grace_s: float,
    ) -> None:
        """`work(key)` is one pass over the order; `on_done(key)` follows a pass that ended without error
        and without a new request for the order meanwhile."""
        self._work = work
        self._on_done = on_done
        self._new_backoff = backoff
        self._grace_s = grace_s
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._dirty: set[Key] = set()
        self._stopping: set[Key] = set()
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._backoffs: dict[Key, Backoff] = {}

    def schedule(self, key: Key) -> None:
        if key in self._stopping:
            return
        task = self._tasks.get(key)
        if task is not None and not task.done():
            self._dirty.add(key)
            return
        self._tasks[key] = asyncio.create_task(self._run(key), name=f"order {key[0]}:{key[1]}")

    def stopping(self, key: Key) -> bool:
        return key in self._stopping

    def wake_after(self, key: Key, delay_s: float) -> None:
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        self._timers[key] = asyncio.get_running_loop().call_later(max(0.0, delay_s), self._wake, key)

    def _wake(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.schedule(key)

    async def back_off(self, key: Key) -> None:
        backoff = self._backoffs.get(key)
        if backoff is None:
            backoff = self._backoffs[key] = self._new_backoff()
        await backoff.sleep()

    def reset_backoff(self, key: Key) -> None:
        self._backoffs.pop(key, None)

    async def _run(self, key: Key) -> None:
        try:
            while True:
                self._dirty.discard(key)
                await self._work(key)
                if key not in self._dirty:
                    break
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("order reconciliation failed; retrying", extra={"tenant": key[0], "order": key[1]})
            await self.back_off(key)
            self._tasks.pop(key, None)
            self.schedule(key)
            return
        self._tasks.pop(key, None)
        self._on_done(key)

    async def stop(self, keys: Collection[Key]) -> None:
        """Stop `keys`' orders: wait up to the grace period for running passes, cancel the rest."""
        wanted = set(keys)
        self._stopping |= wanted
        for key in wanted:
            timer = self._timers.pop(key, None)
            if timer is not None:
                timer.cancel()
        tasks = [task for key, task in self._tasks.items() if key in wanted and not task.done()]
        if tasks:
            _, still = await asyncio.wait(tasks, timeout=self._grace_s)
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)
        for key in wanted:
            self._tasks.pop(key, None)
            self._dirty.discard(key)
            self._backoffs.pop(key, None)
        self._stopping -= wanted

    async def stop_all(self) -> None:
        """The graceful stop of everything: running passes and waiting wake-ups."""
        await self.stop(set(self._tasks) | set(self._timers))
