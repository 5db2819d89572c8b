"""A webhook receiver for the sandbox's tests: a real uvicorn server on 127.0.0.1 that records each POST.

It answers `status` (200 by default) after `delay_s` (0 by default), both changeable while it runs, and
not before `release()` while `hold()` is in force (a receiver that hangs as long as a test needs). Each
reset() gives it a new token (the last part of `url`): a late POST to an earlier test's URL is not counted.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.threaded_server import ThreadedServer

TOKEN_PREFIX = "receiver-secret-token-"


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() when the request arrived
    path: str
    content_type: str
    body: Any  # parsed JSON (the text when it does not parse)


class Receiver:
    def __init__(self) -> None:
        self.status = 200
        self.delay_s = 0.0
        self._held = threading.Event()
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self.token = f"{TOKEN_PREFIX}{uuid.uuid4().hex}"
        routes = [
            Route("/hooks/{token}", self._hook, methods=["POST"]),
            Route("/v1/tenants/{tenant}/mall-webhook/{token}", self._hook, methods=["POST"]),  # ingest's path
        ]
        app = Starlette(routes=routes)
        self._http = ThreadedServer(app, name="webhook-receiver")

    async def _hook(self, request: Request) -> Response:
        arrived = time.monotonic()
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
        with self._lock:
            if request.path_params["token"] == self.token:
                entry = Received(arrived, request.url.path, request.headers.get("content-type", ""), body)
                self._received.append(entry)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        while self._held.is_set():
            await asyncio.sleep(0.01)
        return Response(status_code=self.status)

    def hold(self) -> None:
        """Answer no POST (those arrived are recorded) until `release()`."""
        self._held.set()

    def release(self) -> None:
        self._held.clear()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{self.token}"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def reset(self) -> None:
        """Forget what arrived; answer 200 at once again."""
        with self._lock:
            self._received.clear()
            self.token = f"{TOKEN_PREFIX}{uuid.uuid4().hex}"
        self.status, self.delay_s = 200, 0.0
        self.release()

    def bodies(self) -> list[Any]:
        return [r.body for r in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        wait_until(lambda: len(self.received) >= count, timeout=timeout, what=f"{count} webhook deliveries")
        return self.received

    @property
    def port(self) -> int:
        return self._http.port

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self.release()
        self._http.stop()

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
