"""Each package installs what its code imports: a container carries one service's package and what that
package's metadata pulls in, not the development environment where every package is installed together.

The check reads every `import` in a package's source (AST) and asks whether the distribution providing
each third-party module is in the closure of the package's declared requirements, as pip would install
them. A module reached only through another mallbridge package installed beside it in development (ingest
importing msgspec that only the audit declared, as it once did) fails here, where the container would fail at start.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE_DIRS = [ROOT / "shared", *sorted(p for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").is_file())]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(lines: list[str] | None) -> set[str]:
    """Names of the unconditional requirements (an extra's or another platform's are not installed)."""
    names = set()
    for line in lines or []:
        if ";" in line and "extra ==" in line.split(";", 1)[1]:
            continue
        match = _NAME.match(line.strip())
        if match:
            names.add(_normal(match.group(0)))
    return names


@cache
def installed_closure(distribution: str) -> frozenset[str]:
    """`distribution` and everything its installed metadata requires, transitively."""
    seen: set[str] = set()
    todo = [_normal(distribution)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            todo.extend(_requirement_names(requires(name)))
        except PackageNotFoundError:
            continue  # an optional requirement not installed here: nothing of it can be imported anyway
    return frozenset(seen)


def third_party_imports(source: Path) -> Iterator[tuple[str, Path]]:
    """(top-level module, file) of every absolute import that is neither the standard library nor ours."""
    for file in sorted(source.rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top != "__future__" and not top.startswith("mallbridge"):
                    yield top, file


def undeclared(package_dir: Path) -> list[str]:
    name = tomllib.loads((package_dir / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
    closure = installed_closure(name)
    providers = packages_distributions()
    problems = []
    for module, file in third_party_imports(package_dir / "src"):
        distributions = {_normal(d) for d in providers.get(module, [module])}
        if not distributions & closure:
            where = file.relative_to(package_dir.parent).as_posix()
            problems.append(f"{name}: {where} imports {module} ({', '.join(sorted(distributions))}), not required")
    return sorted(set(problems))


@pytest.mark.parametrize("package_dir", PACKAGE_DIRS, ids=[p.name for p in PACKAGE_DIRS])
def test_every_third_party_import_is_installed_with_the_package(package_dir: Path) -> None:
    assert undeclared(package_dir) == []


def test_an_import_no_requirement_brings_is_caught(tmp_path: Path) -> None:
    """The check itself can fail: a copy of the schema package that imports httpx (which it does not require)."""
    copy = tmp_path / "shared"
    (copy / "src" / "mallbridge_schema").mkdir(parents=True)
    (copy / "pyproject.toml").write_text((ROOT / "shared" / "pyproject.toml").read_text(encoding="utf-8"))
    (copy / "src" / "mallbridge_schema" / "fast.py").write_text("import httpx\nimport pydantic\n")
    (problem,) = undeclared(copy)
    assert "src/mallbridge_schema/fast.py imports httpx (httpx), not required" in problem
