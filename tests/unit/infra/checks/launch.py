"""A container that runs `mallbridge`, reduced to what can be checked, and its check against the real command."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import click
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from mallbridge_core import cli as mallbridge_cli
from mallbridge_core.settings import env_name
from mallbridge_core.tenants import TenantsFileError, parse_tenants

# DESIGN §4: the health endpoints a service serves; a probe may use only these, and only the ones the
# service's own package really routes (see served_paths).
HEALTH_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
LISTEN_PORT_PARAMS = ("port", "http_port")
LISTEN_HOST_PARAMS = ("host", "http_host")
ANY_ADDRESS = frozenset({"0.0.0.0", "::"})  # a container must listen on every interface
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# The Dockerfile targets the brief asks for: each is a `mallbridge` subcommand of the same name.
SERVICE_TARGETS = ("ingest", "publisher", "sandbox", "audit")
PYTHON_BASE = "python:3.11-slim"
KAFKA_IMAGE = "apache/kafka:4.1.1"
PLACEHOLDER = "change-me"
SECRET_REF = re.compile(r"^(env|file):(.+)$")
INTERPOLATION = re.compile(r"\$\{(\w+)(:?[-?+])?([^}]*)\}")

Resolver = Callable[[str], click.Command | None]


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
# The click side: what `mallbridge` really accepts
# ---------------------------------------------------------------------------------------------------------------


def real_resolver() -> Resolver:
    """Resolve a subcommand the way the console script does (lazy import through the group)."""
    ctx = click.Context(mallbridge_cli.main, info_name="mallbridge")

    def resolve(name: str) -> click.Command | None:
        return mallbridge_cli.main.get_command(ctx, name)

    return resolve


def is_missing_stub(command: click.Command) -> bool:
    """The group answers with a stub when a registered module cannot be imported (see mallbridge_core.cli)."""
    return mallbridge_cli.is_unloadable(command)


@cache
def served_paths(subcommand: str) -> frozenset[str]:
    """Health paths the subcommand's package routes: HEALTH_PATHS that appear as string literals in its source."""
    entry = mallbridge_cli.registered_commands().get(subcommand)
    if entry is None:
        return frozenset()
    package = importlib.util.find_spec(entry.module.split(".")[0])
    if package is None or not package.submodule_search_locations:
        return frozenset()
    found: set[str] = set()
    for location in package.submodule_search_locations:
        for source in Path(location).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and node.value in HEALTH_PATHS:
                    found.add(node.value)
    return frozenset(found)


def _options(command: click.Command) -> dict[str, tuple[click.Option, bool]]:
    table: dict[str, tuple[click.Option, bool]] = {}
    for param in command.params:
        if isinstance(param, click.Option):
            table.update({opt: (param, True) for opt in param.opts})
            table.update({opt: (param, False) for opt in param.secondary_opts})
    return table


def _convert(param: click.Parameter, raw: str, label: str, errors: list[str]) -> Any:
    if isinstance(param.type, click.Path):
        return raw  # a path inside the container: checked against the mounts, not this machine
    try:
        return param.type.convert(raw, param, None)
    except click.BadParameter as exc:
        errors.append(f"{label} {raw!r}: {exc.message}")
        return None


