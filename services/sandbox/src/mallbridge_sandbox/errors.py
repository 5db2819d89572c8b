"""MALL's response envelope and the sandbox's error codes.

Shape (MALL Partner API: error responses, as the official PHP client's exception factory reads them):
`{"result":{"code":400,"status":"ERROR","message":"..."},"errorCodes":[{"errorCode":"...","message":"...",
"errorAttributes":{...}}]}`; `result.status` is `LIMITED` on 429. Only `RESOURCE_NOT_FOUND` is a documented
errorCode; every other code below is the sandbox's own name (see the README).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    # documented by MALL (the one errorCode its docs name: an unknown order)
    RESOURCE_NOT_FOUND = "RESOURCE_NOT_FOUND"
    # the sandbox's own names from here on
    CLIENT_ID_MISSING = "CLIENT_ID_MISSING"
    CLIENT_ID_INVALID = "CLIENT_ID_INVALID"
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    INVALID_JSON = "INVALID_JSON"
    INVALID_BODY = "INVALID_BODY"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    INVALID_FIELD_TYPE = "INVALID_FIELD_TYPE"
    INVALID_VALUE = "INVALID_VALUE"
    EMPTY_UPDATE = "EMPTY_UPDATE"
    INVALID_STATUS = "INVALID_STATUS"
    INVALID_QUERY = "INVALID_QUERY"
    ORDER_BLOCKED = "ORDER_BLOCKED"
    ORDER_STATUS_FINAL = "ORDER_STATUS_FINAL"
    STATUS_UNCHANGED = "STATUS_UNCHANGED"
    STATUS_TRANSITION_FORBIDDEN = "STATUS_TRANSITION_FORBIDDEN"
    MDP_SHIPPING_REQUIRED = "MDP_SHIPPING_REQUIRED"
    MDP_STATUS_FORBIDDEN = "MDP_STATUS_FORBIDDEN"
    MDP_TRACKING_FORBIDDEN = "MDP_TRACKING_FORBIDDEN"
    ORDER_NOT_CONFIRMED = "ORDER_NOT_CONFIRMED"
    ORDER_ALREADY_CONFIRMED = "ORDER_ALREADY_CONFIRMED"
    ORDER_NOT_SHIPPED = "ORDER_NOT_SHIPPED"
    FIELD_NOT_ALLOWED = "FIELD_NOT_ALLOWED"
    TRACKING_NUMBER_MISSING = "TRACKING_NUMBER_MISSING"
    TRACKING_NUMBER_INVALID = "TRACKING_NUMBER_INVALID"
    TRACKING_URL_MISSING = "TRACKING_URL_MISSING"
    TRACKING_URL_INVALID = "TRACKING_URL_INVALID"
    TRACKING_UNCHANGED = "TRACKING_UNCHANGED"
    DELIVERED_AT_MISSING = "DELIVERED_AT_MISSING"
    DELIVERED_AT_IN_FUTURE = "DELIVERED_AT_IN_FUTURE"
    DATETIME_INVALID = "DATETIME_INVALID"
    # injected faults
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


@dataclass(frozen=True)
class ErrorItem:
    code: ErrorCode
    message: str
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"errorCode": self.code.value, "message": self.message, "errorAttributes": self.attributes}


class MallError(Exception):
    """A refusal in MALL's shape. `items` become `errorCodes`; the first item's message is `result.message`."""

    def __init__(self, http_status: int, *items: ErrorItem, message: str | None = None) -> None:
        if not items:
            raise ValueError("a MallError needs at least one error item")
        self.http_status = http_status
        self.items = items
        self.message = message or items[0].message
        super().__init__(self.message)

    @classmethod
    def one(cls, http_status: int, code: ErrorCode, message: str, **attributes: Any) -> MallError:
        return cls(http_status, ErrorItem(code, message, attributes))

    def body(self) -> dict[str, Any]:
        return error_body(self.http_status, self.message, list(self.items))


def result_status(http_status: int) -> str:
    if http_status < 400:
        return "OK"
    return "LIMITED" if http_status == 429 else "ERROR"


def error_body(http_status: int, message: str, items: list[ErrorItem]) -> dict[str, Any]:
    return {
        "result": {"code": http_status, "status": result_status(http_status), "message": message},
        "errorCodes": [item.as_json() for item in items],
    }


def ok_body(**extra: Any) -> dict[str, Any]:
    """`{"result":{"code":200,"status":"OK"}}` plus e.g. `paging` and `data` (MALL's success envelope)."""
    return {"result": {"code": 200, "status": "OK"}, **extra}


def bad_request(code: ErrorCode, message: str, **attributes: Any) -> MallError:
    return MallError.one(400, code, message, **attributes)


def not_found(order_id: str) -> MallError:
    return MallError.one(404, ErrorCode.RESOURCE_NOT_FOUND, f"order {order_id} not found", id=order_id)
