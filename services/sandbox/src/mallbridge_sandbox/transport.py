"""Closing a client's connection without an HTTP response (the "dropped connection" fault).

ASGI has no message for "hang up", so this reaches the server's transport: under uvicorn (the server
the CLI and `SandboxServer` use) the `send` callable is a bound method of the request cycle, which holds
the asyncio transport. Aborting it closes the socket with nothing written. Any other server gets the
fallback: a response start with no body and then an error, which also leaves the client without a
usable response.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Send


class ConnectionDropped(Exception):
    """Raised by the fallback so the server closes the connection mid-response."""


def _transport_of(send: Send) -> Any:
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    return transport if transport is not None and hasattr(transport, "abort") else None


async def drop_connection(send: Send) -> None:
    transport = _transport_of(send)
    if transport is None:
        await send({"type": "http.response.start", "status": 500, "headers": []})
        raise ConnectionDropped("dropped connection (fault injection)")
    transport.abort()
    # Let the server see the connection as lost before the app returns, so it does not answer with a 500.
    for _ in range(3):
        await asyncio.sleep(0)
