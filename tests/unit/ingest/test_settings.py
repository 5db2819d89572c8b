"""Ingest settings: MALLBRIDGE_INGEST_* from the environment, the command line's options over them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mallbridge_core.settings import CommonOptions
from mallbridge_ingest import cli
from mallbridge_ingest.config import IngestSettings

COMMON = CommonOptions(log_url="sqlite:///x.db", tenants_path=None, topic_prefix="p.", partitions=1)


def test_defaults_and_the_common_topic_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = IngestSettings.from_command_line(COMMON)
    assert (settings.host, settings.port, settings.run_pollers, settings.topic_prefix) == (
        "127.0.0.1",
        8080,
        True,
        "p.",
    )
    assert settings.push_rate_of("any") == 200.0


def test_the_environment_sets_and_a_given_option_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLBRIDGE_INGEST_PORT", "9000")
    monkeypatch.setenv("MALLBRIDGE_INGEST_HOST", "0.0.0.0")
    monkeypatch.setenv("MALLBRIDGE_INGEST_RUN_POLLERS", "false")
    monkeypatch.setenv("MALLBRIDGE_INGEST_PUSH_RATE_PER_S", "5")
    monkeypatch.setenv("MALLBRIDGE_INGEST_PUSH_RATE_PER_TENANT", '{"big": 500}')
    from_env = IngestSettings.from_command_line(COMMON, host=None, port=None, run_pollers=None)
    assert (from_env.host, from_env.port, from_env.run_pollers) == ("0.0.0.0", 9000, False)
    assert (from_env.push_rate_of("small"), from_env.push_rate_of("big")) == (5.0, 500.0)
    given = IngestSettings.from_command_line(COMMON, port=8123, run_pollers=True)
    assert (given.host, given.port, given.run_pollers) == ("0.0.0.0", 8123, True)


def test_a_bad_variable_is_named_by_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLBRIDGE_INGEST_PUSH_BURST", "0")
    result = CliRunner().invoke(cli.ingest, ["--tenants", "none.toml", "--log", "sqlite:///x.db"])
    assert result.exit_code == 2  # a usage error, as in the other services
    assert "MALLBRIDGE_INGEST_PUSH_BURST" in result.output


def test_a_bad_option_is_named_as_the_option_and_its_variable() -> None:
    result = CliRunner().invoke(cli.ingest, ["--port", "99999", "--tenants", "none.toml", "--log", "sqlite:///x.db"])
    assert result.exit_code == 2
    assert "--port / MALLBRIDGE_INGEST_PORT" in result.output
    assert "65535" in result.output


def test_hot_orders_comes_from_the_environment_and_a_negative_count_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert IngestSettings.from_command_line(COMMON).hot_orders == 5_000
    monkeypatch.setenv("MALLBRIDGE_INGEST_HOT_ORDERS", "0")
    assert IngestSettings.from_command_line(COMMON).hot_orders == 0
    monkeypatch.setenv("MALLBRIDGE_INGEST_HOT_ORDERS", "-1")
    result = CliRunner().invoke(cli.ingest, ["--tenants", "none.toml", "--log", "sqlite:///x.db"])
    assert result.exit_code == 2
    assert "MALLBRIDGE_INGEST_HOT_ORDERS" in result.output


@pytest.mark.parametrize(
    ("args", "env"), [(["--log-level", "LOUD"], {}), ([], {"MALLBRIDGE_INGEST_LOG_LEVEL": "loud"})]
)
def test_a_bad_log_level_is_a_usage_error_saying_what_is_allowed(args: list[str], env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli.ingest, [*args, "--tenants", "none.toml", "--log", "sqlite:///x.db"], env=env)
    assert result.exit_code == 2, result.output  # was a ValueError traceback from logging, after the settings
    assert "MALLBRIDGE_INGEST_LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'" in result.output


def test_a_bad_general_log_level_is_named_as_the_variable_that_was_set() -> None:
    env = {"MALLBRIDGE_LOG_LEVEL": "loud"}
    result = CliRunner().invoke(cli.ingest, ["--tenants", "none.toml", "--log", "sqlite:///x.db"], env=env)
    assert result.exit_code == 2, result.output
    assert "MALLBRIDGE_LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR' (got 'LOUD')" in result.output
    assert "MALLBRIDGE_INGEST_LOG_LEVEL" not in result.output


@pytest.mark.parametrize(
    ("env", "option", "expected"),
    [
        ({"MALLBRIDGE_LOG_LEVEL": "warning"}, None, "WARNING"),
        ({"MALLBRIDGE_INGEST_LOG_LEVEL": "error"}, None, "ERROR"),
        # the service's own variable is more specific than the general one: it wins (the general one did)
        ({"MALLBRIDGE_LOG_LEVEL": "warning", "MALLBRIDGE_INGEST_LOG_LEVEL": "debug"}, None, "DEBUG"),
        ({"MALLBRIDGE_LOG_LEVEL": "warning", "MALLBRIDGE_INGEST_LOG_LEVEL": "debug"}, "error", "ERROR"),
        ({}, None, "INFO"),
    ],
)
def test_the_log_level_comes_from_the_option_then_the_services_variable_then_the_general_one(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], option: str | None, expected: str
) -> None:
    for name in ("MALLBRIDGE_LOG_LEVEL", "MALLBRIDGE_INGEST_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert IngestSettings.from_command_line(COMMON, log_level=option).log_level == expected


def test_the_log_level_is_taken_in_any_case() -> None:
    assert IngestSettings.from_command_line(COMMON, log_level="warning").log_level == "WARNING"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("notjson", 'not JSON; allowed: a JSON object of tenant id to pushes per second, e.g. {"big": 500}'),
        ("[500]", "Input should be a valid dictionary"),
        ('{"big": -1}', "Input should be greater than or equal to 0"),
    ],
)
def test_a_bad_per_tenant_push_rate_names_its_variable(value: str, expected: str) -> None:
    env = {"MALLBRIDGE_INGEST_PUSH_RATE_PER_TENANT": value}
    result = CliRunner().invoke(cli.ingest, ["--tenants", "none.toml", "--log", "sqlite:///x.db"], env=env)
    assert result.exit_code == 2, result.output  # text that is not JSON was pydantic-settings' SettingsError traceback
    assert "MALLBRIDGE_INGEST_PUSH_RATE_PER_TENANT: " in result.output
    assert expected in result.output


def test_a_bad_variable_stops_an_import_before_it_starts(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.toml"
    tenants.write_text("[tenants.acme]\n")
    snapshots = tmp_path / "orders.jsonl"
    snapshots.write_text('{"order_number": "1", "mall_order_id": "1", "status": "pending"}\n')
    args = [
        "import",
        str(snapshots),
        "--tenant",
        "acme",
        "--tenants",
        str(tenants),
        "--log",
        f"sqlite:///{tmp_path}/e.db",
    ]
    result = CliRunner().invoke(cli.ingest, args, env={"MALLBRIDGE_INGEST_PUSH_BURST": "0"})
    # was a ValidationError traceback from the worker and exit 1, the code that says "some lines rejected"
    assert result.exit_code == 2, result.output
    assert "MALLBRIDGE_INGEST_PUSH_BURST: Input should be greater than or equal to 1" in result.output
    assert not (tmp_path / "e.db").exists()
