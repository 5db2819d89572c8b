"""The tenants file: one parser, secrets resolved only when a command needs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mallbridge_core.tenants import TenantsFileError, load_tenants, parse_tenants

FILE = """
[tenants.acme]
mall_client_id = "env:TEST_TENANTS_ACME_KEY"
ingest_secret = "file:/nonexistent/secret"
lane = "big"
"""


def test_without_resolving_secrets_a_file_whose_secrets_are_absent_still_gives_tenants_and_lanes() -> None:
    tenants = parse_tenants(FILE, resolve_secrets=False)
    assert tenants["acme"].lane == "big"
    assert tenants["acme"].mall_client_id is None
    assert tenants["acme"].ingest_secret is None


def test_resolving_secrets_names_the_reference_that_failed_never_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_TENANTS_ACME_KEY", "s3cret-value")
    with pytest.raises(TenantsFileError) as caught:
        parse_tenants(FILE)
    assert "ingest_secret" in str(caught.value)
    assert "/nonexistent/secret" in str(caught.value)
    assert "s3cret-value" not in str(caught.value)


def test_resolved_secrets_do_not_print(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TEST_TENANTS_ACME_KEY", "s3cret-value")
    secret_file = tmp_path / "ingest"
    secret_file.write_text("push-secret\n", encoding="utf-8")
    path = tmp_path / "tenants.toml"
    path.write_text(FILE.replace("/nonexistent/secret", str(secret_file)), encoding="utf-8")
    tenant = load_tenants(path)["acme"]
    assert tenant.ingest_secret is not None
    assert tenant.ingest_secret.get_secret_value() == "push-secret"
    assert "s3cret-value" not in repr(tenant)


def test_a_secret_file_that_is_not_utf8_is_refused_naming_the_file_not_its_content(tmp_path: Path) -> None:
    secret_file = tmp_path / "client-id"
    secret_file.write_bytes("s3cret-value".encode("utf-16"))  # as a Windows editor may save it
    with pytest.raises(TenantsFileError) as caught:
        parse_tenants(f'[tenants.acme]\nmall_client_id = "file:{secret_file}"\n')
    assert f"mall_client_id: file {secret_file} is not UTF-8 text" in str(caught.value)
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[tenants.acme]\nlane = "Big Lane"\n', "lane"),
        ('[tenants."bad id!"]\n', "tenant id must match"),
        ("[tenants.acme]\nunknown_setting = 1\n", "unknown_setting"),
        ("not toml [", "not valid TOML"),
        ("[tenants.acme]\nmall_clientid = 1\n", "mall_clientid: unknown key; allowed: mall_client_id, ingest_secret"),
        ('[tenants]\nacme = "x"\n', r"\[tenants.acme\]: not a table of settings"),
        ('[tenants.acme]\nmall_base_url = "https://"\n', "mall_base_url: is not a valid URL"),
        ('[tenants.acme]\nmall_base_url = "http://exa mple.com/v1"\n', "mall_base_url: is not a valid URL"),
        ('[tenants.acme]\nmall_base_url = "http://127.0.0.1:99999/v1"\n', "mall_base_url: is not a valid URL"),
        ('[tenants.acme]\nmall_base_url = "http://[::1/v1"\n', "mall_base_url: is not a valid URL"),
        ('[tenants.acme]\nmall_base_url = "ftp://example.com"\n', "must start with http:// or https://"),
        ("[tenants.acme]\nmall_poll_interval_s = true\n", "mall_poll_interval_s"),
        ("[tenants.acme]\nmall_poll_interval_s = inf\n", "mall_poll_interval_s: Input should be a finite number"),
        ("[tenants.acme]\npoll_interval_s = nan\n", "poll_interval_s"),
    ],
)
def test_a_bad_file_is_refused_the_same_way_with_or_without_secrets(text: str, message: str) -> None:
    for resolve in (True, False):
        with pytest.raises(TenantsFileError, match=message):
            parse_tenants(text, resolve_secrets=resolve)


def test_mall_side_and_notify_settings_default_and_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_TENANTS_HOOK", "hook-token")
    text = '[tenants.a]\nmall_webhook_token = "env:TEST_TENANTS_HOOK"\nmall_poll_interval_s = 0\n[tenants.b]\n'
    tenants = parse_tenants(text)
    assert tenants["a"].mall_webhook_token is not None
    assert tenants["a"].mall_webhook_token.get_secret_value() == "hook-token"
    assert tenants["a"].mall_poll_interval_s == 0
    assert tenants["b"].mall_webhook_token is None
    assert tenants["b"].mall_poll_interval_s == 900
    with pytest.raises(TenantsFileError, match="mall_poll_interval_s"):
        parse_tenants("[tenants.a]\nmall_poll_interval_s = -1\n")
    with pytest.raises(TenantsFileError, match="mall_webhook_token"):
        parse_tenants('[tenants.a]\nmall_webhook_token = "inline-token"\n')


def test_a_file_that_is_not_utf8_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tenants.toml"
    path.write_bytes(b'[tenants.acme]\nlane = "\xff"\n')
    with pytest.raises(TenantsFileError, match="not UTF-8 text"):
        load_tenants(path)


def test_mall_base_url_keeps_a_host_with_a_port_and_drops_a_trailing_slash() -> None:
    text = '[tenants.acme]\nmall_base_url = "http://[::1]:19090/v1/"\n'
    assert parse_tenants(text, resolve_secrets=False)["acme"].mall_base_url == "http://[::1]:19090/v1"


def test_an_export_url_that_is_no_http_address_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACME_EXPORT", "https://shop.example:99999/export.csv?token=T0P-SECRET")
    with pytest.raises(TenantsFileError, match="export_url: the URL it names is not a valid URL") as refused:
        parse_tenants('[tenants.acme]\nexport_url = "env:ACME_EXPORT"\n')
    assert "T0P-SECRET" not in str(refused.value)


SHARED = """
[tenants.acme]
mall_client_id = "env:TEST_TENANTS_ACME_KEY"
ingest_secret = "env:TEST_TENANTS_ACME_PUSH"
mall_webhook_token = "env:TEST_TENANTS_ACME_HOOK"

[tenants.globex]
mall_client_id = "env:TEST_TENANTS_GLOBEX_KEY"
ingest_secret = "env:TEST_TENANTS_ACME_PUSH"
mall_webhook_token = "env:TEST_TENANTS_GLOBEX_HOOK"
"""


def test_two_tenants_with_the_same_credential_are_named_in_a_warning_without_the_value(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TEST_TENANTS_ACME_KEY", "client-one")
    monkeypatch.setenv("TEST_TENANTS_GLOBEX_KEY", "client-two")
    monkeypatch.setenv("TEST_TENANTS_ACME_PUSH", "copied-push-secret")
    monkeypatch.setenv("TEST_TENANTS_ACME_HOOK", "change-me")
    monkeypatch.setenv("TEST_TENANTS_GLOBEX_HOOK", "change-me")  # another reference, the same placeholder
    with caplog.at_level("WARNING", logger="mallbridge_core.tenants"):
        tenants = parse_tenants(SHARED)
    assert set(tenants) == {"acme", "globex"}  # still loaded: one merchant's two shops may share on purpose
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert "tenants acme, globex have the same ingest_secret" in warnings[0]
    assert "tenants acme, globex have the same mall_webhook_token" in warnings[1]
    assert not any(v in w for w in warnings for v in ("copied-push-secret", "change-me", "client-"))


def test_credentials_are_not_compared_when_they_are_not_resolved(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="mallbridge_core.tenants"):
        parse_tenants(SHARED, resolve_secrets=False)
    assert caplog.records == []
