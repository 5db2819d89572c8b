"""`mallbridge ingest` as a real process: serves, logs JSON lines, never logs a secret, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mallbridge_ingest.adapters.signature import sign
from tests.conftest import free_port
from tests.support.eventually import eventually_sync
from tests.support.procs import wait_ready

SECRET = "cli-process-secret-5f1e2d"
EXPORT_TOKEN = "cli-export-token-77aa"


def _failed_polls(client: httpx.Client) -> float:
    text = client.get("/metrics").text
    pattern = r'^mallbridge_ingest_polls_total\{outcome="(\w+)",tenant="acme"\} ([0-9.e+]+)$'
    return sum(float(n) for outcome, n in re.findall(pattern, text, re.MULTILINE) if outcome != "ok")


def test_serve_push_and_stop(tmp_path: Path, event_log_url: str, topic_prefix: str) -> None:
    tenants = tmp_path / "tenants.toml"
    tenants.write_text(
        "[tenants.acme]\n"
        'ingest_secret = "env:CLI_TEST_SECRET"\n'
        'export_url = "env:CLI_TEST_EXPORT"\n'
        "poll_interval_s = 0.5\n"
    )
    port = free_port()
    env = {
        **os.environ,
        "CLI_TEST_SECRET": SECRET,
        # nothing listens there: polls fail, and the failure must not quote the URL
        "CLI_TEST_EXPORT": f"http://127.0.0.1:{free_port()}/export.csv?token={EXPORT_TOKEN}",
    }
    cmd = [
        sys.executable,
        "-c",
        "from mallbridge_core.cli import main; main()",
        "ingest",
        "--port",
        str(port),
        "--tenants",
        str(tenants),
        "--log",
        event_log_url,
        "--topic-prefix",
        topic_prefix,
        "--log-level",
        "DEBUG",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_ready(client, proc)
            body = json.dumps({"orders": [{"order_number": "C-1", "mall_order_id": "42", "status": "pending"}]})
            ts = str(int(time.time()))
            signature = sign(SECRET, ts, body.encode())
            headers = {"X-Mallbridge-Timestamp": ts, "X-Mallbridge-Signature": signature}
            assert client.post("/v1/tenants/acme/orders", content=body, headers=headers).json()["events"] == 1
            headers["X-Mallbridge-Signature"] = sign("wrong", ts, body.encode())
            assert client.post("/v1/tenants/acme/orders", content=body, headers=headers).status_code == 401
            # The polls ran and failed (the export URL refuses): what they logged is checked below.
            eventually_sync(lambda: _failed_polls(client) >= 2, what="two failed polls of the export URL")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # uvicorn shuts down gracefully, then re-raises the captured SIGTERM: a normal stop still exits 0.
    assert proc.returncode == 0
    lines = [line for line in err.decode().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON
    messages = {r["msg"] for r in records}
    assert {"state rebuilt", "push accepted", "push refused", "export poll failed"} <= messages
    assert "Application shutdown complete." in messages
    text = err.decode()
    for secret in (SECRET, EXPORT_TOKEN, signature.removeprefix("sha256=")):
        assert secret not in text
