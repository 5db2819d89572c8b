"""The notifier's settings and the SMTP settings, validated once at startup.

`NotifySettings` reads `MALLBRIDGE_NOTIFY_*` (command-line options override a few of them);
`SmtpSettings` reads `MALLBRIDGE_SMTP_*`: host, port, user, password, from address and TLS mode. The
SMTP password is a `SecretStr` and never printed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mallbridge_core.settings import LogLevel, log_level_setting
from mallbridge_core.topics import lane_list

DEFAULT_HTTP_PORT = 8082


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MALLBRIDGE_NOTIFY_", extra="ignore", frozen=True, populate_by_name=True
    )

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=DEFAULT_HTTP_PORT, ge=0, le=65535)
    group: str = Field(default="mallbridge-notify", min_length=1)
    lanes: str = Field(default="", description="comma-separated lanes; empty: every lane of the tenants file")
    log_level: LogLevel = log_level_setting("MALLBRIDGE_NOTIFY_")
    console_base_url: str = Field(
        default="http://127.0.0.1:8081", description="where people open the console (the publisher's HTTP address)"
    )
    max_age_s: float = Field(default=86_400.0, gt=0, description="attention older than this is not sent")
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    tenant_concurrency: int = Field(default=4, ge=1, le=64, description="deliveries at once per tenant and channel")
    backoff_base_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=60.0, gt=0)
    shutdown_grace_s: float = Field(default=5.0, ge=0)

    def lane_names(self) -> tuple[str, ...]:
        return lane_list(self.lanes)

    @field_validator("console_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class SmtpSettings(BaseSettings):
    """How e-mail alerts are sent; needed only when some tenant has `notify_email`."""

    model_config = SettingsConfigDict(env_prefix="MALLBRIDGE_SMTP_", extra="ignore", frozen=True, populate_by_name=True)

    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    user: str | None = None
    password: SecretStr | None = None
    from_address: str = Field(default="mallbridge@localhost", validation_alias="MALLBRIDGE_SMTP_FROM")
    tls: Literal["starttls", "ssl", "none"] = "starttls"
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("from_address")
    @classmethod
    def _one_address(cls, value: str) -> str:
        if "@" not in value or any(c.isspace() for c in value):
            raise ValueError("must be one e-mail address, e.g. mallbridge@example.com")
        return value
