"""The click side of the container checks: what `mallbridge <subcommand>` really accepts and reads.

A subcommand is resolved the way the console script resolves it (mallbridge_core.cli, through the
`mallbridge.commands` entry points), its argv parsed the way click would without running anything, and the
environment checked against both its options and its pydantic-settings classes.
"""

from __future__ import annotations

import ast
import importlib.util
import os
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

import click
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from mallbridge_core import cli as mallbridge_cli
from mallbridge_core.settings import env_name

# ARCHITECTURE.md §4: the health endpoints a service serves; a probe may use only these, and only the ones the
# service's own package really routes (see served_paths).
HEALTH_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
Resolver = Callable[[str], click.Command | None]


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
            index = _parse_option(options, token, args, index, values, errors, command_name=str(command.name))
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
    _fill_unset(command, values, env, errors)
    return values, errors


def _parse_option(
    options: dict[str, tuple[click.Option, bool]],
    token: str,
    args: list[str],
    index: int,
    values: dict[str, Any],
    errors: list[str],
    *,
    command_name: str,
) -> int:
    """One `--name[=value]` (and its value, if separate) into `values`; returns the index after it."""
    name, has_inline, inline = token.partition("=")
    if name not in options:
        errors.append(f"{command_name} has no option {name}")
        return index
    param, primary = options[name]
    if param.is_flag or param.count:
        if has_inline:
            errors.append(f"{name} is a flag and takes no value")
        values[param.name or name] = param.flag_value if primary else not param.flag_value
        return index
    if has_inline:
        raw = inline
    elif index < len(args) and not args[index].startswith("--"):
        raw = args[index]
        index += 1
    else:
        errors.append(f"{name} needs a value")
        return index
    value = _convert(param, raw, name, errors)
    if param.multiple:
        values.setdefault(param.name or name, []).append(value)
    else:
        values[param.name or name] = value
    return index


def _fill_unset(command: click.Command, values: dict[str, Any], env: Mapping[str, str], errors: list[str]) -> None:
    """Params not on the command line: from their variable, else their default (a settings field's default for
    an option backed by a pydantic-settings field, whose click default is None)."""
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
            default = getattr(unset, "settings_default", None) if unset.default is None else unset.default
            values[key] = None if default is None or callable(default) else default


def _envvars(param: click.Parameter) -> list[str]:
    envvar = param.envvar
    if envvar is None:
        return []
    return [envvar] if isinstance(envvar, str) else list(envvar)


def all_envvars(command: click.Command) -> set[str]:
    names = {name for p in command.params for name in _envvars(p)}
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            names |= all_envvars(sub)
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


def path_params(command: click.Command) -> list[click.Parameter]:
    return [p for p in command.params if isinstance(p.type, click.Path)]
