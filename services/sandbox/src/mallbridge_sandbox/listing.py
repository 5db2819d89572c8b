"""Query parameters of the order lists (MALL Partner API: `GET /orders`): `filter`, `status` filters, `test`,
`page`/`page_size`.

- `filter=basic` returns basic objects, otherwise ids.
- `status=VALUE` or `status=op:VALUE[,VALUE]` with op in eq, neq, in, nin (the other documented operators,
  gt ge lt le bt nbt, make no sense for a status and are refused); repeated `status` filters must all hold.
- `blocked` orders are left out unless a status filter names `blocked` with eq or in (MALL hides them from
  default lists).
- test orders are left out unless `test=1`.
- `page` is 1-based, `page_size` 1..1000 (default 100, the official PHP client's default).
Other parameters are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from mallbridge_sandbox.errors import ErrorCode, MallError, bad_request
from mallbridge_sandbox.orders import Order
from mallbridge_schema.statuses import MallStatus

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
STATUS_OPERATORS = ("eq", "neq", "in", "nin")
REFUSED_OPERATORS = ("gt", "ge", "lt", "le", "bt", "nbt")
_STATUS_VALUES = [s.value for s in MallStatus]


def _invalid(message: str, **attributes: Any) -> MallError:
    return bad_request(ErrorCode.INVALID_QUERY, message, **attributes)


@dataclass(frozen=True)
class StatusFilter:
    op: str
    values: frozenset[MallStatus]

    def accepts(self, status: MallStatus) -> bool:
        inside = status in self.values
        return inside if self.op in ("eq", "in") else not inside

    @property
    def names_blocked(self) -> bool:
        return self.op in ("eq", "in") and MallStatus.BLOCKED in self.values


def parse_status_filter(raw: str) -> StatusFilter:
    op, sep, rest = raw.partition(":")
    if not sep:
        op, rest = "eq", raw
    if op in REFUSED_OPERATORS:
        raise _invalid(
            f"operator {op!r} cannot filter a status; use one of {', '.join(STATUS_OPERATORS)}",
            parameter="status",
            value=raw,
        )
    if op not in STATUS_OPERATORS:
        raise _invalid(
            f"unknown filter operator {op!r}; allowed: {', '.join(STATUS_OPERATORS)}", parameter="status", value=raw
        )
    names = [v.strip() for v in rest.split(",")]
    if op in ("eq", "neq") and len(names) != 1:
        raise _invalid(f"operator {op} takes one value; use in/nin for several", parameter="status", value=raw)
    statuses: set[MallStatus] = set()
    for name in names:
        try:
            statuses.add(MallStatus(name))
        except ValueError:
            raise _invalid(
                f"unknown status {name!r} in filter; allowed: {', '.join(_STATUS_VALUES)}",
                parameter="status",
                value=raw,
                allowed=_STATUS_VALUES,
            ) from None
    return StatusFilter(op, frozenset(statuses))


def _positive_int(raw: str | None, *, name: str, default: int, maximum: int | None = None) -> int:
    if raw is None:
        return default
    # ASCII digits only: str.isdigit() also takes e.g. "²" (which int() refuses) and "١" (which it reads as 1)
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1 or (maximum is not None and int(raw) > maximum):
        limit = f"1..{maximum}" if maximum else ">= 1"
        raise _invalid(f"{name} must be an integer {limit}", parameter=name, value=raw)
    return int(raw)


@dataclass(frozen=True)
class ListQuery:
    basic: bool
    status_filters: tuple[StatusFilter, ...]
    include_test: bool
    page: int
    page_size: int

    @cached_property
    def statuses(self) -> frozenset[MallStatus]:
        """The statuses the filters let through; blocked only when a filter names it with eq or in."""
        named_blocked = any(f.names_blocked for f in self.status_filters)
        return frozenset(
            s
            for s in MallStatus
            if (s != MallStatus.BLOCKED or named_blocked) and all(f.accepts(s) for f in self.status_filters)
        )

    def keeps(self, order: Order) -> bool:
        return order.status in self.statuses and (self.include_test or not order.test)

    def page_of(self, orders: Sequence[Order], render: Callable[[Order], Any]) -> dict[str, Any]:
        """`paging{total,pages,size,page}` and `data` for the requested page (empty past the end)."""
        total = len(orders)
        start = (self.page - 1) * self.page_size
        chosen = orders[start : start + self.page_size]
        return {
            "paging": {
                "total": total,
                "pages": math.ceil(total / self.page_size),
                "size": self.page_size,
                "page": self.page,
            },
            "data": [render(o) for o in chosen],
        }


def parse_list_query(params: Any, *, legacy_status: MallStatus | None = None) -> ListQuery:
    """`params` is a multi-dict (Starlette QueryParams)."""
    filter_value = params.get("filter")
    if filter_value not in (None, "basic"):
        raise _invalid(f"unknown filter {filter_value!r}; allowed: basic", parameter="filter", value=filter_value)
    filters = [parse_status_filter(raw) for raw in params.getlist("status")]
    if legacy_status is not None:
        filters.append(StatusFilter("eq", frozenset({legacy_status})))
    test = params.get("test")
    if test not in (None, "0", "1", "true", "false"):
        raise _invalid("test must be 1 or 0", parameter="test", value=test)
    return ListQuery(
        basic=filter_value == "basic",
        status_filters=tuple(filters),
        include_test=test in ("1", "true"),
        page=_positive_int(params.get("page"), name="page", default=1),
        page_size=_positive_int(
            params.get("page_size"), name="page_size", default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE
        ),
    )
