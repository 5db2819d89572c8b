"""Per-order state with a bounded part in memory: the most recently used entries in a dict, the rest in
a private SQLite file (`SpillFile`). What a service keeps per order is rebuilt from the event log at every
start, so the file is a cache of that fold, never a second source of truth: it is a temporary database
(SQLite's "" file: removed when the connection closes, never shared, nothing to clean up after a
crash), written without journal or fsync.

Why: a long-running service that keeps every order it has ever seen in its heap grows with the
merchant's whole history (about 0.75 KiB per order in ingest). With a `SpillingMap` its memory stays
near `hot × entry size` and the history costs disk; an entry not in memory costs one indexed read
(tens of microseconds) the next time its order changes.

`SpillingMap` is a `MutableMapping` with the semantics of a dict (except iteration order): the two
tiers never hold the same key, so `len` is exact and a value read back from the file is the one
written. Keys are strings, or anything with a text form (`key_text`/`text_key`, e.g. the publisher's
(tenant, order) tuples). A map may file each value under a small integer (`tag`, e.g. the partition an
order belongs to): the entries of some tags are then found and removed without reading any value.
Single-threaded: the caller's event loop (or process) owns it. When the file fails (the temporary
directory full or read-only), a write of a value never fails: entries stay in memory, and the map grows
as a plain dict would, rather than lose or mix up a state. A failed read raises.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Callable, Collection, Hashable, Iterator, MutableMapping
from itertools import islice
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

log = logging.getLogger(__name__)

_MISSING = object()
_GET = "SELECT value FROM spilled WHERE map = ? AND key = ?"
_PEEK = "SELECT 1 FROM spilled WHERE map = ? AND key = ?"
_DROP = "DELETE FROM spilled WHERE map = ? AND key = ?"
_PUT = "INSERT OR REPLACE INTO spilled (map, key, tag, value) VALUES (?, ?, ?, ?)"
_KEYS = "SELECT key FROM spilled WHERE map = ?"
_KEYS_TAGGED = "SELECT key FROM spilled WHERE map = ? AND tag = ?"
_DROP_TAGGED = "DELETE FROM spilled WHERE map = ? AND tag = ? RETURNING key"


def _same(key: Any) -> Any:
    return key


class SpillFile:
    """One private temporary SQLite database holding the spilled entries of any number of maps."""

    def __init__(self, *, cache_kib: int = 1024) -> None:
        """`cache_kib`: SQLite's page cache, outside the Python heap. Spilled entries are read one by one by
        key, so a larger cache buys little: a publisher rebuild of 30,000 orders ran the same with 512 KiB,
        1 MiB and 2 MiB."""
        # isolation_level=None: no implicit transactions; evictions open their own.
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA cache_size = -{int(cache_kib)}")
        self._db.execute("PRAGMA journal_mode = OFF")  # a cache rebuilt at every start: nothing to roll back
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute(
            "CREATE TABLE spilled (map INTEGER, key TEXT, tag INTEGER, value BLOB NOT NULL, PRIMARY KEY (map, key))"
            " WITHOUT ROWID"
        )
        self._db.execute("CREATE INDEX spilled_by_tag ON spilled (map, tag)")
        self._maps = 0

    def new_map_id(self) -> int:
        self._maps += 1
        return self._maps

    @property
    def db(self) -> sqlite3.Connection:
        return self._db

    def close(self) -> None:
        self._db.close()


def index_hot(hot: int) -> int:
    """The in-memory part of an index beside a map of `hot` records (MALL id -> order): such an index is read
    rarely (MALL's webhook, the unconfirmed poll) and asked mostly about new ids, which no tier holds, so
    a sixteenth of the records' share is plenty."""
    return max(64, hot // 16)


class SpillingMap(MutableMapping[K, V]):
    """A dict of at most about `hot` entries in memory, the least recently used of the rest in `file`.

    `encode`/`decode` turn a value into bytes and back (exactly: `decode(encode(v)) == v`); `key_text` and
    `text_key` a key into the text the file keeps and back (strings as they are by default); `tag`, if
    given, the integer a value is filed under (see `keys_tagged`). Memory holds between `hot` and
    `hot + hot // 8` entries: eviction runs in batches, one transaction each.

    An entry read back from the file keeps its row while it is in memory (it is *filed*): evicting it
    again costs nothing while it is unchanged (*clean*), and a changed one is written over its row. Reads
    are the common case (an order looked at, not changed), so a read costs one SELECT and no write. Values
    are never changed in place: a new value is set.
    """

    def __init__(
        self,
        file: SpillFile,
        *,
        hot: int,
        encode: Callable[[V], bytes],
        decode: Callable[[bytes], V],
        key_text: Callable[[K], str] = _same,
        text_key: Callable[[str], K] = _same,
        tag: Callable[[V], int] | None = None,
    ) -> None:
        if hot < 1:
            raise ValueError(f"hot: {hot} is not allowed; allowed: 1 or more entries in memory")
        self._hot: dict[K, V] = {}
        self._filed: set[K] = set()  # keys in memory that also have a row in the file (maybe an older value)
        self._clean: set[K] = set()  # of those, the ones whose row holds the value in memory
        self._rows = 0  # this map's rows in the file
        self._capacity = hot
        self._batch = max(1, hot // 8)  # entries written per eviction, at least
        self._limit = hot + self._batch
        self._encode = encode
        self._decode = decode
        self._text = key_text
        self._key = text_key
        self._tag = tag
        self._db = file.db
        self._map = file.new_map_id()

    @property
    def in_memory(self) -> int:
        return len(self._hot)

    @property
    def spilled(self) -> int:
        """Entries only in the file."""
        return self._rows - len(self._filed)

    def _file_has_others(self) -> bool:
        """Whether the file holds an entry that is not in memory (else a miss in memory is a miss)."""
        return self._rows > len(self._filed)

    def get(self, key: K, default: V | None = None) -> V | None:  # type: ignore[override]
        value = self._lookup(key)
        return default if value is _MISSING else value  # type: ignore[return-value]

    def __getitem__(self, key: K) -> V:
        value = self._lookup(key)
        if value is _MISSING:
            raise KeyError(key)
        return value  # type: ignore[return-value]

    def __contains__(self, key: object) -> bool:
        if key in self._hot:
            return True
        if not self._file_has_others():
            return False
        return self._db.execute(_PEEK, (self._map, self._text(key))).fetchone() is not None  # type: ignore[arg-type]

    def __setitem__(self, key: K, value: V) -> None:
        hot = self._hot
        if key in hot:
            hot[key] = value  # first: the caller may be recording a state the log has already acknowledged
            self._clean.discard(key)  # its row, if any, is older now
        else:
            hot[key] = value
            if self._file_has_others():
                try:
                    self._rows -= self._db.execute(_DROP, (self._map, self._text(key))).rowcount
                except sqlite3.Error as exc:
                    # Its old value may still be in the file: it must never be evicted over it, so nothing is.
                    self._stop_spilling(exc)
        if len(hot) > self._limit:
            self._evict()

    def _stop_spilling(self, exc: sqlite3.Error) -> None:
        self._limit = sys.maxsize
        log.error(
            "the temporary file of order states failed; keeping every state in memory from now on",
            extra={"error": f"{type(exc).__name__}: {exc}", "in_memory": len(self._hot)},
        )

    def __delitem__(self, key: K) -> None:
        if self._hot.pop(key, _MISSING) is not _MISSING:
            self._clean.discard(key)
            if key in self._filed:
                self._filed.discard(key)
                self._rows -= self._db.execute(_DROP, (self._map, self._text(key))).rowcount
            return
        dropped = self._db.execute(_DROP, (self._map, self._text(key))).rowcount if self._file_has_others() else 0
        if not dropped:
            raise KeyError(key)
        self._rows -= dropped

    def __iter__(self) -> Iterator[K]:
        """Every key once: those in memory, then those only in the file (a snapshot: do not change the map
        while iterating)."""
        hot = self._hot
        keys = list(hot)
        if self._file_has_others():
            key = self._key
            keys.extend(k for row in self._db.execute(_KEYS, (self._map,)) if (k := key(row[0])) not in hot)
        return iter(keys)

    def keys_tagged(self, tags: Collection[int]) -> list[K]:
        """The keys of the entries filed under one of `tags`; the values in the file are not read."""
        tag_of = self._tag_of()
        wanted = frozenset(tags)
        hot = self._hot
        keys = [key for key, value in hot.items() if tag_of(value) in wanted]
        if self._file_has_others():
            key = self._key
            for tag in wanted:
                rows = self._db.execute(_KEYS_TAGGED, (self._map, tag))
                keys.extend(k for row in rows if (k := key(row[0])) not in hot)  # in memory: its own tag counts
        return keys

    def remove_tagged(self, tags: Collection[int]) -> None:
        """Remove every entry filed under one of `tags` (the values in the file are not read)."""
        tag_of = self._tag_of()
        wanted = frozenset(tags)
        hot, db = self._hot, self._db
        for key in [key for key, value in hot.items() if tag_of(value) in wanted]:
            del self[key]
        if self._rows:
            for tag in wanted:
                for (text,) in db.execute(_DROP_TAGGED, (self._map, tag)).fetchall():
                    self._rows -= 1
                    key = self._key(text)
                    # An entry in memory under another tag whose older row was under this one: the row is gone.
                    self._filed.discard(key)
                    self._clean.discard(key)

    def _tag_of(self) -> Callable[[V], int]:
        if self._tag is None:
            raise TypeError("this map files no value under a tag (no `tag` given)")
        return self._tag

    def __len__(self) -> int:
        return len(self._hot) + self._rows - len(self._filed)

    def _lookup(self, key: K) -> object:
        """The value (moved to the most recently used end), read back from the file when spilled."""
        hot = self._hot
        value = hot.pop(key, _MISSING)
        if value is _MISSING:
            if not self._file_has_others():
                return _MISSING
            row = self._db.execute(_GET, (self._map, self._text(key))).fetchone()  # type: ignore[arg-type]
            if row is None:
                return _MISSING
            value = self._decode(row[0])
            hot[key] = value  # type: ignore[assignment]
            self._filed.add(key)  # type: ignore[arg-type]
            self._clean.add(key)  # type: ignore[arg-type]
            if len(hot) > self._limit:
                self._evict()
            return value
        hot[key] = value  # type: ignore[assignment]
        return value

    def _evict(self) -> None:
        """Write the least recently used entries beyond `hot` to the file (those that changed since it last had
        them), then drop them from memory.

        A failed write (the temporary directory full or not writable) keeps them in memory and tries again
        one batch later: the map may grow, but it never loses or mixes up a value, because the caller may be
        updating states the log has already acknowledged."""
        hot, clean, filed = self._hot, self._clean, self._filed
        oldest = list(islice(hot, len(hot) - self._capacity))
        changed = [key for key in oldest if key not in clean]
        encode, text, tag = self._encode, self._text, self._tag
        n = self._map
        values = [hot[key] for key in changed]
        tags = [None] * len(values) if tag is None else [tag(value) for value in values]
        rows = [
            (n, text(key), filed_under, encode(value))
            for key, filed_under, value in zip(changed, tags, values, strict=True)
        ]
        db = self._db
        try:
            db.execute("BEGIN")
            try:
                db.executemany(_PUT, rows)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._limit = len(hot) + self._batch
            log.warning(
                "cannot spill order state to the temporary file; keeping it in memory",
                extra={"error": f"{type(exc).__name__}: {exc}", "in_memory": len(hot)},
            )
            return
        self._rows += sum(1 for key in changed if key not in filed)
        for key in oldest:
            del hot[key]
            filed.discard(key)
            clean.discard(key)
        self._limit = self._capacity + self._batch


class TaggedDict(dict[K, V]):
    """A plain dict with `SpillingMap`'s two tag methods: for a holder that keeps everything in memory."""

    def __init__(self, tag: Callable[[V], int]) -> None:
        super().__init__()
        self._tag = tag

    @property
    def in_memory(self) -> int:
        return len(self)

    def keys_tagged(self, tags: Collection[int]) -> list[K]:
        wanted, tag = frozenset(tags), self._tag
        return [key for key, value in self.items() if tag(value) in wanted]

    def remove_tagged(self, tags: Collection[int]) -> None:
        for key in self.keys_tagged(tags):
            del self[key]
