"""The common options: every setting from the environment, an option given on the command line wins, and a
bad value from either side is a usage error naming the option or variable."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from mallbridge_core.cli import main
from mallbridge_core.settings import CommonOptions, CommonSettings, common_options, env_name, settings_from

ENV_NAMES = (
    "MALLBRIDGE_LOG",
    "MALLBRIDGE_KAFKA",
    "MALLBRIDGE_TENANTS",
    "MALLBRIDGE_TOPIC_PREFIX",
    "MALLBRIDGE_PARTITIONS",
)


@click.command()
@common_options
@click.option("--tenant", "tenants", multiple=True)  # a command's own option may be called `tenants`
def show(common: CommonOptions, tenants: tuple[str, ...]) -> None:
    click.echo(f"{common.log_url}|{common.tenants_path}|{common.topic_prefix}|{common.partitions}|{','.join(tenants)}")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def invoke(*args: str, **env: str) -> click.testing.Result:
    return CliRunner().invoke(show, list(args), env=env)


def test_the_defaults() -> None:
    assert invoke().output == "kafka://127.0.0.1:9092|None|mallbridge.|6|\n"


def test_every_setting_from_the_environment() -> None:
    result = invoke(
        MALLBRIDGE_KAFKA="k:1",
        MALLBRIDGE_TENANTS="/etc/t.toml",
        MALLBRIDGE_TOPIC_PREFIX="p.",
        MALLBRIDGE_PARTITIONS="12",
    )
    assert result.output == "kafka://k:1|/etc/t.toml|p.|12|\n"
    assert invoke(MALLBRIDGE_LOG="sqlite:///x.db", MALLBRIDGE_KAFKA="k:1").output.startswith("sqlite:///x.db|")


def test_an_option_given_overrides_only_its_own_setting() -> None:
    result = invoke("--partitions", "3", "--tenant", "acme", MALLBRIDGE_TOPIC_PREFIX="p.", MALLBRIDGE_PARTITIONS="12")
    assert result.output == "kafka://127.0.0.1:9092|None|p.|3|acme\n"
    # a --kafka on the command line beats a MALLBRIDGE_LOG from the environment; a --log beats both
    assert invoke("--kafka", "k:2", MALLBRIDGE_LOG="sqlite:///x.db").output.startswith("kafka://k:2|")
    assert invoke("--log", "sqlite:///y.db", "--kafka", "k:2").output.startswith("sqlite:///y.db|")


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ((), {"MALLBRIDGE_PARTITIONS": "many"}, "MALLBRIDGE_PARTITIONS: Input should be a valid integer"),
        ((), {"MALLBRIDGE_PARTITIONS": "0"}, "MALLBRIDGE_PARTITIONS: Input should be greater than or equal to 1"),
        (("--partitions", "0"), {}, "--partitions / MALLBRIDGE_PARTITIONS: Input should be greater than or equal to 1"),
    ],
)
def test_a_bad_value_names_the_option_or_variable(args: tuple[str, ...], env: dict[str, str], expected: str) -> None:
    result = invoke(*args, **env)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_help_shows_each_variable_and_the_settings_default() -> None:
    text = CliRunner().invoke(show, ["--help"]).output
    for name in ENV_NAMES:
        assert name in text
    assert "default: 127.0.0.1:9092" in text
    assert "default: 6" in text


def test_settings_from_ignores_options_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLBRIDGE_TOPIC_PREFIX", "env.")
    settings = settings_from(CommonSettings, {"topic_prefix": None, "partitions": 2})
    assert (settings.topic_prefix, settings.partitions) == ("env.", 2)
    assert env_name(CommonSettings, "tenants_path") == "MALLBRIDGE_TENANTS"


def test_a_bad_secret_is_named_but_its_value_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import Field, SecretStr
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class WithSecret(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="MALLBRIDGE_TEST_")
        console_token: SecretStr = Field(default=SecretStr("x" * 32), min_length=32)

    monkeypatch.setenv("MALLBRIDGE_TEST_CONSOLE_TOKEN", "short-but-secret")
    with pytest.raises(click.UsageError) as failure:
        settings_from(WithSecret, {"console_token": None})
    assert "MALLBRIDGE_TEST_CONSOLE_TOKEN" in failure.value.message
    assert "short-but-secret" not in failure.value.message


@pytest.mark.parametrize("prefix", ["bad prefix!", "mallbridge/", "ä."])
def test_a_topic_prefix_kafka_cannot_name_topics_with_is_a_usage_error(prefix: str) -> None:
    result = CliRunner().invoke(main, ["audit", "--topic-prefix", prefix, "--log", "sqlite:///nonexistent.db"])
    assert result.exit_code == 2, result.output
    assert "--topic-prefix / MALLBRIDGE_TOPIC_PREFIX" in result.stderr
