"""A lean HTTP/1.1 keep-alive transport for httpx: the connections of the MALL client.

Why: the publisher spends most of each PUT in its HTTP stack, and httpx's default transport (httpcore
on anyio) is general where MALL needs nothing of that generality: per request it visits every pooled
connection, asks each socket for its peer name and takes anyio locks; it brings HTTP/2, proxies and
streamed bodies MALL's API does not use. This transport is an `httpx.AsyncBaseTransport`, so httpx stays
the client (its Request, Response, timeouts and errors) and tests still swap in `httpx.MockTransport`.
The publisher bench (tests/bench/publisher_bench.py) measures both transports against raw PUTs.

The contract it keeps from httpx's: the request's `timeout` extension applies (connect, read, pool; the
write of a few kilobytes is buffered at once and its time counts against the read timeout), raising
httpx.ConnectTimeout, ReadTimeout, PoolTimeout; a refused connection, or a host name that cannot be
resolved or even asked for (an empty label: `mpapi..mallgroup.com`), raises ConnectError, one lost
before the whole answer RemoteProtocolError, a malformed answer RemoteProtocolError (the framing rules
are in http1_wire.py). At most `max_connections` requests are in flight per host; a connection carries
one request at a time and is reused only after a whole answer that allows it, never once the server
closed it or after `keepalive_expiry_s` idle (below the 5 s servers commonly keep idle connections).

Host names are looked up on the transport's own thread (one per transport, so one per tenant), and a
lookup already under way for the same host is joined, not repeated. asyncio would use the event loop's
default executor, a handful of threads the whole process shares: a resolver that does not answer for
one tenant's host would hold them all, and every other tenant's new connections would wait behind it
until their connect timeout.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from mallbridge_publisher.adapters.http1_wire import Answer, WireError, encode_request, parse_answer


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; the bytes it receives are parsed only while a request waits."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False
        self.idle_since = time.monotonic()
        self._method = b"GET"
        self._answer: asyncio.Future[tuple[Answer, int]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self._answer is not None and not self._answer.done():
            self._try_parse()

    def eof_received(self) -> bool:
        self.closed = True
        if self._answer is not None and not self._answer.done():
            self._try_parse()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._answer is not None and not self._answer.done():
            self._try_parse()

    def _try_parse(self) -> None:
        assert self._answer is not None
        try:
            parsed = parse_answer(self.buffer, method=self._method, closed=self.closed)
        except WireError as exc:
            self._answer.set_exception(exc)
            return
        if parsed is not None:
            self._answer.set_result(parsed)

    def usable(self, now: float, expiry_s: float) -> bool:
        transport = self.transport
        return (
            not self.closed
            and transport is not None
            and not transport.is_closing()
            and not self.buffer
            and now - self.idle_since < expiry_s
        )

    async def exchange(self, method: bytes, data: bytes) -> Answer:
        """Send one request's bytes and wait for its whole answer (the caller bounds the wait)."""
        assert self.transport is not None
        self._method = method
        self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        if self.buffer or self.closed:
            self._try_parse()
        answer, used = await self._answer
        del self.buffer[:used]
        self._answer = None
        return answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _HostPool:
    """The connections to one (scheme, host, port), and the slots that bound them."""

    def __init__(self, max_connections: int) -> None:
        self.slots = asyncio.Semaphore(max_connections)
        self.idle: list[_Connection] = []

    def take_idle(self, expiry_s: float) -> _Connection | None:
        now = time.monotonic()
        while self.idle:
            connection = self.idle.pop()
            if connection.usable(now, expiry_s):
                return connection
            connection.close()
        return None


