"""`mallbridge sandbox` as a real process: partners from a file and from --partner, secrets kept out of output."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.integration.sandbox.receiver import Receiver

MALLBRIDGE = str(Path(sys.executable).parent / "mallbridge")


def wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 30.0) -> None:
    """Until /healthz answers (at once, usually): the new process imports the whole sandbox first, which
    on a loaded machine (a 2-core CI runner, the whole suite) can take longer than 10 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("sandbox did not become healthy")


def test_cli_serves_partners_from_file_and_options(tmp_path: Path) -> None:
    partners = tmp_path / "partners.toml"
    partners.write_text('[partners.acme]\nclient_id = "acme-file-key"\nquota = 7\n', encoding="utf-8")
    port = free_port()
    env = {**os.environ, "EXTRA_MALL_KEY": "extra-env-key"}
    proc = subprocess.Popen(
        [
            MALLBRIDGE,
            "sandbox",
            "--port",
            str(port),
            "--partners",
            str(partners),
            "--partner",
            "extra=env:EXTRA_MALL_KEY",
            "--partner",
            "plain=plain-key",
            "--seed",
            "7",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        acme = httpx.get(f"{url}/v1/orders", params={"client_id": "acme-file-key"})
        assert acme.status_code == 200
        assert acme.headers["X-RateLimit-Remaining"] == "6"
        assert httpx.get(f"{url}/v1/orders", params={"client_id": "extra-env-key"}).status_code == 200
        assert httpx.get(f"{url}/v1/orders", params={"client_id": "plain-key"}).status_code == 200
        assert httpx.get(f"{url}/v1/orders", params={"client_id": "nope"}).status_code == 401
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    # uvicorn shuts down gracefully on SIGTERM and re-raises it; a normal stop still exits 0
    assert proc.returncode == 0, stderr
    assert "Finished server process" in stderr
    assert "partners: acme, extra, plain" in stderr
    for secret in ("acme-file-key", "extra-env-key", "plain-key"):
        assert secret not in stderr


def test_cli_refuses_bad_partner_options_without_echoing_secrets() -> None:
    result = subprocess.run(
        [MALLBRIDGE, "sandbox", "--partner", "no-equals-sign-secret"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "NAME=CLIENT_ID" in result.stderr
    assert "no-equals-sign-secret" not in result.stderr
    dupes = subprocess.run(
        [MALLBRIDGE, "sandbox", "--partner", "a=same-key", "--partner", "b=same-key"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert dupes.returncode == 2
    assert "share a client_id" in dupes.stderr
    assert "same-key" not in dupes.stderr


def test_cli_webhook_interval_and_latency_options(tmp_path: Path) -> None:
    port = free_port()
    with Receiver() as receiver:
        env = {**os.environ, "ACME_WEBHOOK_URL": receiver.url}
        args = ["--port", str(port), "--partner", "acme=acme-key", "--webhook", "acme=env:ACME_WEBHOOK_URL"]
        args += ["--webhook-interval", "0.2", "--latency-ms", "150"]
        proc = subprocess.Popen(
            [MALLBRIDGE, "sandbox", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, proc)
            with httpx.Client(base_url=url, timeout=5) as client:
                first = client.post("/sandbox/orders", json={"partner": "acme"}).json()["order"]["id"]
                # the second order only once the first delivery is out: ids waiting together go in one POST
                # (as at MALL), so two orders created back to back may well arrive as one delivery
                assert [d.body for d in receiver.wait_for(1)] == [[int(first)]]
                second = client.post("/sandbox/orders", json={"partner": "acme"}).json()["order"]["id"]
                deliveries = receiver.wait_for(2)
                assert [d.body for d in deliveries] == [[int(first)], [int(second)]]
                assert deliveries[1].at - deliveries[0].at >= 0.18  # the interval, not MALL's minute
                started = time.monotonic()
                assert client.get("/v1/orders", params={"client_id": "acme-key"}).status_code == 200
                assert time.monotonic() - started >= 0.15
                assert receiver.token not in client.get("/sandbox/partners").text
        finally:
            proc.terminate()
            _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert receiver.token not in stderr


def test_cli_refuses_a_webhook_for_an_unknown_partner_or_a_bad_url() -> None:
    unknown = subprocess.run(
        [MALLBRIDGE, "sandbox", "--partner", "acme=k", "--webhook", "globex=http://h/tok-secret"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert unknown.returncode == 2
    assert "--webhook globex: no such partner" in unknown.stderr
    bad = subprocess.run(
        [MALLBRIDGE, "sandbox", "--partner", "acme=k", "--webhook", "acme=ftp://h/tok-secret"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2
    assert "absolute http(s) URL" in bad.stderr
    assert "tok-secret" not in unknown.stderr + bad.stderr


def test_cli_webhook_base_with_a_tenants_file_posts_to_ingests_path(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.toml"
    tenants.write_text(
        '[tenants.acme]\nmall_client_id = "acme-key"\nmall_webhook_token = "env:ACME_MALL_WEBHOOK_TOKEN"\n',
        encoding="utf-8",
    )
    port = free_port()
    with Receiver() as receiver:
        env = {**os.environ, "ACME_MALL_WEBHOOK_TOKEN": receiver.token}
        args = ["--port", str(port), "--partners", str(tenants), "--webhook-base", receiver.base_url]
        proc = subprocess.Popen(
            [MALLBRIDGE, "sandbox", *args, "--webhook-interval", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_healthy(f"http://127.0.0.1:{port}", proc)
            order = httpx.post(f"http://127.0.0.1:{port}/sandbox/orders", json={"partner": "acme"}).json()["order"]
            (delivery,) = receiver.wait_for(1)
            assert delivery.path == f"/v1/tenants/acme/mall-webhook/{receiver.token}"
            assert delivery.body == [int(order["id"])]
        finally:
            proc.terminate()
            _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert receiver.token not in stderr
