"""`mallbridge sandbox`: a wrong port is a usage error naming the option and its variable, before anything starts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mallbridge_sandbox.cli import sandbox


@pytest.mark.parametrize(("args", "env"), [(["--port", "99999"], {}), ([], {"MALLBRIDGE_SANDBOX_PORT": "70000"})])
def test_a_port_out_of_range_is_a_usage_error(args: list[str], env: dict[str, str]) -> None:
    result = CliRunner().invoke(sandbox, args, env=env)
    assert result.exit_code == 2, result.output  # was an OverflowError traceback from bind() once serving began
    assert "Invalid value for '--port' (env var: 'MALLBRIDGE_SANDBOX_PORT')" in result.output
    assert "0<=x<=65535" in result.output


def test_help_shows_the_variables_the_readme_documents() -> None:
    result = CliRunner().invoke(sandbox, ["--help"], terminal_width=200)
    for variable in ("MALLBRIDGE_SANDBOX_HOST", "MALLBRIDGE_SANDBOX_PORT", "MALLBRIDGE_SANDBOX_PARTNERS"):
        assert variable in result.output
