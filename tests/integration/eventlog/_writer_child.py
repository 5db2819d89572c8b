"""An appender in a process of its own, for the concurrent-append test of the contract suite.

    python -m tests.integration.eventlog._writer_child URL TOPIC NAME N START_AT

Waits until the wall clock reaches START_AT (so two writers really overlap), then appends N records in
small batches of 1 to 5, keyed `NAME:k0`…`NAME:k3`, each value `{"w": NAME, "key": …, "seq": i}`
with `seq` growing per key. Prints "done N" at the end.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

from mallbridge_core.eventlog import OutgoingRecord, open_event_log


async def main(url: str, topic: str, name: str, n: int, start_at: float) -> None:
    log = open_event_log(url)
    await log.start()
    await log.ensure_topics([topic])
    await asyncio.sleep(max(0.0, start_at - time.time()))
    rng = random.Random(name)
    seq_per_key: dict[str, int] = {}
    i = 0
    while i < n:
        batch: list[OutgoingRecord] = []
        for _ in range(min(rng.randint(1, 5), n - i)):
            key = f"{name}:k{i % 4}"
            seq = seq_per_key.get(key, 0)
            seq_per_key[key] = seq + 1
            value = json.dumps({"w": name, "key": key, "seq": seq, "i": i})
            batch.append(OutgoingRecord(key=key.encode(), value=value.encode()))
            i += 1
        await log.append(topic, batch)
    await log.close()
    print(f"done {n}", flush=True)


if __name__ == "__main__":
    _, url, topic, name, n, start_at = sys.argv
    asyncio.run(main(url, topic, name, int(n), float(start_at)))
