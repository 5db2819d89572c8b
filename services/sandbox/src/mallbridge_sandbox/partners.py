"""The partner accounts the sandbox knows: name, client_id, daily quota.

A partners file is TOML or JSON (by suffix `.json`, else TOML), one of:

```toml
[partners.acme]
client_id = "acme-sandbox-key"      # inline, or env:NAME / file:/path
quota = 5000                        # optional, requests per window (default 10000)
window_seconds = 86400              # optional (default one day)
webhook_url = "env:ACME_WEBHOOK"    # optional: where MALL's webhook POSTs (inline, env:NAME, file:/path)
webhook_interval_s = 60             # optional (default: the sandbox's --webhook-interval)
latency_ms = 50                     # optional: added to each /v1 answer (default: the sandbox's --latency-ms)
```

or a mallbridge tenants file (`[tenants.<id>]` with `mall_client_id` and optional `daily_request_budget`),
so the demo and compose can hand the same file to the sandbox and to the services. JSON takes the same
tables (`{"partners": {"acme": {...}}}`) or a list (`{"partners": [{"name": "acme", ...}]}`).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mallbridge_core.tenants import TENANT_ID_PATTERN, TenantsFileError, resolve_secret
from mallbridge_sandbox.quota import DAY_SECONDS, DEFAULT_QUOTA
from mallbridge_sandbox.webhooks import check_webhook_url

MAX_LATENCY_MS = 60_000

_SECRET_REF = re.compile(r"^(env|file):.+$")


class PartnersError(ValueError):
    """A partners file or --partner option that cannot be used. Messages never carry a client_id."""


@dataclass(frozen=True)
class Partner:
    name: str
    client_id: str = field(repr=False)
    quota: int = DEFAULT_QUOTA
    window_seconds: int = DAY_SECONDS
    webhook_url: str | None = field(default=None, repr=False)  # a secret: its path carries the receiver's token
    webhook_interval_s: float | None = None  # None: the sandbox's default
    latency_ms: int | None = None  # None: the sandbox's global latency

    def __post_init__(self) -> None:
        if not re.match(TENANT_ID_PATTERN, self.name):
            raise PartnersError(f"partner name {self.name!r} must match {TENANT_ID_PATTERN}")
        if not self.client_id:
            raise PartnersError(f"partner {self.name}: client_id is empty")
        if self.quota < 0 or self.window_seconds <= 0:
            raise PartnersError(f"partner {self.name}: quota must be >= 0 and window_seconds > 0")
        if self.webhook_url is not None:
            try:
                check_webhook_url(self.webhook_url)
            except ValueError as exc:
                raise PartnersError(f"partner {self.name}: {exc}") from None
        if self.webhook_interval_s is not None and not self.webhook_interval_s >= 0:
            raise PartnersError(f"partner {self.name}: webhook_interval_s must be >= 0 (seconds)")
        if self.latency_ms is not None and not 0 <= self.latency_ms <= MAX_LATENCY_MS:
            raise PartnersError(f"partner {self.name}: latency_ms must be 0..{MAX_LATENCY_MS}")


def _secret_value(value: Any, *, where: str, name: str = "client_id") -> str:
    """The value itself, or what an env:NAME / file:/path reference points to."""
    if not isinstance(value, str) or not value.strip():
        raise PartnersError(f"{where}: {name} must be a non-empty string")
    if _SECRET_REF.match(value.strip()):
        try:
            return resolve_secret(value, where=where).get_secret_value()
        except TenantsFileError as exc:
            raise PartnersError(str(exc)) from None
    return value


def _int(raw: dict[str, Any], key: str, default: int, *, where: str) -> int:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise PartnersError(f"{where}: {key} must be an integer")
    return value


def _seconds(raw: dict[str, Any], key: str, *, where: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise PartnersError(f"{where}: {key} must be a number of seconds")
    return float(value)


_TABLE_KEYS = ("client_id", "quota", "window_seconds", "webhook_url", "webhook_interval_s", "latency_ms")


def _from_table(name: str, raw: Any, *, where: str) -> Partner:
    if not isinstance(raw, dict):
        raise PartnersError(f"{where}: must be a table/object")
    unknown = set(raw) - {"name", *_TABLE_KEYS}
    if unknown:
        raise PartnersError(f"{where}: unknown keys {sorted(unknown)}; allowed: {', '.join(_TABLE_KEYS)}")
    webhook = raw.get("webhook_url")
    return Partner(
        name=name,
        client_id=_secret_value(raw.get("client_id"), where=where),
        quota=_int(raw, "quota", DEFAULT_QUOTA, where=where),
        window_seconds=_int(raw, "window_seconds", DAY_SECONDS, where=where),
        webhook_url=None if webhook is None else _secret_value(webhook, where=where, name="webhook_url"),
        webhook_interval_s=_seconds(raw, "webhook_interval_s", where=where),
        latency_ms=None if raw.get("latency_ms") is None else _int(raw, "latency_ms", 0, where=where),
    )


def ingest_webhook_url(base: str, tenant: str, token: str) -> str:
    """Where mallbridge's ingest takes MALL's webhook (ARCHITECTURE.md §6): BASE/v1/tenants/ID/mall-webhook/TOKEN."""
    return f"{base.rstrip('/')}/v1/tenants/{quote(tenant, safe='')}/mall-webhook/{quote(token, safe='')}"


def _from_tenants(table: dict[str, Any], *, source: str, webhook_base: str | None) -> list[Partner]:
    partners = []
    for name, raw in table.items():
        where = f"{source}: [tenants.{name}]"
        if not isinstance(raw, dict) or raw.get("mall_client_id") is None:
            continue  # a tenant without a MALL account has no partner here
        webhook = None
        if webhook_base is not None and raw.get("mall_webhook_token") is not None:
            token = _secret_value(raw["mall_webhook_token"], where=f"{where} mall_webhook_token", name="token")
            webhook = ingest_webhook_url(webhook_base, name, token)
        partners.append(
            Partner(
                name=name,
                client_id=_secret_value(raw["mall_client_id"], where=f"{where} mall_client_id"),
                quota=_int(raw, "daily_request_budget", DEFAULT_QUOTA, where=where),
                webhook_url=webhook,
            )
        )
    return partners


def parse_partners(data: Any, *, source: str = "partners file", webhook_base: str | None = None) -> list[Partner]:
    """`webhook_base` (ingest's base URL) gives each tenant of a tenants file with a `mall_webhook_token` its
    webhook URL; it does not apply to [partners] tables, which name `webhook_url` themselves."""
    if isinstance(data, list):
        data = {"partners": data}
    if not isinstance(data, dict):
        raise PartnersError(f"{source}: expected a [partners] table or a partners list")
    if "partners" not in data and isinstance(data.get("tenants"), dict):
        tenants = _from_tenants(data["tenants"], source=source, webhook_base=webhook_base)
        return check_unique(tenants, source=source)
    table = data.get("partners")
    partners: list[Partner] = []
    if isinstance(table, dict):
        partners = [_from_table(n, raw, where=f"{source}: [partners.{n}]") for n, raw in table.items()]
    elif isinstance(table, list):
        for i, raw in enumerate(table):
            name = raw.get("name") if isinstance(raw, dict) else None
            if not isinstance(name, str):
                raise PartnersError(f"{source}: partners[{i}] needs a name")
            partners.append(_from_table(name, raw, where=f"{source}: partners[{i}] ({name})"))
    else:
        raise PartnersError(f"{source}: needs [partners.<name>] tables (or [tenants.<id>] with mall_client_id)")
    return check_unique(partners, source=source)


def load_partners(path: str | Path, *, webhook_base: str | None = None) -> list[Partner]:
    file = Path(path)
    source = f"partners file {file}"
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PartnersError(f"{source}: {exc.strerror}") from None
    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise PartnersError(f"{source}: cannot parse: {exc}") from None
    return parse_partners(data, source=source, webhook_base=webhook_base)


def parse_partner_option(spec: str, *, quota: int = DEFAULT_QUOTA) -> Partner:
    """`NAME=CLIENT_ID` (the client_id may be env:NAME or file:/path)."""
    name, sep, client_id = spec.partition("=")
    if not sep or not name:
        raise PartnersError("--partner must look like NAME=CLIENT_ID")
    return Partner(name=name.strip(), client_id=_secret_value(client_id, where=f"--partner {name}"), quota=quota)


def parse_webhook_option(spec: str) -> tuple[str, str]:
    """`NAME=URL` (the URL may be env:NAME or file:/path: its path carries the receiver's token)."""
    name, sep, url = spec.partition("=")
    if not sep or not name.strip():
        raise PartnersError("--webhook must look like NAME=URL")
    value = _secret_value(url, where=f"--webhook {name.strip()}", name="URL")
    try:
        return name.strip(), check_webhook_url(value)
    except ValueError as exc:
        raise PartnersError(f"--webhook {name.strip()}: {exc}") from None


def check_unique(partners: Iterable[Partner], *, source: str = "partners") -> list[Partner]:
    result = list(partners)
    names = [p.name for p in result]
    if len(set(names)) != len(names):
        raise PartnersError(f"{source}: partner names must be unique")
    if len({p.client_id for p in result}) != len(result):
        raise PartnersError(f"{source}: two partners share a client_id")
    return result
