"""The architecture's contracts (docs/ARCHITECTURE.md, "Contracts") hold, and each kind of check can fail.

import-linter checks which modules import which (root pyproject.toml, `make lint`). It sees modules, not calls,
so reading the clock through `datetime.now()` or `date.today()` is checked here in the source of the pure
packages, with `time` and `random` once more. Each check is also fed a deliberately bad package (or source)
to show it would notice.
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
PURE_PACKAGES = (
    "mallbridge_schema",
    "mallbridge_core.domain",
    "mallbridge_ingest.domain",
    "mallbridge_notify.domain",
)

CLOCK_CALLS = {"now", "utcnow", "today", "fromtimestamp", "utcfromtimestamp"}  # on datetime / date
CLOCK_MODULES = {"time", "random", "secrets"}
RANDOM_IDS = {"uuid1", "uuid4"}


def package_dirs() -> dict[str, Path]:
    """Every mallbridge package in the tree: shared/src/* and services/*/src/*."""
    found = {}
    for src in [ROOT / "shared" / "src", *sorted((ROOT / "services").glob("*/src"))]:
        for package in src.glob("mallbridge_*/__init__.py"):
            found[package.parent.name] = package.parent
    return found


def lint_imports(cwd: Path, *, pythonpath: str | None = None) -> str:
    env = {"PATH": str(LINT_IMPORTS.parent), "PYTHONDONTWRITEBYTECODE": "1"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    done = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    report = " ".join((done.stdout + done.stderr).split())  # the report wraps long names over lines
    return f"exit {done.returncode}: {report}"


def test_every_package_is_under_contract() -> None:
    assert set(CONFIG["root_packages"]) == set(package_dirs())
    services = set(package_dirs()) - {"mallbridge_schema", "mallbridge_core", "mallbridge_app"}
    layers = next(c for c in CONFIG["contracts"] if c["type"] == "layers")["layers"]
    assert services <= {tail.strip(" ()") for tail in layers[1].split(":")}
    independence = next(c for c in CONFIG["contracts"] if c["type"] == "independence")["modules"]
    assert set(independence) == services


def test_the_import_contracts_hold() -> None:
    report = lint_imports(ROOT)
    assert report.startswith("exit 0"), report
    for contract in CONFIG["contracts"]:
        assert f"{' '.join(contract['name'].split())} KEPT" in report


BAD_MODULES = {
    # a lower layer importing a higher one, lazily inside a function
    "mallbridge_core/_bad_layer.py": "def publisher():\n    import mallbridge_publisher.cli\n",
    "mallbridge_publisher/_bad_independence.py": "import mallbridge_ingest.service\n",
    "mallbridge_ingest/domain/_bad_env.py": "import os\n",
    "mallbridge_schema/_bad_clock.py": "import time\n",
    "mallbridge_audit/_bad_kafka.py": "import aiokafka\n",
    "mallbridge_notify/domain/_bad_http.py": "import httpx\n",
}


def test_each_kind_of_import_contract_can_fail(tmp_path: Path) -> None:
    for name, directory in package_dirs().items():
        shutil.copytree(directory, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    for path, source in BAD_MODULES.items():
        (tmp_path / path).write_text(source, encoding="utf-8")

    report = lint_imports(tmp_path, pythonpath=str(tmp_path))

    assert not report.startswith("exit 0"), report
    assert f"Contracts: 0 kept, {len(CONFIG['contracts'])} broken" in report, report
    assert "mallbridge_core._bad_layer -> mallbridge_publisher.cli" in report
    assert "mallbridge_publisher._bad_independence -> mallbridge_ingest.service" in report
    assert "mallbridge_ingest.domain._bad_env -> os" in report
    assert "mallbridge_schema._bad_clock -> time" in report
    assert "mallbridge_audit._bad_kafka -> aiokafka" in report
    assert "mallbridge_notify.domain._bad_http -> httpx" in report


# --- the clock, read through calls ------------------------------------------------------------------------------


def clock_reads(source: str) -> list[str]:
    """Where `source` reads the clock or a random source: `datetime.now()`, `date.today()`, `time.*`,
    `random`, `secrets`, `uuid.uuid4()`, however datetime was imported (`import datetime as dt`, ...)."""
    tree = ast.parse(source)
    modules: set[str] = set()  # names bound to the datetime module
    classes: set[str] = set()  # names bound to datetime.datetime / datetime.date
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == "datetime":
                    modules.add(alias.asname or "datetime")
                if top in CLOCK_MODULES:
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            for alias in node.names:
                if top == "datetime" and alias.name in ("datetime", "date"):
                    classes.add(alias.asname or alias.name)
                if top in CLOCK_MODULES or (top == "uuid" and alias.name in RANDOM_IDS):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        if node.attr in CLOCK_CALLS and (
            (isinstance(owner, ast.Name) and owner.id in classes)
            or (
                isinstance(owner, ast.Attribute)
                and owner.attr in ("datetime", "date")
                and isinstance(owner.value, ast.Name)
                and owner.value.id in modules
            )
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        if node.attr in RANDOM_IDS and isinstance(owner, ast.Name) and owner.id == "uuid":
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return sorted(found)


def pure_sources() -> list[Path]:
    sources = []
    for package in PURE_PACKAGES:
        spec = importlib.util.find_spec(package)
        assert spec is not None, package
        assert spec.submodule_search_locations, package
        for location in spec.submodule_search_locations:
            sources += sorted(Path(location).rglob("*.py"))
    return sources


def test_the_pure_packages_never_read_the_clock_or_a_random_source() -> None:
    sources = pure_sources()
    assert len(sources) >= 10  # not vacuous: schema, core domain and ingest domain were all looked at
    found = {str(p.relative_to(ROOT)): clock_reads(p.read_text(encoding="utf-8")) for p in sources}
    assert {path: reads for path, reads in found.items() if reads} == {}


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime\nx = datetime.now()\n",
        "from datetime import datetime as dt\nx = dt.utcnow()\n",
        "import datetime\nx = datetime.datetime.now(datetime.UTC)\n",
        "import datetime as d\nx = d.date.today()\n",
        "from datetime import date\nx = date.today()\n",
        "from datetime import datetime\nstamp = datetime.fromtimestamp\n",  # named, not even called
        "import time\nx = time.monotonic()\n",
        "from time import perf_counter\n",
        "import random\n",
        "import uuid\nx = uuid.uuid4()\n",
        "def later():\n    import time\n    return time.time()\n",
    ],
)
def test_the_clock_check_can_fail(source: str) -> None:
    assert clock_reads(source) != []


def test_the_clock_check_allows_what_a_pure_function_needs() -> None:
    source = (
        "from datetime import UTC, date, datetime, timedelta\n"
        "import uuid\n"
        "def later(at: datetime, days: int) -> datetime:\n"
        "    return at.replace(tzinfo=UTC) + timedelta(days=days)\n"
        "def parse(text: str) -> date:\n"
        "    return datetime.fromisoformat(text).date()\n"
        "ID = uuid.uuid5(uuid.NAMESPACE_URL, 'x')\n"
    )
    assert clock_reads(source) == []
