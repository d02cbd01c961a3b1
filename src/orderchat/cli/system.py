"""`orderchat up`, `orderchat serve`, `orderchat provision`."""

from __future__ import annotations

import logging

import click
import nats

from orderchat.runtime.provision import provision
from orderchat.runtime.services import SERVICES, ServiceHost
from orderchat.runtime.system import system, wait_for_stop_signal

from .common import async_command, cli, connect_options, nats_url_of, settings_of


@cli.command()
@click.option("--data-dir", type=click.Path(), default=None, help="Where the embedded server keeps its store (default ~/.orderchat).")
@click.option("--port", type=int, default=None, help="Embedded NATS client port (default 4333, or a free one).")
@click.option("--sync", "sync_interval", default=None, help='JetStream fsync: "always" (default, no loss on power failure) or a duration like "2m".')
@click.option("--no-seed", is_flag=True, help="Do not add the demo shop's users.")
@click.pass_context
@async_command
async def up(ctx: click.Context, data_dir: str | None, port: int | None, sync_interval: str | None, no_seed: bool) -> None:
    """Run the whole system in this process (embedded NATS unless --nats-url is given)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_of(ctx)
    if ctx.obj.get("nats_url"):
        settings.nats_url = ctx.obj["nats_url"]
    if data_dir:
        from pathlib import Path

        settings.home = Path(data_dir)
    if port:
        settings.nats_port = port
    if sync_interval:
        settings.sync_interval = sync_interval
    async with system(settings, seed=not no_seed) as running:
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
        click.echo(f"  services        {', '.join(running.host.names)}")
        click.echo(f"  provisioning    {running.report.summary()}")
        click.echo("Try: orderchat chat send --as lin --to hongyun-pens 'Do you have red gel pens?'")
        click.echo("Stop with Ctrl-C.")
        await wait_for_stop_signal()
        click.echo("stopping: finishing in-flight work ...")
    click.echo("stopped")


@cli.command()
@click.argument("names", nargs=-1, required=True)
@click.pass_context
@async_command
async def serve(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Run one or more services against an existing NATS (scale out by running more)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_of(ctx)
    host = ServiceHost(nats_url_of(ctx), list(names), options={"max_message_bytes": settings.max_message_bytes, "tenant": settings.tenant}, connect_options=connect_options(ctx))
    await host.start()
    click.echo(f"serving {', '.join(names)} on {host.url}; Ctrl-C stops")
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
