"""The domain core and the schema are pure (ARCHITECTURE.md §5): no Kafka, HTTP, SQL, clock or environment.

Checked twice: statically by import-linter (the contracts in the root pyproject.toml), and dynamically by
importing them in a clean interpreter and looking at what got loaded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
FORBIDDEN_AT_RUNTIME = ("aiokafka", "httpx", "sqlite3", "_sqlite3", "fastapi", "starlette", "uvicorn")


def _lint_imports(cwd: Path, *, pythonpath: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(LINT_IMPORTS.parent), "PYTHONDONTWRITEBYTECODE": "1"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_contracts_pass() -> None:
    done = _lint_imports(ROOT)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "The domain core is pure: no Kafka, HTTP, SQL, clock or environment KEPT" in report
    assert "Layers: schema -> core -> services -> app" in report
    assert " 0 broken" in report


def test_import_contracts_can_fail(tmp_path: Path) -> None:
    """The same contracts against a copy of the packages where the reconciler imports httpx: BROKEN."""
    for src in [ROOT / "shared" / "src", *(ROOT / "services").glob("*/src")]:  # every package the config names
        for package in src.glob("mallbridge_*/__init__.py"):
            shutil.copytree(package.parent, tmp_path / package.parent.name)
    reconciler = tmp_path / "mallbridge_core" / "domain" / "reconciler.py"
    reconciler.write_text("import httpx  # noqa\n" + reconciler.read_text(encoding="utf-8"), encoding="utf-8")
    done = _lint_imports(tmp_path, pythonpath=str(tmp_path))
    report = done.stdout + done.stderr
    assert done.returncode != 0, report
    assert "BROKEN" in report
    assert "mallbridge_core.domain.reconciler -> httpx" in report


def test_importing_the_core_loads_no_io_library() -> None:
    modules = [
        "mallbridge_schema",
        "mallbridge_schema.events",
        "mallbridge_schema.serde",
        "mallbridge_schema.mapping",
        "mallbridge_schema.transitions",
        "mallbridge_schema.mall_format",
        "mallbridge_schema.snapshot",
        "mallbridge_schema.statuses",
        "mallbridge_core.domain",
        "mallbridge_core.domain.projection",
        "mallbridge_core.domain.mall_side",
        "mallbridge_core.domain.mall_side_fold",
        "mallbridge_core.domain.operator_side",
        "mallbridge_core.domain.plans",
        "mallbridge_core.domain.steps",
        "mallbridge_core.domain.reasons",
        "mallbridge_core.domain.reconciler",
    ]
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert set(modules) <= loaded  # the probe did import what it claims
    offending = sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN_AT_RUNTIME)
    assert offending == []
    assert not any(m.startswith("mallbridge_core.eventlog") for m in loaded)


def test_the_probe_would_notice_an_io_import() -> None:
    """Control: the same probe does see sqlite3 when something imports it."""
    code = "import json, sys, sqlite3, mallbridge_schema\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "sqlite3" in json.loads(done.stdout)
