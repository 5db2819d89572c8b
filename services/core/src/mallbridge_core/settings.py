"""Settings from the environment with the command line on top, and the options every subcommand shares.

One reader per setting: a pydantic-settings class reads the environment (and holds the default); a click
option made by `setting_option` only overrides it when it was given on the command line (its click default
is None and click never reads the variable itself). `--help` still shows the variable and the default.

The common options (README "Configuration"): `--log kafka://HOST:PORT | sqlite:///PATH` (MALLBRIDGE_LOG);
`--kafka HOST:PORT` (MALLBRIDGE_KAFKA, default 127.0.0.1:9092), a shorthand for `--log kafka://HOST:PORT`;
`--tenants PATH` (MALLBRIDGE_TENANTS); `--topic-prefix` (MALLBRIDGE_TOPIC_PREFIX, default `mallbridge.`);
`--partitions` (MALLBRIDGE_PARTITIONS, default 6).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

import click
from pydantic import AliasChoices, BeforeValidator, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from mallbridge_core.topics import DEFAULT_LANE, Topics
from mallbridge_schema.serde import DEFAULT_TOPIC_PREFIX

DEFAULT_KAFKA = "127.0.0.1:9092"
F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S", bound=BaseSettings)


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


LogLevel = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper)]
"""A log level setting, in any case: checked with the other settings, so a wrong one is a usage error naming
its option and variable (not a traceback from `logging` once the command has started)."""


GENERAL_LOG_LEVEL_ENV = "MALLBRIDGE_LOG_LEVEL"


def log_level_setting(env_prefix: str) -> Any:
    """A service's `log_level` field: its own variable (`{env_prefix}LOG_LEVEL`) first, else the general
    MALLBRIDGE_LOG_LEVEL (one variable for every service of a container), else INFO. The settings class
    needs `populate_by_name=True` so the command-line option still sets the field by name."""
    return Field(default="INFO", validation_alias=AliasChoices(f"{env_prefix}LOG_LEVEL", GENERAL_LOG_LEVEL_ENV))


def _env_aliases(info: FieldInfo) -> tuple[str, ...]:
    """The variables a field reads instead of `{env_prefix}{NAME}`, in order (upper case; none: no alias)."""
    alias = info.validation_alias
    names = (alias,) if isinstance(alias, str) else getattr(alias, "choices", ())
    return tuple(name.upper() for name in names if isinstance(name, str))


def env_name(settings: type[BaseSettings], field: str) -> str:
    """The environment variable `settings` reads for `field` (its first alias when it has one)."""
    aliases = _env_aliases(settings.model_fields[field])
    return aliases[0] if aliases else f"{settings.model_config.get('env_prefix', '')}{field}".upper()


def env_name_read(settings: type[BaseSettings], field: str) -> str:
    """The variable a value of `field` was read from: of several a field reads (a service's own, then a
    general one), the first that is set; else `env_name`. For error messages: name what the user set."""
    present = {name.upper() for name in os.environ}
    aliases = _env_aliases(settings.model_fields[field])
    return next((name for name in aliases if name in present), env_name(settings, field))


class SettingOption(click.Option):
    """A click option backed by a settings field: shown with its variable and default, never read from the env."""

    def __init__(self, *args: Any, settings_default: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings_default = settings_default

    def resolve_envvar_value(self, ctx: click.Context) -> str | None:
        return None  # the settings class reads the environment; a given option overrides it

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        if self.settings_default is not None:
            extra["default"] = str(self.settings_default)
        return extra


def setting_option(settings: type[BaseSettings], field: str, *decls: str, **kwargs: Any) -> Callable[[F], F]:
    """A click option that overrides `settings.<field>` when given (its parameter name is `field`)."""
    kwargs.setdefault("settings_default", settings.model_fields[field].default)
    return click.option(
        *decls,
        field,
        cls=SettingOption,
        default=None,
        envvar=env_name(settings, field),
        show_envvar=True,
        **kwargs,
    )


def settings_from(settings: type[S], given: Mapping[str, Any]) -> S:
    """`settings` read from the environment (and defaults), with the given command-line values on top.

    `given` maps field names to option values, None meaning "not given". A bad value from either side is a
    click.UsageError that names the option and the variable, and says what is allowed.
    """
    try:
        return settings(**{field: value for field, value in given.items() if value is not None})
    except ValidationError as exc:
        raise click.UsageError(explain_settings_error(settings, exc, given)) from None


def explain_settings_error(
    settings: type[BaseSettings], exc: ValidationError, given: Mapping[str, Any] | None = None
) -> str:
    """One part per bad setting, `; `-joined: the option it was given with (when `given` has it), else the
    variable it was read from, what is allowed, and the value unless it is a secret."""
    problems = []
    for error in exc.errors():
        field = field_of(settings, str(error["loc"][0]) if error["loc"] else "")
        where = env_name_read(settings, field) if field in settings.model_fields else field
        flag = f"{_flag(field)} / " if given is not None and given.get(field) is not None else ""
        problems.append(f"{flag}{where}: {error['msg']}{_got(settings, field, error.get('input'))}")
    return "; ".join(problems)


def field_of(settings: type[BaseSettings], loc: str) -> str:
    """The field an error is about: a value read from a variable is located by that field's alias."""
    if loc in settings.model_fields:
        return loc
    return next((field for field, info in settings.model_fields.items() if loc.upper() in _env_aliases(info)), loc)


