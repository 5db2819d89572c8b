"""What every admin module shares: the error type, body parsing and validation, lookups that answer 404."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request

from mallbridge_sandbox.orders import Order
from mallbridge_sandbox.state import Account, SandboxState


class AdminError(Exception):
    """An admin refusal: `{"error": message, "details": [...]}` with its HTTP status (400, 404, 409)."""

    def __init__(self, status: int, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details or []


class Body(BaseModel):
    """An admin request body: unknown fields are refused. Errors never echo the input (it may be a secret)."""

    model_config = ConfigDict(extra="forbid")


M = TypeVar("M", bound=BaseModel)


async def read_json(request: Request) -> Any:
    """The parsed body; an empty body is `{}`."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return await request.json()
    except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
        raise AdminError(400, "request body is not valid JSON") from None


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise AdminError(
            400, "invalid body", exc.errors(include_url=False, include_context=False, include_input=False)
        ) from None


def account_or_404(state: SandboxState, name: str) -> Account:
    account = state.account(name)
    if account is None:
        raise AdminError(404, f"unknown partner {name!r}")
    return account


def order_or_404(state: SandboxState, order_id: str) -> Order:
    """Call with state.lock held."""
    order = state.orders.get(order_id)
    if order is None:
        raise AdminError(404, f"unknown order {order_id}")
    return order
