"""`orderchat users`: the parties of a shop."""

from __future__ import annotations

import click
import nats

from orderchat.runtime.users import list_users, remove_user, upsert_user
from orderchat.schemas.users import PartyRole, User

from .common import async_command, cli, connect_options, emit_json, nats_url_of, settings_of


@cli.group()
def users() -> None:
    """Add, list and remove buyers, suppliers and ops users."""


@users.command("add")
@click.argument("user_id")
@click.option("--role", type=click.Choice([r.value for r in PartyRole]), required=True)
@click.option("--name", "display_name", default=None)
@click.option("--company", default=None)
@click.option("--category", "categories", multiple=True, help="Supplier sees only these product categories.")
@click.pass_context
@async_command
async def users_add(ctx: click.Context, user_id: str, role: str, display_name: str | None, company: str | None, categories: tuple[str, ...]) -> None:
    nc = await nats.connect(nats_url_of(ctx), **connect_options(ctx))
    try:
        user = User(id=user_id, display_name=display_name or user_id, role=PartyRole(role), company=company, categories=categories)
        await upsert_user(nc.jetstream(), settings_of(ctx).tenant, user)
    finally:
        await nc.drain()
    click.echo(f"added {user_id} ({role})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@async_command
async def users_list(ctx: click.Context, as_json: bool) -> None:
    nc = await nats.connect(nats_url_of(ctx), **connect_options(ctx))
    try:
        found = await list_users(nc.jetstream(), settings_of(ctx).tenant)
    finally:
        await nc.drain()
    if as_json:
        emit_json([u.model_dump(mode="json") for u in found])
        return
    for user in found:
        cats = f" categories: {', '.join(user.categories)}" if user.categories else ""
        click.echo(f"{user.id:20} {user.role:9} {user.display_name}{cats}")


@users.command("remove")
@click.argument("user_id")
@click.pass_context
@async_command
async def users_remove(ctx: click.Context, user_id: str) -> None:
    nc = await nats.connect(nats_url_of(ctx), **connect_options(ctx))
    try:
        removed = await remove_user(nc.jetstream(), settings_of(ctx).tenant, user_id)
    finally:
        await nc.drain()
    click.echo("removed" if removed else f"no user {user_id}")
