"""Which services exist and how a process hosts one or several of them."""

from __future__ import annotations

import asyncio
import importlib
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import nats
from faststream.nats import NatsBroker

from orderchat.services.framework.context import ServiceContext
from orderchat.services.framework.metrics import faststream_middlewares

from .provision import NotProvisioned, missing

log = logging.getLogger(__name__)

# name -> "module:Class"; imported lazily so `orderchat serve delivery` loads only delivery.
SERVICES: dict[str, str] = {
    "delivery": "orderchat.services.delivery.service:DeliveryService",
    "receipts": "orderchat.services.receipts.service:ReceiptsService",
    "sla": "orderchat.services.sla.service:SlaService",
    "orders": "orderchat.services.orders.service:OrdersService",
    "archive": "orderchat.services.archive.service:ArchiveService",
    "erp": "orderchat.integrations.odoo.service:ErpService",
}


def server_list(url: str) -> list[str]:
    """`nats://a:4222,nats://b:4222` → every seed server, so no single node must be up first."""
    return [u.strip() for u in url.split(",") if u.strip()]


class Service(Protocol):
    name: str

    async def start(self, ctx: ServiceContext) -> None: ...

    async def stop(self) -> None: ...


def load_service(name: str) -> Service:
    try:
        target = SERVICES[name]
    except KeyError:
        raise SystemExit(f"unknown service {name!r}; known: {', '.join(SERVICES)}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)()


async def connect(url: str, name: str, **kwargs: Any) -> nats.NATS:
    """A connection that keeps trying: services outlive nats-server restarts."""
    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.25,
        **kwargs,
    )


@dataclass
class ServiceHost:
    """Runs services on one FastStream NATS broker (one connection). Services that consume
    streams through FastStream expose a `router`; request/reply handlers run on the same
    connection (see services.framework.request_server)."""

    url: str
    names: list[str]
    options: dict[str, object] = field(default_factory=dict)
    connect_options: dict[str, Any] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    broker: NatsBroker | None = None
    # Metrics and health over HTTP (runtime.http): port 0 = any free port, None = none.
    http_host: str = "127.0.0.1"
    http_port: int | None = 0
    http: Any = None

    async def start(self) -> ServiceContext:
        from orderchat.security.keys import broker_security

        # Credentials and TLS (nats-py options) become FastStream's `security=` object.
        security, options = broker_security(self.connect_options)
        self.broker = NatsBroker(
            server_list(self.url),
            name=f"orderchat-{'+'.join(self.names)}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.25,
            logger=None,
            middlewares=faststream_middlewares("+".join(self.names)),
            security=security,
            **options,
        )
        self.services = [load_service(n) for n in self.names]
        for service in self.services:
            router = getattr(service, "router", None)
            if router is not None:
                self.broker.include_router(router)
        await self.broker.connect()
        nc = self.broker.connection
        ctx = ServiceContext(nc=nc, js=nc.jetstream(timeout=10), options=self.options)
        if self.services:
            # Checked before any service starts: a bucket added by a newer version would
            # otherwise surface as one service's BucketNotFoundError half-way through start.
            lacking = await missing(ctx.js)
            if lacking:
                await self.broker.stop()
                raise NotProvisioned(self.url, lacking)
        for service in self.services:
            await service.start(ctx)
        await self.broker.start()
        self.ctx = ctx
        if self.http_port is not None:
            await self._start_http()
        return ctx

    async def _start_http(self) -> None:
        from .http import OpsHttpServer
        from .readiness import readiness

        broker = self.broker
        assert broker is not None

        async def ready() -> dict[str, bool]:
            return await readiness(broker.connection, self.ctx.js, broker.subscribers, self.services)

        self.http = OpsHttpServer(self.http_host, self.http_port or 0, lambda: bool(broker.connection and broker.connection.is_connected), ready)
        await self.http.start()
        log.info("metrics and health on %s (/metrics /healthz /readyz)", self.http.url)

    @property
    def http_url(self) -> str | None:
        return self.http.url if self.http is not None else None

    async def stop(self) -> None:
        """Stop intake first, let in-flight work finish, then drop the connection."""
        for service in reversed(self.services):
            try:
                await service.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                log.exception("stopping %s failed", service.name)
        if self.broker is not None:
            try:
                await asyncio.wait_for(self.broker.stop(), 10)
            except Exception:  # noqa: BLE001
                log.exception("stopping the broker failed")
        if self.http is not None:
            await self.http.stop()
            self.http = None
