"""`orderchat up`: an embedded nats-server (unless one is given), provisioning, the demo
parties, every service in this process; and a clean stop on Ctrl-C / SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats

from orderchat.security.embedded import admit_parties, system_options
from orderchat.security.keys import ADMIN, SERVICES as SERVICES_IDENTITY

from .nats_server import NatsServer, NatsServerConfig, free_port
from .provision import ProvisionReport, provision
from .services import SERVICES, ServiceHost
from .settings import Settings
from .users import seed_demo_users


def port_or_free(host: str, port: int) -> int:
    """The wanted port when it is free, otherwise any free one (printed at start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
            return port
        except OSError:
            return free_port(host)


@dataclass
class RunningSystem:
    settings: Settings
    nats_url: str
    server: NatsServer | None
    host: ServiceHost
    report: ProvisionReport
    info: dict[str, Any] = field(default_factory=dict)


# Extra parts of a full system (demo ERP, web client ...) register here: each is an async
# context manager factory taking the settings and the info dict it may add addresses to.
Component = Callable[[Settings, dict[str, Any]], contextlib.AbstractAsyncContextManager[None]]
COMPONENTS: list[Component] = []


def _erp_component(settings: Settings, info: dict[str, Any]) -> contextlib.AbstractAsyncContextManager[None]:
    """The demo ERP (or the one `--erp` names) for the `erp` connector service."""
    from orderchat.integrations.odoo.component import erp_component

    return erp_component(settings, info)


COMPONENTS.append(_erp_component)


def start_embedded_nats(settings: Settings) -> NatsServer:
    config = NatsServerConfig(
        store_dir=settings.home / "nats",
        host=settings.host,
        port=port_or_free(settings.host, settings.nats_port),
        http_port=port_or_free(settings.host, settings.monitor_port),
        websocket_port=port_or_free(settings.host, settings.websocket_port),
        sync_interval=settings.sync_interval,
        auth=not settings.insecure,
        tls_cert=settings.tls_cert,
        tls_key=settings.tls_key,
    )
    if config.auth:
        from orderchat.security.embedded import prepare_server_auth

        prepare_server_auth(settings, config.auth_file)
    return NatsServer(config).start()


@contextlib.asynccontextmanager
async def system(settings: Settings, services: list[str] | None = None, seed: bool = True) -> AsyncIterator[RunningSystem]:
    settings.home.mkdir(parents=True, exist_ok=True)
    server = None if settings.nats_url else await asyncio.to_thread(start_embedded_nats, settings)
    url = settings.nats_url or server.url  # type: ignore[union-attr]
    info: dict[str, Any] = {"pid": os.getpid(), "nats_url": url, "tenant": settings.tenant}
    if server is not None:
        info["monitor_url"] = server.monitor_url
        info["store_dir"] = str(server.config.store_dir)
        info["sync_interval"] = settings.sync_interval
        info["nats_pid"] = server.process.pid  # type: ignore[union-attr]
        info["websocket_url"] = server.websocket_url
    elif settings.websocket_url:
        info["websocket_url"] = settings.websocket_url
    info.update(_security_info(settings, server))
    try:
        admin = await nats.connect(url, name="orderchat-admin", **system_options(settings, ADMIN, url))
        try:
            report = await provision(admin.jetstream(), _topology(settings))
            seeded = await seed_demo_users(admin.jetstream(), settings.tenant) if seed else []
            if server is not None and server.config.auth:
                await admit_parties(admin.jetstream(), settings, server, seeded)
        finally:
            await admin.drain()
        async with contextlib.AsyncExitStack() as stack:
            for component in COMPONENTS:
                await stack.enter_async_context(component(settings, info))
            host = ServiceHost(
                url, services or list(SERVICES), options=service_options(settings, info),
                connect_options=system_options(settings, SERVICES_IDENTITY, url),
                http_host=settings.host, http_port=port_or_free(settings.host, settings.http_port),
            )
            await host.start()
            info["metrics_url"] = f"{host.http_url}/metrics"
            running = RunningSystem(settings, url, server, host, report, info)
            _write_runtime(settings.runtime_file, info)
            try:
                yield running
            finally:
                with contextlib.suppress(FileNotFoundError):
                    settings.runtime_file.unlink()
                await host.stop()
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)


def _security_info(settings: Settings, server: NatsServer | None) -> dict[str, Any]:
    """What `orderchat up` tells the CLI about authorization and TLS (runtime.json)."""
    info: dict[str, Any] = {"auth": not settings.insecure, "creds_dir": str(settings.creds_dir)}
    if server is not None and server.config.auth:
        info["auth_file"] = str(server.config.auth_file)
    if settings.tls_ca:
        info["tls_ca"] = str(settings.tls_ca)
    return info


def _topology(settings: Settings):
    from orderchat.schemas.streams import Topology

    return Topology(replicas=settings.replicas)


def service_options(settings: Settings, info: dict[str, Any] | None = None) -> dict[str, object]:
    """What services read from their context (`ctx.option`), for `up` and `serve` alike."""
    info = info or {}
    return {
        "max_message_bytes": settings.max_message_bytes,
        "tenant": settings.tenant,
        "http_host": settings.host,
        "erp": settings.erp_url,
        "erp_webhook_url": settings.erp_webhook_url,
        **{k: v for k, v in info.items() if k.endswith("_url")},
    }


def _write_runtime(path: Path, info: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2))
    tmp.replace(path)


async def wait_for_stop_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


# The web client (orderchat.web): served by `orderchat up`, its address printed at start.
from orderchat.web.component import web_client  # noqa: E402 - needs this module's names

COMPONENTS.append(web_client)
