"""Publisher settings, validated once at startup (env prefix MALLBRIDGE_PUBLISHER_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PublisherSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MALLBRIDGE_PUBLISHER_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8081, ge=0, le=65535)
    group: str = "mallbridge-publisher"
    lanes: tuple[str, ...] = ("default",)
    tenant_concurrency: int = Field(default=8, ge=1, le=256)
    connect_timeout_s: float = Field(default=3.0, gt=0)
    read_timeout_s: float = Field(default=10.0, gt=0)
    backoff_base_s: float = Field(default=0.2, gt=0)
    backoff_max_s: float = Field(default=30.0, gt=0)
    pause_probe_s: float = Field(default=30.0, gt=0)
    shutdown_grace_s: float = Field(default=15.0, ge=0)
