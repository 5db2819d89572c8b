"""`mallbridge notify` refuses a start it cannot serve, with one clear line and no secret in it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mallbridge_core.cli import main


def test_notify_needs_a_tenants_file() -> None:
    result = CliRunner().invoke(main, ["notify", "--log", "sqlite:///tmp/never-opened.db"])
    assert result.exit_code == 2
    assert "mallbridge notify needs --tenants" in result.stderr


def test_email_alerts_need_an_smtp_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLBRIDGE_SMTP_HOST", raising=False)
    monkeypatch.setenv("ACME_HOOK", "https://hooks.example/services/S3CRET")
    tenants = tmp_path / "tenants.toml"
    tenants.write_text('[tenants.acme]\nnotify_webhook_url = "env:ACME_HOOK"\nnotify_email = "ops@acme.example"\n')
    result = CliRunner().invoke(main, ["notify", "--log", f"sqlite:///{tmp_path}/e.db", "--tenants", str(tenants)])
    assert result.exit_code == 2
    assert "tenants acme have notify_email, but MALLBRIDGE_SMTP_HOST is not set" in result.stderr
    assert "S3CRET" not in result.output + result.stderr


def test_an_inline_webhook_url_is_refused(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.toml"
    tenants.write_text('[tenants.acme]\nnotify_webhook_url = "https://hooks.example/services/S3CRET"\n')
    result = CliRunner().invoke(main, ["notify", "--log", f"sqlite:///{tmp_path}/e.db", "--tenants", str(tenants)])
    assert result.exit_code == 2
    assert "notify_webhook_url: must be a reference 'env:NAME' or 'file:/path'" in result.stderr
    assert "S3CRET" not in result.stderr


def test_a_bad_console_url_names_the_option(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.toml"
    tenants.write_text("[tenants.acme]\n")
    result = CliRunner().invoke(main, ["notify", "--tenants", str(tenants), "--console-base-url", "console.example"])
    assert result.exit_code == 2
    assert "--console-base-url" in result.stderr
    assert "must start with http:// or https://" in result.stderr


def test_a_bad_log_level_names_the_option_and_what_is_allowed(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.toml"
    tenants.write_text("[tenants.acme]\n")
    result = CliRunner().invoke(main, ["notify", "--tenants", str(tenants), "--log-level", "LOUD"])
    assert result.exit_code == 2, result.output
    assert "--log-level / MALLBRIDGE_NOTIFY_LOG_LEVEL: Input should be 'DEBUG', 'INFO'" in result.stderr
