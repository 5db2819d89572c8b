"""Fixtures for ingest integration tests.

`event_log_url` is the engine the tests run on: every test taking it runs on the real Kafka broker of the
session and on the embedded SQLite log (same pattern as tests/integration/eventlog/conftest.py). The
Kafka variant alone needs the broker, so `-k sqlite` runs without Java. The broker-loss test is
Kafka-only by nature and starts its own private broker.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=[pytest.param("kafka", marks=pytest.mark.kafka), "sqlite"])
def event_log_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "kafka":
        return f"kafka://{request.getfixturevalue('kafka_bootstrap')}"
    return f"sqlite://{tmp_path_factory.mktemp('eventlog') / 'events.db'}"
