"""Local receivers for the notifier's alerts: an HTTP webhook receiver (uvicorn on 127.0.0.1) and an SMTP
server (aiosmtpd on 127.0.0.1), each recording what arrived and when."""

from __future__ import annotations

import asyncio
import contextlib
import email
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SMTP_USER, SMTP_PASSWORD = "mallbridge", "smtp-pa55word-not-real"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    at: float  # time.time() when the request arrived
    body: dict[str, Any]
    status: int  # what the receiver answered
    answered_at: float = 0.0


@dataclass
class Hook:
    """One tenant's webhook: answers `script` in turn (then 200); while `hold` is set, requests wait."""

    script: list[int] = field(default_factory=list)
    hold: asyncio.Event | None = None
    requests: list[Received] = field(default_factory=list)

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.requests if r.status == 200]

    def texts(self) -> list[str]:
        return [r.body["text"] for r in self.accepted]


class WebhookReceiver:
    """POST /hooks/{name}: one `Hook` per name (made on first use)."""

    def __init__(self) -> None:
        self.hooks: dict[str, Hook] = {}
        self.port = free_port()

    def hook(self, name: str) -> Hook:
        return self.hooks.setdefault(name, Hook())

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    async def _receive(self, request: Request) -> Response:
        hook = self.hook(request.path_params["name"])
        received = Received(at=time.time(), body=json.loads(await request.body()), status=0)
        hook.requests.append(received)
        if hook.hold is not None:
            await hook.hold.wait()
        received.status = hook.script.pop(0) if hook.script else 200
        received.answered_at = time.time()
        return JSONResponse({"ok": received.status == 200}, status_code=received.status)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[WebhookReceiver]:
        app = Starlette(routes=[Route("/hooks/{name}", self._receive, methods=["POST"])])
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        try:
            yield self
        finally:
            for hook in self.hooks.values():
                if hook.hold is not None:
                    hook.hold.set()
            server.should_exit = True
            await task


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok)


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[int, list[Message]]]:
    """An SMTP server on 127.0.0.1 that needs SMTP_USER/SMTP_PASSWORD (no TLS); yields its port and mailbox."""
    mailbox = _Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,  # a local test server without TLS; the notifier logs in all the same
    )
    controller.start()
    try:
        yield port, mailbox.messages
    finally:
        controller.stop()
