"""Every refusal as `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`, plus `field`
(the body field, header or parameter at fault) and `allowed` (what is allowed there).

`type` is `urn:mallbridge:problem:<reason>`, the same reason the metrics count refusals by
(`signature`, `size`, `validation`, `rate_limited`, ...).
"""

from __future__ import annotations

import dataclasses
import json
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mallbridge_ingest.adapters.webhook_token import mask_token

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:mallbridge:problem:"


@dataclasses.dataclass
class ProblemError(Exception):
    status: int
    reason: str
    detail: str
    field: str | None = None
    allowed: str | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "type": f"{TYPE_PREFIX}{self.reason}",
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
            "field": self.field,
            "allowed": self.allowed,
            **self.extra,
        }

    def response(self) -> JSONResponse:
        return ProblemResponse(self.body(), status_code=self.status, headers=self.headers, media_type=PROBLEM_JSON)


class ProblemResponse(JSONResponse):
    """A problem's JSON, also when it quotes text that is not valid Unicode (a lone surrogate sent as a
    JSON escape, say in the `order_number` a rejection names): that text is written as JSON escapes
    instead of failing the answer with a 500."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _http_problem(exc: StarletteHTTPException, request: Request) -> ProblemError:
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        return ProblemError(
            404, "not_found", f"no such resource: {mask_token(request.url.path[:200])}", "path", "see /docs"
        )
    if exc.status_code == 405:
        allowed = headers.get("allow", headers.get("Allow", ""))
        return ProblemError(405, "method", f"{request.method} is not allowed here", "method", allowed, headers=headers)
    return ProblemError(exc.status_code, "http", str(exc.detail), headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """The framework's own refusals (unknown path, wrong method, a bad parameter) as problems too."""

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return _http_problem(exc, request).response()

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return ProblemError(422, "validation", f"{where}: {first.get('msg')}", where or None, None).response()

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
