"""Replayed pushes (ARCHITECTURE.md §3): the same signed request (same timestamp and signature) again within the
signature window writes nothing and is answered as the first one was, with `"replayed": true`.

Per tenant, the answers of the accepted pushes are kept by (timestamp, signature) until the window after
their timestamp has passed (later the signature check refuses the request anyway), at most `per_tenant` of
them (over it, the tenant's oldest go first, in a batch). A replay that arrives while the first is still
being written waits for its outcome. Only accepted (202) answers are kept: a push answered 4xx or 503 wrote
nothing, so sending it again is an ordinary new attempt.

Where: only the pushes in flight are in memory (their futures, which replays wait on). A completed answer
goes to a private temporary SQLite database (the conventions of `mallbridge_core.spill.SpillFile`: SQLite's
"" file, removed when the connection closes, no journal, no fsync), one row with its expiry (about 160
bytes on disk, index included); a replay costs one indexed read. Heap per remembered push: from ~0.9 KiB
to nothing, so the whole window fits at the push rate limit (services/ingest/README.md, "Replays").

A cache, never a source of truth: empty after a restart, and a database that fails never fails a push
(an answer that cannot be written is not remembered, a lookup that fails finds nothing): a replay the
cache does not know is processed again, and then change detection and the stale rule decide.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

log = logging.getLogger(__name__)

Answer = dict[str, Any]
_Key = tuple[str, str]  # (timestamp, signature) as sent
_InFlight = tuple[float, "asyncio.Future[Answer | None]"]  # (expires at, the answer; None: the attempt failed)

_SCHEME = "sha256="
_PURGE_EVERY_S = 1.0  # expired rows go in one DELETE per tenant at most this often, never one by one
_CACHE_KIB = 1024  # SQLite's page cache (outside the Python heap); the rest of the database is on disk

_CREATE = (
    "CREATE TABLE answers (tenant INTEGER, ts TEXT, sig BLOB, expires REAL NOT NULL, answer BLOB NOT NULL,"
    " PRIMARY KEY (tenant, ts, sig)) WITHOUT ROWID"
)
_INDEX = "CREATE INDEX answers_by_expiry ON answers (tenant, expires)"  # purges and evictions
_FIND = "SELECT answer FROM answers WHERE tenant = ? AND ts = ? AND sig = ? AND expires >= ?"
# A key's expiry follows from its timestamp, so a row already there (expired, not purged yet) is as good.
_PUT = "INSERT OR IGNORE INTO answers (tenant, ts, sig, expires, answer) VALUES (?, ?, ?, ?, ?)"
_PURGE = "DELETE FROM answers WHERE tenant = ? AND expires < ?"
_EVICT = (
    "DELETE FROM answers WHERE tenant = ? AND (ts, sig) IN"
    " (SELECT ts, sig FROM answers WHERE tenant = ? ORDER BY expires LIMIT ?)"
)

_ENCODE = msgspec.msgpack.Encoder().encode
_DECODE = msgspec.msgpack.Decoder(dict[str, Any]).decode


def _compact_signature(signature: str) -> bytes | str:
    """The signature as stored: `sha256=<64 lowercase hex>` as its 32 bytes, anything else as the text.

    Only a text that the bytes give back exactly is decoded, so two different signatures never share a
    stored key (and SQLite never takes a BLOB for equal to a TEXT)."""
    if signature.startswith(_SCHEME) and len(signature) == len(_SCHEME) + 64:
        try:
            digest = bytes.fromhex(signature[len(_SCHEME) :])
        except ValueError:
            return signature
        if digest.hex() == signature[len(_SCHEME) :]:
            return digest
    return signature


def _open_database() -> sqlite3.Connection:
    # "": a private temporary database, removed when the connection closes. isolation_level=None: every
    # statement is its own transaction; without a journal that is cheap, and there is nothing to roll back.
    db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
    db.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute(_CREATE)
    db.execute(_INDEX)
    return db


@dataclass(slots=True)
class _Tenant:
    number: int  # the tenant in the database (a small int rather than its id in every row)
    rows: int = 0  # its answers in the database, expired ones included until purged
    in_flight: dict[_Key, _InFlight] = field(default_factory=dict)


class ReplayCache:
    """The answers of a tenant's accepted pushes, by (timestamp, signature), for `window_s` after the
    timestamp; at most `per_tenant` per tenant (0: no cache, every push is new). Single-threaded: the event
    loop owns it. `close()` removes the database."""

    def __init__(self, *, per_tenant: int, window_s: float) -> None:
        self._per_tenant = per_tenant
        self._window_s = window_s
        self._evict_extra = per_tenant // 64  # over the cap, this many more go too: one eviction per batch
        self._tenants: dict[str, _Tenant] = {}
        self._db: sqlite3.Connection | None = None  # opened at the first answer to keep
        self._purged_at = -math.inf
        self._failing = False  # the last database operation failed (its warning is logged once)

    def __len__(self) -> int:
        """Pushes remembered: in flight, and in the database (expired ones until they are purged)."""
        return sum(t.rows + len(t.in_flight) for t in self._tenants.values())

    @property
    def in_memory(self) -> int:
        """Pushes whose first attempt is in flight: the only ones held in memory."""
        return sum(len(t.in_flight) for t in self._tenants.values())

    def close(self) -> None:
        """Remove the database and forget what it held (a later answer to keep opens a new, empty one)."""
        db, self._db = self._db, None
        for tenant in self._tenants.values():
            tenant.rows = 0
        if db is not None:
            db.close()

    async def answer(
        self, tenant_id: str, key: _Key, timestamp: float, now: float, first: Callable[[], Awaitable[Answer]]
    ) -> tuple[Answer, bool]:
        """The answer for the push `key` and whether it is a replay. `first()` produces it for a push not
        seen before (or whose earlier attempt failed); what it raises propagates, and nothing is kept."""
        if self._per_tenant == 0:
            return await first(), False
        tenant = self._tenant(tenant_id)
        while (entry := tenant.in_flight.get(key)) is not None and entry[0] >= now:
            answer = await asyncio.shield(entry[1])
            if answer is not None:
                return answer, True
            # The attempt it waited for failed: go round, and become the first attempt if nobody else has.
        remembered = self._find(tenant, key, now)
        if remembered is not None:
            return remembered, True
        expires = timestamp + self._window_s
        future: asyncio.Future[Answer | None] = asyncio.get_running_loop().create_future()
        tenant.in_flight[key] = (expires, future)
        try:
            result = await first()
        except BaseException:
            self._land(tenant, key, future, None)
            raise
        try:
            self._keep(tenant_id, tenant, key, expires, result, now)
        finally:  # written first, then dropped from memory: no moment in which a replay would find neither
            self._land(tenant, key, future, result)
        return result, False

    def _tenant(self, tenant_id: str) -> _Tenant:
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            tenant = self._tenants[tenant_id] = _Tenant(number=len(self._tenants) + 1)
        return tenant

    @staticmethod
    def _land(tenant: _Tenant, key: _Key, future: asyncio.Future[Answer | None], result: Answer | None) -> None:
        """The attempt is over: wake those waiting for it and drop it from memory (unless a later attempt of
        the same key, begun after this one's window, has taken its place)."""
        entry = tenant.in_flight.get(key)
        if entry is not None and entry[1] is future:
            del tenant.in_flight[key]
        future.set_result(result)

    def _find(self, tenant: _Tenant, key: _Key, now: float) -> Answer | None:
        """The remembered answer of `key` still in its window; None when there is none or the read fails."""
        if not tenant.rows or self._db is None:
            return None
        try:
            row = self._db.execute(_FIND, (tenant.number, key[0], _compact_signature(key[1]), now)).fetchone()
        except sqlite3.Error as exc:
            self._failed("cannot look up a replay in the temporary database; processing the push as new", exc)
            return None
        return None if row is None else _DECODE(row[0])

    def _keep(self, tenant_id: str, tenant: _Tenant, key: _Key, expires: float, answer: Answer, now: float) -> None:
        """Write an accepted push's answer (purging and evicting as due). A failure is logged, not raised:
        the push was accepted, and an answer not remembered only makes its replay a new attempt."""
        try:
            if self._db is None:
                self._db = _open_database()
            db = self._db
            self._purge_if_due(db, now)
            if expires < now:
                return  # its window is over: no replay of it can pass the signature check any more
            tenant.rows += db.execute(
                _PUT, (tenant.number, key[0], _compact_signature(key[1]), expires, _ENCODE(answer))
            ).rowcount
            if tenant.rows > self._per_tenant:
                excess = tenant.rows - self._per_tenant + self._evict_extra
                tenant.rows -= db.execute(_EVICT, (tenant.number, tenant.number, excess)).rowcount
        except sqlite3.Error as exc:
            self._failed(
                "cannot remember a push's answer in the temporary database; a replay of it will be processed again",
                exc,
                tenant_id,
            )
            return
        if self._failing:
            self._failing = False
            log.info("the temporary database of push answers works again")

    def _purge_if_due(self, db: sqlite3.Connection, now: float) -> None:
        """Delete every tenant's expired answers, one statement per tenant, at most once a second (of `now`:
        a clock set back purges at once rather than never)."""
        if abs(now - self._purged_at) < _PURGE_EVERY_S:
            return
        self._purged_at = now
        for tenant in self._tenants.values():
            if tenant.rows:
                tenant.rows -= db.execute(_PURGE, (tenant.number, now)).rowcount

    def _failed(self, message: str, exc: sqlite3.Error, tenant_id: str | None = None) -> None:
        # Once per failing spell: a full disk would otherwise log every push. Never the key (a signature).
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        extra: dict[str, object] = {"error": f"{type(exc).__name__}: {exc}"}
        if tenant_id is not None:
            extra["tenant"] = tenant_id
        log.log(level, message, extra=extra)
