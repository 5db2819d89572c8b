"""An order snapshot as FastCentrik shows it: the input of ingest's push API, file import and poller
(DESIGN §4, contract). Validation errors name the field and what is allowed."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from mallbridge_schema.mall_format import parse_delivery_value
from mallbridge_schema.statuses import FastCentrikStatus, parse_fastcentrik_status


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
    mdp: bool = False

    @model_validator(mode="before")
    @classmethod
    def _keep_status_label(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("status"), str) and not data.get("status_label"):
            return {**data, "status_label": data["status"]}
        return data

    @field_validator("mall_order_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        # MALL ids exceed 32 bits; a JSON number is accepted but kept as text from here on.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("status", mode="before")
    @classmethod
    def _parse_status(cls, value: Any) -> Any:
        if isinstance(value, FastCentrikStatus):
            return value
        if not isinstance(value, str):
            raise ValueError("must be a text status code or Czech label")
        return parse_fastcentrik_status(value)

    @field_validator("delivered_at", "tracking_number", "tracking_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("delivered_at")
    @classmethod
    def _valid_delivery(cls, value: str | None) -> str | None:
        if value is not None:
            parse_delivery_value(value)
        return value
