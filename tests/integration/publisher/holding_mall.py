"""A MALL that holds every request until released: a real uvicorn server on 127.0.0.1 in front of the sandbox.

A request that arrives before `release()` waits (and is counted in `held`); once released, every request,
waiting or new, is forwarded to the sandbox as it came (method, path, query, body) and the sandbox's answer
is returned. It lets a test show by outcome, not by a clock, that one tenant's stuck MALL holds back no other
tenant: the other tenant's orders all reach MALL while this one's requests are still held.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.threaded_server import ThreadedServer

# What the publisher reads from MALL's answers besides the body (its rate-limit handling).
PASSED_HEADERS = ("content-type", "retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


class HoldingMall:
    def __init__(self, target_url: str) -> None:
        self._target_url = target_url
        self._lock = threading.Lock()
        self._released = False
        self._gate: asyncio.Event | None = None  # created on the server's loop, by its first request
        self._loop: asyncio.AbstractEventLoop | None = None
        self._held = 0
        app = Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "PUT", "POST"])])
        self._http = ThreadedServer(app, name="holding-mall", timeout_graceful_shutdown=2)  # URLs carry client_id

    @property
    def base_url(self) -> str:
        """The MALL base URL to give a tenant (`mall_base_url`)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def held(self) -> int:
        """How many requests arrived while held (each waited for `release()`)."""
        with self._lock:
            return self._held

    def release(self) -> None:
        """Let every waiting request through, and the ones after it at once."""
        with self._lock:
            self._released = True
            loop, gate = self._loop, self._gate
        if loop is not None and gate is not None:
            loop.call_soon_threadsafe(gate.set)

    def _wait_here(self) -> asyncio.Event:
        with self._lock:
            if self._gate is None:
                self._gate, self._loop = asyncio.Event(), asyncio.get_running_loop()
            if self._released:
                self._gate.set()
            else:
                self._held += 1
            return self._gate

    async def _forward(self, request: Request) -> Response:
        body = await request.body()
        await self._wait_here().wait()
        async with httpx.AsyncClient(base_url=self._target_url, timeout=10) as client:
            answer = await client.request(
                request.method,
                request.url.path,
                params=request.url.query,
                content=body,
                headers={"content-type": request.headers.get("content-type", "application/json")},
            )
        headers = {name: answer.headers[name] for name in PASSED_HEADERS if name in answer.headers}
        return Response(answer.content, status_code=answer.status_code, headers=headers)

    @property
    def port(self) -> int:
        return self._http.port

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self.release()
        self._http.stop()

    def __enter__(self) -> HoldingMall:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
