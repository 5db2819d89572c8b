"""A container that runs `mallbridge`, reduced to what can be checked, and its check against the real command."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

from mallbridge_core import cli as mallbridge_cli
from mallbridge_core.tenants import TenantsFileError, parse_tenants
from tests.unit.infra.checks.command import (
    Resolver,
    all_envvars,
    check_settings_env,
    is_missing_stub,
    parse_argv,
    path_params,
    served_paths,
    settings_classes,
    settings_env_names,
)

LISTEN_PORT_PARAMS = ("port", "http_port")
LISTEN_HOST_PARAMS = ("host", "http_host")
ANY_ADDRESS = frozenset({"0.0.0.0", "::"})  # a container must listen on every interface
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# The Dockerfile targets the brief asks for: each is a `mallbridge` subcommand of the same name.
SERVICE_TARGETS = ("ingest", "publisher", "sandbox", "audit", "notify")
PYTHON_BASE = "python:3.11-slim"
KAFKA_IMAGE = "apache/kafka:4.1.1"
PLACEHOLDER = "change-me"
SECRET_REF = re.compile(r"^(env|file):(.+)$")
INTERPOLATION = re.compile(r"\$\{(\w+)(:?[-?+])?([^}]*)\}")


# ---------------------------------------------------------------------------------------------------------------
# The model every file is reduced to
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """A health check aimed at a container: HTTP GET on port+path (host only for checks run inside it)."""

    where: str
    port: int | None
    path: str
    host: str | None = None


@dataclass(frozen=True)
class MountedFile:
    """A file visible inside a container; text is None when its content is not in the repo (e.g. a Secret)."""

    where: str
    text: str | None
    read_only: bool


@dataclass
class Launch:
    """One container that runs `mallbridge <argv>`."""

    where: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # names of env vars whose values come from a secret store (k8s Secret, compose interpolation from .env)
    secret_env: set[str] = field(default_factory=set)
    ports: list[int] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    files: dict[str, MountedFile] = field(default_factory=dict)
    must_expose: bool = False  # Dockerfile EXPOSE / k8s containerPort are required for a server
    # filled in by check_launch
    listen_port: int | None = None
    tenants_text: str | None = None


@dataclass
class Report:
    launches: list[Launch] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------------
# One launch against its command
# ---------------------------------------------------------------------------------------------------------------


def secret_refs(value: Any) -> Iterator[tuple[str, str]]:
    """Every `env:NAME` / `file:/path` reference anywhere in a parsed TOML document."""
    if isinstance(value, str):
        match = SECRET_REF.match(value.strip())
        if match:
            yield match.group(1), match.group(2)
    elif isinstance(value, dict):
        for item in value.values():
            yield from secret_refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from secret_refs(item)


def check_tenants_text(text: str, where: str) -> list[str]:
    """Validate a tenants file with the real loader (mallbridge_core.tenants.parse_tenants).

    Its `env:` references get fake values here (whether the container provides them is checked per launch).
    A file with `file:` references is not loaded, since those files live only inside the container.
    """
    refs = list(secret_refs(tomllib.loads(text)))
    if any(kind == "file" for kind, _ in refs):
        return []
    fake = {name: f"{PLACEHOLDER}-{name.lower()}" for _, name in refs}
    with mock.patch.dict(os.environ, fake):
        try:
            parse_tenants(text, source=where)
        except TenantsFileError as exc:
            return [str(exc)]
    return []


def _mounted_config(launch: Launch, path: str, label: str, problems: list[str]) -> None:
    mounted = launch.files.get(path)
    if mounted is None:
        problems.append(f"{launch.where}: {label} names {path}, which is not mounted into the container")
        return
    if not mounted.read_only:
        problems.append(f"{launch.where}: {path} ({mounted.where}) should be mounted read-only")
    if mounted.text is None:
        return
    try:
        document = tomllib.loads(mounted.text)
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{launch.where}: {path} ({mounted.where}) is not valid TOML: {exc}")
        return
    for kind, target in secret_refs(document):
        if kind == "env" and target not in launch.secret_env:
            source = "set from a secret" if target in launch.env else "provided"
            problems.append(f"{launch.where}: {path} ({mounted.where}) needs env {target}, which is not {source}")
        if kind == "file" and target not in launch.files:
            problems.append(f"{launch.where}: {path} ({mounted.where}) needs file {target}, which is not mounted")
    if "tenants" in document:
        launch.tenants_text = mounted.text
        problems.extend(f"{launch.where}: {p}" for p in check_tenants_text(mounted.text, mounted.where))


def check_launch(launch: Launch, resolve: Resolver) -> list[str]:
    """Check one container against the `mallbridge` subcommand it runs."""
    where = launch.where
    if not launch.argv:
        return [f"{where}: runs `mallbridge` without a subcommand"]
    name, args = launch.argv[0], launch.argv[1:]
    registered = mallbridge_cli.registered_commands()
    command = resolve(name) if name in registered else None
    if command is None:
        return [f"{where}: {name!r} is not a mallbridge subcommand (known: {', '.join(registered)})"]
    if is_missing_stub(command):
        dist = mallbridge_cli.provider(registered[name])
        return [f"{where}: `mallbridge {name}` is not available here: {dist} (or its cli module) is not installed"]
    problems: list[str] = []
    values, errors = parse_argv(command, args, launch.env)
    problems.extend(f"{where}: `mallbridge {' '.join(launch.argv)}`: {e}" for e in errors)
    settings = settings_classes(registered[name].module.split(".")[0])
    problems.extend(f"{where}: `mallbridge {name}`: {e}" for e in check_settings_env(settings, launch.env))
    known_env = all_envvars(command) | {env for cls in settings for env in settings_env_names(cls)}
    problems.extend(
        f"{where}: env {key} is not read by `mallbridge {name}` (it reads {', '.join(sorted(known_env)) or 'none'})"
        for key in launch.env
        if key.startswith("MALLBRIDGE_") and key not in known_env
    )
    problems.extend(_check_listening(launch, name, values))
    for param in path_params(command):
        value = values.get(param.name or "")
        for path in value if isinstance(value, list) else [value]:
            if isinstance(path, str):
                _mounted_config(launch, path, f"{param.opts[0] if param.opts else param.name}", problems)
    return problems


def _check_listening(launch: Launch, name: str, values: dict[str, Any]) -> list[str]:
    """Ports exposed and probed against the one the command listens on, and its address."""
    where = launch.where
    port = next((values[p] for p in LISTEN_PORT_PARAMS if values.get(p) is not None), None)
    host = next((values[p] for p in LISTEN_HOST_PARAMS if values.get(p) is not None), None)
    launch.listen_port = port
    if port is None:
        return [f"{where}: exposes port {p}, but `mallbridge {name}` listens on none" for p in launch.ports] + [
            f"{probe.where}: probes {probe.path}, but `mallbridge {name}` serves no HTTP" for probe in launch.probes
        ]
    problems = []
    if host not in ANY_ADDRESS:
        problems.append(f"{where}: `mallbridge {name}` listens on {host}; in a container it must bind 0.0.0.0")
    if launch.must_expose and not launch.ports:
        problems.append(f"{where}: exposes no port; `mallbridge {name}` listens on {port}")
    problems.extend(
        f"{where}: exposes port {p}, but `mallbridge {name}` listens on {port}" for p in launch.ports if p != port
    )
    if not launch.probes:
        problems.append(f"{where}: no health check for `mallbridge {name}` (it serves {sorted(served_paths(name))})")
    for probe in launch.probes:
        problems.extend(_check_probe(probe, name, port))
    return problems


def _check_probe(probe: Probe, name: str, port: int) -> list[str]:
    problems: list[str] = []
    if probe.port != port:
        problems.append(f"{probe.where}: probes port {probe.port}, but `mallbridge {name}` listens on {port}")
    served = served_paths(name)
    if probe.path not in served:
        problems.append(f"{probe.where}: probes {probe.path}, but `mallbridge {name}` serves {sorted(served)}")
    if probe.host is not None and probe.host not in LOCAL_HOSTS:
        problems.append(f"{probe.where}: a check run inside the container should call 127.0.0.1, not {probe.host}")
    return problems


HEALTH_URL = re.compile(r"https?://[^\s'\"]+")


def probe_from_command(argv: list[str], where: str) -> Probe | None:
    """A health-check command (`python -c "urllib ... url"`) → the URL it calls."""
    match = HEALTH_URL.search(" ".join(argv))
    if match is None:
        return None
    url = urlsplit(match.group(0))
    return Probe(where=where, port=url.port or 80, path=url.path or "/", host=url.hostname)


def check_health_command(argv: list[str], where: str) -> list[str]:
    """python:*-slim has neither curl nor wget: a check must run python (urllib)."""
    problems = []
    program = PurePosixPath(argv[0]).name if argv else ""
    if not program.startswith("python"):
        problems.append(f"{where}: health check runs {program or 'nothing'}; the image has only python (use urllib)")
    if probe_from_command(argv, where) is None:
        problems.append(f"{where}: health check calls no http:// URL")
    return problems
