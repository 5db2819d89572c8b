"""The MALL client's HTTP/1.1 transport over real sockets: a real ASGI server (uvicorn), and scripted
servers for what a well-behaved one never does (hang, cut an answer, close an idle connection)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mallbridge_core.tenants import Tenant
from mallbridge_publisher.adapters.http1_transport import Http1Transport
from mallbridge_publisher.adapters.mall_http import MallTransport, mall_client_for
from mallbridge_publisher.config import PublisherSettings
from mallbridge_publisher.ports import MallOutcomeUnknown
from tests.support.eventually import eventually
from tests.support.threaded_server import ThreadedServer

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Scripted"], Awaitable[None]]


class Scripted:
    """A TCP server whose every connection runs `script`; counts connections, and which ended."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.accepted = 0
        self.ended = 0
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            await self.script(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.ended += 1
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


@contextlib.asynccontextmanager
async def scripted(script: Script, tls: ssl.SSLContext | None = None) -> AsyncIterator[Scripted]:
    server = Scripted(script)
    server.server = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=tls)
    try:
        yield server
    finally:
        server.server.close()
        await server.server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request head and its Content-Length body."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(v) for k, _, v in (h.partition(b":") for h in head.split(b"\r\n")) if k.lower() == b"content-length"), 0
    )
    return head + await reader.readexactly(length)


def answer_each(answer: bytes) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: Scripted) -> None:
        while True:
            await read_request(reader)
            writer.write(answer)
            await writer.drain()

    return script


def client(transport: Http1Transport, *, timeout: float = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, timeout=timeout)


async def test_requests_to_a_real_server_share_one_kept_alive_connection_and_bodies_arrive_whole() -> None:
    ports: list[int] = []

    async def put(request: Request) -> JSONResponse:
        assert request.client is not None
        ports.append(request.client.port)
        body = await request.json()
        return JSONResponse({"id": request.path_params["id"], "echo": body, "q": request.query_params["client_id"]})

    async def big(_: Request) -> JSONResponse:
        return JSONResponse({"orders": [{"id": n, "status": "shipped"} for n in range(5000)]})

    app = Starlette(
        routes=[Route("/v1/orders/{id}", put, methods=["PUT"]), Route("/v1/orders", big)],
        middleware=[Middleware(GZipMiddleware, minimum_size=500)],
    )
    server = ThreadedServer(app, name="http1-real-server")
    server.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}/v1", transport=Http1Transport(max_connections=4)
        ) as c:
            for n in range(20):
                r = await c.put(f"/orders/{n}", params={"client_id": "x"}, json={"status": "shipping", "n": n})
                assert r.status_code == 200
                assert r.json() == {"id": str(n), "echo": {"status": "shipping", "n": n}, "q": "x"}
            listed = await c.get("/orders")
        assert listed.headers["content-encoding"] == "gzip"  # httpx decoded what the transport handed over
        assert len(listed.json()["orders"]) == 5000
        assert len(set(ports)) == 1, "sequential requests must reuse one kept-alive connection"
    finally:
        server.stop()


async def test_in_flight_requests_never_exceed_max_connections_and_a_full_pool_times_out() -> None:
    release = asyncio.Event()

    async def held(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: Scripted) -> None:
        while True:
            await read_request(reader)
            await release.wait()
            writer.write(OK)
            await writer.drain()

    async with scripted(held) as server:
        transport = Http1Transport(max_connections=3)
        async with client(transport) as c:
            tasks = [asyncio.create_task(c.get(f"{server.url}/{n}")) for n in range(10)]
            await eventually(lambda: server.accepted == 3, timeout=5, what="three connections")
            with pytest.raises(httpx.PoolTimeout):
                await c.get(f"{server.url}/late", timeout=httpx.Timeout(5.0, pool=0.2))
            assert server.accepted == 3
            release.set()
            answers = await asyncio.gather(*tasks)
        assert [a.text for a in answers] == ["ok"] * 10
        assert server.accepted == 3  # the other seven waited for a slot and reused the three


