"""Options every subcommand shares (DESIGN §4, contract), validated once at startup.

`--log kafka://HOST:PORT | sqlite:///PATH` (env MALLBRIDGE_LOG); `--kafka HOST:PORT` (env MALLBRIDGE_KAFKA,
default 127.0.0.1:9092) is a shorthand for `--log kafka://HOST:PORT`; `--tenants PATH` (env
MALLBRIDGE_TENANTS); `--topic-prefix` (env MALLBRIDGE_TOPIC_PREFIX, default `mallbridge.`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from mallbridge_core.topics import DEFAULT_LANE, Topics
from mallbridge_schema.serde import DEFAULT_TOPIC_PREFIX

DEFAULT_KAFKA = "127.0.0.1:9092"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class CommonOptions:
    log_url: str
    tenants_path: str | None
    topic_prefix: str
    partitions: int

    def topics(self, lane: str = DEFAULT_LANE) -> Topics:
        return Topics(prefix=self.topic_prefix, lane=lane)


def resolve_log_url(log: str | None, kafka: str | None) -> str:
    """`--log` wins; else `--kafka`/MALLBRIDGE_KAFKA; else the default broker."""
    if log:
        return log
    return f"kafka://{kafka or DEFAULT_KAFKA}"


def common_options(func: F) -> F:
    """Decorate a click command with the shared options; it receives `common: CommonOptions`."""
    options = [
        click.option(
            "--log",
            "log",
            envvar="MALLBRIDGE_LOG",
            default=None,
            help="Event log: kafka://HOST:PORT or sqlite:///PATH (env MALLBRIDGE_LOG).",
        ),
        click.option(
            "--kafka",
            "kafka",
            envvar="MALLBRIDGE_KAFKA",
            default=None,
            help=f"Kafka bootstrap, shorthand for --log kafka://… (env MALLBRIDGE_KAFKA, default {DEFAULT_KAFKA}).",
        ),
        click.option(
            "--tenants",
            "tenants_path",
            envvar="MALLBRIDGE_TENANTS",
            default=None,
            type=click.Path(dir_okay=False),
            help="Tenants file (TOML) (env MALLBRIDGE_TENANTS).",
        ),
        click.option(
            "--topic-prefix",
            envvar="MALLBRIDGE_TOPIC_PREFIX",
            default=DEFAULT_TOPIC_PREFIX,
            show_default=True,
            help="Prefix of every topic name (env MALLBRIDGE_TOPIC_PREFIX).",
        ),
        click.option(
            "--partitions",
            envvar="MALLBRIDGE_PARTITIONS",
            default=6,
            show_default=True,
            type=int,
            help="Partitions for topics mallbridge creates (Kafka only; can only grow, with care).",
        ),
    ]

    def wrapper(**kwargs: Any) -> Any:
        common = CommonOptions(
            log_url=resolve_log_url(kwargs.pop("log"), kwargs.pop("kafka")),
            tenants_path=kwargs.pop("tenants_path"),
            topic_prefix=kwargs.pop("topic_prefix"),
            partitions=kwargs.pop("partitions"),
        )
        return func(common=common, **kwargs)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    # keep the click options declared below @common_options (click keeps them on the function it decorates)
    wrapper.__dict__["__click_params__"] = list(getattr(func, "__click_params__", []))
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]
