"""The front door for partner traffic (`/v1/...`): request log, client_id auth, faults, quota, then the API.

Order of work for each request, and why:
1. the body is read and the request logged (client_id masked), whatever happens next; then the latency
   setting (the partner's, else the global one) is awaited, so every answer comes that much later;
2. `client_id` → partner, else 401 (MALL: bad or missing client_id, or a disabled account);
3. the partner's injected faults: latency, then a drop / 5xx / 429 before the API sees the request (these
   do not use quota), or "apply then fail", where the API applies the request and the client gets a 5xx or
   a dropped connection instead of its answer (a timeout after success, seen from the client);
4. the partner's quota: one request counted, 429 `LIMITED` when spent (MALL's rate limiter);
5. the partner API, its response carrying `X-RateLimit-*`. Every answer to a known partner carries them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mallbridge_sandbox.api import PARTNER_SCOPE_KEY
from mallbridge_sandbox.errors import ErrorCode, MallError
from mallbridge_sandbox.faults import FaultDecision, FaultKind
from mallbridge_sandbox.orders import is_order_id
from mallbridge_sandbox.quota import rate_limit_headers
from mallbridge_sandbox.requestlog import LogEntry
from mallbridge_sandbox.state import SandboxState
from mallbridge_sandbox.transport import drop_connection

MAX_BODY_BYTES = 1024 * 1024
logger = logging.getLogger("mallbridge.sandbox")


def is_partner_path(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def order_id_in_path(path: str) -> str | None:
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[:2] == ["v1", "orders"] and is_order_id(parts[2]):
        return parts[2]
    return None


async def read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body, and whether it went over MAX_BODY_BYTES (then only the start is kept)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), size > MAX_BODY_BYTES


def replay_receive(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


class _Outcome:
    """What the client got: a status (None when the connection was dropped), the fault, the API's own status."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.fault: FaultKind | None = None
        self.dropped = False
        self.applied_status: int | None = None


class PartnerGateway:
    def __init__(self, state: SandboxState, api: ASGIApp) -> None:
        self.state = state
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        body, too_large = await read_body(receive)
        query = scope.get("query_string", b"").decode("latin-1")
        client_ids = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == "client_id"]
        account = self.state.account_for_client_id(client_ids[0]) if client_ids and client_ids[0] else None
        partner = account.partner.name if account else None
        entry = self.state.log.open(
            time=self.state.clock().astimezone(UTC).isoformat(timespec="milliseconds"),
            method=scope["method"],
            path=scope["path"],
            query=query,
            partner=partner,
            order_id=order_id_in_path(scope["path"]),
            body=body,
        )
        outcome = _Outcome()
        try:
            latency_ms = self.state.latency_for(account)
            if latency_ms:  # awaited, never blocking: concurrent requests wait side by side
                await asyncio.sleep(latency_ms / 1000)
            if not client_ids or not client_ids[0]:
                await self._refuse(
                    send,
                    outcome,
                    MallError.one(401, ErrorCode.CLIENT_ID_MISSING, "client_id query parameter is missing"),
                )
            elif account is None or partner is None:
                await self._refuse(
                    send, outcome, MallError.one(401, ErrorCode.CLIENT_ID_INVALID, "client_id is not valid")
                )
            elif not account.enabled:
                await self._refuse(
                    send, outcome, MallError.one(401, ErrorCode.ACCOUNT_DISABLED, "partner account is disabled")
                )
            else:
                await self._serve(partner, scope, receive, send, body, too_large, outcome)
        finally:
            self._finish(entry, outcome, started)

    def _finish(self, entry: LogEntry, outcome: _Outcome, started: float) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        fault = outcome.fault.value if outcome.fault else None
        self.state.log.finish(
            entry,
            status=outcome.status,
            fault=fault,
            dropped=outcome.dropped,
            duration_ms=duration_ms,
            applied_status=outcome.applied_status,
        )
        logger.debug(
            "partner request",
            extra={
                "method": entry.method,
                "path": entry.path,
                "query": entry.query,
                "partner": entry.partner,
                "status": outcome.status,
                "fault": fault,
            },
        )

    async def _refuse(
        self, send: Send, outcome: _Outcome, error: MallError, headers: dict[str, str] | None = None
    ) -> None:
        outcome.status = error.http_status
        await send_json(send, error.http_status, error.body(), headers or {})

    async def _drop(self, send: Send, outcome: _Outcome) -> None:
        outcome.dropped = True
        await drop_connection(send)

    async def _serve(
        self, partner: str, scope: Scope, receive: Receive, send: Send, body: bytes, too_large: bool, outcome: _Outcome
    ) -> None:
        decision = self.state.faults.decide(partner, scope["method"], order_id_in_path(scope["path"]))
        outcome.fault = decision.kind
        if decision.latency_ms:
            await asyncio.sleep(decision.latency_ms / 1000)
        if decision.kind == FaultKind.DROP:
            await self._drop(send, outcome)
            return
        if decision.kind == FaultKind.ERROR:
            await self._refuse(send, outcome, injected_error(decision), self.state.quotas.peek(partner).headers())
            return
        if decision.kind == FaultKind.RATE_LIMIT:
            quota = self.state.quotas.peek(partner)
            headers = rate_limit_headers(quota.limit, quota.window_seconds, 0, decision.rate_limit_reset_s)
            await self._refuse(send, outcome, limited("rate limit exceeded (injected)"), headers)
            return
        quota = self.state.quotas.consume(partner)
        if not quota.allowed:
            outcome.fault = None
            await self._refuse(send, outcome, limited("daily request quota exceeded"), quota.headers())
            return
        if too_large:
            error = MallError.one(413, ErrorCode.REQUEST_TOO_LARGE, f"request body over {MAX_BODY_BYTES} bytes")
            await self._refuse(send, outcome, error, quota.headers())
            return
        inner_scope = {**scope, PARTNER_SCOPE_KEY: partner}
        if decision.kind in (FaultKind.APPLY_THEN_DROP, FaultKind.APPLY_THEN_ERROR):
            await self._apply_then_fail(inner_scope, body, receive, send, decision, outcome, quota.headers())
            return
        await self.api(inner_scope, replay_receive(body, receive), self._with_headers(send, quota.headers(), outcome))

    async def _apply_then_fail(
        self,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
        decision: FaultDecision,
        outcome: _Outcome,
        headers: dict[str, str],
    ) -> None:
        async def swallow(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome.applied_status = message["status"]

        await self.api(scope, replay_receive(body, receive), swallow)
        if decision.kind == FaultKind.APPLY_THEN_DROP:
            await self._drop(send, outcome)
        else:
            await self._refuse(send, outcome, injected_error(decision), headers)

    @staticmethod
    def _with_headers(send: Send, headers: dict[str, str], outcome: _Outcome) -> Send:
        extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome.status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return wrapped


def injected_error(decision: FaultDecision) -> MallError:
    code = ErrorCode.INTERNAL_ERROR if decision.error_status == 500 else ErrorCode.SERVICE_UNAVAILABLE
    return MallError.one(decision.error_status, code, "temporary server error (injected)")


def limited(message: str) -> MallError:
    return MallError.one(429, ErrorCode.RATE_LIMIT_EXCEEDED, message)
