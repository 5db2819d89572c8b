"""`make bench`: every benchmark stage in one run, on a private broker, each figure next to its raw baseline.

    python -m tests.bench                 # every stage
    python -m tests.bench ingest e2e      # some stages (`ingest` or `ingest_bench`)

A stage is a module `tests/bench/<name>_bench.py` with `async def run(bootstrap[, tmpdir])` returning a
JSON-able dict; its goals, if any, under `"goals"` (see goals.py). The known stages run first in a fixed
order, any other `*_bench.py` after them. A stage that fails prints its traceback and the run goes on.
Each stage runs in a process of its own (what one stage leaves behind, its garbage and its caches, does
not weigh on the next). Results go to stdout and to bench-results/latest.json; the run ends with one
verdict line per goal.
Nothing here asserts a time: the figures are reported as ratios against a baseline measured in the same
run, on the same machine. Settings: BENCH_SOAK_S (the soak's length, default 120 s; the goal's
10 minutes is BENCH_SOAK_S=600), BENCH_E2E_S (each steady load of the e2e stage, default 15 s),
MALLBRIDGE_KAFKA=host:port (use that broker instead of a private one, e.g. while working on one stage).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from tests.bench.goals import verdict_line
from tests.conftest import LocalBroker

KNOWN = ["eventlog", "ingest", "audit", "publisher", "mall_side", "notify", "e2e", "burst", "soak"]


def stages() -> list[str]:
    found = sorted(p.stem.removesuffix("_bench") for p in Path(__file__).parent.glob("*_bench.py"))
    return [s for s in KNOWN if s in found] + [s for s in found if s not in KNOWN]


async def _run_one(name: str, bootstrap: str, tmpdir: str) -> dict[str, Any]:
    module = importlib.import_module(f"tests.bench.{name}_bench")
    run = module.run
    params = inspect.signature(run).parameters
    kwargs: dict[str, Any] = {"bootstrap": bootstrap}
    if "tmpdir" in params:
        kwargs["tmpdir"] = tmpdir
    started = time.perf_counter()
    result: dict[str, Any] = await run(**kwargs)
    result["_wall_s"] = round(time.perf_counter() - started, 1)
    return result


def _selected(argv: list[str]) -> list[str]:
    available = stages()
    chosen = [a.removesuffix("_bench") for a in argv] or available
    unknown = [c for c in chosen if c not in available]
    if unknown:
        raise SystemExit(f"unknown stage(s) {', '.join(unknown)}; the stages are: {', '.join(available)}")
    return chosen


def _in_own_process(name: str, bootstrap: str, tmpdir: str) -> dict[str, Any]:
    """Run stage `name` in a child process (`--stage`); its result, or {"error": ...} if it failed."""
    out = Path(tmpdir) / "result.json"
    args = [sys.executable, "-m", "tests.bench", "--stage", name, bootstrap, tmpdir, str(out)]
    code = subprocess.run(args, check=False).returncode
    if code != 0 or not out.exists():
        return {"error": f"the stage's process exited with code {code} (its traceback is above)"}
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _stage_process(name: str, bootstrap: str, tmpdir: str, out: str) -> int:
    try:
        result = asyncio.run(_run_one(name, bootstrap, tmpdir))
    except Exception:
        traceback.print_exc()  # where it failed, for the one reading the run's output
        return 1
    Path(out).write_text(json.dumps(result))
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--stage"]:
        return _stage_process(*argv[1:5])
    selected = _selected(argv)
    given = os.environ.get("MALLBRIDGE_KAFKA")
    broker = None if given else LocalBroker()
    if broker is not None:
        broker.start()
    bootstrap = given or broker.bootstrap  # type: ignore[union-attr]
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "soak_s": os.environ.get("BENCH_SOAK_S", "120"),
    }
    failed = False
    try:
        for name in selected:
            print(f"== {name}", flush=True)
            with tempfile.TemporaryDirectory(prefix=f"mallbridge-{name}-") as tmpdir:
                report[name] = _in_own_process(name, bootstrap, tmpdir)
                failed = failed or "error" in report[name]
            print(json.dumps(report[name], indent=2), flush=True)
    finally:
        if broker is not None:
            broker.stop()
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2))
    print_verdicts(report, selected)
    print(f"written {out / 'latest.json'}")
    return 1 if failed else 0


def print_verdicts(report: dict[str, Any], selected: list[str]) -> None:
    print("== verdicts (ratios against baselines of this run; (aim): a stricter target, not a goal)", flush=True)
    for name in selected:
        result = report.get(name, {})
        if "error" in result:
            print(f"{'FAILED':<14} {name:<10} {result['error']}")
            continue
        for g in result.get("goals", []):
            print(verdict_line(name, g))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
