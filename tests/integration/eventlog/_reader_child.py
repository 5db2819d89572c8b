"""A consumer-group member in a process of its own, for the crash test of the contract suite.

    python -m tests.integration.eventlog._reader_child URL TOPIC GROUP OUT crash STOP_AFTER
    python -m tests.integration.eventlog._reader_child URL TOPIC GROUP OUT finish EXPECTED

It processes records (a line "processed" each, in OUT) and commits after every 10 processed records
("committed" after the commit returned). `crash`: after STOP_AFTER records it writes "ready" and
waits to be killed (so it dies with processed-but-uncommitted work). `finish`: stops after EXPECTED
records, commits and exits 0.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from mallbridge_core.eventlog import open_event_log


def emit(out: TextIO, **fields: Any) -> None:
    out.write(json.dumps(fields) + "\n")
    out.flush()


async def main(url: str, topic: str, group: str, out_path: str, mode: str, count: int) -> None:
    log = open_event_log(url)
    await log.start()
    with open(out_path, "a", encoding="utf-8") as out:

        async def on_assigned(parts: frozenset[int]) -> Mapping[int, int]:
            emit(out, event="assigned", partitions=sorted(parts))
            return {}

        async def on_revoked(parts: frozenset[int]) -> None:
            emit(out, event="revoked", partitions=sorted(parts))

        sub = await log.subscribe(topic, group=group, on_assigned=on_assigned, on_revoked=on_revoked)
        pending: dict[int, int] = {}
        processed = 0
        while True:
            for record in await sub.poll(timeout_s=0.5, max_records=7):
                emit(out, event="processed", p=record.partition, o=record.offset, v=record.value.decode())
                pending[record.partition] = record.offset + 1
                processed += 1
                if processed % 10 == 0:
                    await sub.commit(dict(pending))
                    emit(out, event="committed", offsets={str(p): o for p, o in pending.items()})
                if mode == "crash" and processed == count:
                    emit(out, event="ready")
                    await asyncio.Event().wait()  # killed here with SIGKILL
                if mode == "finish" and processed == count:
                    await sub.commit(dict(pending))
                    emit(out, event="finished")
                    await sub.close()
                    await log.close()
                    return


if __name__ == "__main__":
    _, url, topic, group, out_path, mode, count = sys.argv
    asyncio.run(main(url, topic, group, out_path, mode, int(count)))
