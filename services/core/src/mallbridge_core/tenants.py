"""The tenants file (ARCHITECTURE.md §4, contract): one TOML table per merchant tenant.

```toml
[tenants.acme]
mall_client_id = "env:ACME_MALL_CLIENT_ID"   # secret: env:NAME or file:/path, never inline
ingest_secret  = "env:ACME_INGEST_SECRET"    # secret: env:NAME or file:/path
mall_base_url  = "https://mpapi.mallgroup.com/v1"   # optional
lane = "default"                             # optional: the lane whose topics carry this tenant
export_url = "file:/run/secrets/acme-export-url"    # optional: FastCentrik export URL to poll (secret ref)
poll_interval_s = 300                        # optional
daily_request_budget = 20000                 # optional: MALL order-API requests per day
mall_webhook_token = "env:ACME_MALL_WEBHOOK_TOKEN"  # optional: secret in the URL MALL's webhook posts to
mall_poll_interval_s = 900                   # optional: poll MALL's unconfirmed queue (0 = off)
notify_webhook_url = "env:ACME_NOTIFY_URL"   # optional: where attention alerts go (secret ref)
notify_email = "ops@acme.example"            # optional: attention alerts by e-mail
```
Secrets are resolved once at startup into `pydantic.SecretStr`, so they never print. Two tenants that
resolve the same credential (a copied table whose references were not renamed, a placeholder such as
`change-me` left for every tenant) are named in a warning, never the value: a push signed with one
tenant's `ingest_secret` would be accepted for the other, and the MALL webhook token likewise.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails

from mallbridge_core.topics import DEFAULT_LANE, LANE_PATTERN

__all__ = [
    "DEFAULT_LANE",
    "DEFAULT_MALL_BASE_URL",
    "TENANT_ID_PATTERN",
    "Tenant",
    "TenantsFileError",
    "load_tenants",
    "parse_tenants",
    "resolve_secret",
]

log = logging.getLogger(__name__)

DEFAULT_MALL_BASE_URL = "https://mpapi.mallgroup.com/v1"
_URL_HINT = f"an http:// or https:// URL with a host, e.g. {DEFAULT_MALL_BASE_URL}"
TENANT_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_SECRET_REF = re.compile(r"^(env|file):(.+)$")


class TenantsFileError(ValueError):
    """The tenants file is missing, malformed, or names a secret that cannot be resolved."""


def resolve_secret(reference: str, *, where: str) -> SecretStr:
    """`env:NAME` or `file:/path` → the secret value. Errors name the reference, never the value."""
    match = _SECRET_REF.match(reference.strip())
    if match is None:
        raise TenantsFileError(f"{where}: must be a reference 'env:NAME' or 'file:/path' (inline secrets are refused)")
    kind, target = match.groups()
    if kind == "env":
        value = os.environ.get(target)
        if not value:
            raise TenantsFileError(f"{where}: environment variable {target} is not set")
    else:
        try:
            value = Path(target).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise TenantsFileError(f"{where}: cannot read {target}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:  # e.g. saved as UTF-16 by an editor; never a part of the value
            problem = f"not UTF-8 text (byte {exc.start}); allowed: the secret as UTF-8 text"
            raise TenantsFileError(f"{where}: file {target} is {problem}") from None
        if not value:
            raise TenantsFileError(f"{where}: file {target} is empty")
    return SecretStr(value)


class _RawTenant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mall_client_id: str | None = None
    ingest_secret: str | None = None
    mall_base_url: str = DEFAULT_MALL_BASE_URL
    lane: Annotated[str, Field(pattern=f"^{LANE_PATTERN}$")] = DEFAULT_LANE
    export_url: str | None = None
    export_mapping: str = "sample-csv"
    poll_interval_s: float = Field(default=300.0, gt=0, strict=True, allow_inf_nan=False)
    daily_request_budget: int | None = Field(default=None, gt=0, strict=True)
    mall_webhook_token: str | None = None
    mall_poll_interval_s: float = Field(default=900.0, ge=0, strict=True, allow_inf_nan=False)
    notify_webhook_url: str | None = None
    notify_email: str | None = None

    @field_validator("mall_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        problem = url_problem(value)
        if problem is not None:
            raise ValueError(f"{problem}; allowed: {_URL_HINT}")
        return value.rstrip("/")


def url_problem(value: str) -> str | None:
    """What is wrong with `value` as an http(s) URL (None: nothing), checked at startup, not at the first
    call. The value itself is never part of the answer: some URLs carry a secret."""
    if not value.startswith(("http://", "https://")):
        return "must start with http:// or https://"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if not parts.hostname or any(ch.isspace() for ch in value) or port == 0:
        return "is not a valid URL (a host, no spaces, a port from 1 to 65535)"
    return None


class Tenant(BaseModel):
    """One merchant tenant with its secrets resolved."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    mall_client_id: SecretStr | None
    ingest_secret: SecretStr | None
    mall_base_url: str = DEFAULT_MALL_BASE_URL
    lane: str = DEFAULT_LANE
    export_url: SecretStr | None = None
    export_mapping: str = "sample-csv"
    poll_interval_s: float = 300.0
    daily_request_budget: int | None = None
    mall_webhook_token: SecretStr | None = None
    mall_poll_interval_s: float = 900.0
    notify_webhook_url: SecretStr | None = None
    notify_email: str | None = None