async def test_chunked_and_close_delimited_answers_and_connection_close_opens_a_new_connection() -> None:
    answers = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nlast",
    ]

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Scripted) -> None:
        if s.accepted > 1:  # the second connection: a body that ends with the connection
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
            return
        for answer in answers:
            await read_request(reader)
            writer.write(answer)
            await writer.drain()
        await reader.read()

    async with scripted(script) as server, client(Http1Transport(max_connections=1)) as c:
        assert (await c.get(server.url)).text == "abcde"
        assert (await c.get(server.url)).text == "last"
        assert (await c.get(server.url)).text == "until the end"
        assert server.accepted == 2


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: Scripted) -> None:
        await read_request(reader)
        writer.write(OK)  # keep-alive allowed, then the server closes it anyway (its idle timeout)
        await writer.drain()

    transport = Http1Transport(max_connections=1)
    async with scripted(once) as server, client(transport) as c:
        assert (await c.get(server.url)).text == "ok"
        idle = [connection for pool in transport._pools.values() for connection in pool.idle]
        assert len(idle) == 1
        await eventually(lambda: idle[0].closed, timeout=5, what="the client to see the server's close")
        assert (await c.get(server.url)).text == "ok"
        assert server.accepted == 2


async def test_an_idle_connection_older_than_the_keepalive_expiry_is_replaced() -> None:
    async with scripted(answer_each(OK)) as server:
        async with client(Http1Transport(max_connections=1, keepalive_expiry_s=0.0)) as c:
            for _ in range(3):
                assert (await c.get(server.url)).text == "ok"
        assert server.accepted == 3
        await eventually(lambda: server.ended == 3, timeout=5, what="every expired connection closed")


async def test_no_answer_within_the_read_timeout_is_a_read_timeout_and_the_connection_is_closed() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: Scripted) -> None:
        await read_request(reader)
        await reader.read()  # until the client gives up and closes

    async with scripted(silent) as server, client(Http1Transport(max_connections=1), timeout=0.3) as c:
        with pytest.raises(httpx.ReadTimeout):
            await c.get(server.url)
        await eventually(lambda: server.ended == 1, timeout=5, what="the client to close the connection")


@pytest.mark.parametrize(
    "cut",
    [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", b"HTTP/1.1 200 O", b"", b"NOT HTTP AT ALL\r\n\r\n"],
    ids=["mid-body", "mid-head", "nothing", "garbage"],
)
async def test_an_answer_cut_off_or_malformed_is_a_remote_protocol_error(cut: bytes) -> None:
    async def cutting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: Scripted) -> None:
        await read_request(reader)
        writer.write(cut)
        await writer.drain()

    async with scripted(cutting) as server, client(Http1Transport(max_connections=1)) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            await c.put(server.url, json={"status": "shipping"})


async def test_a_refused_connection_is_a_connect_error_that_names_no_url() -> None:
    async with scripted(answer_each(OK)) as server:
        url = f"{server.url}/orders/1?client_id=secret-4711"
    async with client(Http1Transport(max_connections=1)) as c:
        with pytest.raises(httpx.ConnectError) as caught:
            await c.get(url)
    assert "secret-4711" not in str(caught.value)


@pytest.mark.parametrize("host", ["mpapi..mallgroup.com", "a" * 64 + ".example", "nosuchhost.invalid"])
async def test_a_host_name_that_cannot_be_resolved_is_a_connect_error_that_names_no_url(host: str) -> None:
    async with client(Http1Transport(max_connections=1)) as c:
        with pytest.raises(httpx.ConnectError) as caught:
            await c.get(f"http://{host}/v1/orders/1?client_id=secret-4711")
    assert "secret-4711" not in str(caught.value)


@pytest.mark.parametrize("kind", ["http1", "httpcore"])
async def test_a_base_url_whose_host_cannot_be_resolved_is_an_unknown_outcome_on_either_transport(
    kind: MallTransport,
) -> None:
    mall = mall_client_for(PublisherSettings(mall_transport=kind, tenant_concurrency=2))
    tenant = Tenant(
        tenant_id="acme",
        mall_client_id=SecretStr("cid-4711"),
        ingest_secret=None,
        mall_base_url="http://mpapi..mallgroup.com/v1",  # a typo: an empty label
    )
    try:
        with pytest.raises(MallOutcomeUnknown) as caught:
            await mall.put_order(tenant, "10085339301", {"status": "shipping"})
    finally:
        await mall.close()
    assert "connection failed" in str(caught.value)
    assert "cid-4711" not in str(caught.value)


