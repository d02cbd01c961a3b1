"""What every command shares: the root group, settings, the NATS connection, output."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from pydantic import BaseModel

from orderchat.runtime.settings import Settings, resolve_nats_url
from orderchat.schemas.errors import OrderchatError

T = TypeVar("T")


@click.group()
@click.option("--nats-url", envvar="ORDERCHAT_NATS_URL", default=None, help="NATS to use (default: the running `orderchat up`).")
@click.option("--tenant", envvar="ORDERCHAT_TENANT", default=None, help="Tenant (shop) id; default `shop`.")
@click.option("--creds", envvar="ORDERCHAT_CREDS", default=None, type=click.Path(), help="NATS credentials file of the acting user.")
@click.pass_context
def cli(ctx: click.Context, nats_url: str | None, tenant: str | None, creds: str | None) -> None:
    """orderchat: order chat between shops and their suppliers, on NATS JetStream."""
    settings = Settings()
    if tenant:
        settings.tenant = tenant
    ctx.obj = {"settings": settings, "nats_url": nats_url, "creds": creds}


def settings_of(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def nats_url_of(ctx: click.Context) -> str:
    return resolve_nats_url(settings_of(ctx), ctx.obj.get("nats_url"))


def connect_options(ctx: click.Context, user: str | None = None, device: str = "main", identity: str = "admin") -> dict[str, Any]:
    """Credentials and TLS for a connection: acting as party `user` (its device's key), or as
    a system identity (`admin` for admin commands). The resolution order is documented in
    orderchat.security.resolution."""
    from orderchat.security.resolution import connect_options_for, party_creds, system_creds

    settings = settings_of(ctx)
    explicit = ctx.obj.get("creds")
    creds = party_creds(settings, explicit, user, device) if user else system_creds(settings, explicit, identity)
    return connect_options_for(settings, creds, ctx.obj.get("nats_url") or settings.nats_url)


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine; typed errors print as one clear line and exit 1."""
    try:
        try:
            import uvloop

            return uvloop.run(coro)  # type: ignore[arg-type]
        except ImportError:
            return asyncio.run(coro)  # type: ignore[arg-type]
    except OrderchatError as err:
        click.echo(f"error: {err.code}: {err.message}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def async_command(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return run(fn(*args, **kwargs))

    return wrapper


def emit_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        click.echo(value.model_dump_json(indent=2))
    else:
        click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))
