"""The `mallbridge` command itself: subcommands come from the installed packages' entry points; an event log
that cannot be reached is one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mallbridge_core import cli as mallbridge_cli
from mallbridge_core.cli import main

EVERY_SUBCOMMAND = {
    "asyncapi",
    "audit",
    "balance",
    "demo",
    "ingest",
    "log",
    "notify",
    "order",
    "publisher",
    "run",
    "sandbox",
}


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
    assert any(words in result.stderr for words in ("no event log at", "Kafka at 127.0.0.1:9"))


def test_kafkas_own_connection_errors_do_not_come_before_the_one_error_line() -> None:
    # In a process of its own: the Kafka client logs through Python's last-resort handler there.
    probe = "from mallbridge_core.cli import main; main(['audit', '--log', 'kafka://127.0.0.1:9'])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: Kafka at 127.0.0.1:9")


@pytest.mark.parametrize("log", ["foo://bar", "sqlite://relative.db", "kafka://"])
def test_an_unsupported_log_url_is_a_usage_error_naming_what_is_allowed(log: str) -> None:
    result = CliRunner().invoke(main, ["audit", "--log", log])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr
    assert "--log" in result.stderr


def test_the_audit_of_an_embedded_log_that_is_not_there_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    result = CliRunner().invoke(main, ["audit", "--verify", "--log", f"sqlite://{missing}"])
    assert result.exit_code == 2, result.output
    assert "no event log at" in result.stderr
    assert not missing.exists()


def test_every_package_registers_its_subcommands_under_their_own_name() -> None:
    registered = mallbridge_cli.registered_commands()
    assert set(registered) == EVERY_SUBCOMMAND
    ctx = click.Context(main, info_name="mallbridge")
    for name in registered:
        command = main.get_command(ctx, name)
        assert isinstance(command, click.Command)
        assert command.name == name
        assert not mallbridge_cli.is_unloadable(command), name


def test_help_lists_every_subcommand_with_its_summary_without_importing_any_service() -> None:
    # a fresh interpreter: the test session has imported every package long ago
    probe = (
        "import json, sys\n"
        "from click.testing import CliRunner\n"
        "from mallbridge_core.cli import main\n"
        "result = CliRunner().invoke(main, ['--help'])\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules if m.startswith('mallbridge_')})\n"
        "print(json.dumps({'output': result.output, 'code': result.exit_code, 'loaded': loaded}))\n"
    )
    answer = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, check=True).stdout)

    assert answer["code"] == 0
    assert answer["loaded"] == ["mallbridge_core"]
    rows = {line.split()[0]: line for line in answer["output"].split("Commands:")[1].splitlines() if line[:3].strip()}
    assert set(rows) == EVERY_SUBCOMMAND
    assert "Ingest and publisher in one process." in rows["run"]
    assert "Project order events into MALL statuses" in rows["publisher"]
    assert "Push attention items to each tenant's webhook and e-mail." in rows["notify"]


def test_an_unknown_subcommand_names_the_installed_ones() -> None:
    result = CliRunner().invoke(main, ["pubilsher"])
    assert result.exit_code == 2
    installed = ", ".join(sorted(EVERY_SUBCOMMAND))
    assert f"no subcommand 'pubilsher' here (installed: {installed})" in result.stderr


def test_a_registered_module_that_cannot_be_imported_is_an_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importlib.metadata import EntryPoint

    broken = EntryPoint("audit", "mallbridge_gone.cli:audit", mallbridge_cli.COMMANDS_GROUP)
    monkeypatch.setattr(mallbridge_cli, "registered_commands", lambda: {"audit": broken})

    result = CliRunner().invoke(main, ["audit"])

    assert result.exit_code == 1
    assert "'audit' is registered by mallbridge_gone, but its module cannot be imported" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_findings_table_without_verify_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["audit", "--format", "csv", "--csv-table", "findings"])
    assert result.exit_code == 2, result.output
    assert "--csv-table findings needs --verify" in result.stderr
