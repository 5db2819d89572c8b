"""`mallbridge publisher`'s settings: PublisherSettings (env MALLBRIDGE_PUBLISHER_*) is the one source;
an option given on the command line beats the environment, an option not given leaves it alone."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from mallbridge_core.topics import DEFAULT_LANE
from mallbridge_publisher import cli
from mallbridge_publisher.config import PublisherSettings

ENV = {
    "MALLBRIDGE_PUBLISHER_HTTP_HOST": "0.0.0.0",
    "MALLBRIDGE_PUBLISHER_HTTP_PORT": "9181",
    "MALLBRIDGE_PUBLISHER_LANES": "default, acme",
    "MALLBRIDGE_PUBLISHER_GROUP": "from-env",
    "MALLBRIDGE_PUBLISHER_LOG_LEVEL": "warning",
    "MALLBRIDGE_PUBLISHER_TENANT_CONCURRENCY": "3",
    "MALLBRIDGE_PUBLISHER_MALL_TRANSPORT": "httpcore",
}


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[PublisherSettings]:
    """The settings the command would start the publisher with (the service itself is not started)."""
    seen: list[PublisherSettings] = []

    def build_service(common: Any, settings: PublisherSettings) -> str:
        seen.append(settings)
        return "service"

    async def serve(service: Any) -> None:
        assert service == "service"

    monkeypatch.setattr(cli, "build_service", build_service)
    monkeypatch.setattr(cli, "serve", serve)
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    return seen


def invoke(args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli.publisher, ["--log", "sqlite:///unused.db", *args], env=env or {})


def test_the_environment_alone_sets_every_setting(started: list[PublisherSettings]) -> None:
    result = invoke([], ENV)
    assert result.exit_code == 0, result.output
    [settings] = started
    assert (settings.http_host, settings.http_port, settings.group) == ("0.0.0.0", 9181, "from-env")
    assert settings.lanes == (DEFAULT_LANE, "acme")
    assert (settings.log_level, settings.tenant_concurrency) == ("WARNING", 3)
    assert settings.mall_transport == "httpcore"


def test_an_option_given_beats_the_environment_and_the_rest_stays(started: list[PublisherSettings]) -> None:
    result = invoke(["--http-port", "9999", "--lanes", "big", "--log-level", "debug"], ENV)
    assert result.exit_code == 0, result.output
    [settings] = started
    assert (settings.http_port, settings.lanes, settings.log_level) == (9999, ("big",), "DEBUG")
    assert (settings.http_host, settings.group) == ("0.0.0.0", "from-env")


def test_without_options_or_environment_the_defaults_hold(started: list[PublisherSettings]) -> None:
    result = invoke([])
    assert result.exit_code == 0, result.output
    [settings] = started
    assert settings == PublisherSettings()
    assert (settings.http_port, settings.lanes, settings.group) == (8081, (DEFAULT_LANE,), "mallbridge-publisher")
    assert settings.mall_transport == "http1"


@pytest.mark.parametrize(
    ("args", "env", "names"),
    [
        (["--lanes", "Big Lane"], {}, ["--lanes / MALLBRIDGE_PUBLISHER_LANES:", "[a-z0-9_-]"]),
        ([], {"MALLBRIDGE_PUBLISHER_LANES": " , "}, ["MALLBRIDGE_PUBLISHER_LANES:", "at least one lane"]),
        ([], {"MALLBRIDGE_PUBLISHER_HTTP_PORT": "70000"}, ["MALLBRIDGE_PUBLISHER_HTTP_PORT:", "65535", "70000"]),
        ([], {"MALLBRIDGE_PUBLISHER_BACKOFF_MAX_S": "-1"}, ["MALLBRIDGE_PUBLISHER_BACKOFF_MAX_S:", "0"]),
        (["--log-level", "chatty"], {}, ["--log-level / MALLBRIDGE_PUBLISHER_LOG_LEVEL:", "'DEBUG'", "'CHATTY'"]),
        (
            [],
            {"MALLBRIDGE_PUBLISHER_MALL_TRANSPORT": "h2"},
            ["MALLBRIDGE_PUBLISHER_MALL_TRANSPORT:", "'http1'", "'httpcore'"],
        ),
    ],
)
def test_a_bad_setting_is_a_usage_error_naming_it_and_what_is_allowed(
    started: list[PublisherSettings], args: list[str], env: dict[str, str], names: list[str]
) -> None:
    result = invoke(args, env)
    assert result.exit_code == 2
    for name in names:
        assert name in result.output
    assert started == []


def test_a_short_console_token_is_refused_naming_its_variable_without_echoing_it(
    started: list[PublisherSettings],
) -> None:
    result = invoke([], {"MALLBRIDGE_CONSOLE_TOKEN": "short-secret"})
    assert result.exit_code == 2
    assert "MALLBRIDGE_CONSOLE_TOKEN" in result.output
    assert "at least 16 characters" in result.output
    assert "short-secret" not in result.output
    assert started == []


def test_the_console_token_comes_from_its_own_variable(started: list[PublisherSettings]) -> None:
    result = invoke([], {"MALLBRIDGE_CONSOLE_TOKEN": "a-long-enough-console-token"})
    assert result.exit_code == 0, result.output
    token = started[0].console_token
    assert token is not None
    assert token.get_secret_value() == "a-long-enough-console-token"


def test_help_shows_each_options_variable_and_default() -> None:
    # the root README: "Each subcommand's own options show their variable in `mallbridge <subcommand> --help`"
    shown = CliRunner().invoke(cli.publisher, ["--help"], terminal_width=300).output
    for option, variable, default in [
        ("--http-host", "MALLBRIDGE_PUBLISHER_HTTP_HOST", "127.0.0.1"),
        ("--http-port", "MALLBRIDGE_PUBLISHER_HTTP_PORT", "8081"),
        ("--lanes", "MALLBRIDGE_PUBLISHER_LANES", "default"),
        ("--group", "MALLBRIDGE_PUBLISHER_GROUP", "mallbridge-publisher"),
        ("--log-level", "MALLBRIDGE_PUBLISHER_LOG_LEVEL", "INFO"),
    ]:
        line = next(line for line in shown.splitlines() if line.strip().startswith(option))
        assert f"[env var: {variable}; default: {default}]" in line, line
