"""`mallbridge sandbox`: serve the local MALL Partner API."""

from __future__ import annotations

import dataclasses

import click
import uvicorn

from mallbridge_core.logging_setup import configure_logging
from mallbridge_core.signals import exit_zero_on_sigterm
from mallbridge_sandbox.app import create_app
from mallbridge_sandbox.partners import (
    MAX_LATENCY_MS,
    Partner,
    PartnersError,
    check_unique,
    load_partners,
    parse_partner_option,
    parse_webhook_option,
)
from mallbridge_sandbox.quota import DEFAULT_QUOTA
from mallbridge_sandbox.server import uvicorn_config
from mallbridge_sandbox.webhooks import DEFAULT_INTERVAL_S, check_webhook_url


def collect_partners(
    partners_file: str | None,
    specs: tuple[str, ...],
    quota: int,
    webhooks: tuple[str, ...] = (),
    webhook_base: str | None = None,
) -> list[Partner]:
    if webhook_base is not None:
        try:
            check_webhook_url(webhook_base)
        except ValueError:
            raise PartnersError("--webhook-base must be an absolute http(s) URL, e.g. http://ingest:8080") from None
    partners = load_partners(partners_file, webhook_base=webhook_base) if partners_file else []
    partners += [parse_partner_option(spec, quota=quota) for spec in specs]
    partners = check_unique(partners, source="--partners/--partner")
    by_name = {p.name: p for p in partners}
    for spec in webhooks:
        name, url = parse_webhook_option(spec)
        if name not in by_name:
            raise PartnersError(f"--webhook {name}: no such partner (give it with --partner or --partners)")
        by_name[name] = dataclasses.replace(by_name[name], webhook_url=url)
    return list(by_name.values())


@click.command(name="sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, envvar="MALLBRIDGE_SANDBOX_HOST", show_envvar=True)
@click.option(
    "--port",
    default=8090,
    show_default=True,
    type=click.IntRange(0, 65535),
    envvar="MALLBRIDGE_SANDBOX_PORT",
    show_envvar=True,
)
@click.option(
    "--partners",
    "partners_file",
    type=click.Path(dir_okay=False),
    envvar="MALLBRIDGE_SANDBOX_PARTNERS",
    show_envvar=True,
    help="TOML or JSON file of partners ([partners.NAME] client_id, quota), or a mallbridge tenants file.",
)
@click.option(
    "--partner",
    "partner_specs",
    multiple=True,
    metavar="NAME=CLIENT_ID",
    help="A partner account (repeatable); CLIENT_ID may be env:VAR or file:/path.",
)
@click.option(
    "--quota",
    default=DEFAULT_QUOTA,
    show_default=True,
    type=click.IntRange(min=0),
    help="Daily request quota of each --partner.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the fault generators.")
@click.option(
    "--latency-ms",
    default=0,
    show_default=True,
    type=click.IntRange(0, MAX_LATENCY_MS),
    help="Added to every /v1 answer (awaited, so concurrent requests overlap); a partner's own setting wins.",
)
@click.option(
    "--webhook",
    "webhook_specs",
    multiple=True,
    metavar="NAME=URL",
    help="Where MALL's webhook POSTs the partner's changed order ids (repeatable); URL may be env:VAR or file:/path.",
)
@click.option(
    "--webhook-base",
    metavar="URL",
    help="mallbridge ingest's base URL: each tenant of a tenants file (--partners) with a mall_webhook_token "
    "gets the webhook URL/v1/tenants/ID/mall-webhook/TOKEN.",
)
@click.option(
    "--webhook-interval",
    default=DEFAULT_INTERVAL_S,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Least seconds between two webhook deliveries of a partner (MALL: 60; e.g. 0.2 in tests).",
)
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
def sandbox(
    host: str,
    port: int,
    partners_file: str | None,
    partner_specs: tuple[str, ...],
    quota: int,
    seed: int,
    latency_ms: int,
    webhook_specs: tuple[str, ...],
    webhook_base: str | None,
    webhook_interval: float,
    log_level: str,
) -> None:
    """A local MALL Partner API that enforces MALL's rules (partner API under /v1, admin under /sandbox)."""
    try:
        partners = collect_partners(partners_file, partner_specs, quota, webhook_specs, webhook_base)
    except PartnersError as exc:
        raise click.UsageError(str(exc)) from None
    configure_logging(log_level)
    names = ", ".join(p.name for p in partners) or "none yet (add them with POST /sandbox/partners)"
    click.echo(f"MALL sandbox on http://{host}:{port}/v1 (admin: /sandbox, partners: {names})", err=True)
    app = create_app(partners, seed=seed, latency_ms=latency_ms, webhook_interval_s=webhook_interval)
    exit_zero_on_sigterm()
    try:
        uvicorn.Server(uvicorn_config(app, host=host, port=port, log_level=log_level)).run()
    finally:
        app.state.close()
