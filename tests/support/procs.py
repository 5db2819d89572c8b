"""Real `mallbridge` processes for tests: start, read metrics, kill or stop, never leave one behind."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

MALLBRIDGE = Path(sys.executable).parent / "mallbridge"


def publisher_args(
    bootstrap: str, tenants: Path, prefix: str, *, group: str, http_port: int, extra: tuple[str, ...] = ()
) -> list[str]:
    """`mallbridge publisher` arguments: Kafka, a tenants file, a topic prefix, a group, its HTTP port, quiet."""
    return [
        "publisher",
        "--kafka",
        bootstrap,
        "--tenants",
        str(tenants),
        "--topic-prefix",
        prefix,
        "--group",
        group,
        "--http-port",
        str(http_port),
        "--log-level",
        "WARNING",
        *extra,
    ]


def wait_ready(client: httpx.Client, proc: subprocess.Popen[bytes], *, timeout_s: float = 60.0) -> None:
    """Until `client`'s /readyz answers 200; fails at once, with the process's stderr, if it exits first."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "not ready"
        time.sleep(0.2)


class ServiceProcess:
    def __init__(
        self, args: list[str], env: dict[str, str], *, http_port: int | None = None, log_file: Path | None = None
    ) -> None:
        self.http_port = http_port
        self.log_file = log_file
        argv = [str(MALLBRIDGE), *args]
        if log_file is None:
            self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return
        with log_file.open("ab") as stderr:  # the child has its own copy of the descriptor; ours is closed here
            self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=stderr)

    def log_tail(self, lines: int = 30) -> str:
        if self.log_file is None or not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def metric(self, name: str) -> float:
        """Sum of a Prometheus metric's samples on this process's /metrics (0 when absent or unreachable)."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.http_port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return 0.0
        pattern = re.compile(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+-]+)$", re.MULTILINE)
        return sum(float(v) for v in pattern.findall(text))

    def ready(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.http_port}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
