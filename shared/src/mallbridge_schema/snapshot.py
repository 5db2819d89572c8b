"""An order snapshot as FastCentrik shows it: the input of ingest's push API, file import and poller
(ARCHITECTURE.md §4, contract). Validation errors name the field and what is allowed."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from mallbridge_schema.mall_format import parse_delivery_value
from mallbridge_schema.statuses import FastCentrikStatus, UnknownStatusError, parse_fastcentrik_status

_OPTIONAL_TEXT = ("delivered_at", "tracking_number", "tracking_url")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NOT_ISO_8601 = object()


def _looks_iso(value: object) -> bool:
    return isinstance(value, str) and _ISO_DATE.match(value) is not None


@lru_cache(maxsize=256)
def _known_status(text: str) -> FastCentrikStatus | None:
    """A few distinct labels, parsed once each: imports and exports repeat them hundreds of thousands of times."""
    try:
        return parse_fastcentrik_status(text)
    except UnknownStatusError:
        return None


class OrderSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    order_number: str = Field(min_length=1, max_length=100)
    mall_order_id: str = Field(pattern=r"^[0-9]{1,20}$", description="MALL's order id, digits only")
    status: FastCentrikStatus = Field(description="a FastCentrik status code or its Czech label")
    status_label: str = Field(default="", description="the status text as sent (filled in automatically)")
    delivered_at: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    changed_at: AwareDatetime | None = None
    mdp: bool = Field(default=False, strict=True)  # true or false: "yes", 1 or "true" are not read as one

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        """All the lenient readings in one pass (one Python call per snapshot; this is ingest's hot path):
        the status text is kept as `status_label` and resolved to its code, a numeric MALL id becomes
        text (MALL ids exceed 32 bits), and blank optional texts mean "not given". What cannot be read
        is left as it is, for the field's own validation and its error message."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        text = data.get("status")
        if isinstance(text, str):
            status = _known_status(text)
            if status is not None:
                data["status"] = status
            if not data.get("status_label"):
                data["status_label"] = text
        mall_order_id = data.get("mall_order_id")
        if isinstance(mall_order_id, int) and not isinstance(mall_order_id, bool):
            data["mall_order_id"] = str(mall_order_id)
        for name in _OPTIONAL_TEXT:
            value = data.get(name)
            if isinstance(value, str) and not value.strip():
                data[name] = None
        changed_at = data.get("changed_at")
        if not (changed_at is None or isinstance(changed_at, datetime) or _looks_iso(changed_at)):
            # pydantic would read a number, or a text of digits, as a Unix time: ISO 8601 text only. What
            # takes its place fails the field's own validation (its error names the field and the form).
            data["changed_at"] = _NOT_ISO_8601
        return data

    @field_validator("status", mode="before")
    @classmethod
    def _parse_status(cls, value: Any) -> Any:
        if isinstance(value, FastCentrikStatus):
            return value
        if not isinstance(value, str):
            raise ValueError("must be a text status code or Czech label")
        return parse_fastcentrik_status(value)  # unknown text: the error names the allowed values

    @field_validator("delivered_at")
    @classmethod
    def _valid_delivery(cls, value: str | None) -> str | None:
        if value is not None:
            parse_delivery_value(value)
        return value
