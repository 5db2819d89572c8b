"""Partners files (TOML, JSON, a mallbridge tenants file) and --partner options; secrets stay out of errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mallbridge_sandbox.partners import (
    Partner,
    PartnersError,
    load_partners,
    parse_partner_option,
    parse_webhook_option,
)
from mallbridge_sandbox.requestlog import mask_query


def test_toml_partners(tmp_path: Path) -> None:
    file = tmp_path / "p.toml"
    file.write_text(
        '[partners.acme]\nclient_id = "k1"\nquota = 5\nwindow_seconds = 60\n[partners.globex]\nclient_id = "k2"\n',
        encoding="utf-8",
    )
    assert load_partners(file) == [Partner("acme", "k1", 5, 60), Partner("globex", "k2")]


def test_json_table_and_list_forms(tmp_path: Path) -> None:
    table, listing = tmp_path / "t.json", tmp_path / "l.json"
    table.write_text(json.dumps({"partners": {"acme": {"client_id": "k1", "quota": 9}}}), encoding="utf-8")
    listing.write_text(json.dumps([{"name": "acme", "client_id": "k1", "quota": 9}]), encoding="utf-8")
    assert load_partners(table) == load_partners(listing) == [Partner("acme", "k1", 9)]


def test_a_tenants_file_is_a_partners_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_MALL_CLIENT_ID", "acme-secret")
    file = tmp_path / "tenants.toml"
    file.write_text(
        '[tenants.acme]\nmall_client_id = "env:ACME_MALL_CLIENT_ID"\ningest_secret = "env:UNSET_X"\n'
        'daily_request_budget = 300\n[tenants.noshop]\ningest_secret = "env:UNSET_Y"\n',
        encoding="utf-8",
    )
    assert load_partners(file) == [Partner("acme", "acme-secret", 300)]


def test_secret_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "key"
    secret_file.write_text("from-file\n", encoding="utf-8")
    monkeypatch.setenv("KEY_ENV", "from-env")
    assert parse_partner_option(f"a=file:{secret_file}").client_id == "from-file"
    assert parse_partner_option("b=env:KEY_ENV", quota=3) == Partner("b", "from-env", 3)
    with pytest.raises(PartnersError, match="KEY_MISSING is not set"):
        parse_partner_option("c=env:KEY_MISSING")


@pytest.mark.parametrize(
    "text",
    [
        '[partners.acme]\nclient_id = ""\n',
        '[partners.acme]\nclient_id = "k"\nquota = "many"\n',
        '[partners.acme]\nclient_id = "k"\ncolour = "red"\n',
        '[partners."bad name"]\nclient_id = "k"\n',
        '[partners.a]\nclient_id = "dup-secret"\n[partners.b]\nclient_id = "dup-secret"\n',
        "[nothing]\n",
        "not toml at all = = =",
    ],
)
def test_invalid_files_are_refused_without_secrets(tmp_path: Path, text: str) -> None:
    file = tmp_path / "p.toml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(PartnersError) as info:
        load_partners(file)
    assert "dup-secret" not in str(info.value)


def test_client_id_never_in_repr() -> None:
    assert "s3cr3t" not in repr(Partner("acme", "s3cr3t"))


@pytest.mark.parametrize(
    ("query", "masked"),
    [
        ("client_id=abc", "client_id=***"),
        ("a=1&client_id=abc&b=2", "a=1&client_id=***&b=2"),
        ("client%5Fid=abc&client_id=", "client%5Fid=***&client_id=***"),
        ("client_id", "client_id"),
        ("status=in%3Aopen%2Cshipping", "status=in%3Aopen%2Cshipping"),
        ("", ""),
    ],
)
def test_mask_query(query: str, masked: str) -> None:
    assert mask_query(query) == masked


def test_webhook_and_latency_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_HOOK", "https://ingest.example.com/v1/tenants/acme/mall-webhook/tok-secret")
    file = tmp_path / "p.toml"
    file.write_text(
        '[partners.acme]\nclient_id = "k1"\nwebhook_url = "env:ACME_HOOK"\nwebhook_interval_s = 0.5\n'
        'latency_ms = 50\n[partners.globex]\nclient_id = "k2"\nwebhook_url = "http://127.0.0.1:9/h"\n',
        encoding="utf-8",
    )
    acme, globex = load_partners(file)
    assert acme.webhook_url == "https://ingest.example.com/v1/tenants/acme/mall-webhook/tok-secret"
    assert (acme.webhook_interval_s, acme.latency_ms) == (0.5, 50)
    assert (globex.webhook_url, globex.webhook_interval_s, globex.latency_ms) == ("http://127.0.0.1:9/h", None, None)
    assert "tok-secret" not in repr(acme)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('webhook_url = "ftp://host/x-secret"', "absolute http"),
        ('webhook_url = "not a url-secret"', "absolute http"),
        ("webhook_url = 7", "webhook_url must be a non-empty string"),
        ('webhook_interval_s = "soon"', "webhook_interval_s must be a number"),
        ("webhook_interval_s = -1", "webhook_interval_s must be >= 0"),
        ("latency_ms = 70000", "latency_ms must be 0..60000"),
        ("latency_ms = 1.5", "latency_ms must be an integer"),
    ],
)
def test_bad_webhook_and_latency_keys_are_refused(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "p.toml"
    file.write_text(f'[partners.acme]\nclient_id = "k"\n{text}\n', encoding="utf-8")
    with pytest.raises(PartnersError, match=message) as caught:
        load_partners(file)
    assert "secret" not in str(caught.value)


def test_webhook_option() -> None:
    assert parse_webhook_option("acme=http://127.0.0.1:8080/hooks/t") == ("acme", "http://127.0.0.1:8080/hooks/t")
    for bad in ("acme", "=http://x/y", "acme=mailto:x-secret"):
        with pytest.raises(PartnersError) as caught:
            parse_webhook_option(bad)
        assert "secret" not in str(caught.value)


def test_a_tenants_file_with_a_webhook_base_gives_each_token_its_ingest_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_MALL_CLIENT_ID", "acme-secret")
    monkeypatch.setenv("ACME_HOOK_TOKEN", "tok/+1")
    file = tmp_path / "tenants.toml"
    file.write_text(
        '[tenants.acme]\nmall_client_id = "env:ACME_MALL_CLIENT_ID"\nmall_webhook_token = "env:ACME_HOOK_TOKEN"\n'
        '[tenants.globex]\nmall_client_id = "globex-inline"\n',
        encoding="utf-8",
    )
    acme, globex = load_partners(file, webhook_base="http://ingest:8080/")
    assert acme.webhook_url == "http://ingest:8080/v1/tenants/acme/mall-webhook/tok%2F%2B1"
    assert globex.webhook_url is None  # no token: no webhook
    assert load_partners(file)[0].webhook_url is None  # no base: no webhook
    monkeypatch.delenv("ACME_HOOK_TOKEN")
    with pytest.raises(PartnersError, match="ACME_HOOK_TOKEN is not set"):
        load_partners(file, webhook_base="http://ingest:8080")
