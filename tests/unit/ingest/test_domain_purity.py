"""The ingest domain stays pure: no I/O, clock, environment or framework imports."""

from __future__ import annotations

import ast
from pathlib import Path

import mallbridge_ingest.domain

DOMAIN = Path(mallbridge_ingest.domain.__file__).parent
ALLOWED_TOP = {
    "__future__",
    "dataclasses",
    "datetime",
    "hashlib",
    "uuid",
    "collections",
    "typing",
    "mallbridge_schema",
    "mallbridge_ingest",
    "mallbridge_core",  # only its pure domain (checked below): the one fold of FastCentrik's side
}
FORBIDDEN_NAMES = {"now", "utcnow", "today", "uuid4", "time", "perf_counter", "random"}


def test_domain_imports_only_pure_modules() -> None:
    for path in DOMAIN.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in ALLOWED_TOP, f"{path.name} imports {name}"
                assert not name.startswith("mallbridge_ingest.") or name.startswith("mallbridge_ingest.domain"), name
                assert top != "mallbridge_core" or name.startswith("mallbridge_core.domain."), name


def test_domain_never_reads_a_clock_or_random_source() -> None:
    for path in DOMAIN.glob("*.py"):
        tree = ast.parse(path.read_text())
        called = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
        assert not (called & FORBIDDEN_NAMES), f"{path.name} calls {called & FORBIDDEN_NAMES}"
