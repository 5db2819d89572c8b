"""`mallbridge run` and `mallbridge demo` take their settings from the environment, options given win."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mallbridge_app.demo.cli import DemoSettings, demo
from mallbridge_app.run import RunSettings, _servers, run
from mallbridge_core.settings import CommonOptions, settings_from


def test_run_settings_from_the_environment_with_given_options_on_top(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLBRIDGE_RUN_LANES", "default, acme")
    monkeypatch.setenv("MALLBRIDGE_RUN_PORT", "9080")
    monkeypatch.setenv("MALLBRIDGE_RUN_HTTP_PORT", "9081")

    settings = settings_from(RunSettings, {"port": 7000, "http_port": None, "lanes": None, "host": None})

    assert (settings.host, settings.port, settings.http_port) == ("127.0.0.1", 7000, 9081)
    assert settings.lane_names() == ("default", "acme")


def test_demo_takes_the_log_from_mallbridge_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLBRIDGE_LOG", "sqlite:///from-env.db")
    monkeypatch.setenv("MALLBRIDGE_DEMO_TIMEOUT_S", "5")
    settings = settings_from(DemoSettings, {"log": None, "timeout_s": None})
    assert (settings.log, settings.timeout_s) == ("sqlite:///from-env.db", 5.0)
    assert settings_from(DemoSettings, {"log": "kafka://k:1", "timeout_s": None}).log == "kafka://k:1"


@pytest.mark.parametrize(
    ("command", "args", "env", "expected"),
    [
        (demo, ["--timeout", "0"], {}, "--timeout / MALLBRIDGE_DEMO_TIMEOUT_S: Input should be greater than 0"),
        (run, [], {"MALLBRIDGE_RUN_PORT": "http"}, "MALLBRIDGE_RUN_PORT: Input should be a valid integer"),
        (run, ["--port", "70000"], {}, "--port / MALLBRIDGE_RUN_PORT: Input should be less than or equal to 65535"),
        (run, ["--log", "sqlite:///x.db"], {}, "mallbridge run needs --tenants (or MALLBRIDGE_TENANTS)"),
        # the demo's own ingest and publisher read MALLBRIDGE_INGEST_* / _PUBLISHER_* too (was a traceback, exit 1)
        (demo, ["--once"], {"MALLBRIDGE_INGEST_PUSH_BURST": "0"}, "MALLBRIDGE_INGEST_PUSH_BURST: Input should be"),
        (
            demo,
            ["--once"],
            {"MALLBRIDGE_PUBLISHER_READ_TIMEOUT_S": "soon"},
            "MALLBRIDGE_PUBLISHER_READ_TIMEOUT_S: Input",
        ),
        # run's lanes were checked by the publisher's settings only, named as MALLBRIDGE_PUBLISHER_LANES
        (run, [], {"MALLBRIDGE_RUN_LANES": "Big Shop"}, "MALLBRIDGE_RUN_LANES: Value error, 'Big Shop': a lane name"),
        (run, ["--lanes", ",,"], {}, "--lanes / MALLBRIDGE_RUN_LANES: Value error, name at least one lane"),
        (run, ["--log-level", "LOUD"], {}, "--log-level / MALLBRIDGE_RUN_LOG_LEVEL: Input should be 'DEBUG', 'INFO'"),
        (run, [], {"MALLBRIDGE_RUN_LOG_LEVEL": "verbose"}, "MALLBRIDGE_RUN_LOG_LEVEL: Input should be 'DEBUG'"),
    ],
)
def test_bad_settings_are_usage_errors_before_anything_starts(
    command: object, args: list[str], env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MALLBRIDGE_TENANTS", raising=False)
    result = CliRunner().invoke(command, args, env=env)  # type: ignore[arg-type]
    assert result.exit_code == 2, result.output
    assert expected in result.stderr


def test_run_binds_the_publisher_where_http_host_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tenants = tmp_path / "tenants.toml"
    tenants.write_text("[tenants.acme]\n")
    common = CommonOptions(f"sqlite:///{tmp_path}/e.db", str(tenants), "mallbridge.", 1)
    monkeypatch.setenv("MALLBRIDGE_RUN_HTTP_HOST", "0.0.0.0")
    settings = settings_from(RunSettings, {"host": "0.0.0.0", "http_port": 0})
    server, publisher = _servers(common, settings)
    # was always 127.0.0.1: `mallbridge run --host 0.0.0.0` left the console reachable from this machine only
    assert (server.config.host, publisher.settings.http_host) == ("0.0.0.0", "0.0.0.0")
    assert settings_from(RunSettings, {"http_host": "10.0.0.5"}).http_host == "10.0.0.5"
