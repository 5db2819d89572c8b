"""The `mallbridge` console command: a group of the subcommands the installed packages register.

The core names no service. Each package registers its subcommands in its own pyproject.toml, in the
entry-point group `mallbridge.commands` (one line per subcommand), for example:

    [project.entry-points."mallbridge.commands"]
    publisher = "mallbridge_publisher.cli:publisher"

A subcommand's module is imported only when that subcommand runs, so a container that carries only the
publisher has a working `mallbridge publisher` and no other service. `mallbridge --help` reads each
command's summary from its source instead of importing every service (0.3 s instead of 3 s).
"""

from __future__ import annotations

import ast
import importlib.util
import logging
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import click

from mallbridge_core.eventlog import LogUrlError
from mallbridge_core.eventlog.port import LogUnavailableError

COMMANDS_GROUP = "mallbridge.commands"


def registered_commands() -> dict[str, EntryPoint]:
    """Subcommand name -> its entry point, over every installed distribution, sorted by name."""
    found = {ep.name: ep for ep in entry_points(group=COMMANDS_GROUP)}
    return dict(sorted(found.items()))


def provider(entry: EntryPoint) -> str:
    """The distribution that registers `entry` (its module's package when it has none, e.g. in a test)."""
    return entry.dist.name if entry.dist is not None else entry.module.split(".")[0]


def _source_of(module: str) -> Path | None:
    """The file of `module`, found without importing it or its packages (a package may import a lot)."""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return Path(spec.origin) if spec and spec.origin and not rest else None
    for location in spec.submodule_search_locations:
        base = Path(location).joinpath(*rest)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def summary(entry: EntryPoint) -> str:
    """The first line of the subcommand's docstring, read from its source without importing the module."""
    try:
        source = _source_of(entry.module)
        tree = ast.parse(source.read_text(encoding="utf-8")) if source else None
    except (ImportError, OSError, SyntaxError, ValueError):
        tree = None
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry.attr:
            return (ast.get_docstring(node) or "").strip().split("\n")[0]
    return f"(provided by {provider(entry)})"


class LogUnreachable(click.ClickException):
    """The event log could not be opened or reached: one line and exit status 2, never a traceback."""

    exit_code = 2


class UnloadableCommand(click.Command):
    """What runs instead of a registered subcommand whose module cannot be imported (a broken install)."""


def is_unloadable(command: click.Command) -> bool:
    return isinstance(command, UnloadableCommand)


def _unloadable(name: str, entry: EntryPoint, error: ModuleNotFoundError) -> click.Command:
    def fail() -> None:
        raise click.ClickException(
            f"'{name}' is registered by {provider(entry)}, but its module cannot be imported "
            f"(missing: {error.name}); reinstall {provider(entry)}"
        )

    return UnloadableCommand(name=name, callback=fail, help=f"(not available: {provider(entry)} cannot be loaded)")


class CommandsGroup(click.Group):
    """Resolves subcommands through the `mallbridge.commands` entry points, importing only the one asked for."""

    def invoke(self, ctx: click.Context) -> Any:
        # A one-shot command (audit, balance, order) reports an unreachable log in its one `Error:` line;
        # Kafka's client would print its own connection errors before it. The services set up logging of
        # their own (configure_logging), which lets the client's warnings through again.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
        try:
            return super().invoke(ctx)
        except LogUnavailableError as exc:
            raise LogUnreachable(str(exc)) from None
        except LogUrlError as exc:  # an unsupported --log / MALLBRIDGE_LOG: a usage error, not a traceback
            raise click.UsageError(str(exc)) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(registered_commands())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = registered_commands().get(cmd_name)
        if entry is None:
            return None
        try:
            command = entry.load()
        except ModuleNotFoundError as exc:
            if exc.name and entry.module.startswith(exc.name):
                return _unloadable(cmd_name, entry, exc)
            raise
        if not isinstance(command, click.Command):
            raise TypeError(f"entry point {entry.value} ({COMMANDS_GROUP}) is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, summary(entry)) for name, entry in registered_commands().items()]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in registered_commands() and not args[0].startswith("-"):
            installed = ", ".join(registered_commands()) or "none"
            ctx.fail(
                f"no subcommand {args[0]!r} here (installed: {installed}). A subcommand comes with the package "
                "that runs it; in a development checkout, `make install` registers new ones."
            )
        return super().resolve_command(ctx, args)


@click.group(cls=CommandsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mallbridge-core")
def main() -> None:
    """mallbridge keeps MALL order statuses in step with FastCentrik."""
