"""Where ingest keeps each tenant's last known order states and its MALL id index (`mallbridge_core.spill`).

With `hot_orders` 0 everything stays in plain dicts (the import's short-lived workers, which want speed);
otherwise each tenant's orders keep at most about `hot_orders` entries in memory (its MALL ids a sixteenth of
that, `spill.index_hot`) and the rest
in one private temporary SQLite file per rebuild, so a long-running ingest's memory stays flat as the
merchant's history grows.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, MutableMapping
from datetime import datetime
from typing import TypeVar

import msgspec

from mallbridge_core.domain.fastcentrik import FastCentrikSide
from mallbridge_core.spill import SpillFile, SpillingMap, index_hot
from mallbridge_ingest.domain.state import OrderState
from mallbridge_schema.statuses import FastCentrikStatus

V = TypeVar("V")

# An OrderState as one flat msgpack array (about 110 bytes; 15x faster both ways than pickle, which
# dominated a rebuild's cost once states spill). Times come back as the same instants in UTC: ingest only
# compares them (`detect.is_stale`). tests/unit/ingest/test_state_store.py fails when a field is added
# to either tuple without being added here.
_Row = tuple[
    str,  # mall_order_id
    int,  # seq
    int,  # fc.seq
    str | None,  # fc.status
    str,  # fc.status_label
    str | None,  # fc.delivered_at
    datetime | None,  # fc.delivery_recorded_at
    str | None,  # fc.tracking_number
    str | None,  # fc.tracking_url
    bool,  # fc.mdp
    datetime | None,  # fc.changed_at
    datetime | None,  # fc.newest_changed_at
]
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(_Row)


def _encode_state(state: OrderState) -> bytes:
    fc = state.fc
    status = None if fc.status is None else fc.status.value
    return _ENCODER.encode(
        (
            state.mall_order_id,
            state.seq,
            fc.seq,
            status,
            fc.status_label,
            fc.delivered_at,
            fc.delivery_recorded_at,
            fc.tracking_number,
            fc.tracking_url,
            fc.mdp,
            fc.changed_at,
            fc.newest_changed_at,
        )
    )


def _decode_state(blob: bytes) -> OrderState:
    mall_order_id, seq, fc_seq, status, label, delivered, recorded, number, url, mdp, changed, newest = _DECODER.decode(
        blob
    )
    fc = FastCentrikSide(
        fc_seq,
        None if status is None else FastCentrikStatus(status),
        sys.intern(label),  # as the fold keeps labels: one copy per distinct label
        delivered,
        recorded,
        number,
        url,
        mdp,
        changed,
        newest,
    )
    return OrderState(mall_order_id, fc, seq)


def _encode_text(text: str) -> bytes:
    return text.encode()


def _decode_text(blob: bytes) -> str:
    return blob.decode()


class StateStore:
    """Makes the per-tenant maps of one rebuild, all spilling into one file; `close` removes the file."""

    def __init__(self, hot_orders: int) -> None:
        self.hot_orders = hot_orders
        self._file: SpillFile | None = None

    def orders(self) -> MutableMapping[str, OrderState]:
        return self._map(self.hot_orders, _encode_state, _decode_state)

    def mall_ids(self) -> MutableMapping[str, str]:
        return self._map(index_hot(self.hot_orders), _encode_text, _decode_text)

    def _map(self, hot: int, encode: Callable[[V], bytes], decode: Callable[[bytes], V]) -> MutableMapping[str, V]:
        """A plain dict when everything stays in memory, else a map spilling into this rebuild's file."""
        if not self.hot_orders:
            return {}
        if self._file is None:
            self._file = SpillFile()  # opened with the first map that needs it
        return SpillingMap(self._file, hot=hot, encode=encode, decode=decode)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
