"""`orderchat erp status`: what the ERP connector last reported (sync lag, ERP reachability,
write-back queue), and `orderchat erp map`: map an ERP partner to a supplier user."""

from __future__ import annotations

import click
import nats

from orderchat.integrations.odoo.mapping import set_partner
from orderchat.integrations.odoo.store import ErpStore, read_status

from .common import async_command, cli, connect_options, emit_json, nats_url_of, settings_of


@cli.group()
def erp() -> None:
    """The ERP connector (Odoo)."""


@erp.command("status")
@click.pass_context
@async_command
async def status(ctx: click.Context) -> None:
    """The connector's last status: ERP up, sync lag, write-back queue."""
    nc = await nats.connect(nats_url_of(ctx), **connect_options(ctx))
    try:
        found = await read_status(nc.jetstream(), settings_of(ctx).tenant)
    finally:
        await nc.drain()
    if found is None:
        raise click.ClickException("no status from an ERP connector in this tenant (is `erp` running with an ERP?)")
    emit_json(found)


@erp.command("map")
@click.argument("partner_id", type=int)
@click.argument("supplier")
@click.option("--database", default="demo", show_default=True, help="The ERP database the partner id belongs to.")
@click.pass_context
@async_command
async def map_partner(ctx: click.Context, partner_id: int, supplier: str, database: str) -> None:
    """Map ERP partner PARTNER_ID (res.partner id) to orderchat supplier SUPPLIER."""
    nc = await nats.connect(nats_url_of(ctx), **connect_options(ctx))
    try:
        store = await ErpStore(nc.jetstream(), settings_of(ctx).tenant, database).open()
        emit_json(await set_partner(store, partner_id, supplier))
    finally:
        await nc.drain()
