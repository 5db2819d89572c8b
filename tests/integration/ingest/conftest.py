"""Fixtures for ingest integration tests.

`event_log_url` is the engine the tests run on. Today it is the session's real Kafka broker; when the
embedded engine lands, parametrize it (as tests/integration/eventlog/conftest.py does) and every test
here runs on both without changes.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def event_log_url(kafka_bootstrap: str) -> str:
    return f"kafka://{kafka_bootstrap}"
