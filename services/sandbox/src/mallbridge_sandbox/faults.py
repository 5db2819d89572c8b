"""Fault injection per partner, reproducible: each partner draws from its own seeded generator.

One uniform draw per matching request picks at most one fault, in this order of the unit interval:
drop, error (5xx), rate_limit (429), apply_then_fail. Setting a partner's faults restarts its generator
from (seed, partner), so the same configuration and the same requests give the same faults every run.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FaultKind(StrEnum):
    DROP = "drop"
    ERROR = "error"
    RATE_LIMIT = "rate_limit"
    APPLY_THEN_ERROR = "apply_then_error"
    APPLY_THEN_DROP = "apply_then_drop"


class FaultConfig(BaseModel):
    """The body of `PUT /sandbox/partners/{name}/faults`. Rates are shares of matching requests (0..1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: int = Field(default=0, ge=0, le=60_000)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_status: int = Field(default=503, ge=500, le=599)
    rate_limit_rate: float = Field(default=0.0, ge=0, le=1)
    rate_limit_reset_s: int = Field(default=30, ge=0)
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    apply_then_fail_rate: float = Field(default=0.0, ge=0, le=1)
    apply_then_fail_mode: Literal["drop", "error"] = "drop"
    methods: list[Literal["GET", "PUT"]] | None = None
    order_id: str | None = None
    max_faults: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _shares_fit(self) -> FaultConfig:
        total = self.error_rate + self.rate_limit_rate + self.drop_rate + self.apply_then_fail_rate
        if total > 1.0 + 1e-9:
            raise ValueError(
                f"error_rate + rate_limit_rate + drop_rate + apply_then_fail_rate must be <= 1 (is {total})"
            )
        return self

    def matches(self, method: str, order_id: str | None) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        return self.order_id is None or self.order_id == order_id


@dataclass(frozen=True)
class FaultDecision:
    latency_ms: int = 0
    kind: FaultKind | None = None
    error_status: int = 503
    rate_limit_reset_s: int = 30


NO_FAULT = FaultDecision()


@dataclass
class _PartnerFaults:
    config: FaultConfig
    rng: random.Random
    injected: int = 0


class Faults:
    """Thread-safe fault configurations and their generators."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._by_partner: dict[str, _PartnerFaults] = {}

    def _rng(self, partner: str) -> random.Random:
        # A string seed is hashed with SHA-512 by random.seed (version 2): stable across runs and processes.
        return random.Random(f"{self._seed}:{partner}")

    def set(self, partner: str, config: FaultConfig) -> None:
        with self._lock:
            self._by_partner[partner] = _PartnerFaults(config, self._rng(partner))

    def get(self, partner: str) -> FaultConfig | None:
        with self._lock:
            entry = self._by_partner.get(partner)
            return entry.config if entry else None

    def injected(self, partner: str) -> int:
        with self._lock:
            entry = self._by_partner.get(partner)
            return entry.injected if entry else 0

    def clear(self, partner: str | None = None) -> None:
        with self._lock:
            if partner is None:
                self._by_partner.clear()
            else:
                self._by_partner.pop(partner, None)

    def decide(self, partner: str, method: str, order_id: str | None) -> FaultDecision:
        with self._lock:
            entry = self._by_partner.get(partner)
            if entry is None or not entry.config.matches(method, order_id):
                return NO_FAULT
            config = entry.config
            kind = self._draw(entry)
            return FaultDecision(config.latency_ms, kind, config.error_status, config.rate_limit_reset_s)

    @staticmethod
    def _draw(entry: _PartnerFaults) -> FaultKind | None:
        config = entry.config
        shares = (
            (config.drop_rate, FaultKind.DROP),
            (config.error_rate, FaultKind.ERROR),
            (config.rate_limit_rate, FaultKind.RATE_LIMIT),
            (
                config.apply_then_fail_rate,
                FaultKind.APPLY_THEN_DROP if config.apply_then_fail_mode == "drop" else FaultKind.APPLY_THEN_ERROR,
            ),
        )
        if not any(share for share, _ in shares):
            return None
        if config.max_faults is not None and entry.injected >= config.max_faults:
            return None
        point = entry.rng.random()
        edge = 0.0
        for share, kind in shares:
            edge += share
            if point < edge:
                entry.injected += 1
                return kind
        return None
