"""The web console under /console (ARCHITECTURE.md §7): what a person must decide, in one place.

Pages: the tenants with their SLA figures and 30-day charts, the queue (open attention items and
deferred steps, by tenant and code; the tenants MALL refuses, and the MALL orders the shop never got as
`mallbridge balance` last saw them, above), an order with its timeline and the three actions, each confirmed
on a second page before it is recorded through the same `OperatorActions.perform` the commands use.

Behind the operator token (`MALLBRIDGE_CONSOLE_TOKEN`): a login form sets a signed session cookie
(`session.py`); every page needs the session (else a redirect to the login form), every POST needs the
session and the form's CSRF token (else 403, nothing changes). The token is never logged or shown.
Without a token the console is not mounted at all: every path under /console is a 404.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from mallbridge_core.domain.sla import prague_date
from mallbridge_core.eventlog import LogUnavailableError
from mallbridge_publisher.console.pages import (
    DEFERRED,
    order_page,
    queue,
    tenant_cards,
    tenant_chips,
    unknown_order_cards,
)
from mallbridge_publisher.console.session import (
    LOGIN_COOKIE,
    LOGIN_TTL_S,
    SESSION_COOKIE,
    SESSION_TTL_S,
    Session,
    SessionKeys,
)
from mallbridge_publisher.console.web import (
    BASE,
    FormError,
    Pages,
    order_url,
    read_form,
    secured,
    set_cookie,
    stylesheet,
)
from mallbridge_publisher.operator_actions import (
    ACTIONS,
    MAX_BY,
    ActionInputError,
    OperatorActions,
    Refused,
    action_refusal,
    action_request,
    person_name,
)
from mallbridge_publisher.orders import OrderBook
from mallbridge_publisher.unknown_orders import UnknownOrders

log = logging.getLogger(__name__)
FAILED_LOGIN_DELAY_S = 0.5


@dataclass(frozen=True)
class ConsoleDeps:
    keys: SessionKeys
    books: Callable[[], Sequence[OrderBook]]
    tenants: Sequence[str]
    actions: OperatorActions
    clock: Callable[[], datetime]
    paused: Callable[[], Sequence[str]] = tuple  # the tenants whose client_id MALL refuses now (401/403)
    # per tenant, the latest balance observation of MALL orders the shop never got (those counting any)
    unknown_orders: Callable[[], Sequence[UnknownOrders]] = tuple


Handler = Callable[[Request], Awaitable[Response]]


class Console:
    def __init__(self, deps: ConsoleDeps) -> None:
        self.deps = deps
        self.pages = Pages()
        self._css = stylesheet()

    # ---- sessions --------------------------------------------------------------------------------------

    def session_of(self, request: Request) -> Session | None:
        return self.deps.keys.read(request.cookies.get(SESSION_COOKIE), now=self.deps.clock().timestamp())

    def page(self, handler: Callable[[Request, Session], Awaitable[Response]]) -> Handler:
        """A GET page: without a session, off to the login form."""

        async def guarded(request: Request) -> Response:
            session = self.session_of(request)
            if session is None:
                wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return secured(RedirectResponse(f"{BASE}/login?{urlencode({'next': wanted})}", status_code=303))
            return await handler(request, session)

        return guarded

    def form(self, handler: Callable[[Request, Session, dict[str, str]], Awaitable[Response]]) -> Handler:
        """A POST: the session and its CSRF token, or 403 and nothing changes."""

        async def guarded(request: Request) -> Response:
            session = self.session_of(request)
            try:
                fields = await read_form(request)
            except FormError as exc:
                return self.pages.render("error.html", exc.status_code, message=str(exc), session=None)
            if session is None or not SessionKeys.same(self.deps.keys.csrf(session), fields.get("csrf")):
                log.warning("console POST refused: no session or a wrong CSRF token", extra={"path": request.url.path})
                return self.pages.render("error.html", 403, message="Forbidden: log in again.", session=None)
            return await handler(request, session, fields)

        return guarded

    def render(self, template: str, session: Session | None, status_code: int = 200, **context: object) -> Response:
        csrf = self.deps.keys.csrf(session) if session is not None else ""
        return self.pages.render(template, status_code, session=session, csrf=csrf, **context)

    # ---- login ------------------------------------------------------------------------------------------

    def login_form(
        self, request: Request, message: str = "", status_code: int = 200, name: str = "", after: str = ""
    ) -> Response:
        nonce = secrets.token_urlsafe(18)
        csrf = self.deps.keys.login_csrf(nonce)
        after = _inside(after or request.query_params.get("next", ""))
        response = self.pages.render(
            "login.html", status_code, session=None, csrf=csrf, message=message, name=name, after=after
        )
        set_cookie(response, request, LOGIN_COOKIE, nonce, max_age=LOGIN_TTL_S, path=f"{BASE}/login")
        return response

    async def get_login(self, request: Request) -> Response:
        return self.login_form(request)

    async def post_login(self, request: Request) -> Response:
        try:
            fields = await read_form(request)
        except FormError as exc:
            return self.pages.render("error.html", exc.status_code, message=str(exc), session=None)
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce or not SessionKeys.same(self.deps.keys.login_csrf(nonce), fields.get("csrf")):
            return self.pages.render("error.html", 403, message="Forbidden: reload the login form.", session=None)
        name = " ".join(fields.get("name", "").split())
        if not self.deps.keys.token_matches(fields.get("token", "")):
            log.warning(
                "console login refused: wrong token", extra={"client": request.client.host if request.client else ""}
            )
            await asyncio.sleep(FAILED_LOGIN_DELAY_S)
            return self.login_form(request, "Wrong token.", 401, name=name, after=fields.get("next", ""))
        try:
            name = person_name(name)
        except ActionInputError:
            message = f"Your name: 1 to {MAX_BY} characters, no control characters (it is recorded with what you do)."
            return self.login_form(request, message, 400, after=fields.get("next", ""))
        now = self.deps.clock().timestamp()
        response = secured(RedirectResponse(_inside(fields.get("next", "")) or f"{BASE}/", status_code=303))
        cookie = self.deps.keys.issue(name, sid=secrets.token_urlsafe(18), now=now)
        set_cookie(response, request, SESSION_COOKIE, cookie, max_age=SESSION_TTL_S, path=BASE)
        response.delete_cookie(LOGIN_COOKIE, path=f"{BASE}/login")
        log.info("console login", extra={"by": name})
        return response

    async def logout(self, request: Request, session: Session, fields: dict[str, str]) -> Response:
        self.deps.keys.end(session, now=self.deps.clock().timestamp())
        response = secured(RedirectResponse(f"{BASE}/login", status_code=303))
        response.delete_cookie(SESSION_COOKIE, path=BASE)
        return response

    # ---- pages --------------------------------------------------------------------------------------------

    async def tenants_page(self, request: Request, session: Session) -> Response:
        books = self.deps.books()
        cards = tenant_cards(books, self.deps.tenants, today=prague_date(self.deps.clock()))
        unknown = {card.tenant_id: card.count for card in unknown_order_cards(self.deps.unknown_orders(), books)}
        return self.render("tenants.html", session, cards=cards, paused=set(self.deps.paused()), unknown=unknown)

    async def queue_page(self, request: Request, session: Session) -> Response:
        tenant = request.query_params.get("tenant") or None
        code = request.query_params.get("code") or None
        books = self.deps.books()
        found = queue(books, tenant=tenant, code=code)
        paused = list(self.deps.paused())
        unknown = unknown_order_cards(self.deps.unknown_orders(), books)
        return self.render(
            "queue.html",
            session,
            queue=found,
            tenants=tenant_chips(found, unknown, paused),
            tenant=tenant,
            code=code,
            deferred_code=DEFERRED,
            paused=[t for t in paused if tenant in (None, t)],
            unknown=[card for card in unknown if tenant in (None, card.tenant_id)],
        )

    async def order_view(self, request: Request, session: Session) -> Response:
        tenant, number = request.path_params["tenant"], request.path_params["order"]
        try:
            history = await self.deps.actions.history(tenant, number)
        except LogUnavailableError:
            return self.render("error.html", session, 503, message="The event log is not answering; try again.")
        if history is None:
            return self.render("error.html", session, 404, message=f"No tenant {tenant!r} here.")
        done = request.query_params.get("done")
        page = order_page(history, now=self.deps.clock())
        status = 200 if history.state is not None else 404  # the page says the log holds nothing about it
        return self.render("order.html", session, status, page=page, done=done if done in ACTIONS else None)

    async def find(self, request: Request, session: Session, fields: dict[str, str]) -> Response:
        tenant, number = fields.get("tenant", "").strip(), fields.get("order", "").strip()
        if not tenant or not number:
            return secured(RedirectResponse(f"{BASE}/queue", status_code=303))
        return secured(RedirectResponse(order_url(tenant, number), status_code=303))

    # ---- actions: review, then confirm ------------------------------------------------------------------

    async def action(self, request: Request, session: Session, fields: dict[str, str]) -> Response:
        kind, tenant, number = (request.path_params[k] for k in ("kind", "tenant", "order"))
        try:
            wanted = action_request(
                kind, tenant_id=tenant, order_number=number, by=session.name, reason=fields.get("reason", "")
            )
        except ActionInputError as exc:
            return self.render("error.html", session, 400, message=str(exc))
        try:
            if fields.get("step") != "confirm":
                history = await self.deps.actions.history(tenant, number)
                refusal = "unknown tenant" if history is None else action_refusal(wanted, history.state)
                unknown = history is None or history.state is None
                return self.render("confirm.html", session, 404 if unknown else 200, want=wanted, refusal=refusal)
            outcome = await self.deps.actions.perform(wanted)
        except LogUnavailableError:
            return self.render(
                "error.html", session, 503, message="The event log is not answering; nothing was recorded."
            )
        if isinstance(outcome, Refused):
            return self.render("confirm.html", session, 409, want=wanted, refusal=outcome.reason)
        log.info(
            "console action recorded", extra={"action": kind, "tenant": tenant, "order": number, "by": session.name}
        )
        return secured(RedirectResponse(f"{order_url(tenant, number)}?done={kind}", status_code=303))

    async def css(self, request: Request) -> Response:
        return Response(self._css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.page(self.tenants_page)),
            Route("/queue", self.page(self.queue_page)),
            Route("/orders/{tenant}/{order:path}", self.page(self.order_view)),
            Route("/actions/{kind}/{tenant}/{order:path}", self.form(self.action), methods=["POST"]),
            Route("/find", self.form(self.find), methods=["POST"]),
            Route("/login", self.get_login, methods=["GET"]),
            Route("/login", self.post_login, methods=["POST"]),
            Route("/logout", self.form(self.logout), methods=["POST"]),
            Route("/static/console.css", self.css),
        ]


def _inside(path: str) -> str:
    """A page of the console to go back to after login ("" for anything else: no open redirect)."""
    if path.startswith(f"{BASE}/") and not path.startswith("//") and "\\" not in path and "://" not in path:
        return path
    return ""


def console_mount(deps: ConsoleDeps) -> Mount:
    """The console's routes under /console."""
    return Mount(BASE, routes=Console(deps).routes())
