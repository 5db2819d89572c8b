"""Publisher settings, validated once at startup: the one source of every publisher setting.

Each field has an environment variable `MALLBRIDGE_PUBLISHER_<FIELD>` (e.g. `MALLBRIDGE_PUBLISHER_LANES=
default,acme`); the options of `mallbridge publisher` override only what is given on the command line.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mallbridge_core.settings import LogLevel, log_level_setting
from mallbridge_core.topics import DEFAULT_LANE, checked_lanes, lane_list
from mallbridge_publisher.console.session import MIN_TOKEN_LENGTH

DEFAULT_TENANT_CONCURRENCY = 16
"""MALL requests in flight per tenant, unless set; also the size of the tenant's connection pool.
At 50 ms per MALL request, 16 in flight carry 320 requests/s: one tenant's 200 changes/s with headroom
for reads and retries (8 capped it at 160/s)."""


class PublisherSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MALLBRIDGE_PUBLISHER_", extra="ignore", populate_by_name=True)

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8081, ge=0, le=65535)
    group: str = Field(default="mallbridge-publisher", min_length=1)
    lanes: Annotated[tuple[str, ...], NoDecode] = (DEFAULT_LANE,)
    log_level: LogLevel = log_level_setting("MALLBRIDGE_PUBLISHER_")
    tenant_concurrency: int = Field(default=DEFAULT_TENANT_CONCURRENCY, ge=1, le=256)
    connect_timeout_s: float = Field(default=3.0, gt=0)
    read_timeout_s: float = Field(default=10.0, gt=0)
    backoff_base_s: float = Field(default=0.2, gt=0)
    backoff_max_s: float = Field(default=30.0, gt=0)
    pause_probe_s: float = Field(default=30.0, gt=0)
    shutdown_grace_s: float = Field(default=15.0, ge=0)
    operator_tail_interval_s: float = Field(default=1.0, gt=0)  # how often operator-events is checked for news
    mall_page_size: int = Field(default=1000, ge=100, le=1000)  # page size of MALL's order lists (poll, balance)
    # Orders whose record (state, SLA marks) each lane keeps in memory, about 1 KiB each; the others wait in
    # a temporary file until their order changes again (orders.py), which costs a read of ~16 µs against
    # hundreds of µs of work per order event (and a MALL round trip): the hot set need only hold the orders
    # being worked on. 0: all in memory, growing with the merchant's history.
    hot_orders: int = Field(default=2_000, ge=0)
    # What carries MALL requests: mallbridge's lean HTTP/1.1 pool, or httpx's default (httpcore: HTTP/2, proxies).
    mall_transport: Literal["http1", "httpcore"] = "http1"
    # The operator token of the web console (MALLBRIDGE_CONSOLE_TOKEN): unset, the console is off.
    console_token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("MALLBRIDGE_CONSOLE_TOKEN"))

    @field_validator("console_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value  # MALLBRIDGE_CONSOLE_TOKEN=

    @field_validator("console_token")
    @classmethod
    def _long_enough(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"the console token needs at least {MIN_TOKEN_LENGTH} characters (e.g. `openssl rand -hex 24`)"
            )
        return token

    @field_validator("lanes", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """Lanes come as a comma list ("default,acme") from the environment and the command line."""
        return lane_list(value) if isinstance(value, str) else value

    @field_validator("lanes")
    @classmethod
    def _lane_names(cls, lanes: tuple[str, ...]) -> tuple[str, ...]:
        return checked_lanes(lanes)
