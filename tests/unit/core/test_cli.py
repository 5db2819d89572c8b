"""The `mallbridge` command itself: an event log that cannot be reached is one line and exit 2."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mallbridge_core.cli import main


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "--log", "sqlite:///proc/no/such/dir/events.db"],
        ["audit", "--log", "kafka://127.0.0.1:9"],
    ],
)
def test_an_unreachable_event_log_is_one_line_and_exit_2(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Error: " in result.stderr
    assert "Traceback" not in result.stderr
    assert ("cannot open the event log" in result.stderr) or ("Kafka at 127.0.0.1:9" in result.stderr)
