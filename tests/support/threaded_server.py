"""A test's own HTTP server: an ASGI app under uvicorn on 127.0.0.1, an OS-chosen port, in a daemon thread."""

from __future__ import annotations

import threading
from typing import Any

import uvicorn

from tests.support.eventually import eventually_sync


class ThreadedServer:
    """`start()` returns once the server listens (its port in `.port`); `stop()` waits for its thread.

    The access log stays off: the URLs of MALL stand-ins carry `client_id`, a receiver's URL its token.
    """

    def __init__(self, app: Any, *, name: str, **config: Any) -> None:
        options = {"log_level": "warning", "lifespan": "off", "access_log": False, **config}
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, **options))
        self._name = name
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.run, name=self._name, daemon=True)
        self._thread.start()
        eventually_sync(lambda: self._server.started, timeout=10, interval=0.01, what=f"{self._name} to start")
        self.port = int(self._server.servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
