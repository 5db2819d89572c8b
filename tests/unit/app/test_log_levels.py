"""Every service's log level: its option, else its own variable, else MALLBRIDGE_LOG_LEVEL, else INFO."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pydantic_settings import BaseSettings

from mallbridge_app.run import RunSettings
from mallbridge_core.cli import main
from mallbridge_core.settings import settings_from
from mallbridge_ingest.config import IngestSettings
from mallbridge_notify.config import NotifySettings
from mallbridge_publisher.config import PublisherSettings

SERVICES: list[tuple[type[BaseSettings], str]] = [
    (IngestSettings, "MALLBRIDGE_INGEST_LOG_LEVEL"),
    (PublisherSettings, "MALLBRIDGE_PUBLISHER_LOG_LEVEL"),
    (NotifySettings, "MALLBRIDGE_NOTIFY_LOG_LEVEL"),
    (RunSettings, "MALLBRIDGE_RUN_LOG_LEVEL"),
]


@pytest.fixture(autouse=True)
def _no_log_level_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for _, own in SERVICES:
        monkeypatch.delenv(own, raising=False)
    monkeypatch.delenv("MALLBRIDGE_LOG_LEVEL", raising=False)


@pytest.mark.parametrize(("settings", "own"), SERVICES)
@pytest.mark.parametrize(
    ("general", "own_value", "option", "expected"),
    [
        (None, None, None, "INFO"),
        ("warning", None, None, "WARNING"),
        (None, "error", None, "ERROR"),
        ("warning", "debug", None, "DEBUG"),  # the service's own variable is the more specific one
        ("warning", "debug", "error", "ERROR"),  # the option wins over both
    ],
)
def test_the_log_level_comes_from_the_option_then_the_services_variable_then_the_general_one(
    monkeypatch: pytest.MonkeyPatch,
    settings: type[BaseSettings],
    own: str,
    general: str | None,
    own_value: str | None,
    option: str | None,
    expected: str,
) -> None:
    if general is not None:
        monkeypatch.setenv("MALLBRIDGE_LOG_LEVEL", general)
    if own_value is not None:
        monkeypatch.setenv(own, own_value)
    assert settings_from(settings, {"log_level": option}).log_level == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("command", "env", "named"),
    [
        (["publisher", "--tenants", "none.toml"], {"MALLBRIDGE_LOG_LEVEL": "loud"}, "MALLBRIDGE_LOG_LEVEL:"),
        (
            ["publisher", "--tenants", "none.toml"],
            {"MALLBRIDGE_LOG_LEVEL": "info", "MALLBRIDGE_PUBLISHER_LOG_LEVEL": "loud"},
            "MALLBRIDGE_PUBLISHER_LOG_LEVEL:",
        ),
        (["run", "--tenants", "none.toml"], {"MALLBRIDGE_LOG_LEVEL": "loud"}, "MALLBRIDGE_LOG_LEVEL:"),
        (["notify", "--tenants", "none.toml"], {"MALLBRIDGE_LOG_LEVEL": "loud"}, "MALLBRIDGE_LOG_LEVEL:"),
    ],
)
def test_a_bad_log_level_is_named_by_the_variable_that_was_set(
    command: list[str], env: dict[str, str], named: str
) -> None:
    result = CliRunner().invoke(main, [*command, "--log", "sqlite:///x.db"], env=env)
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert "'DEBUG', 'INFO', 'WARNING' or 'ERROR'" in result.output
