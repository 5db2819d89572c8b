"""MALL's side end to end: the chain of `tests/support/mall_chain.py` on both engines."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.mall_chain import Chain, running_chain


@pytest.fixture
async def chain(event_log_url: str, topic_prefix: str) -> AsyncIterator[Chain]:
    async with running_chain(event_log_url, topic_prefix) as running:
        yield running
