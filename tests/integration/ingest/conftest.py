"""Ingest integration tests run on both engines through the shared `event_log_url` fixture (tests/conftest.py).
The broker-loss tests are Kafka-only by nature: they stop, kill and restart a broker, never the session's.
They share one private broker (`private_broker`), started once for this package: each test writes under a
topic prefix of its own, and a start costs more than most of these tests' own work."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LocalBroker, running_broker


@pytest.fixture(scope="package")
def _package_broker() -> Iterator[LocalBroker]:
    with running_broker() as broker:
        yield broker


@pytest.fixture
def private_broker(_package_broker: LocalBroker) -> LocalBroker:
    """The package's own broker, running (started again on its data when an earlier test left it stopped or
    killed); the test may stop, kill and start it."""
    _package_broker.start_keeping_data()  # `kafka.sh start`: nothing to do when it is running
    return _package_broker
