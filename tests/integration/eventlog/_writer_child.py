"""An appender in a process of its own, for the concurrent-append test of the contract suite.

    python -m tests.integration.eventlog._writer_child URL TOPIC NAME N BARRIER_DIR

Connects, creates BARRIER_DIR/ready-NAME, waits for BARRIER_DIR/go (so two writers really overlap),
then appends N records in small batches of 1 to 3, keyed `NAME:k0`…`NAME:k3`, each value
`{"w": NAME, "key": …, "seq": s, "i": i}` with `seq` growing per key. Prints "done N" at the end.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from pathlib import Path

from mallbridge_core.eventlog import OutgoingRecord, open_event_log


async def main(url: str, topic: str, name: str, n: int, barrier: Path) -> None:
    log = open_event_log(url)
    await log.start()
    await log.ensure_topics([topic])
    await log.append(f"{topic}.warmup", [OutgoingRecord(key=b"w", value=b"w")])  # connected and ready
    (barrier / f"ready-{name}").touch()
    while not (barrier / "go").exists():
        await asyncio.sleep(0.002)
    rng = random.Random(name)
    seq_per_key: dict[str, int] = {}
    i = 0
    while i < n:
        batch: list[OutgoingRecord] = []
        for _ in range(min(rng.randint(1, 3), n - i)):
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
    _, url, topic, name, n, barrier = sys.argv
    asyncio.run(main(url, topic, name, int(n), Path(barrier)))
