"""`orderchat up`, `orderchat serve`, `orderchat provision`."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import nats

from orderchat.runtime import tuning
from orderchat.runtime.provision import NotProvisioned, provision
from orderchat.runtime.services import SERVICES, ServiceHost
from orderchat.runtime.system import port_or_free, service_options, system, wait_for_stop_signal

from .common import async_command, cli, connect_options, nats_url_of, settings_of


@cli.command()
@click.option("--data-dir", type=click.Path(), default=None, help="Where the embedded server keeps its store (default ~/.orderchat).")
@click.option("--port", type=int, default=None, help="Embedded NATS client port (default 4333, or a free one).")
@click.option("--sync", "sync_interval", default=None, help='JetStream fsync: "always" (default, no loss on power failure) or a duration like "2m".')
@click.option("--no-seed", is_flag=True, help="Do not add the demo shop's users.")
@click.option("--insecure", is_flag=True, help="INSECURE: no NATS authorization, anyone reaching the port can read and write everything. Local hacking only.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None, help="Serve NATS over TLS with this certificate (PEM).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None, help="Private key of --tls-cert (PEM).")
@click.option("--tls-ca", type=click.Path(exists=True, dir_okay=False), default=None, help="CA that clients verify the server's certificate with.")
@click.option("--erp", "erp_url", default=None, help="A real Odoo for the ERP connector: odoo://login:apikey@host:port/db (default: the built-in demo ERP).")
@click.pass_context
@async_command
async def up(ctx: click.Context, data_dir: str | None, port: int | None, sync_interval: str | None, no_seed: bool,
             insecure: bool, tls_cert: str | None, tls_key: str | None, tls_ca: str | None, erp_url: str | None) -> None:
    """Run the whole system in this process (embedded NATS unless --nats-url is given).
    NATS authorization is on: keys live in <home>/creds (see `orderchat users creds`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_of(ctx)
    if ctx.obj.get("nats_url"):
        settings.nats_url = ctx.obj["nats_url"]
    if data_dir:
        settings.home = Path(data_dir)
    if port:
        settings.nats_port = port
    if sync_interval:
        settings.sync_interval = sync_interval
    settings.insecure = settings.insecure or insecure
    if erp_url:
        settings.erp_url = erp_url
    if tls_cert:
        if not tls_key:
            raise click.UsageError("--tls-cert needs --tls-key")
        settings.tls_cert, settings.tls_key = Path(tls_cert), Path(tls_key)
    if tls_ca:
        settings.tls_ca = Path(tls_ca)
    if settings.insecure:
        click.echo("WARNING: --insecure: NATS runs WITHOUT authorization; every connection may read and write everything.", err=True)
    async with system(settings, seed=not no_seed) as running:
        tuning.settle()
        info = running.info
        click.echo("orderchat is up")
        click.echo(f"  NATS            {info['nats_url']}")
        if "monitor_url" in info:
            click.echo(f"  NATS monitoring {info['monitor_url']}")
            click.echo(f"  JetStream store {info['store_dir']} (sync_interval {info['sync_interval']})")
        for key, value in sorted(info.items()):
            if key.endswith("_url") and key not in ("nats_url", "monitor_url"):
                click.echo(f"  {key[:-4].replace('_', ' '):15} {value}")
        click.echo(f"  tenant          {settings.tenant}")
        if "erp_logins" in info:
            click.echo(f"  ERP logins      {info['erp_logins']}")
        if info.get("auth"):
            click.echo(f"  credentials     {info['creds_dir']} (admin: system/admin.nk; parties: {settings.tenant}/<user>/<device>.nk)")
        else:
            click.echo("  credentials     NONE: --insecure, authorization is off")
        click.echo(f"  services        {', '.join(running.host.names)}")
        click.echo(f"  provisioning    {running.report.summary()}")
        click.echo("Try: orderchat chat send --as lin --to hongyun-pens 'Do you have red gel pens?'")
        click.echo("Stop with Ctrl-C.")
        await wait_for_stop_signal()
        click.echo("stopping: finishing in-flight work ...")
    click.echo("stopped")


@cli.command()
@click.argument("names", nargs=-1, required=True)
@click.option("--http-port", type=int, default=None, help="Port of /metrics, /healthz, /readyz (default: settings http_port; 0 = any free port; -1 = none).")
@click.pass_context
@async_command
async def serve(ctx: click.Context, names: tuple[str, ...], http_port: int | None) -> None:
    """Run one or more services against an existing NATS (scale out by running more)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_of(ctx)
    # The default port falls back to a free one (several `serve` processes on one machine);
    # an explicit --http-port is used as given.
    port = port_or_free(settings.host, settings.http_port) if http_port is None else http_port
    host = ServiceHost(
        nats_url_of(ctx, wait_for_server=True), list(names), options=service_options(settings),
        connect_options=connect_options(ctx, identity=names[0] if len(names) == 1 else "services"), http_host=settings.host, http_port=None if port < 0 else port,
    )
    try:
        await host.start()
    except NotProvisioned as err:
        raise click.ClickException(str(err)) from None
    tuning.settle()
    click.echo(f"serving {', '.join(names)} on {host.url}; Ctrl-C stops")
    if host.http_url:
        click.echo(f"metrics and health: {host.http_url}/metrics /healthz /readyz")
    try:
        await wait_for_stop_signal()
    finally:
        await host.stop()


@cli.command("services")
def list_services() -> None:
    """List the services `serve` can run."""
    for name in SERVICES:
        click.echo(name)


@cli.command("provision")
@click.pass_context
@async_command
async def provision_command(ctx: click.Context) -> None:
    """Create or update streams and buckets (idempotent)."""
    from orderchat.schemas.streams import Topology

    nc = await nats.connect(nats_url_of(ctx), **connect_options(ctx))
    try:
        report = await provision(nc.jetstream(), Topology(replicas=settings_of(ctx).replicas))
    finally:
        await nc.drain()
    for label in report.created:
        click.echo(f"created   {label}")
    for label in report.updated:
        click.echo(f"updated   {label}")
    click.echo(report.summary())
