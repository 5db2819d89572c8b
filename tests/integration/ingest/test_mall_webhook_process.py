"""MALL's webhook served by `mallbridge ingest` as a real process at DEBUG level (the token from a `file:`
reference): the token appears in none of its output, whatever the answer (404, 422, 405, 202)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.support.procs import wait_ready

TOKEN = "whk-process-4b9e1d77c0a2"


def test_the_webhook_token_is_in_no_line_the_process_writes(
    tmp_path: Path, event_log_url: str, topic_prefix: str
) -> None:
    (tmp_path / "hook").write_text(TOKEN + "\n")
    tenants = tmp_path / "tenants.toml"
    tenants.write_text(f'[tenants.acme]\nmall_webhook_token = "file:{tmp_path / "hook"}"\n')
    port = free_port()
    cmd = [sys.executable, "-c", "from mallbridge_core.cli import main; main()", "ingest", "--port", str(port)]
    cmd += ["--tenants", str(tenants), "--log", event_log_url, "--topic-prefix", topic_prefix, "--log-level", "DEBUG"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_ready(client, proc)
            url = f"/v1/tenants/acme/mall-webhook/{TOKEN}"
            answers = [
                client.post(f"/v1/tenants/acme/mall-webhook/{TOKEN[:-1]}", content=b"[1]"),
                client.post(f"/v1/tenants/nobody/mall-webhook/{TOKEN}", content=b"[1]"),
                client.post(url, content=b'[1, "x"]'),
                client.post(url, content=b"[1, 2"),
                client.get(url),
                client.post(f"{url}/extra", content=b"[]"),
                client.post(url, content=b"[10085339302]"),
            ]
            assert [a.status_code for a in answers] == [404, 404, 422, 422, 405, 404, 202]
            assert all(TOKEN not in a.text and TOKEN not in str(a.headers) for a in answers)
            assert TOKEN not in client.get("/metrics").text
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    output = (out + err).decode()
    assert output.count("mall webhook refused") == 4  # the refusals were logged (without the token)
    assert "mall webhook accepted" in output
    assert TOKEN not in output
    assert TOKEN[:-1] not in output  # not even the wrong one that was tried
