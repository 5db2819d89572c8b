"""The console over HTTP (Starlette's test client), on the publisher's own projection and a fake log."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_publisher.adapters.http_api import create_http_app
from mallbridge_publisher.bootstrap import bootstrap
from mallbridge_publisher.config import PublisherSettings
from mallbridge_publisher.console.app import ConsoleDeps, console_mount
from mallbridge_publisher.console.session import SESSION_COOKIE, SESSION_TTL_S, SessionKeys
from mallbridge_publisher.gauges import StateGauges
from mallbridge_publisher.metrics import PublisherMetrics
from mallbridge_publisher.operator_actions import OperatorActions
from mallbridge_publisher.orders import OrderBook
from mallbridge_publisher.unknown_orders import UnknownOrdersBook
from mallbridge_schema.events import Event
from mallbridge_schema.statuses import MallStatus
from tests.unit.domain.builders import MALL_ID, ORDER, TENANT, attention, first_seen, updated
from tests.unit.publisher.fakes import FakeEventLog, FakeMall
from tests.unit.publisher.operator_log import NOW, operator_events, write
from tests.unit.publisher.unknown_seen import OPENED_AT, unknown, unknown_seen

TOKEN = "console-token-for-tests-0123456789"
TOPICS = Topics(prefix="t.")
TRACK = ("ZX1-CZ", "https://t.example/ZX1-CZ")
SHIPPED = [
    first_seen("settled", tracking=TRACK, at=NOW - timedelta(days=1)),
    updated(
        1, "shipped", {"status": "shipped", "confirmed": True, "tracking_number": TRACK[0], "tracking_url": TRACK[1]}
    ),
]


class World:
    def __init__(self) -> None:
        self.log = FakeEventLog()
        self.book = OrderBook(StateGauges(PublisherMetrics(), [TENANT]))
        self.unknown = UnknownOrdersBook([TENANT, "beta"])
        self.now = NOW
        tenants = {TENANT: Tenant(tenant_id=TENANT, mall_client_id=None, ingest_secret=None)}
        self.deps = ConsoleDeps(
            keys=SessionKeys(TOKEN),
            books=lambda: [self.book],
            tenants=[TENANT],
            actions=OperatorActions(
                log=self.log, tenants=tenants, topic_prefix="t.", clock=lambda: self.now, new_id=uuid.uuid4
            ),
            clock=lambda: self.now,
            unknown_orders=self.unknown.outstanding,
        )
        self.app = Starlette(routes=[console_mount(self.deps)])
        self.client = new_client(self.app)

    async def add(self, *events: Event) -> None:
        await write(self.log, TOPICS, *events)
        for event in events:
            self.book.fold_live(event, 0)

    async def login(self, name: str = "Jana Nováková", token: str = TOKEN) -> int:
        form = await self.client.get("/console/login")
        csrf = _csrf(form.text)
        answer = await self.client.post("/console/login", data={"csrf": csrf, "name": name, "token": token})
        return answer.status_code

    async def csrf(self, path: str = "/console/") -> str:
        return _csrf((await self.client.get(path)).text)


def new_client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://publisher")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = World()
    async with w.client:
        yield w


async def test_a_link_followed_before_login_leads_back_to_its_page_and_never_outside(world: World) -> None:
    away = await world.client.get(f"/console/orders/{TENANT}/{ORDER}")
    assert away.headers["location"] == f"/console/login?next=%2Fconsole%2Forders%2F{TENANT}%2F{ORDER}"
    form = await world.client.get(away.headers["location"])
    data = {"csrf": _csrf(form.text), "name": "jana", "token": TOKEN, "next": f"/console/orders/{TENANT}/{ORDER}"}
    assert (await world.client.post("/console/login", data=data)).headers["location"] == data["next"]
    form = await world.client.get("/console/login")
    data = {"csrf": _csrf(form.text), "name": "jana", "token": TOKEN, "next": "https://evil.example/console/"}
    assert (await world.client.post("/console/login", data=data)).headers["location"] == "/console/"


async def test_pages_need_a_session_and_the_login_sets_a_strict_httponly_signed_cookie(world: World) -> None:
    assert (await world.client.get("/console/")).headers["location"] == "/console/login?next=%2Fconsole%2F"
    form = await world.client.get("/console/login")
    assert "default-src 'none'" in form.headers["content-security-policy"]
    answer = await world.client.post("/console/login", data={"csrf": _csrf(form.text), "name": "jana", "token": TOKEN})
    assert answer.status_code == 303
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Path=/console" in cookie
    assert TOKEN not in cookie
    assert (await world.client.get("/console/")).status_code == 200


async def test_a_wrong_token_is_refused_and_a_login_without_its_csrf_is_forbidden(world: World) -> None:
    assert await world.login(token="not-the-token-at-all") == 401
    assert (await world.client.get("/console/")).status_code == 303
    await world.client.get("/console/login")
    bad = await world.client.post("/console/login", data={"csrf": "forged", "name": "jana", "token": TOKEN})
    assert bad.status_code == 403
    assert (await world.client.get("/console/")).status_code == 303


async def test_a_session_expires(world: World) -> None:
    assert await world.login() == 303
    world.now = NOW + timedelta(seconds=SESSION_TTL_S + 1)
    assert (await world.client.get("/console/")).status_code == 303


async def test_the_queue_shows_the_attention_item_and_filters_by_tenant_and_code(world: World) -> None:
    await world.add(*SHIPPED, attention("cancel_after_shipped", at=NOW))
    await world.login()
    page = (await world.client.get("/console/queue")).text
    assert _tenant_chips(page) == {TENANT: "1"}
    assert "cancel_after_shipped" in page
    assert ORDER in page
    assert "vyřízená / settled" in page
    assert ORDER in (await world.client.get(f"/console/queue?tenant={TENANT}&code=cancel_after_shipped")).text
    assert ORDER not in (await world.client.get("/console/queue?code=deferred")).text
    assert ORDER not in (await world.client.get("/console/queue?tenant=other")).text


async def test_the_tenants_page_has_the_figures_and_three_inline_charts(world: World) -> None:
    await world.add(*SHIPPED)
    await world.login()
    page = (await world.client.get("/console/")).text
    assert page.count("<svg") == 3
    assert "Cancel rate per day" in page
    assert "On-time delivery per day" in page
    assert "100.0 %" in page  # the tracking rate: one shipped order, with tracking
    assert "http" not in re.sub(r'xmlns="http://www.w3.org/2000/svg"|href="/console[^"]*"', "", page).replace(
        TRACK[1], ""
    )  # nothing from outside the machine


async def test_a_return_is_reviewed_then_confirmed_and_recorded_by_the_logged_in_name(world: World) -> None:
    await world.add(*SHIPPED)
    await world.login("Jana Nováková")
    order = await world.client.get(f"/console/orders/{TENANT}/{ORDER}")
    assert "Mark returned" in order.text
    assert "vyřízená / settled" in order.text
    csrf = _csrf(order.text)
    path = f"/console/actions/return/{TENANT}/{ORDER}"
    review = await world.client.post(path, data={"csrf": csrf, "step": "review", "reason": "came back"})
    assert review.status_code == 200
    assert "Confirm" in review.text
    assert operator_events(world.log, TOPICS) == []  # reviewing records nothing
    done = await world.client.post(path, data={"csrf": csrf, "step": "confirm", "reason": "came back"})
    assert done.status_code == 303
    assert done.headers["location"].endswith("?done=return")
    [event] = operator_events(world.log, TOPICS)
    assert (type(event).__name__, event.by, event.reason) == ("OrderReturnRequested", "Jana Nováková", "came back")
    timeline = (await world.client.get(done.headers["location"])).text
    assert "return requested" in timeline
    assert "Jana Nováková" in timeline


async def test_a_post_without_the_session_or_with_a_wrong_csrf_changes_nothing(world: World) -> None:
    await world.add(*SHIPPED)
    await world.login()
    path = f"/console/actions/return/{TENANT}/{ORDER}"
    assert (await world.client.post(path, data={"csrf": "wrong", "step": "confirm"})).status_code == 403
    assert (await world.client.post(path, data={"step": "confirm"})).status_code == 403
    csrf = await world.csrf()
    async with new_client(world.app) as anonymous:
        assert (await anonymous.post(path, data={"csrf": csrf, "step": "confirm"})).status_code == 403
    assert operator_events(world.log, TOPICS) == []
    # the same form with the session and its token goes through: the refusals above were the checks
    assert (await world.client.post(path, data={"csrf": csrf, "step": "confirm"})).status_code == 303
    assert len(operator_events(world.log, TOPICS)) == 1


async def test_a_refused_action_says_why_and_records_nothing(world: World) -> None:
    await world.add(first_seen("pending"))
    await world.login()
    order = (await world.client.get(f"/console/orders/{TENANT}/{ORDER}")).text
    assert "Not possible now: MALL has the order open" in order
    answer = await world.client.post(
        f"/console/actions/return/{TENANT}/{ORDER}", data={"csrf": await world.csrf(), "step": "confirm"}
    )
    assert answer.status_code == 409
    assert "Nothing was recorded" in answer.text
    assert operator_events(world.log, TOPICS) == []


async def test_a_form_of_another_type_or_too_large_is_refused(world: World) -> None:
    await world.login()
    path = f"/console/actions/ack/{TENANT}/{ORDER}"
    assert (await world.client.post(path, json={"csrf": await world.csrf()})).status_code == 415
    assert (await world.client.post(path, data={"csrf": await world.csrf(), "reason": "x" * 20000})).status_code == 413


async def test_what_people_typed_is_escaped(world: World) -> None:
    await world.add(*SHIPPED, attention("cancel_after_shipped", at=NOW))
    await world.login("<script>alert(1)</script>")
    page = (await world.client.get("/console/")).text
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def _service(token: str | None):
    tenants = {TENANT: Tenant(tenant_id=TENANT, mall_client_id=None, ingest_secret=None)}
    settings = PublisherSettings(console_token=token) if token else PublisherSettings()
    return bootstrap(settings=settings, event_log=FakeEventLog(), tenants=tenants, topic_prefix="t.", client=FakeMall())


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_without_a_token_the_console_is_off_404_and_says_so_at_startup(
    token: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    service = _service(token)
    with caplog.at_level("INFO"):
        routes = service.console_routes()
    app = create_http_app(metrics=service.metrics, readiness=service.readiness, extra_routes=routes)
    async with new_client(app) as client:
        login = await client.get("/console/login")
        health = await client.get("/healthz")
    assert health.status_code == 200
    if token is None:
        assert login.status_code == 404
        assert "console off: MALLBRIDGE_CONSOLE_TOKEN is not set" in caplog.text
    else:
        assert login.status_code == 200
        assert "Operator token" in login.text
        assert "console on at http://127.0.0.1:8081/console" in caplog.text
    assert TOKEN not in caplog.text


async def test_an_order_the_log_does_not_know_is_404_and_so_is_an_action_on_it(world: World) -> None:
    await world.login()
    page = await world.client.get(f"/console/orders/{TENANT}/NOPE")
    assert page.status_code == 404
    assert "The log holds nothing about this order" in page.text
    review = await world.client.post(f"/console/actions/ack/{TENANT}/NOPE", data={"csrf": await world.csrf()})
    assert review.status_code == 404
    assert operator_events(world.log, TOPICS) == []


async def test_a_login_name_the_actions_would_refuse_is_refused_at_login(world: World) -> None:
    assert await world.login("bad\x07name") == 400
    assert (await world.client.get("/console/")).status_code == 303  # no session


def test_an_empty_console_token_leaves_the_console_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLBRIDGE_CONSOLE_TOKEN", "")
    assert PublisherSettings().console_token is None


async def test_a_paused_tenant_is_on_the_queue_and_its_card(world: World) -> None:
    await world.login()
    assert "Tenants paused" not in (await world.client.get("/console/queue")).text
    world.deps = dataclasses.replace(world.deps, paused=lambda: [TENANT])
    world.app = Starlette(routes=[console_mount(world.deps)])
    async with new_client(world.app) as client:
        client.cookies = world.client.cookies
        queue_page = (await client.get("/console/queue")).text
        tenants_page = (await client.get("/console/")).text
    assert "Tenants paused" in queue_page
    assert f"MALL refuses the client_id of <strong>{TENANT}</strong>" in queue_page
    assert "paused: MALL refuses its client_id" in tenants_page
    assert _tenant_chips(queue_page) == {TENANT: "0"}  # nothing counted, yet the pause is a person's to mend


def _tenant_chips(page: str) -> dict[str, str]:
    """The queue's tenant filter: tenant -> the count its chip shows."""
    row = page[page.index("Tenant:") : page.index("Code:")]
    return dict(re.findall(r"\?tenant=([^\"&]+)\">[^<]*<span class=\"n\">(\d+)</span>", row))


