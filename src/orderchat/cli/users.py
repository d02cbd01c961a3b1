"""`orderchat users`: the parties of a shop, their roles and categories, and their NATS
credentials (one nkey per device; see orderchat.security)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import click
import nats
from nats.aio.client import Client

from orderchat.runtime.settings import read_runtime
from orderchat.runtime.users import list_users, remove_user, upsert_user, user_directory
from orderchat.schemas import names
from orderchat.schemas.users import PartyRole, User
from orderchat.security import registry
from orderchat.security.admin import Issued, issue_device, revoke_user
from orderchat.security.keys import KeyStore
from orderchat.security.server_auth import ServerHandle, render_from, sync_authorization

from .common import async_command, cli, connect_options, emit_json, nats_url_of, settings_of


@cli.group()
def users() -> None:
    """Add, list and remove buyers, suppliers and ops users, and issue their credentials."""


@asynccontextmanager
async def _admin(ctx: click.Context) -> AsyncIterator[Client]:
    nc = await nats.connect(nats_url_of(ctx), name="orderchat-cli-admin", **connect_options(ctx))
    try:
        yield nc
    finally:
        await nc.drain()


def _keystore(ctx: click.Context) -> KeyStore:
    return KeyStore(settings_of(ctx).creds_dir)


async def _apply(ctx: click.Context, nc: Client) -> None:
    """Bring the server's authorization in line with the registry: reload the local
    `orderchat up` server, or say what to do for a server running elsewhere."""
    settings = settings_of(ctx)
    info = read_runtime(settings) or {}
    if info.get("auth") is False:
        return
    if info.get("auth_file") and info.get("nats_pid") and info.get("monitor_url"):
        handle = ServerHandle(int(info["nats_pid"]), str(info["monitor_url"]), Path(info["auth_file"]))
        if await sync_authorization(nc.jetstream(), _keystore(ctx), handle):
            click.echo(f"authorization reloaded ({handle.auth_file})")
        return
    click.echo(
        "note: this server is not a local `orderchat up`; render its authorization with "
        "`orderchat users auth-config --out FILE` on each server and reload it (nats-server --signal reload)",
        err=True,
    )


def _report_issued(issued: Issued) -> None:
    c = issued.credential
    where = f"seed {issued.seed_file}" if issued.seed_file else "the party holds the seed"
    click.echo(f"credentials {c.tenant}/{c.user}/{c.device}: {c.public_key} ({where})")


async def _require_user(nc: Client, tenant: str, user_id: str) -> User:
    directory = await user_directory(nc.jetstream())
    found = await directory.get(names.kv_key(tenant, user_id))
    if found is None:
        raise click.ClickException(f"no user {user_id!r} in tenant {tenant!r}: `orderchat users add` first")
    return found[0]


@users.command("add")
@click.argument("user_id")
@click.option("--role", type=click.Choice([r.value for r in PartyRole]), required=True)
@click.option("--name", "display_name", default=None)
@click.option("--company", default=None)
@click.option("--category", "categories", multiple=True, help="Supplier sees only these product categories (repeat; none = all).")
@click.option("--no-creds", is_flag=True, help="Do not issue credentials for the `main` device now.")
@click.pass_context
@async_command
async def users_add(ctx: click.Context, user_id: str, role: str, display_name: str | None, company: str | None,
                    categories: tuple[str, ...], no_creds: bool) -> None:
    """Add (or update) a party and issue its `main` device's credentials."""
    tenant = settings_of(ctx).tenant
    async with _admin(ctx) as nc:
        user = User(id=user_id, display_name=display_name or user_id, role=PartyRole(role), company=company, categories=categories)
        await upsert_user(nc.jetstream(), tenant, user)
        click.echo(f"added {user_id} ({role})")
        if not no_creds:
            _report_issued(await issue_device(nc.jetstream(), _keystore(ctx), tenant, user_id))
            await _apply(ctx, nc)


@users.command("creds")
@click.argument("user_id")
@click.option("--device", default="main", show_default=True, help="Each device has its own key and inbox.")
@click.option("--public-key", default=None, help="Register the party's own public nkey (U...) instead of making a seed here.")
@click.option("--rotate", is_flag=True, help="Replace the device's seed; the old one stops working.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Also write the seed file here (to hand to the party).")
@click.pass_context
@async_command
async def users_creds(ctx: click.Context, user_id: str, device: str, public_key: str | None, rotate: bool, out: str | None) -> None:
    """Issue (or show) a device's credentials: an nkey seed file for `--creds`."""
    tenant = settings_of(ctx).tenant
    async with _admin(ctx) as nc:
        await _require_user(nc, tenant, user_id)
        issued = await issue_device(nc.jetstream(), _keystore(ctx), tenant, user_id, device, public_key=public_key, rotate=rotate)
        _report_issued(issued)
        await _apply(ctx, nc)
    if out and issued.seed_file is not None:
        shutil.copyfile(issued.seed_file, out)
        os.chmod(out, 0o600)
        click.echo(f"wrote {out}: use it with `orderchat --creds {out} ...`")


