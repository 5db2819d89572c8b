"""The `mallbridge` console command (DESIGN §4, contract).

Each subcommand lives with the package that runs it and is loaded only when called, so a container
that carries only the publisher still has a working `mallbridge publisher`.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from mallbridge_core.eventlog.port import LogUnavailableError

# subcommand -> (module, attribute, the distribution that provides it)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "ingest": ("mallbridge_ingest.cli", "ingest", "mallbridge-ingest"),
    "publisher": ("mallbridge_publisher.cli", "publisher", "mallbridge-publisher"),
    "audit": ("mallbridge_audit.cli", "audit", "mallbridge-audit"),
    "sandbox": ("mallbridge_sandbox.cli", "sandbox", "mallbridge-sandbox"),
    "demo": ("mallbridge_core.demo.cli", "demo", "mallbridge-core"),
    "run": ("mallbridge_core.run", "run", "mallbridge-core"),
    "log": ("mallbridge_core.logtool", "log", "mallbridge-core"),
}

SUMMARIES = {
    "ingest": "HTTP push API plus import/poll workers: FastCentrik snapshots in, order events out.",
    "publisher": "Project events into MALL statuses and call the MALL Partner API.",
    "audit": "Replay both topics from offset 0 and report per order and per tenant.",
    "sandbox": "A local MALL Partner API that enforces MALL's rules.",
    "demo": "The main job on one machine: sandbox, both services and scripted traffic.",
    "run": "Ingest and publisher in one process.",
    "log": "Move an event log between engines (export / import).",
}


class LogUnreachable(click.ClickException):
    """The event log could not be opened or reached: one line and exit status 2, never a traceback."""

    exit_code = 2


class LazyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LogUnavailableError as exc:
            raise LogUnreachable(str(exc)) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = SUBCOMMANDS.get(cmd_name)
        if spec is None:
            return None
        module_name, attr, dist = spec
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):

                @click.command(name=cmd_name, help=SUMMARIES[cmd_name])
                def missing() -> None:
                    raise click.ClickException(f"'{cmd_name}' needs the {dist} package, which is not installed here")

                return missing
            raise
        command: click.Command = getattr(module, attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, SUMMARIES[name]) for name in SUBCOMMANDS])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mallbridge-core")
def main() -> None:
    """mallbridge keeps MALL order statuses in step with FastCentrik."""
