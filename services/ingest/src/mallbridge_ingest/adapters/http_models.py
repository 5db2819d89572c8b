"""Request and response shapes of the push API, for OpenAPI and for building answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mallbridge_ingest.domain import Rejection
from mallbridge_schema.snapshot import OrderSnapshot

MAX_ORDERS = 1000
MAX_BODY_BYTES = 1 << 20


class PushBody(BaseModel):
    """`{"orders": [snapshot, ...]}`: 1 to 1000 FastCentrik order snapshots, applied in order."""

    orders: list[OrderSnapshot] = Field(min_length=1, max_length=MAX_ORDERS)


class PushAccepted(BaseModel):
    accepted: int = Field(description="snapshots in the batch")
    events: int = Field(
        description="order events the snapshots gave, written and acknowledged by the log (a MallOrderChanged "
        "that a MALL webhook left waiting for the order's first snapshot is written with it, not counted here)"
    )
    unchanged: int = Field(description="snapshots that changed nothing")
    stale: int = Field(
        description="snapshots older than the newest changed_at already applied to their order: changed nothing"
    )
    replayed: bool | None = Field(
        default=None,
        description="true when this very signed push (same timestamp and signature) was accepted before: "
        "nothing was written again, and the counts are the first answer's",
    )


class Problem(BaseModel):
    """A refusal, as `application/problem+json` (RFC 9457)."""

    type: str = Field(description="urn:mallbridge:problem:<reason>")
    title: str
    status: int
    detail: str
    field: str | None = Field(description="the body field, header or parameter at fault")
    allowed: str | None = Field(description="what is allowed there")


class SnapshotError(BaseModel):
    index: int = Field(description="position of the snapshot in `orders` (from 0)")
    order_number: str | None
    field: str
    problem: str
    allowed: str

    @classmethod
    def of(cls, rejection: Rejection) -> SnapshotError:
        return cls(
            index=rejection.index,
            order_number=rejection.order_number,
            field=rejection.field,
            problem=rejection.problem,
            allowed=rejection.allowed,
        )


class ValidationProblem(Problem):
    errors: list[SnapshotError] | None = Field(default=None, description="every problem found (up to 100)")


def push_openapi_extra() -> dict[str, Any]:
    """The request body as OpenAPI sees it (the handler reads the raw body itself, to check size and HMAC)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PushBody"}}},
        },
        "parameters": [
            {
                "name": "X-Mallbridge-Timestamp",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "unix seconds; refused when more than 300 s from the server's clock",
            },
            {
                "name": "X-Mallbridge-Signature",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": 'sha256=<hex HMAC-SHA256(ingest_secret, "{timestamp}.{raw body}")>',
            },
        ],
    }


def push_body_components() -> dict[str, Any]:
    """PushBody and the models it refers to, as OpenAPI component schemas."""
    schema = PushBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = schema.pop("$defs", {})
    components["PushBody"] = schema
    return components