async def test_logging_out_ends_the_session_even_for_a_copy_of_its_cookie(world: World) -> None:
    await world.login()
    copied = dict(world.client.cookies)
    answer = await world.client.post("/console/logout", data={"csrf": await world.csrf()})
    assert answer.status_code == 303
    async with new_client(world.app) as other:
        other.cookies.update(copied)
        assert (await other.get("/console/queue")).status_code == 303  # back to the login


UNKNOWN_SECTION = "MALL orders the shop never got"


async def test_the_mall_orders_the_shop_never_got_are_on_the_queue_until_an_empty_observation(world: World) -> None:
    await world.login()
    assert UNKNOWN_SECTION not in (await world.client.get("/console/queue")).text
    listed = (unknown("10085339411", MallStatus.OPEN), unknown("10085339412", MallStatus.SHIPPING, None))
    world.unknown.fold(unknown_seen(TENANT, *listed, total=5), 0)
    world.unknown.fold(unknown_seen("beta", "10085339499"), 1)
    page = (await world.client.get("/console/queue")).text
    section = page[page.index(UNKNOWN_SECTION) : page.index("Open attention items")]
    assert "10085339411" in section
    assert "10085339499" in section  # every tenant, unfiltered
    assert OPENED_AT in section
    assert "not said" in section  # MALL's detail had no `open`
    assert "shipping" in section
    assert "2026-03-02 10:00:00" in section  # when balance saw them, Prague time
    assert "And 3 more not listed" in section
    assert "cancel it at MALL" in section
    assert "next <code>mallbridge balance</code> run no longer finds it" in section
    filtered = (await world.client.get(f"/console/queue?tenant={TENANT}")).text
    assert "10085339411" in filtered
    assert "10085339499" not in filtered
    assert UNKNOWN_SECTION not in (await world.client.get("/console/queue?tenant=gamma")).text
    assert _tenant_chips(page) == {TENANT: "5", "beta": "1"}  # tenants with nothing else to do have a chip too
    world.unknown.fold(unknown_seen(TENANT, at=NOW), 0)
    world.unknown.fold(unknown_seen("beta", at=NOW), 1)
    assert UNKNOWN_SECTION not in (await world.client.get("/console/queue")).text


