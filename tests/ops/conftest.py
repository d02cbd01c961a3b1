"""Ops tests run on their own nats-server: the monitor's figures are server-wide counters,
and the SLA restart test needs to be the only SLA instance for its timers, so the session's
shared server (where every registered service runs) would blur both."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import nats
import pytest

from orderchat.runtime.nats_server import NatsServer, NatsServerConfig
from orderchat.runtime.provision import provision
from orderchat.runtime.services import ServiceHost
from orderchat.runtime.users import upsert_user
from orderchat.schemas import names
from orderchat.schemas.orders import EventType, OrderEvent, OrderLine, OrderState, OrderTerms
from orderchat.schemas.users import PartyRole, User


@pytest.fixture(scope="module")
def ops_server(tmp_path_factory: pytest.TempPathFactory) -> NatsServer:
    server = NatsServer(NatsServerConfig(store_dir=tmp_path_factory.mktemp("ops-nats"), sync_interval="2m"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def ops_nc(ops_server: NatsServer) -> AsyncIterator[nats.NATS]:
    nc = await nats.connect(ops_server.url, name="orderchat-ops-tests")
    await provision(nc.jetstream())
    yield nc
    await nc.drain()


HostMaker = Callable[..., Awaitable[ServiceHost]]


@pytest.fixture
async def start_host(ops_server: NatsServer, ops_nc: nats.NATS) -> AsyncIterator[HostMaker]:
    """Start a ServiceHost with the named services; every host still running is stopped at the end."""
    hosts: list[ServiceHost] = []

    async def start(*service_names: str) -> ServiceHost:
        host = ServiceHost(ops_server.url, list(service_names))
        await host.start()
        await host.ctx.nc.flush()  # the server has the host's subscriptions before the test sends
        hosts.append(host)
        return host

    yield start
    for host in hosts:
        if _still_running(host):
            await host.stop()


def _still_running(host: ServiceHost) -> bool:
    from faststream.exceptions import IncorrectState

    try:
        return host.broker is not None and host.broker.connection.is_connected
    except IncorrectState:  # stopped by the test already
        return False


@pytest.fixture
def tenant() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


async def add_parties(js: Any, tenant: str, buyer: str = "lin", supplier: str = "paper") -> None:
    await upsert_user(js, tenant, User(id=buyer, display_name=buyer.title(), role=PartyRole.BUYER))
    await upsert_user(js, tenant, User(id=supplier, display_name=supplier.title(), role=PartyRole.SUPPLIER))


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy (for state kept in KV/streams that
    offers no event to await); fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(interval)


class OrderLog:
    """Writes order events to stream ORDERS the way the orders service does (its contract
    with the SLA service): one subject per order, `n` counting up."""

    def __init__(self, js: Any, tenant: str, order_id: str, buyer: str = "lin", supplier: str = "paper", amount: str = "10") -> None:
        self.js, self.tenant, self.order_id = js, tenant, order_id
        self.buyer, self.supplier = buyer, supplier
        self.amount = Decimal(amount)
        self.n = 0

    async def emit(self, type_: EventType, state: OrderState, *, actor: str | None = None, revision: int = 1, at: datetime | None = None, **extra: Any) -> OrderEvent:
        self.n += 1
        terms = None
        if type_ in (EventType.CREATED, EventType.AMENDED):
            terms = OrderTerms(
                order_id=self.order_id, buyer=self.buyer, supplier=self.supplier, currency="CNY",
                lines=(OrderLine(line_id="l1", sku="PEN-1", description="Red gel pen", quantity=Decimal(1), unit_price=self.amount),),
            )
        event = OrderEvent(
            order_id=self.order_id, tenant=self.tenant, n=self.n, type=type_, actor=actor or self.buyer,
            ts=at or datetime.now(timezone.utc), command_id=f"c{self.n}", revision=revision, state=state, terms=terms, **extra,
        )
        await self.js.publish(
            names.order_events(self.tenant, self.order_id), event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": f"{self.tenant}:{self.order_id}:{self.n}"},
        )
        return event

    async def created_and_sent(self, at: datetime | None = None) -> OrderEvent:
        await self.emit(EventType.CREATED, OrderState.DRAFT, at=at)
        return await self.emit(EventType.SENT, OrderState.SENT, at=at)


def ago(seconds: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(seconds=seconds)