@users.command("revoke")
@click.argument("user_id")
@click.option("--device", default=None, help="Only this device (default: all of the user's devices).")
@click.pass_context
@async_command
async def users_revoke(ctx: click.Context, user_id: str, device: str | None) -> None:
    """Withdraw credentials; the reload also closes the device's open connections."""
    tenant = settings_of(ctx).tenant
    async with _admin(ctx) as nc:
        removed = await revoke_user(nc.jetstream(), _keystore(ctx), tenant, user_id, device)
        await _apply(ctx, nc)
    click.echo(f"revoked {removed} credential(s) of {user_id}")


@users.command("categories")
@click.argument("user_id")
@click.argument("categories", nargs=-1)
@click.option("--all", "all_categories", is_flag=True, help="Clear the limit: the supplier sees every line.")
@click.pass_context
@async_command
async def users_categories(ctx: click.Context, user_id: str, categories: tuple[str, ...], all_categories: bool) -> None:
    """Limit a supplier to product categories: its order cards and events carry only those lines."""
    if not categories and not all_categories:
        raise click.UsageError("name the categories, or pass --all to clear the limit")
    tenant = settings_of(ctx).tenant
    async with _admin(ctx) as nc:
        user = await _require_user(nc, tenant, user_id)
        updated = user.model_copy(update={"categories": () if all_categories else tuple(categories)})
        await upsert_user(nc.jetstream(), tenant, updated)
    click.echo(f"{user_id} sees {', '.join(updated.categories) or 'all categories'}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@async_command
async def users_list(ctx: click.Context, as_json: bool) -> None:
    tenant = settings_of(ctx).tenant
    async with _admin(ctx) as nc:
        found = await list_users(nc.jetstream(), tenant)
        creds = await registry.credentials(nc.jetstream(), f"{tenant}.>")
    devices: dict[str, list[str]] = {}
    for credential in creds:
        devices.setdefault(credential.user, []).append(credential.device)
    if as_json:
        emit_json([{**u.model_dump(mode="json"), "devices": devices.get(u.id, [])} for u in found])
        return
    for user in found:
        cats = f" categories: {', '.join(user.categories)}" if user.categories else ""
        devs = ", ".join(devices.get(user.id, [])) or "no credentials"
        click.echo(f"{user.id:20} {user.role:9} {user.display_name} [{devs}]{cats}")


@users.command("remove")
@click.argument("user_id")
@click.pass_context
@async_command
async def users_remove(ctx: click.Context, user_id: str) -> None:
    """Remove a party and all its credentials (its open connections are closed)."""
    tenant = settings_of(ctx).tenant
    async with _admin(ctx) as nc:
        removed = await remove_user(nc.jetstream(), tenant, user_id)
        revoked = await revoke_user(nc.jetstream(), _keystore(ctx), tenant, user_id)
        if revoked:
            await _apply(ctx, nc)
    click.echo("removed" if removed else f"no user {user_id}")


@users.command("service-key")
@click.argument("name")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Also write the seed file here.")
@click.pass_context
@async_command
async def users_service_key(ctx: click.Context, name: str, out: str | None) -> None:
    """A system key for one service host (`orderchat serve NAME` picks creds/system/NAME.nk)."""
    store = _keystore(ctx)
    path = store.system_path(name)
    public_key = store.ensure(path)
    async with _admin(ctx) as nc:
        await _apply(ctx, nc)
    click.echo(f"service key {name}: {public_key} (seed {path})")
    if out:
        shutil.copyfile(path, out)
        os.chmod(out, 0o600)
        click.echo(f"wrote {out}")


@users.command("auth-config")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write here instead of printing.")
@click.pass_context
@async_command
async def users_auth_config(ctx: click.Context, out: str | None) -> None:
    """Render the nats-server `authorization` block (for servers not started by `orderchat up`;
    include it from their config and reload them after each change)."""
    async with _admin(ctx) as nc:
        text = await render_from(nc.jetstream(), _keystore(ctx))
    if out:
        Path(out).write_text(text)
        click.echo(f"wrote {out}")
    else:
        click.echo(text, nl=False)