def parse_argv(command: click.Command, args: list[str], env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Parse args the way click would, without running anything: (values by param name, errors).

    Values include env fallbacks (`envvar=`) and defaults, so the result says what the process would use.
    A group (e.g. `ingest`) may be followed by one of its subcommands, whose params are parsed as well.
    """
    values: dict[str, Any] = {}
    errors: list[str] = []
    options = _options(command)
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    index = 0
    while index < len(args):
        token = args[index]
        index += 1
        if token.startswith("-") and token != "-":
            name, has_inline, inline = token.partition("=")
            if name not in options:
                errors.append(f"{command.name} has no option {name}")
                continue
            param, primary = options[name]
            if param.is_flag or param.count:
                if has_inline:
                    errors.append(f"{name} is a flag and takes no value")
                values[param.name or name] = param.flag_value if primary else not param.flag_value
                continue
            if has_inline:
                raw = inline
            elif index < len(args) and not args[index].startswith("--"):
                raw = args[index]
                index += 1
            else:
                errors.append(f"{name} needs a value")
                continue
            value = _convert(param, raw, name, errors)
            if param.multiple:
                values.setdefault(param.name or name, []).append(value)
            else:
                values[param.name or name] = value
        elif arguments:
            argument = arguments.pop(0)
            values[argument.name or token] = _convert(argument, token, argument.human_readable_name, errors)
        elif isinstance(command, click.Group):
            sub = command.get_command(click.Context(command), token)
            if sub is None:
                errors.append(f"{command.name} has no subcommand {token!r}")
                return values, errors
            sub_values, sub_errors = parse_argv(sub, args[index:], env)
            values.update(sub_values)
            errors.extend(sub_errors)
            return values, errors
        else:
            errors.append(f"{command.name} takes no argument {token!r}")
    for unset in command.params:
        key = unset.name or ""
        if key in values:
            continue
        from_env = [name for name in _envvars(unset) if name in env]
        if from_env:
            values[key] = _convert(unset, env[from_env[0]], from_env[0], errors)
        elif unset.required:
            errors.append(f"{command.name} needs {unset.get_error_hint(click.Context(command))}")
        else:
            default = unset.default
            values[key] = None if default is None or callable(default) else default
    return values, errors


def _envvars(param: click.Parameter) -> list[str]:
    envvar = param.envvar
    if envvar is None:
        return []
    return [envvar] if isinstance(envvar, str) else list(envvar)


def _all_envvars(command: click.Command) -> set[str]:
    names = {name for p in command.params for name in _envvars(p)}
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            names |= _all_envvars(sub)
    return names


def settings_classes(package: str) -> list[type[BaseSettings]]:
    """The settings classes a subcommand of `package` may read: its package's and the core's (already imported
    when its command was resolved)."""
    found: list[type[BaseSettings]] = []
    todo = list(BaseSettings.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in (package, "mallbridge_core"):
            found.append(cls)
    return sorted(set(found), key=lambda c: f"{c.__module__}.{c.__qualname__}")


def settings_env_names(settings: type[BaseSettings]) -> set[str]:
    return {env_name(settings, name) for name in settings.model_fields}


def check_settings_env(settings: list[type[BaseSettings]], env: Mapping[str, str]) -> list[str]:
    """Each settings class built from exactly this environment, as the process would: bad values are problems."""
    problems: list[str] = []
    for cls in settings:
        names = settings_env_names(cls)
        given = {k: v for k, v in env.items() if k.upper() in names}
        if not given:
            continue
        with mock.patch.dict(os.environ, given, clear=True):
            try:
                cls()
            except ValidationError as exc:
                problems.extend(
                    f"env {env_name(cls, str(e['loc'][0]))}={e.get('input')!r}: {e['msg']}"
                    for e in exc.errors()
                    if e["loc"] and str(e["loc"][0]) in cls.model_fields
                )
    return problems


def _path_params(command: click.Command) -> list[click.Parameter]:
    return [p for p in command.params if isinstance(p.type, click.Path)]


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
    known_env = _all_envvars(command) | {env for cls in settings for env in settings_env_names(cls)}
    problems.extend(
        f"{where}: env {key} is not read by `mallbridge {name}` (it reads {', '.join(sorted(known_env)) or 'none'})"
        for key in launch.env
        if key.startswith("MALLBRIDGE_") and key not in known_env
    )
    port = next((values[p] for p in LISTEN_PORT_PARAMS if values.get(p) is not None), None)
    host = next((values[p] for p in LISTEN_HOST_PARAMS if values.get(p) is not None), None)
    launch.listen_port = port
    if port is None:
        problems.extend(f"{where}: exposes port {p}, but `mallbridge {name}` listens on none" for p in launch.ports)
        problems.extend(
            f"{probe.where}: probes {probe.path}, but `mallbridge {name}` serves no HTTP" for probe in launch.probes
        )
    else:
        if host not in ANY_ADDRESS:
            problems.append(f"{where}: `mallbridge {name}` listens on {host}; in a container it must bind 0.0.0.0")
        if launch.must_expose and not launch.ports:
            problems.append(f"{where}: exposes no port; `mallbridge {name}` listens on {port}")
        problems.extend(
            f"{where}: exposes port {p}, but `mallbridge {name}` listens on {port}" for p in launch.ports if p != port
        )
        if not launch.probes:
            problems.append(
                f"{where}: no health check for `mallbridge {name}` (it serves {sorted(served_paths(name))})"
            )
        for probe in launch.probes:
            problems.extend(_check_probe(probe, name, port))
    for param in _path_params(command):
        value = values.get(param.name or "")
        for path in value if isinstance(value, list) else [value]:
            if isinstance(path, str):
                _mounted_config(launch, path, f"{param.opts[0] if param.opts else param.name}", problems)
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
