"""One real sandbox (uvicorn on 127.0.0.1, a free port) per module, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mallbridge_sandbox import ManualClock, SandboxServer, create_app
from tests.conftest import free_port
from tests.integration.sandbox.receiver import Receiver
from tests.integration.sandbox.support import ACME_KEY, NOW, PARTNERS, PartnerClient, Sandbox


@pytest.fixture(scope="module")
def _server() -> Iterator[tuple[SandboxServer, ManualClock, httpx.Client]]:
    clock = ManualClock(NOW)
    with (
        SandboxServer(create_app(PARTNERS, seed=42, clock=clock), port=free_port()) as server,
        httpx.Client(timeout=5) as http,
    ):
        yield server, clock, http


@pytest.fixture
def sandbox(_server: tuple[SandboxServer, ManualClock, httpx.Client]) -> Sandbox:
    server, clock, http = _server
    clock.set(NOW)
    server.state.reset()
    return Sandbox(server, clock, http)


@pytest.fixture
def acme(sandbox: Sandbox) -> PartnerClient:
    return sandbox.partner(ACME_KEY)


@pytest.fixture(scope="module")
def _receiver() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def receiver(_receiver: Receiver) -> Receiver:
    """A webhook receiver (real HTTP), emptied before each test."""
    _receiver.reset()
    return _receiver
