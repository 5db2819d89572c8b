"""End to end: the demo script (sandbox, ingest, publisher, scripted orders) on both event-log engines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

MALLBRIDGE = Path(sys.executable).parent / "mallbridge"


@pytest.mark.parametrize("engine", ["sqlite", "kafka"])
def test_demo_passes_every_scripted_outcome(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if engine == "kafka":
        log_url = f"kafka://{request.getfixturevalue('kafka_bootstrap')}"
    else:
        log_url = f"sqlite:///{tmp_path}/events.db"
    result = subprocess.run(
        [str(MALLBRIDGE), "demo", "--log", log_url], capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "6 of 6 outcomes as expected" in result.stdout
