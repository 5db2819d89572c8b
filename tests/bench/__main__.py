"""`make bench`: every benchmark in one run, on a private broker, each figure next to its raw baseline.

Results go to stdout and to bench-results/latest.json. Nothing here asserts a time: the figures are
reported as ratios against a baseline measured in the same run, on the same machine.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from tests.conftest import LocalBroker

BENCHES = ["eventlog_bench", "ingest_bench", "publisher_bench", "mall_side_bench", "audit_bench", "notify_bench"]


async def _run_one(name: str, bootstrap: str, tmpdir: str) -> dict[str, Any]:
    module = importlib.import_module(f"tests.bench.{name}")
    run = module.run
    params = inspect.signature(run).parameters
    kwargs: dict[str, Any] = {"bootstrap": bootstrap}
    if "tmpdir" in params:
        kwargs["tmpdir"] = tmpdir
    started = time.perf_counter()
    result: dict[str, Any] = await run(**kwargs)
    result["_wall_s"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str]) -> int:
    selected = argv or BENCHES
    broker = LocalBroker()
    broker.start()
    report: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()}}
    failed = False
    try:
        for name in selected:
            print(f"== {name}", flush=True)
            with tempfile.TemporaryDirectory(prefix=f"mallbridge-{name}-") as tmpdir:
                try:
                    report[name] = asyncio.run(_run_one(name, broker.bootstrap, tmpdir))
                except ModuleNotFoundError as exc:
                    report[name] = {"error": f"not available: {exc}"}
                    failed = True
                except Exception as exc:
                    traceback.print_exc()  # where it failed, for the one reading the run's output
                    report[name] = {"error": repr(exc)}
                    failed = True
            print(json.dumps(report[name], indent=2), flush=True)
    finally:
        broker.stop()
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2))
    print(f"written {out / 'latest.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