async def test_a_host_whose_lookup_hangs_holds_up_no_other_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """One tenant's MALL host whose resolver never answers: its requests time out, and another tenant's
    transport still connects at once (the lookups do not share the loop's few default threads)."""
    real = socket.getaddrinfo
    release = threading.Event()
    stuck_lookups: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "stuck.example":
            stuck_lookups.append(host)
            release.wait(20)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        if host == "mall.example":
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    stuck = httpx.AsyncClient(transport=Http1Transport(max_connections=40), timeout=httpx.Timeout(5, connect=0.3))
    try:
        async with scripted(answer_each(OK)) as server, client(Http1Transport(max_connections=1)) as healthy:
            port = server.url.rsplit(":", 1)[1]
            waiting = [asyncio.create_task(stuck.get(f"http://stuck.example/{n}")) for n in range(40)]
            await asyncio.sleep(0.1)  # every stuck request is waiting for its host's lookup
            started = time.monotonic()
            assert (await healthy.get(f"http://mall.example:{port}/")).text == "ok"
            assert time.monotonic() - started < 0.3
            for outcome in await asyncio.gather(*waiting, return_exceptions=True):
                assert isinstance(outcome, httpx.ConnectTimeout)
            assert stuck_lookups == ["stuck.example"]  # one lookup under way is joined, not repeated
    finally:
        release.set()
        await stuck.aclose()


async def test_a_cancelled_request_closes_its_connection_and_the_next_one_is_answered() -> None:
    first = asyncio.Event()

    async def slow_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Scripted) -> None:
        while True:
            await read_request(reader)
            if s.accepted == 1 and not first.is_set():
                first.set()
                await reader.read()
                return
            writer.write(OK)
            await writer.drain()

    async with scripted(slow_first) as server, client(Http1Transport(max_connections=1)) as c:
        task = asyncio.create_task(c.get(server.url))
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await c.get(server.url)).text == "ok"  # a new connection: the cancelled one's state was unknown
        assert server.accepted == 2


async def test_https_with_the_given_trust_and_refused_without_it(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    async with scripted(answer_each(OK), tls=server_tls) as server:
        url = server.url.replace("http://", "https://")
        async with client(Http1Transport(max_connections=1, ssl_context=trusting)) as c:
            assert (await c.get(url)).text == "ok"
            assert (await c.get(url)).text == "ok"
        async with client(Http1Transport(max_connections=1)) as c:
            with pytest.raises(httpx.ConnectError):
                await c.get(url)
    assert (
        server.accepted == 1
    )  # both trusted requests on one TLS connection; the refused one never got past the handshake


@pytest.mark.parametrize(("kind", "expected"), [("http1", Http1Transport), ("httpcore", httpx.AsyncHTTPTransport)])
async def test_the_publishers_mall_client_runs_on_the_transport_its_settings_name(
    kind: MallTransport, expected: type[httpx.AsyncBaseTransport]
) -> None:
    async def put(request: Request) -> JSONResponse:
        return JSONResponse({"result": {"code": 200, "status": "OK"}, "client_id": request.query_params["client_id"]})

    server = ThreadedServer(Starlette(routes=[Route("/v1/orders/{id}", put, methods=["PUT"])]), name="mall-kinds")
    server.start()
    mall = mall_client_for(PublisherSettings(mall_transport=kind, tenant_concurrency=2))
    tenant = Tenant(
        tenant_id="acme",
        mall_client_id=SecretStr("cid-4711"),
        ingest_secret=None,
        mall_base_url=f"http://127.0.0.1:{server.port}/v1",
    )
    try:
        answer = await mall.put_order(tenant, "10085339301", {"status": "shipping"})
        assert (answer.http_status, answer.body) == (
            200,
            {"result": {"code": 200, "status": "OK"}, "client_id": "cid-4711"},
        )
        assert type(mall._client(tenant)._transport) is expected
    finally:
        await mall.close()
        server.stop()