class Http1Transport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        *,
        max_connections: int,
        keepalive_expiry_s: float = 4.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`ssl_context` for https (default: httpx's, which verifies with certifi's roots)."""
        self._max_connections = max_connections
        self._expiry_s = keepalive_expiry_s
        self._ssl_context = ssl_context
        self._resolver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mallbridge-mall-resolver")
        self._lookups: dict[tuple[str, int], asyncio.Future[list[Address]]] = {}
        self._pools: dict[tuple[bytes, bytes, int], _HostPool] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise httpx.ConnectError("the transport is closed", request=request)
        url = request.url
        key = (url.raw_scheme, url.raw_host, url.port or (443 if url.raw_scheme == b"https" else 80))
        pool = self._pools.get(key) or self._pools.setdefault(key, _HostPool(self._max_connections))
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        data = _request_bytes(request, await request.aread())
        await _acquire(pool.slots, timeouts.get("pool"), request)
        try:
            connection = pool.take_idle(self._expiry_s) or await self._connect(key, timeouts.get("connect"), request)
            answer = await _exchange(connection, request, data, timeouts.get("read"))
            if answer.reusable and not self._closed:
                connection.idle_since = time.monotonic()
                pool.idle.append(connection)
            else:
                connection.close()
        finally:
            pool.slots.release()
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            stream=httpx.ByteStream(answer.body),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason},
        )

    async def _connect(
        self, key: tuple[bytes, bytes, int], timeout_s: float | None, request: httpx.Request
    ) -> _Connection:
        scheme, host, port = key
        tls: dict[str, Any] = {}
        if scheme == b"https":
            if self._ssl_context is None:  # built once: loading the trusted roots takes milliseconds
                self._ssl_context = httpx.create_ssl_context()
            tls = {"ssl": self._ssl_context, "server_hostname": host.decode("ascii")}
        try:
            async with asyncio.timeout(timeout_s):
                return await self._open(host.decode("ascii"), port, tls)
        except TimeoutError:
            raise httpx.ConnectTimeout("no connection within the connect timeout", request=request) from None
        except (OSError, ssl.SSLError, UnicodeError) as exc:  # UnicodeError: a host name no DNS can be asked for
            raise httpx.ConnectError(f"connection failed ({type(exc).__name__})", request=request) from None

    async def _open(self, host: str, port: int, tls: dict[str, Any]) -> _Connection:
        """A connection to the first of the host's addresses that takes one."""
        loop = asyncio.get_running_loop()
        addresses = [(host, port)] if _is_ip(host) else await self._resolve(host, port)
        error: OSError | None = None
        for address, address_port in addresses:
            try:
                _, connection = await loop.create_connection(_Connection, address, address_port, **tls)
            except OSError as exc:
                error = exc
                continue
            return connection
        raise error or OSError(f"no address for the host ({len(addresses)})")

    async def _resolve(self, host: str, port: int) -> list[Address]:
        """The host's addresses, looked up on this transport's thread; a lookup under way is joined (shielded:
        one request's timeout does not cancel it for the others, nor start a second one beside it)."""
        key = (host, port)
        lookup = self._lookups.get(key)
        if lookup is None:
            lookup = asyncio.get_running_loop().run_in_executor(self._resolver, _addresses, host, port)
            self._lookups[key] = lookup
            lookup.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(lookup)

    def _forget(self, key: tuple[str, int], lookup: asyncio.Future[list[Address]]) -> None:
        if self._lookups.get(key) is lookup:
            del self._lookups[key]
        if not lookup.cancelled():
            lookup.exception()  # retrieved: a lookup whose every waiter timed out is not reported as unhandled

    async def aclose(self) -> None:
        self._closed = True
        for pool in self._pools.values():
            for connection in pool.idle:
                connection.close()
            pool.idle.clear()
        self._resolver.shutdown(wait=False, cancel_futures=True)


Address = tuple[str, int]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _addresses(host: str, port: int) -> list[Address]:
    """The (address, port) pairs of a host name, in the resolver's order (blocking: run on a thread)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[Address] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        if len(sockaddr) == 4 and sockaddr[3]:  # an IPv6 link-local address keeps its interface
            address = f"{address}%{sockaddr[3]}"
        addresses.append((address, int(sockaddr[1])))
    return addresses


def _request_bytes(request: httpx.Request, body: bytes) -> bytes:
    try:
        return encode_request(request.method.encode("ascii"), request.url.raw_path, request.headers.raw, body)
    except WireError as exc:
        raise httpx.LocalProtocolError(str(exc), request=request) from None


async def _acquire(slots: asyncio.Semaphore, timeout_s: float | None, request: httpx.Request) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            await slots.acquire()
    except TimeoutError:
        raise httpx.PoolTimeout("no free connection within the pool timeout", request=request) from None


async def _exchange(connection: _Connection, request: httpx.Request, data: bytes, timeout_s: float | None) -> Answer:
    """One request on the connection; any failure or cancellation closes it (its state is unknown)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await connection.exchange(request.method.encode("ascii"), data)
    except TimeoutError:
        connection.close()
        raise httpx.ReadTimeout("no whole answer within the read timeout", request=request) from None
    except WireError as exc:
        connection.close()
        raise httpx.RemoteProtocolError(str(exc), request=request) from None
    except BaseException:
        connection.close()
        raise
