"""MALL's rules for `PUT /orders/{id}` and `PUT /orders/{id}/tracking`, as pure functions.

Each refusal is a MallError (400) naming the rule. Where MALL documents a rule, the docstring says where
(MALL Partner API: order update, tracking); everything else is the sandbox's documented choice (README,
"Where MALL's documentation is silent").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from mallbridge_sandbox.clock import MALL_DATETIME_FORMAT, PRAGUE
from mallbridge_sandbox.errors import ErrorCode, ErrorItem, MallError, bad_request
from mallbridge_sandbox.orders import Order
from mallbridge_sandbox.status_rules import TRACKING_NUMBER_ALLOWED, allowed_targets, is_tracking_number, refusal_of
from mallbridge_schema.statuses import MallStatus

_S = MallStatus
UPDATE_FIELDS: dict[str, type] = {
    "status": str,
    "confirmed": bool,
    "tracking_number": str,
    "tracking_url": str,
    "delivered_at": str,
    "first_delivery_attempt": str,
}
TRACKING_FIELDS: dict[str, type] = {"tracking_number": str, "tracking_url": str}
# ASCII digits only (`\d` would also take e.g. full-width ones), and fullmatch: `$` would allow a final newline.
_DATETIME_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_STATUS_VALUES = [s.value for s in MallStatus]


@dataclass(frozen=True)
class OrderUpdate:
    """A syntactically valid `PUT /orders/{id}` body; None means the field was not sent."""

    status: MallStatus | None = None
    confirmed: bool | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    delivered_at: str | None = None
    first_delivery_attempt: str | None = None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def parse_json_object(raw: bytes, fields: dict[str, type]) -> dict[str, Any]:
    """Decode a JSON object whose keys are all in `fields` with the right JSON types (null is refused)."""
    try:
        data = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested too deep to parse
        raise bad_request(ErrorCode.INVALID_JSON, "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise bad_request(ErrorCode.INVALID_BODY, "request body must be a JSON object", allowed=sorted(fields))
    problems: list[ErrorItem] = []
    for key, value in data.items():
        expected = fields.get(key)
        if expected is None:
            problems.append(
                ErrorItem(ErrorCode.UNKNOWN_FIELD, f"unknown field {key!r}", {"field": key, "allowed": sorted(fields)})
            )
        elif not (isinstance(value, expected) and (expected is bool or not isinstance(value, bool))):
            wanted = "boolean" if expected is bool else "string"
            problems.append(
                ErrorItem(
                    ErrorCode.INVALID_FIELD_TYPE,
                    f"field {key!r} must be a {wanted}, got {_json_type(value)}",
                    {"field": key, "expected": wanted, "got": _json_type(value)},
                )
            )
    if problems:
        raise MallError(400, *problems)
    return data


def parse_update(raw: bytes) -> OrderUpdate:
    data = parse_json_object(raw, UPDATE_FIELDS)
    if not data:
        raise bad_request(
            ErrorCode.EMPTY_UPDATE, "nothing to update: send at least one field", allowed=sorted(UPDATE_FIELDS)
        )
    status: MallStatus | None = None
    if "status" in data:
        try:
            status = MallStatus(data["status"])
        except ValueError:
            raise bad_request(
                ErrorCode.INVALID_STATUS,
                f"unknown status {data['status']!r}; allowed: {', '.join(_STATUS_VALUES)}",
                field="status",
                value=data["status"],
                allowed=_STATUS_VALUES,
            ) from None
    if data.get("confirmed") is False:
        raise bad_request(ErrorCode.INVALID_VALUE, "confirmed can only be set to true", field="confirmed", value=False)
    return OrderUpdate(
        status=status,
        confirmed=data.get("confirmed"),
        tracking_number=data.get("tracking_number"),
        tracking_url=data.get("tracking_url"),
        delivered_at=data.get("delivered_at"),
        first_delivery_attempt=data.get("first_delivery_attempt"),
    )


def parse_mall_datetime(value: str, *, field: str) -> datetime:
    """Exactly `YYYY-MM-DD HH:MM:SS` (24 h, MALL's date-time format); returned as aware Prague time."""
    try:
        if not _DATETIME_SHAPE.fullmatch(value):
            raise ValueError(value)
        moment = datetime.strptime(value, MALL_DATETIME_FORMAT)  # noqa: DTZ007 - MALL sends Prague local time
    except ValueError:
        raise bad_request(
            ErrorCode.DATETIME_INVALID,
            f"{field} must be a date-time in the format YYYY-MM-DD HH:MM:SS, e.g. 2018-01-14 08:13:00",
            field=field,
            value=value,
            format="YYYY-MM-DD HH:MM:SS",
        ) from None
    prague = moment.replace(tzinfo=PRAGUE)
    if prague.astimezone(UTC).astimezone(PRAGUE).replace(tzinfo=None) != moment:
        raise bad_request(
            ErrorCode.DATETIME_INVALID,
            f"{field} {value} is not a time in Prague: the clocks skip that hour (summer time begins)",
            field=field,
            value=value,
            format="YYYY-MM-DD HH:MM:SS",
        )
    return prague


def check_tracking_values(tracking_number: str | None, tracking_url: str | None) -> None:
    """Both present; number only `0-9 a-z A-Z - _` (MALL order update); URL an absolute http(s) URL (our choice)."""
    if tracking_number is None:
        raise bad_request(
            ErrorCode.TRACKING_NUMBER_MISSING, "tracking_number is required for status shipped", field="tracking_number"
        )
    if not is_tracking_number(tracking_number):
        raise bad_request(
            ErrorCode.TRACKING_NUMBER_INVALID,
            f"tracking_number may contain only {TRACKING_NUMBER_ALLOWED}",
            field="tracking_number",
            value=tracking_number,
            allowed=TRACKING_NUMBER_ALLOWED,
        )
    if tracking_url is None:
        raise bad_request(
            ErrorCode.TRACKING_URL_MISSING, "tracking_url is required for status shipped", field="tracking_url"
        )
    parts = urlsplit(tracking_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(ch.isspace() for ch in tracking_url):
        raise bad_request(
            ErrorCode.TRACKING_URL_INVALID,
            "tracking_url must be an absolute http(s) URL",
            field="tracking_url",
            value=tracking_url,
        )


def _not_allowed(field: str, why: str) -> MallError:
    return bad_request(ErrorCode.FIELD_NOT_ALLOWED, f"{field} {why}", field=field)


_STATUS_REFUSALS: dict[ErrorCode, str] = {
    ErrorCode.ORDER_BLOCKED: "order is blocked (not yet paid or approved); the partner cannot change it",
    ErrorCode.STATUS_UNCHANGED: "order is already {current}; send a status only when it changes",
    ErrorCode.ORDER_STATUS_FINAL: "order is {current}, a final status; it cannot change",
    ErrorCode.MDP_STATUS_FORBIDDEN: (
        "MALL Delivery order: {target} is set by MALL from carrier tracking, not by the partner"
    ),
    ErrorCode.MDP_SHIPPING_REQUIRED: "MALL Delivery order must pass through shipping before shipped",
    ErrorCode.STATUS_TRANSITION_FORBIDDEN: "status change {current} -> {target} is not allowed; allowed: {allowed}",
}


def _check_status_change(order: Order, update: OrderUpdate, target: MallStatus) -> None:
    current = order.status
    attrs: dict[str, Any] = {"id": order.id, "status": current.value, "requested": target.value}
    code = refusal_of(current, target, mdp=order.mdp)
    if code is not None:
        allowed = [s.value for s in allowed_targets(current, mdp=order.mdp)]
        if code == ErrorCode.STATUS_TRANSITION_FORBIDDEN:
            attrs["allowed"] = allowed
        message = _STATUS_REFUSALS[code].format(
            current=current.value, target=target.value, allowed=", ".join(allowed) or "none"
        )
        raise bad_request(code, message, **attrs)
    if not order.confirmed and update.confirmed is not True:
        raise bad_request(
            ErrorCode.ORDER_NOT_CONFIRMED,
            "order is not confirmed: confirm it first or send confirmed: true with the status change",
            **attrs,
        )


def _check_fields_for(order: Order, update: OrderUpdate, target: MallStatus, *, now: datetime) -> None:
    has_tracking = update.tracking_number is not None or update.tracking_url is not None
    if target == _S.SHIPPED and order.mdp:
        if has_tracking:
            raise bad_request(
                ErrorCode.MDP_TRACKING_FORBIDDEN, "MALL Delivery order: MALL fills in tracking itself", id=order.id
            )
    elif target == _S.SHIPPED:
        check_tracking_values(update.tracking_number, update.tracking_url)
    elif has_tracking:
        field = "tracking_number" if update.tracking_number is not None else "tracking_url"
        raise _not_allowed(field, "can be sent only with status shipped (afterwards: PUT /orders/{id}/tracking)")
    if target == _S.DELIVERED:
        if update.delivered_at is None:
            raise bad_request(
                ErrorCode.DELIVERED_AT_MISSING, "delivered_at is required for status delivered", field="delivered_at"
            )
        moment = parse_mall_datetime(update.delivered_at, field="delivered_at")
        if moment > now:
            raise bad_request(
                ErrorCode.DELIVERED_AT_IN_FUTURE,
                "delivered_at is in the future; send the real delivery moment",
                field="delivered_at",
                value=update.delivered_at,
            )
    elif update.delivered_at is not None:
        raise _not_allowed("delivered_at", "can be sent only with status delivered")
    if update.first_delivery_attempt is not None:
        if target not in (_S.DELIVERED, _S.RETURNED):
            raise _not_allowed("first_delivery_attempt", "can be sent only with status delivered or returned")
        parse_mall_datetime(update.first_delivery_attempt, field="first_delivery_attempt")


def check_update(order: Order, update: OrderUpdate, *, now: datetime) -> None:
    """Raise the first rule the update breaks; return when MALL would accept it."""
    if order.status == _S.BLOCKED:
        raise bad_request(
            ErrorCode.ORDER_BLOCKED,
            "order is blocked (not yet paid or approved); the partner cannot change it",
            id=order.id,
        )
    if update.status is None:
        for field in ("tracking_number", "tracking_url", "delivered_at", "first_delivery_attempt"):
            if getattr(update, field) is not None:
                raise _not_allowed(field, "needs a status change in the same request")
        if order.confirmed:
            raise bad_request(
                ErrorCode.ORDER_ALREADY_CONFIRMED, "order is already confirmed; do not confirm it again", id=order.id
            )
        return
    _check_status_change(order, update, update.status)
    _check_fields_for(order, update, update.status, now=now)


def check_tracking_update(order: Order, tracking_number: str | None, tracking_url: str | None) -> None:
    """`PUT /orders/{id}/tracking`: only while shipped, only for non-MDP orders (MALL's rule)."""
    if order.mdp:
        raise bad_request(
            ErrorCode.MDP_TRACKING_FORBIDDEN, "MALL Delivery order: MALL fills in tracking itself", id=order.id
        )
    if order.status != _S.SHIPPED:
        raise bad_request(
            ErrorCode.ORDER_NOT_SHIPPED,
            f"tracking can be changed only while the order is shipped (it is {order.status.value})",
            id=order.id,
            status=order.status.value,
        )
    check_tracking_values(tracking_number, tracking_url)
    if (tracking_number, tracking_url) == (order.tracking_number, order.tracking_url):
        raise bad_request(
            ErrorCode.TRACKING_UNCHANGED, "tracking is unchanged; send it only when it changes", id=order.id
        )


def apply_update(order: Order, update: OrderUpdate, *, at: str) -> None:
    """Apply an update that passed check_update; `at` is the MALL-format timestamp of the change."""
    if update.confirmed:
        order.confirmed = True
    if update.status is None:
        return
    order.enter(update.status, at)
    if update.tracking_number is not None:
        order.tracking_number = update.tracking_number
        order.tracking_url = update.tracking_url
    if update.status == _S.SHIPPED and order.mdp:
        order.fill_mdp_tracking()
    if update.delivered_at is not None:
        order.delivered_at = update.delivered_at
    if update.first_delivery_attempt is not None:
        order.first_delivery_attempt = update.first_delivery_attempt
