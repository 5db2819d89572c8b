"""Replayed pushes (ARCHITECTURE.md §3): the same signed request (same timestamp and signature) again within the
signature window writes nothing and is answered as the first one was, with `"replayed": true`.

Per tenant, the answers of the last accepted pushes are kept by (timestamp, signature) until the window
after their timestamp has passed (later the signature check refuses the request anyway), at most
`per_tenant` of them (the oldest go first). A replay that arrives while the first is still being written
waits for its outcome. Only accepted (202) answers are kept: a push answered 4xx or 503 wrote nothing, so
sending it again is an ordinary new attempt.

In memory only, empty after a restart: a replay the cache no longer knows is processed again, and then
change detection and the stale rule decide (services/ingest/README.md, "Replays").
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

Answer = dict[str, Any]
_Key = tuple[str, str]  # (timestamp, signature) as sent
_Entry = tuple[float, "asyncio.Future[Answer | None]"]  # (expires at, the answer; None: the first attempt failed)


class ReplayCache:
    def __init__(self, *, per_tenant: int, window_s: float) -> None:
        self._per_tenant = per_tenant
        self._window_s = window_s
        self._tenants: dict[str, OrderedDict[_Key, _Entry]] = {}

    def __len__(self) -> int:
        return sum(map(len, self._tenants.values()))

    async def answer(
        self, tenant_id: str, key: _Key, timestamp: float, now: float, first: Callable[[], Awaitable[Answer]]
    ) -> tuple[Answer, bool]:
        """The answer for the push `key` and whether it is a replay. `first()` produces it for a push not
        seen before (or whose earlier attempt failed); what it raises propagates, and nothing is kept."""
        if self._per_tenant == 0:
            return await first(), False
        entries = self._tenants.setdefault(tenant_id, OrderedDict())
        while (entry := entries.get(key)) is not None and entry[0] >= now:
            answer = await asyncio.shield(entry[1])
            if answer is not None:
                return answer, True
            # The attempt it waited for failed: go round, and become the first attempt if nobody else has.
        future: asyncio.Future[Answer | None] = asyncio.get_running_loop().create_future()
        self._remember(entries, key, (timestamp + self._window_s, future), now)
        try:
            result = await first()
        except BaseException:
            if entries.get(key, (0, None))[1] is future:
                del entries[key]
            future.set_result(None)
            raise
        future.set_result(result)
        return result, False

    def _remember(self, entries: OrderedDict[_Key, _Entry], key: _Key, entry: _Entry, now: float) -> None:
        entries.pop(key, None)
        entries[key] = entry
        while entries:
            oldest_key, (expires, _) = next(iter(entries.items()))
            if expires >= now and len(entries) <= self._per_tenant:
                break
            del entries[oldest_key]
