"""Fixtures for the event-log contract suite: every test here runs against both engines.

`event_log_url` is the reusable part (meant for the shared tests/conftest.py): parametrized over
`kafka://{bootstrap}` (the session's real broker) and `sqlite://{tmp_path}/events.db` (three slashes:
an absolute path). The broker is requested only for the kafka variant, so `-k sqlite` needs no Java.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mallbridge_core.eventlog import EventLog, open_event_log


@pytest.fixture
async def event_log(event_log_url: str) -> AsyncIterator[EventLog]:
    log = open_event_log(event_log_url)
    await log.start()
    try:
        yield log
    finally:
        await log.close()
