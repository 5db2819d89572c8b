"""Fixtures of the notifier's integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.notify.receivers import WebhookReceiver


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    """A real HTTP webhook receiver on 127.0.0.1 for the test's duration."""
    async with WebhookReceiver().running() as running:
        yield running
