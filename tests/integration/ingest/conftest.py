"""Ingest integration tests run on both engines through the shared `event_log_url` fixture (tests/conftest.py).
The broker-loss tests are Kafka-only by nature and start a private broker each (`private_broker`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LocalBroker, running_broker


@pytest.fixture
def private_broker() -> Iterator[LocalBroker]:
    """A broker of this test's own, started; the test may stop and start it; removed afterwards."""
    with running_broker() as broker:
        yield broker