_SECRET_WORDS = ("secret", "token", "password", "client_id", "key")


def _got(settings: type[BaseSettings], field: str, value: Any) -> str:
    """` (got …)` for an error message, or nothing for a secret (its value never reaches an error)."""
    info = settings.model_fields.get(field)
    secret_type = info is not None and "Secret" in repr(info.annotation)
    if secret_type or any(word in field.lower() for word in _SECRET_WORDS):
        return ""
    return f" (got {value!r})"


def _flag(param_name: str) -> str:
    """The option of the running command whose parameter is `param_name` (for error messages)."""
    ctx = click.get_current_context(silent=True)
    params = ctx.command.params if ctx is not None else []
    return next((p.opts[0] for p in params if p.name == param_name and p.opts), f"--{param_name.replace('_', '-')}")


class CommonSettings(BaseSettings):
    """The options every subcommand shares, each from MALLBRIDGE_<NAME> unless given on the command line."""

    model_config = SettingsConfigDict(env_prefix="MALLBRIDGE_", extra="ignore", frozen=True, populate_by_name=True)

    log: str | None = None
    kafka: str = DEFAULT_KAFKA
    # named tenants_path so that it never collides with a command's own `tenants` (e.g. the audit's --tenant)
    tenants_path: str | None = Field(default=None, validation_alias=AliasChoices("MALLBRIDGE_TENANTS"))
    # Kafka's topic names: letters, digits, ".", "_" and "-" (the prefix is the start of every name)
    topic_prefix: str = Field(default=DEFAULT_TOPIC_PREFIX, pattern=r"^[A-Za-z0-9._-]{0,200}$")
    partitions: int = Field(default=6, ge=1, le=10_000)

    @property
    def log_url(self) -> str:
        """`--log` wins; else `--kafka`/MALLBRIDGE_KAFKA; else the default broker."""
        return self.log or f"kafka://{self.kafka}"


@dataclass(frozen=True)
class CommonOptions:
    log_url: str
    tenants_path: str | None
    topic_prefix: str
    partitions: int

    def topics(self, lane: str = DEFAULT_LANE) -> Topics:
        return Topics(prefix=self.topic_prefix, lane=lane)

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> CommonOptions:
        return cls(settings.log_url, settings.tenants_path, settings.topic_prefix, settings.partitions)


_COMMON = (
    setting_option(CommonSettings, "log", "--log", help="Event log: kafka://HOST:PORT or sqlite:///PATH."),
    setting_option(CommonSettings, "kafka", "--kafka", help="Kafka bootstrap, shorthand for --log kafka://…"),
    setting_option(
        CommonSettings, "tenants_path", "--tenants", type=click.Path(dir_okay=False), help="Tenants file (TOML)."
    ),
    setting_option(CommonSettings, "topic_prefix", "--topic-prefix", help="Prefix of every topic name."),
    setting_option(
        CommonSettings,
        "partitions",
        "--partitions",
        type=int,
        help="Partitions for topics mallbridge creates (Kafka only; can only grow, with care).",
    ),
)


def common_options(func: F) -> F:
    """Decorate a click command with the shared options; it receives `common: CommonOptions`."""

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        given = {field: kwargs.pop(field) for field in CommonSettings.model_fields}
        if given["kafka"] is not None and given["log"] is None:
            given["log"] = f"kafka://{given['kafka']}"  # a --kafka given here beats MALLBRIDGE_LOG
        common = CommonOptions.from_settings(settings_from(CommonSettings, given))
        return func(common=common, **kwargs)

    # keep the click options declared below @common_options (click keeps them on the function it decorates)
    wrapper.__dict__["__click_params__"] = list(getattr(func, "__click_params__", []))
    for option in reversed(_COMMON):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]
