"""Running a module's engine tests twice: every order record in memory, and nearly all in the temporary file."""

from __future__ import annotations

from typing import Any

import pytest

from mallbridge_publisher.config import PublisherSettings


def run_each_test_with_orders_in_memory_and_spilled(module: str) -> Any:
    """An autouse fixture for `module` (assign it to a module-level name): each test runs with the module's
    `FAST` settings as they are (`hot_orders` 0: every record in memory) and with `hot_orders` 1 (one
    record in memory, the rest in the book's temporary file), so every read of an order goes through it."""

    @pytest.fixture(autouse=True, params=[0, 1], ids=["orders-in-memory", "orders-spilled"])
    def orders_kept(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
        settings: PublisherSettings = __import__(module, fromlist=["FAST"]).FAST
        monkeypatch.setattr(f"{module}.FAST", settings.model_copy(update={"hot_orders": request.param}))

    return orders_kept
