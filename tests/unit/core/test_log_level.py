"""Every service's `--log-level`: one of DEBUG, INFO, WARNING, ERROR in any case; anything else is a usage
error naming the option, before anything starts (it was a ValueError traceback in ingest, run and notify)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pydantic import TypeAdapter, ValidationError

from mallbridge_core.cli import main
from mallbridge_core.logging_setup import LogLevel

SERVICES = ["ingest", "run", "notify", "publisher"]


@pytest.mark.parametrize("given", ["debug", " Warning ", "ERROR"])
def test_a_level_is_taken_in_any_case(given: str) -> None:
    assert TypeAdapter(LogLevel).validate_python(given) == given.strip().upper()


@pytest.mark.parametrize("given", ["VERBOSE", "trace", "", "10"])
def test_anything_else_is_refused_with_the_allowed_levels(given: str) -> None:
    with pytest.raises(ValidationError, match="'DEBUG', 'INFO', 'WARNING' or 'ERROR'"):
        TypeAdapter(LogLevel).validate_python(given)


@pytest.mark.parametrize("service", SERVICES)
def test_a_bad_log_level_is_a_usage_error_naming_the_option(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLBRIDGE_TENANTS", raising=False)
    result = CliRunner().invoke(main, [service, "--log", "sqlite:///never-opened.db", "--log-level", "VERBOSE"])
    assert result.exit_code == 2, result.output
    assert "--log-level" in result.stderr
    assert "'DEBUG', 'INFO', 'WARNING' or 'ERROR'" in result.stderr
    assert "Traceback" not in result.output
