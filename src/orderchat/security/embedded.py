"""Authorization for the embedded server of `orderchat up`: system keys made on first start,
the auth file in place before the server starts, parties synced from the registry after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nats.js import JetStreamContext

from orderchat.runtime.nats_server import NatsServer
from orderchat.runtime.settings import Settings
from orderchat.schemas.users import User

from .admin import issue_device
from .keys import ADMIN, SERVICES, KeyStore
from .resolution import connect_options_for
from .server_auth import ServerHandle, render_authorization, sync_authorization, write_if_changed


def keystore_of(settings: Settings) -> KeyStore:
    return KeyStore(settings.creds_dir)


def prepare_server_auth(settings: Settings, auth_file: Path) -> None:
    """Before the server starts: system identities exist, and the auth file admits at least
    them. A file from an earlier run is kept when it still admits the admin key, so parties
    can connect from the first moment; the registry sync after start corrects the rest."""
    store = keystore_of(settings)
    admin_key = store.ensure(store.system_path(ADMIN))
    store.ensure(store.system_path(SERVICES))
    if auth_file.exists() and admin_key in auth_file.read_text():
        return
    write_if_changed(auth_file, render_authorization(store.system_identities(), []))


def system_options(settings: Settings, identity: str, url: str) -> dict[str, Any]:
    """Connect options of a system identity of `orderchat up` (admin, services)."""
    if settings.insecure:
        return connect_options_for(settings, None, url)
    path = keystore_of(settings).system_path(identity)
    return connect_options_for(settings, path if path.exists() else None, url)


async def admit_parties(js: JetStreamContext, settings: Settings, server: NatsServer, seeded: list[User]) -> None:
    """After provisioning: demo parties get their `main` device keys in the key store, and
    the server's authorization is brought in line with the registry."""
    store = keystore_of(settings)
    for user in seeded:
        await issue_device(js, store, settings.tenant, user.id)
    handle = ServerHandle(server.process.pid, server.monitor_url, server.config.auth_file)  # type: ignore[union-attr]
    await sync_authorization(js, store, handle)