def _tenant(tenant_id: str, parsed: _RawTenant, *, where: str, resolve_secrets: bool) -> Tenant:
    def secret(reference: str | None, name: str) -> SecretStr | None:
        if reference is None or not resolve_secrets:
            return None
        return resolve_secret(reference, where=f"{where} {name}")

    export_url = secret(parsed.export_url, "export_url")
    if export_url is not None and (problem := url_problem(export_url.get_secret_value())) is not None:
        raise TenantsFileError(f"{where} export_url: the URL it names {problem}")

    return Tenant(
        tenant_id=tenant_id,
        mall_client_id=secret(parsed.mall_client_id, "mall_client_id"),
        ingest_secret=secret(parsed.ingest_secret, "ingest_secret"),
        mall_base_url=parsed.mall_base_url,
        lane=parsed.lane,
        export_url=export_url,
        export_mapping=parsed.export_mapping,
        poll_interval_s=parsed.poll_interval_s,
        daily_request_budget=parsed.daily_request_budget,
        mall_webhook_token=secret(parsed.mall_webhook_token, "mall_webhook_token"),
        mall_poll_interval_s=parsed.mall_poll_interval_s,
        notify_webhook_url=secret(parsed.notify_webhook_url, "notify_webhook_url"),
        notify_email=parsed.notify_email,
    )


def _problem(error: ErrorDetails) -> str:
    """One validation error in the file's words: the key, what is wrong, what is allowed."""
    key = ".".join(map(str, error["loc"]))
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key; allowed: {', '.join(_RawTenant.model_fields)}"
    if error["type"] == "model_type":
        return "not a table of settings; allowed: [tenants.<id>] with keys such as mall_client_id, ingest_secret"
    return f"{key}: {error['msg'].removeprefix('Value error, ')}"


def parse_tenants(text: str, *, source: str = "tenants file", resolve_secrets: bool = True) -> dict[str, Tenant]:
    """Validate the tenants file's text. With `resolve_secrets=False` every secret is left unresolved
    (None): for commands that need only the tenants and their lanes (audit, import), so they run where
    the MALL and push secrets are not available."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TenantsFileError(f"{source}: not valid TOML: {exc}") from None
    table = data.get("tenants")
    if not isinstance(table, dict) or not table:
        raise TenantsFileError(f"{source}: needs at least one [tenants.<id>] table")
    tenants: dict[str, Tenant] = {}
    for tenant_id, raw in table.items():
        where = f"{source}: [tenants.{tenant_id}]"
        if not re.match(TENANT_ID_PATTERN, tenant_id):
            raise TenantsFileError(f"{where}: tenant id must match {TENANT_ID_PATTERN}")
        try:
            parsed = _RawTenant.model_validate(raw)
        except ValidationError as exc:
            raise TenantsFileError(f"{where}: {'; '.join(_problem(e) for e in exc.errors())}") from None

        tenants[tenant_id] = _tenant(tenant_id, parsed, where=where, resolve_secrets=resolve_secrets)
    for problem in shared_credentials(tenants):
        log.warning("%s: %s", source, problem)
    return tenants


_CREDENTIALS = {
    "ingest_secret": "a push signed for one is accepted for the others",
    "mall_webhook_token": "a MALL webhook for one is accepted for the others",
    "mall_client_id": "they act on one MALL account",
}


def shared_credentials(tenants: dict[str, Tenant]) -> list[str]:
    """Each credential that more than one tenant resolved to the same value: the setting and the tenants,
    never the value."""
    problems: list[str] = []
    for name, consequence in _CREDENTIALS.items():
        holders: dict[str, list[str]] = {}
        for tenant in tenants.values():
            value: SecretStr | None = getattr(tenant, name)
            if value is not None:
                holders.setdefault(value.get_secret_value(), []).append(tenant.tenant_id)
        problems.extend(
            f"tenants {', '.join(ids)} have the same {name} ({consequence}); give each tenant its own"
            for ids in holders.values()
            if len(ids) > 1
        )
    return problems


def load_tenants(path: str | Path, *, resolve_secrets: bool = True) -> dict[str, Tenant]:
    """Read and validate the tenants file once at startup (see `parse_tenants` for `resolve_secrets`)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise TenantsFileError(f"tenants file {file}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (byte {exc.start}); allowed: TOML in UTF-8"
        raise TenantsFileError(f"tenants file {file}: {problem}") from None
    return parse_tenants(text, source=f"tenants file {file}", resolve_secrets=resolve_secrets)
