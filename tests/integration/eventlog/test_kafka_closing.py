"""A bounded stop that runs out of time still closes the client's connections (no socket left open)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer

from mallbridge_core.eventlog.kafka.closing import stop_within


async def test_a_stop_that_never_finishes_still_closes_the_connections(kafka_bootstrap: str) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    client = consumer._client
    await client.fetch_all_metadata()  # holds a live connection to the broker now
    transports = [conn._writer.transport for conn in client._conns.values() if conn._writer is not None]
    assert transports, "the client made no connection to test with"
    never = asyncio.get_running_loop().create_future()  # a stop stuck on a coordinator that is gone

    await stop_within(never, client, timeout_s=0.2)

    assert never.cancelled()
    assert not any(conn.connected() for conn in client._conns.values())
    assert all(t.is_closing() for t in transports)
    await asyncio.sleep(0)  # the transports' sockets are released on the next turn of the loop
    try:
        assert all(t.get_extra_info("socket") is None or t.get_extra_info("socket").fileno() == -1 for t in transports)
    finally:
        await consumer.stop()  # the real stop afterwards is harmless
