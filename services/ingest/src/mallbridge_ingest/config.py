"""Ingest settings, validated once at startup: environment `MALLBRIDGE_INGEST_*`, then what the command
line gave (services/ingest/README.md, "Settings").

The options every subcommand shares (`--log`, `--tenants`, `--topic-prefix`, ...) are the core's
`CommonOptions`; `topic_prefix` is copied in from there.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, NonNegativeFloat, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mallbridge_core.settings import CommonOptions, LogLevel, log_level_setting, settings_from
from mallbridge_ingest.adapters.export_poller import EXPORT_MAX_BYTES
from mallbridge_ingest.adapters.http_models import MAX_BODY_BYTES, MAX_ORDERS
from mallbridge_ingest.adapters.signature import SIGNATURE_WINDOW_S
from mallbridge_schema.serde import DEFAULT_TOPIC_PREFIX

ENV_PREFIX = "MALLBRIDGE_INGEST_"


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True, populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    run_pollers: bool = True
    log_level: LogLevel = log_level_setting(ENV_PREFIX)
    topic_prefix: str = DEFAULT_TOPIC_PREFIX
    max_body_bytes: int = Field(default=MAX_BODY_BYTES, ge=1)
    max_orders: int = Field(default=MAX_ORDERS, ge=1)
    signature_window_s: int = Field(default=SIGNATURE_WINDOW_S, ge=1)
    # Per-tenant push rate limit (token bucket): `push_rate_per_s` pushes a second on average, up to
    # `push_burst` at once, each push counting one whatever its size; 0 turns the limit off.
    # `push_rate_per_tenant` overrides the rate of named tenants (env: JSON, e.g.
    # MALLBRIDGE_INGEST_PUSH_RATE_PER_TENANT='{"big": 500}').
    push_rate_per_s: float = Field(default=200.0, ge=0)
    push_burst: int = Field(default=400, ge=1)
    push_rate_per_tenant: Annotated[dict[str, NonNegativeFloat], NoDecode] = Field(default_factory=dict)
    # Signed pushes remembered per tenant to answer a replay (same timestamp and signature) as the first,
    # in a temporary file (adapters/replay.py), for the whole signature window. The default covers that
    # window at the default rate limit: 200 pushes/s x 300 s = 60,000, plus the burst (400) and up to a
    # second of expired answers not purged yet (200), rounded up. Raise it with `push_rate_per_s` or a
    # tenant's `push_rate_per_tenant` (rate x window); 0 turns replay detection off.
    replay_cache_per_tenant: int = Field(default=64_000, ge=0)
    export_timeout_s: float = Field(default=30.0, gt=0)
    export_max_bytes: int = Field(default=EXPORT_MAX_BYTES, ge=1)
    retry_max_s: float = Field(default=10.0, gt=0)  # longest wait between attempts to reach the log at startup
    # Per tenant, how many orders' last known states (and MALL ids) stay in memory; the others wait in a
    # temporary file until their order changes again (mallbridge_ingest/state_store.py). 0: all in memory.
    hot_orders: int = Field(default=5_000, ge=0)
    tune_gc: bool = False  # process-wide GC settings for throughput (the CLI's processes, not tests)

    @field_validator("push_rate_per_tenant", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        """The variable's JSON, read here so that text that is not JSON is named like any other bad value."""
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value) if value.strip() else {}
        except ValueError:
            raise ValueError(
                'not JSON; allowed: a JSON object of tenant id to pushes per second, e.g. {"big": 500}'
            ) from None

    @classmethod
    def from_command_line(cls, common: CommonOptions, **given: Any) -> IngestSettings:
        """The environment's settings, overridden by the options given on the command line (None = not given).

        A bad value is a click.UsageError naming the option and its variable (`settings_from`)."""
        return settings_from(cls, {"topic_prefix": common.topic_prefix, "tune_gc": True, **given})

    @classmethod
    def from_common(cls, common: CommonOptions, *, run_pollers: bool = True) -> IngestSettings:
        """For composition roots that run ingest inside another command (`mallbridge run`)."""
        return cls.from_command_line(common, run_pollers=run_pollers)

    def push_rate_of(self, tenant_id: str) -> float:
        return self.push_rate_per_tenant.get(tenant_id, self.push_rate_per_s)
