"""infra/docker/Dockerfile: a small line parser (stages, FROM chains, COPY, EXPOSE, HEALTHCHECK, ENTRYPOINT/CMD)."""

from __future__ import annotations

import json
import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mallbridge_core.cli import COMMANDS_GROUP
from tests.unit.infra.checks.command import Resolver
from tests.unit.infra.checks.launch import (
    PYTHON_BASE,
    SERVICE_TARGETS,
    Launch,
    Report,
    check_health_command,
    check_launch,
    probe_from_command,
)


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[int, str, str]] = field(default_factory=list)  # (line, KEYWORD, rest)


@dataclass
class Image:
    """What a Dockerfile target leaves in the image (inherited along its FROM chain)."""

    target: str
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    exposed: list[int] = field(default_factory=list)
    healthcheck: list[str] | None = None  # None: none set; []: HEALTHCHECK NONE
    user: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):
            continue  # comment lines inside a continuation are dropped by Docker too
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer.append(line[:-1].strip())
            continue
        buffer.append(line)
        yield start, " ".join(part for part in buffer if part)
        buffer = []
    if buffer:
        yield start, " ".join(buffer)


def parse_dockerfile(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for number, line in _logical_lines(text):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else str(len(stages))
            stages.append(Stage(name=name, base=words[0]))
        elif stages:
            stages[-1].instructions.append((number, keyword, rest))
    return stages


def _exec_form(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    value = json.loads(rest)
    return [str(v) for v in value] if isinstance(value, list) else None


def _flags_and_words(rest: str) -> tuple[dict[str, str], list[str]]:
    flags: dict[str, str] = {}
    words = shlex.split(rest)
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    return flags, words


def _env_pairs(rest: str) -> dict[str, str]:
    words = shlex.split(rest)
    if len(words) >= 2 and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words if "=" in word)


class Dockerfile:
    def __init__(self, path: Path, root: Path) -> None:
        self.path = path
        self.root = root
        self.rel = path.relative_to(root).as_posix()
        self.stages = {stage.name: stage for stage in parse_dockerfile(path.read_text(encoding="utf-8"))}

    def chain(self, target: str) -> list[Stage]:
        """The target's stage and the stages it is built FROM, root first."""
        chain: list[Stage] = []
        name: str | None = target
        while name in self.stages:
            stage = self.stages[name]
            chain.insert(0, stage)
            name = stage.base.lower()
        return chain

    def closure(self, target: str) -> list[Stage]:
        """Every stage a target needs: its FROM chain and the stages it COPYs --from, recursively."""
        seen: dict[str, Stage] = {}
        todo = [target]
        while todo:
            for stage in self.chain(todo.pop()):
                if stage.name in seen:
                    continue
                seen[stage.name] = stage
                for _, keyword, rest in stage.instructions:
                    if keyword in ("COPY", "ADD"):
                        source = _flags_and_words(rest)[0].get("from")
                        if source:
                            todo.append(source.lower())
        return list(seen.values())

    def image(self, target: str) -> Image:
        image = Image(target=target)
        for stage in self.chain(target):
            for _, keyword, rest in stage.instructions:
                if keyword == "ENTRYPOINT":
                    image.entrypoint = _exec_form(rest) or ["/bin/sh", "-c", rest]
                elif keyword == "CMD":
                    image.cmd = _exec_form(rest) or ["/bin/sh", "-c", rest]
                elif keyword == "EXPOSE":
                    image.exposed += [int(p.split("/")[0]) for p in rest.split()]
                elif keyword == "USER":
                    image.user = rest.split(":")[0]
                elif keyword == "ENV":
                    image.env.update(_env_pairs(rest))
                elif keyword == "HEALTHCHECK":
                    image.healthcheck = _healthcheck(rest)
        return image

    def check(self, resolve: Resolver) -> Report:
        report = Report()
        problems = report.problems
        where = self.rel
        for name, stage in self.stages.items():
            for line, keyword, rest in stage.instructions:
                if keyword in ("COPY", "ADD"):
                    problems.extend(self._check_copy(rest, f"{where}:{line}"))
                if keyword in ("ENTRYPOINT", "CMD") and _exec_form(rest) is None:
                    problems.append(f"{where}:{line}: {keyword} in stage {name} should use the exec (JSON) form")
        roots = {stage.base for stage in self.stages.values() if stage.base.lower() not in self.stages}
        problems.extend(f"{where}: base image {base}, expected {PYTHON_BASE}" for base in sorted(roots - {PYTHON_BASE}))
        for target in SERVICE_TARGETS:
            if target not in self.stages:
                problems.append(f"{where}: no target {target!r} (expected one per service: {SERVICE_TARGETS})")
                continue
            report.launches.append(self._target_launch(target, problems))
            problems.extend(self._check_sources(target))
            problems.extend(self._check_registrations(target))
        for launch in report.launches:
            problems.extend(check_launch(launch, resolve))
        return report

    def _check_copy(self, rest: str, where: str) -> list[str]:
        flags, words = _flags_and_words(rest)
        if "from" in flags:
            source = flags["from"].lower()
            if source not in self.stages and ":" not in source and "/" not in source:
                return [f"{where}: COPY --from={flags['from']} names no stage"]
            return []
        sources = (_exec_form(rest) or words)[:-1]
        return [f"{where}: COPY {src}: no such path in the build context" for src in sources if not self._exists(src)]

    def _exists(self, source: str) -> bool:
        if any(ch in source for ch in "*?["):
            return any(self.root.glob(source))
        return (self.root / source).exists()

    def _check_sources(self, target: str) -> list[str]:
        """Each image carries mallbridge-schema, mallbridge-core and its own package only (ARCHITECTURE.md §5)."""
        allowed = ("shared", "services/core", f"services/{target}")
        problems = []
        for stage in self.closure(target):
            for line, keyword, rest in stage.instructions:
                if keyword not in ("COPY", "ADD") or "from" in _flags_and_words(rest)[0]:
                    continue
                for source in (_exec_form(rest) or _flags_and_words(rest)[1])[:-1]:
                    clean = PurePosixPath(source.rstrip("/")).as_posix().lstrip("./")
                    if not any(clean == a or clean.startswith(a + "/") for a in allowed):
                        problems.append(
                            f"{self.rel}:{line}: target {target} copies {source}; "
                            f"it may carry only {', '.join(allowed)}"
                        )
        return problems

    def _installed_projects(self, target: str) -> dict[str, dict[str, Any]]:
        """The packages a target's image carries: each COPY source with a pyproject.toml -> its [project] table."""
        projects: dict[str, dict[str, Any]] = {}
        for stage in self.closure(target):
            for _, keyword, rest in stage.instructions:
                if keyword not in ("COPY", "ADD") or "from" in _flags_and_words(rest)[0]:
                    continue
                for source in (_exec_form(rest) or _flags_and_words(rest)[1])[:-1]:
                    pyproject = self.root / source / "pyproject.toml"
                    if pyproject.is_file():
                        projects[source] = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        return projects

    def _check_registrations(self, target: str) -> list[str]:
        """The image's ENTRYPOINT script and CMD subcommand are registered by a package it installs: `mallbridge`
        in [project.scripts], the subcommand in the `mallbridge.commands` entry points (see mallbridge_core.cli)."""
        image = self.image(target)
        projects = self._installed_projects(target)
        scripts = {name for project in projects.values() for name in project.get("scripts", {})}
        commands = {
            name for project in projects.values() for name in project.get("entry-points", {}).get(COMMANDS_GROUP, {})
        }
        names = ", ".join(str(p.get("name", source)) for source, p in projects.items()) or "nothing"
        where = f"{self.rel} target {target}"
        problems = []
        if image.entrypoint and image.entrypoint[0] not in scripts:
            problems.append(f"{where}: ENTRYPOINT {image.entrypoint[0]} is no script of what it installs ({names})")
        if image.cmd and image.cmd[0] not in commands:
            problems.append(
                f"{where}: `mallbridge {image.cmd[0]}` is registered by no package the image installs ({names})"
            )
        return problems

    def _target_launch(self, target: str, problems: list[str]) -> Launch:
        image = self.image(target)
        where = f"{self.rel} target {target}"
        if image.entrypoint != ["mallbridge"]:
            problems.append(f"{where}: ENTRYPOINT is {image.entrypoint}, expected ['mallbridge']")
        if not image.cmd or image.cmd[0] != target:
            problems.append(f"{where}: CMD {image.cmd} should start with the subcommand {target!r}")
        if image.user in (None, "", "root", "0"):
            problems.append(f"{where}: runs as {image.user or 'root'}; set a non-root USER")
        probes = []
        if image.healthcheck:
            problems.extend(check_health_command(image.healthcheck, f"{where} HEALTHCHECK"))
            probe = probe_from_command(image.healthcheck, f"{where} HEALTHCHECK")
            probes = [probe] if probe else []
        return Launch(
            where=where,
            argv=list(image.cmd or []),
            env=dict(image.env),
            ports=list(image.exposed),
            probes=probes,
            must_expose=True,
        )


def _healthcheck(rest: str) -> list[str]:
    if rest.strip().upper() == "NONE":
        return []
    words = rest.split(None)
    while words and words[0].startswith("--"):
        words.pop(0)
    command = " ".join(words[1:]) if words and words[0].upper() == "CMD" else " ".join(words)
    return _exec_form(command) or ["/bin/sh", "-c", command]


def image_target(image: str) -> str | None:
    """`registry/x/mallbridge-ingest:tag` → `ingest`."""
    name = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
    return name.removeprefix("mallbridge-") if name.startswith("mallbridge-") else None
