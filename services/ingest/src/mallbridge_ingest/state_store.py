"""Where ingest keeps each tenant's last known order states and its MALL id index (`mallbridge_core.spill`).

With `hot_orders` 0 everything stays in plain dicts (the import's short-lived workers, which want speed);
otherwise each tenant's orders and MALL ids keep at most about `hot_orders` entries in memory and the rest
in one private temporary SQLite file per rebuild, so a long-running ingest's memory stays flat as the
merchant's history grows.
"""

from __future__ import annotations

import pickle
from collections.abc import MutableMapping

from mallbridge_core.spill import SpillFile, SpillingMap
from mallbridge_ingest.domain.state import OrderState


def _encode_state(state: OrderState) -> bytes:
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


def _decode_state(blob: bytes) -> OrderState:
    # Only ever what _encode_state wrote into this process's own temporary file.
    state: OrderState = pickle.loads(blob)  # noqa: S301
    return state


def _encode_text(text: str) -> bytes:
    return text.encode()


def _decode_text(blob: bytes) -> str:
    return blob.decode()


class StateStore:
    """Makes the per-tenant maps of one rebuild, all spilling into one file; `close` removes the file."""

    def __init__(self, hot_orders: int) -> None:
        self.hot_orders = hot_orders
        self._file: SpillFile | None = None  # opened with the first map that needs it

    def orders(self) -> MutableMapping[str, OrderState]:
        if not self.hot_orders:
            return {}
        return SpillingMap(self._spill_file(), hot=self.hot_orders, encode=_encode_state, decode=_decode_state)

    def mall_ids(self) -> MutableMapping[str, str]:
        if not self.hot_orders:
            return {}
        return SpillingMap(self._spill_file(), hot=self.hot_orders, encode=_encode_text, decode=_decode_text)

    def _spill_file(self) -> SpillFile:
        if self._file is None:
            self._file = SpillFile()
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
