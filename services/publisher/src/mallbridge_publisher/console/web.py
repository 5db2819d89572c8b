"""The console's HTTP plumbing: templates, the headers every answer carries, form bodies and cookies."""

from __future__ import annotations

import urllib.parse
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mallbridge_schema.mall_format import PRAGUE

BASE = "/console"
MAX_FORM_BYTES = 16 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"

SECURITY_HEADERS = {
    # No script at all, nothing from outside: the page's own CSS and inline SVG only.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def order_url(tenant_id: str, order_number: str) -> str:
    return f"{BASE}/orders/{urllib.parse.quote(tenant_id, safe='')}/{urllib.parse.quote(order_number, safe='')}"


def action_url(kind: str, tenant_id: str, order_number: str) -> str:
    quoted = f"{urllib.parse.quote(tenant_id, safe='')}/{urllib.parse.quote(order_number, safe='')}"
    return f"{BASE}/actions/{kind}/{quoted}"


def _percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.1f} %"


def _when(value: Any) -> str:
    return "—" if value is None else value.astimezone(PRAGUE).strftime("%Y-%m-%d %H:%M:%S")


def template_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("mallbridge_publisher.console", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(base=BASE, order_url=order_url, action_url=action_url)
    env.filters.update(percent=_percent, when=_when, svg=Markup)
    return env


def stylesheet() -> bytes:
    return resources.files("mallbridge_publisher.console").joinpath("static/console.css").read_bytes()


class Pages:
    def __init__(self) -> None:
        self._env = template_environment()

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = self._env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


class FormError(Exception):
    """A form body the console does not take (wrong type, too large, not parsable)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


async def read_form(request: Request) -> dict[str, str]:
    """The fields of an urlencoded form (the last value of a repeated field), at most MAX_FORM_BYTES."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        raise FormError(415, f"a form must be sent as {FORM_TYPE}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormError(413, f"a form may have at most {MAX_FORM_BYTES} bytes")
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError(400, f"the form could not be read: {exc}") from None
    return dict(pairs)


def set_cookie(response: Response, request: Request, name: str, value: str, *, max_age: int, path: str) -> None:
    """HttpOnly and SameSite=Strict always; Secure when the console is reached over https."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
