"""`mallbridge run` as a real process: ingest and publisher in one, configured from the environment only,
a signed push in, the status PUT at MALL (the sandbox) out, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mallbridge_ingest.adapters.signature import sign
from mallbridge_sandbox.app import create_app
from mallbridge_sandbox.partners import Partner
from mallbridge_sandbox.server import SandboxServer
from tests.conftest import free_port
from tests.support.eventually import eventually_sync
from tests.support.procs import ServiceProcess

CLIENT_ID = "run-e2e-client-id-4c1d"
SECRET = "run-e2e-ingest-secret-93ab"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(create_app([Partner("acme", CLIENT_ID)], seed=5))
    server.start()
    yield server
    server.stop()


def _push(port: int, snapshot: dict[str, str]) -> httpx.Response:
    body = json.dumps({"orders": [snapshot]}).encode()
    ts = str(int(time.time()))
    headers = {"X-Mallbridge-Timestamp": ts, "X-Mallbridge-Signature": sign(SECRET, ts, body)}
    return httpx.post(f"http://127.0.0.1:{port}/v1/tenants/acme/orders", content=body, headers=headers, timeout=10)


def test_run_takes_its_settings_from_the_environment_and_does_the_job(
    sandbox: SandboxServer, tmp_path: Path, topic_prefix: str
) -> None:
    tenants = tmp_path / "tenants.toml"
    tenants.write_text(
        f'[tenants.acme]\nmall_client_id = "env:RUN_CID"\ningest_secret = "env:RUN_SECRET"\n'
        f'mall_base_url = "{sandbox.base_url}"\n'
    )
    ingest_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "RUN_CID": CLIENT_ID,
        "RUN_SECRET": SECRET,
        "MALLBRIDGE_LOG": f"sqlite:///{tmp_path}/events.db",
        "MALLBRIDGE_TENANTS": str(tenants),
        "MALLBRIDGE_TOPIC_PREFIX": topic_prefix,
        "MALLBRIDGE_RUN_PORT": str(ingest_port),
        "MALLBRIDGE_RUN_LOG_LEVEL": "WARNING",
    }
    httpx.post(f"{sandbox.url}/sandbox/orders", json={"partner": "acme", "id": "10085339999"}).raise_for_status()
    # one option on the command line, the rest from the environment
    log_file = tmp_path / "run.log"
    run = ServiceProcess(["run", "--http-port", str(http_port)], env, http_port=http_port, log_file=log_file)
    try:
        eventually_sync(run.ready, timeout=60, what="the publisher of `mallbridge run` ready")
        answer = eventually_sync(
            lambda: _push(ingest_port, {"order_number": "R-1", "mall_order_id": "10085339999", "status": "in_process"}),
            timeout=30,
            retry_on=(httpx.TransportError,),
            what="ingest of `mallbridge run` answering on MALLBRIDGE_RUN_PORT",
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["events"] == 1

        def mall_status() -> str:
            return str(httpx.get(f"{sandbox.url}/sandbox/orders/10085339999", timeout=10).json()["order"]["status"])

        eventually_sync(lambda: mall_status() == "shipping", timeout=60, what="MALL has the order shipping")
    finally:
        run.stop()
    assert run.proc.returncode == 0, run.log_tail()
