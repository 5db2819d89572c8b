"""A publisher composed by `bootstrap()` on the fakes of our own ports, run on the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial

from mallbridge_core.tenants import Tenant
from mallbridge_publisher.bootstrap import PublisherService, bootstrap
from mallbridge_publisher.config import PublisherSettings
from tests.support.eventually import eventually
from tests.unit.publisher.fakes import FakeEventLog, FakeMall

# The checks read the in-memory fakes the engine changes on this loop: run them on it, and often.
eventually_on_loop = partial(eventually, on_loop=True, interval=0.005)


@asynccontextmanager
async def running_publisher(
    log: FakeEventLog, mall: FakeMall, *, settings: PublisherSettings, tenants: Mapping[str, Tenant], prefix: str
) -> AsyncIterator[PublisherService]:
    """The publisher over `log` and `mall`, once every lane's engine is ready; stopped gracefully after."""
    service = bootstrap(settings=settings, event_log=log, tenants=tenants, topic_prefix=prefix, client=mall)
    task = asyncio.create_task(service.run(serve_http=False))
    try:
        await eventually_on_loop(lambda: all(engine.ready.is_set() for engine in service.engines))
        yield service
    finally:
        service.stop()
        await asyncio.wait_for(task, timeout=10)