async def test_a_listed_mall_order_a_snapshot_names_since_is_left_out(world: World) -> None:
    await world.add(first_seen("pending"))  # FastCentrik names MALL_ID after balance ran
    world.unknown.fold(unknown_seen(TENANT, MALL_ID, "10085339411"), 0)
    await world.login()
    page = (await world.client.get("/console/queue")).text
    assert "10085339411" in page
    assert MALL_ID not in page
    assert "Left out: 1 that balance listed and a FastCentrik snapshot has named since" in page
    assert _tenant_chips(page) == {TENANT: "1"}  # what is left to do, not what balance counted
    world.unknown.fold(unknown_seen(TENANT, MALL_ID, at=NOW), 0)
    assert UNKNOWN_SECTION not in (await world.client.get("/console/queue")).text  # none left to show


async def test_the_tenant_card_has_a_pill_with_their_count_leading_to_the_queue(world: World) -> None:
    await world.login()
    assert "the shop never got" not in (await world.client.get("/console/")).text
    world.unknown.fold(unknown_seen(TENANT, "10085339411", total=1200), 0)
    page = (await world.client.get("/console/")).text
    assert f'href="/console/queue?tenant={TENANT}#unknown-mall-orders">1200 MALL orders the shop never got</a>' in page
    world.unknown.fold(unknown_seen(TENANT, "10085339411", at=NOW), 0)
    assert ">1 MALL order the shop never got</a>" in (await world.client.get("/console/")).text


async def test_what_mall_wrote_as_an_orders_open_moment_is_escaped(world: World) -> None:
    world.unknown.fold(unknown_seen(TENANT, unknown("10085339411", opened_at="<script>alert(1)</script>")), 0)
    await world.login()
    page = (await world.client.get("/console/queue")).text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
