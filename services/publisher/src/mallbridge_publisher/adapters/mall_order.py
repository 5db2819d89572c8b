"""MALL's order detail (`GET /orders/{id}` → `data`) parsed into the port's `MallOrder`.

Tolerant of what the publisher does not use (MALL's order object keeps growing: extra fields are
ignored), strict about what it does: `status` must be one of MALL's eight statuses — an unknown or
missing one is a `MallAnswerInvalid` naming the field and the allowed values, never a guess. Ids are
kept as strings (they exceed 32 bits; MALL writes them as JSON numbers).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from mallbridge_publisher.ports import MallAnswerInvalid, MallBasicOrder, MallOrder, MallOrderPage
from mallbridge_schema.statuses import MallStatus

ALLOWED_STATUSES = ", ".join(s.value for s in MallStatus)


def _id_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _status_text(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


Text = Annotated[str | None, BeforeValidator(_blank_is_none)]


class _OrderData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Annotated[str | None, BeforeValidator(_id_text)] = None
    status: Annotated[MallStatus, BeforeValidator(_status_text)]
    confirmed: bool | None = None  # None (or left out): MALL did not say
    mdp: bool | None = None
    tracking_number: Text = None
    tracking_url: Text = None
    delivered_at: Text = None
    open: Text = None  # when the order became open (MALL's format); a per-status timestamp of the detail


def parse_order(data: dict[str, Any], *, mall_order_id: str, what: str, http_status: int = 200) -> MallOrder:
    """`data` of MALL's answer about order `mall_order_id` → MallOrder, or MallAnswerInvalid."""
    try:
        parsed = _OrderData.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc, what=what, http_status=http_status) from None
    if parsed.id is not None and parsed.id != mall_order_id:
        raise MallAnswerInvalid(
            f"{what}: the answer is about order {parsed.id[:30]!r}, not the one asked for", field="id"
        )
    return MallOrder(
        id=mall_order_id,
        status=parsed.status,
        confirmed=parsed.confirmed,
        mdp=parsed.mdp,
        tracking_number=parsed.tracking_number,
        tracking_url=parsed.tracking_url,
        delivered_at=parsed.delivered_at,
        opened_at=parsed.open,
    )


def _invalid(exc: ValidationError, *, what: str, http_status: int) -> MallAnswerInvalid:
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else "data"
    if field == "status":
        given = "missing" if error["type"] == "missing" else f"{str(error['input'])[:40]!r}"
        message = f"{what}: 'status' must be one of {ALLOWED_STATUSES} (got {given})"
    else:
        message = f"{what}: {field!r} is invalid: {error['msg']}"
    return MallAnswerInvalid(message, field=field, http_status=http_status)


class _BasicData(BaseModel):
    """A basic object of a list: only what the publisher compares, and tolerant of the rest."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Annotated[str, BeforeValidator(_id_text)]
    status: str | None = None
    confirmed: bool | None = None
    mdp: bool | None = None


class _Paging(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    page: int = 1
    pages: int = 0
    total: int = 0


_STATUSES = {status.value: status for status in MallStatus}


def parse_page(body: dict[str, Any] | str, *, what: str, http_status: int = 200) -> MallOrderPage:
    """A list answer (`data` of basic objects, `paging`) → MallOrderPage, or MallAnswerInvalid.

    A basic object whose status is not one of MALL's eight keeps `status=None` (read the order to know);
    an item without an id, or an answer without a `data` list, is invalid.
    """
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise MallAnswerInvalid(f"{what}: the answer has no list under 'data'", field="data", http_status=http_status)
    try:
        items = [_BasicData.model_validate(item) for item in data]
        paging = _Paging.model_validate((body.get("paging") if isinstance(body, dict) else None) or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "data"
        raise MallAnswerInvalid(f"{what}: {field!r} is invalid: {error['msg']}", field=field) from None
    orders = tuple(
        MallBasicOrder(
            id=item.id,
            status=_STATUSES.get(_status_text(item.status)) if item.status is not None else None,
            confirmed=item.confirmed,
            mdp=item.mdp,
        )
        for item in items
    )
    return MallOrderPage(orders=orders, page=paging.page, pages=paging.pages, total=paging.total)
