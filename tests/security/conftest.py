"""A nats-server with authorization ON (the shared fixtures run one without), every service
connected with the `services` key, and parties admitted with real per-device nkeys."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from orderchat.client import OrderchatClient
from orderchat.runtime.nats_server import NatsServer, NatsServerConfig
from orderchat.runtime.provision import provision
from orderchat.runtime.services import SERVICES, ServiceHost
from orderchat.runtime.users import upsert_user
from orderchat.schemas import names
from orderchat.schemas.users import PartyRole, User
from orderchat.security.admin import issue_device
from orderchat.security.keys import ADMIN, SERVICES as SERVICES_IDENTITY, KeyStore, auth_options
from orderchat.security.server_auth import ServerHandle, render_authorization, sync_authorization, write_if_changed


@dataclass
class SecureNats:
    server: NatsServer
    keystore: KeyStore

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def handle(self) -> ServerHandle:
        assert self.server.process is not None
        return ServerHandle(self.server.process.pid, self.server.monitor_url, self.server.config.auth_file)

    def options(self, identity: str) -> dict:
        return auth_options(self.keystore.system_path(identity))


@pytest.fixture(scope="session")
def secure_nats(tmp_path_factory: pytest.TempPathFactory) -> SecureNats:
    home = tmp_path_factory.mktemp("secure")
    keystore = KeyStore(home / "creds")
    keystore.ensure(keystore.system_path(ADMIN))
    keystore.ensure(keystore.system_path(SERVICES_IDENTITY))
    config = NatsServerConfig(store_dir=home / "nats", sync_interval="always", auth=True)
    write_if_changed(config.auth_file, render_authorization(keystore.system_identities(), []))
    server = NatsServer(config).start()
    yield SecureNats(server, keystore)
    server.stop()


@pytest.fixture(scope="session")
async def secure_admin(secure_nats: SecureNats) -> AsyncIterator[Client]:
    nc = await nats.connect(secure_nats.url, name="security-tests-admin", **secure_nats.options(ADMIN))
    await provision(nc.jetstream())
    yield nc
    await nc.drain()


@pytest.fixture(scope="session")
async def secure_services(secure_nats: SecureNats, secure_admin: Client) -> AsyncIterator[ServiceHost]:
    host = ServiceHost(secure_nats.url, list(SERVICES), connect_options=secure_nats.options(SERVICES_IDENTITY), http_port=None)
    await host.start()
    yield host
    await host.stop()


Admit = Callable[..., Awaitable[dict[str, Path]]]


@pytest.fixture
def admit(secure_nats: SecureNats, secure_admin: Client, tenant: str) -> Admit:
    """admit(("lin", BUYER), ("sunrise", SUPPLIER, {"categories": ("Paper",)}), ...): add the
    parties, issue their `main` device keys, apply with one reload; user -> seed file."""

    async def run(*parties: tuple) -> dict[str, Path]:
        js = secure_admin.jetstream()
        seeds: dict[str, Path] = {}
        for party in parties:
            user_id, role, extra = (*party, {})[:3]
            await upsert_user(js, tenant, User(id=user_id, display_name=user_id.title(), role=role, **extra))
            issued = await issue_device(js, secure_nats.keystore, tenant, user_id)
            assert issued.seed_file is not None
            seeds[user_id] = issued.seed_file
        await sync_authorization(js, secure_nats.keystore, secure_nats.handle)
        return seeds

    return run


@dataclass
class Refusals:
    """Errors NATS reported to one connection (permission violations arrive asynchronously)."""

    errors: list[str]

    async def callback(self, err: Exception) -> None:
        self.errors.append(str(err).lower())

    async def wait_for(self, fragment: str, timeout: float = 5.0) -> str:
        async def poll() -> str:
            while True:
                found = next((e for e in self.errors if fragment.lower() in e), None)
                if found:
                    return found
                await asyncio.sleep(0.02)

        return await asyncio.wait_for(poll(), timeout)


ClientAs = Callable[..., Awaitable[OrderchatClient]]


@pytest.fixture
async def client_as(secure_nats: SecureNats, secure_services: ServiceHost, tenant: str) -> AsyncIterator[ClientAs]:
    """client_as(user, seed_file, device="main"): a client acting as `user` with the given key
    (deliberately separate, so a test can act as one party with another's key)."""
    clients: list[OrderchatClient] = []

    async def make(user: str, seed: Path, device: str = "main") -> OrderchatClient:
        client = await OrderchatClient.connect(secure_nats.url, user, tenant=tenant, device=device, **auth_options(seed))
        clients.append(client)
        return client

    yield make
    for client in clients:
        if client.nc.is_reconnecting:  # a revoked key: the server keeps refusing it
            await client.nc.close()
        else:
            await client.close()


@pytest.fixture
async def raw_as(secure_nats: SecureNats, tenant: str) -> AsyncIterator[Callable[..., Awaitable[tuple[Client, Refusals]]]]:
    """A bare nats-py connection with a party's key (for what a client library would not do)."""
    conns: list[Client] = []

    async def make(seed: Path, user: str) -> tuple[Client, Refusals]:
        refusals = Refusals([])
        nc = await nats.connect(
            secure_nats.url, error_cb=refusals.callback, inbox_prefix=names.reply_inbox_prefix(tenant, user),
            max_reconnect_attempts=0, **auth_options(seed),
        )
        conns.append(nc)
        return nc, refusals

    yield make
    for nc in conns:
        if not nc.is_closed:
            await nc.close()


BUYER, SUPPLIER, OPS = PartyRole.BUYER, PartyRole.SUPPLIER, PartyRole.OPS
