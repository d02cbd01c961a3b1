"""What every command shares: the root group, settings, the NATS connection, output."""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

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


def nats_url_of(ctx: click.Context, *, wait_for_server: bool = False) -> str:
    """The NATS URL to use. A one-shot command checks first that a server answers there:
    nats-py retries a first connection that fails for as long as reconnects are allowed
    (forever for clients), so a wrong URL or a stopped system would hang the command. A
    long-running service (`serve`) passes `wait_for_server` and keeps retrying instead."""
    url = resolve_nats_url(settings_of(ctx), ctx.obj.get("nats_url"))
    if not wait_for_server:
        require_reachable(url)
    return url


_DEFAULT_PORTS = {"nats": 4222, "tls": 4222, "ws": 80, "wss": 443}


def _greeting(sock: socket.socket) -> bytes:
    """The first four bytes the server sends (fewer if it closes or goes quiet first)."""
    data = b""
    while len(data) < 4:
        chunk = sock.recv(4 - len(data))
        if not chunk:
            break
        data += chunk
    return data


def require_reachable(url: str, timeout: float = 3.0) -> None:
    """Raise a one-line error unless one of the servers in `url` (comma-separated, as NATS
    takes them) accepts a connection and greets it with INFO within `timeout` seconds
    (WebSocket URLs: the connection alone)."""
    problems: list[str] = []
    for server in (part.strip() for part in url.split(",") if part.strip()):
        parsed = urlsplit(server if "://" in server else f"nats://{server}")
        try:
            port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme, 4222)
            with socket.create_connection((parsed.hostname or "127.0.0.1", port), timeout=timeout) as sock:
                # A NATS server greets every client with INFO; a port that accepts and stays
                # silent (another service, a proxy) is not one.
                if parsed.scheme in ("ws", "wss") or _greeting(sock).startswith(b"INFO"):
                    return
                problems.append(f"{server}: no NATS server answered there")
        except (OSError, ValueError) as err:
            problems.append(f"{server}: {err.strerror if isinstance(err, OSError) and err.strerror else err}")
    raise click.ClickException(
        f"cannot reach NATS ({'; '.join(problems)}). Is `orderchat up` running, and is --nats-url / ORDERCHAT_NATS_URL right?"
    )


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
