"""Run the sandbox in-process: uvicorn in a background thread, for tests and the demo.

```python
with SandboxServer(create_app([Partner("acme", "acme-key")], seed=1), port=free_port()) as sandbox:
    httpx.get(f"{sandbox.base_url}/orders", params={"client_id": "acme-key"})
```
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn

from mallbridge_sandbox.app import SandboxApp
from mallbridge_sandbox.state import SandboxState


def uvicorn_config(app: SandboxApp, *, host: str, port: int, log_level: str = "warning") -> uvicorn.Config:
    # The access log would print request URLs, and those carry client_id: never enable it.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        http="h11",
        lifespan="off",
        timeout_graceful_shutdown=2,
    )


class SandboxServer:
    def __init__(self, app: SandboxApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        """`port=0` (the default) lets the OS choose a free port; read it from `.port` after start()."""
        self.app = app
        self.host = host
        self.port = port
        self._server = uvicorn.Server(uvicorn_config(app, host=host, port=port))
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> SandboxState:
        return self.app.state

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The MALL base URL to give a client (`mall_base_url`)."""
        return f"{self.url}/v1"

    def start(self, timeout: float = 10.0) -> None:
        self._thread = threading.Thread(target=self._server.run, name="mallbridge-sandbox", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        if self.port == 0:  # an ephemeral port: read back the one the OS chose
            self.port = int(self._server.servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        """Stop the server and the webhook delivery thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.app.state.close()

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
