"""Stopping an aiokafka client within a bound, without leaving its sockets open.

aiokafka's `stop()` first finishes its work (a producer flushes, a consumer leaves its group) and only
then closes its connections. After a broker outage that first part can wait on a coordinator or a
leader that is gone; a bounded stop that is cut off there would leave every connection of the client
open, one set per rejoin. So when the stop does not finish in time, the connections are closed anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Protocol


class _Closable(Protocol):
    async def close(self) -> None: ...


async def stop_within(stop: Awaitable[None], connections: _Closable, *, timeout_s: float) -> None:
    """Await `stop` for at most `timeout_s`; if it fails or runs out of time, close `connections` (the
    client's aiokafka `AIOKafkaClient`) all the same. Never raises an error of the client's."""
    try:
        await asyncio.wait_for(stop, timeout=timeout_s)
    except Exception:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connections.close(), timeout=timeout_s)
