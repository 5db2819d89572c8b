"""End to end: the demo script (sandbox, ingest, publisher, scripted orders) on both event-log engines."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

MALLBRIDGE = Path(sys.executable).parent / "mallbridge"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("engine", ["sqlite", "kafka"])
def test_demo_passes_every_scripted_outcome(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if engine == "kafka":
        log_url = f"kafka://{request.getfixturevalue('kafka_bootstrap')}"
    else:
        log_url = f"sqlite:///{tmp_path}/events.db"
    result = subprocess.run(
        [str(MALLBRIDGE), "demo", "--once", "--log", log_url], capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "9 of 9 outcomes as expected" in result.stdout
    # not a terminal here: the live table's last line and the summary's title each on a line of their own
    assert re.search(r"^ *Summary: expected outcome vs what happened *$", result.stdout, re.MULTILINE), result.stdout


def test_the_demo_keeps_the_console_up_with_its_url_and_token_until_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    command = [str(MALLBRIDGE), "demo", "--log", f"sqlite:///{tmp_path}/events.db", "--console-port", str(port)]
    demo = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert demo.stdout is not None
        seen: list[str] = []
        for line in demo.stdout:  # the script runs, then the console's URL and token are printed
            seen.append(line)
            if line.startswith("Token:"):
                break
        text = "".join(seen)
        assert "9 of 9 outcomes as expected" in text, text[-3000:]
        assert f"Console: http://127.0.0.1:{port}/console" in text
        token = line.split()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False) as client:
            form = client.get("/console/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert csrf is not None
            answer = client.post("/console/login", data={"csrf": csrf.group(1), "name": "e2e", "token": token})
            assert answer.status_code == 303
            queue = client.get("/console/queue").text
            assert "D-1003" in queue  # the demo's data
            assert "MALL orders the shop never got" in queue  # what the demo's balance run recorded
            assert "10085339400" in queue
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 0, rest
    assert "everything started was stopped" in rest
