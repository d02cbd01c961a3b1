"""`orderchat up`'s web client: serves it, tells the page where NATS's WebSocket listener
is, and (on loopback only) offers one-click sign-in as the demo parties."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats

from orderchat.runtime.settings import Settings
from orderchat.runtime.users import DEMO_USERS, list_users
from orderchat.security.admin import issue_device
from orderchat.security.embedded import keystore_of, system_options
from orderchat.security.keys import ADMIN, read_seed
from orderchat.security.server_auth import ServerHandle, sync_authorization

from .server import DemoParty, WebConfig, WebServer, is_loopback

log = logging.getLogger(__name__)

# The browser is its own device of each party: its own inbox consumer and its own key, so a
# lost browser session is revoked alone (`orderchat users revoke USER --device web`).
WEB_DEVICE = "web"


async def demo_parties(settings: Settings, info: dict[str, Any]) -> list[DemoParty]:
    """`web` device keys for the demo parties the tenant's directory holds (none once the
    tenant has its own users instead), issued into the local key store and admitted by the
    embedded server; without authorization no seed is needed at all."""
    demo_ids = {u.id for u in DEMO_USERS}
    nc = await nats.connect(info["nats_url"], name="orderchat-web-setup", **system_options(settings, ADMIN, info["nats_url"]))
    try:
        js = nc.jetstream()
        present = [u for u in await list_users(js, settings.tenant) if u.id in demo_ids]
        if settings.insecure:
            return [DemoParty(u.id, u.display_name, str(u.role), WEB_DEVICE, "") for u in present]
        store = keystore_of(settings)
        parties = []
        for user in present:
            issued = await issue_device(js, store, settings.tenant, user.id, WEB_DEVICE)
            assert issued.seed_file is not None
            parties.append(DemoParty(user.id, user.display_name, str(user.role), WEB_DEVICE, read_seed(issued.seed_file)))
        handle = ServerHandle(int(info["nats_pid"]), info["monitor_url"], Path(info["auth_file"]))
        await sync_authorization(js, store, handle)
    finally:
        await nc.drain()
    return parties


def offers_demo(settings: Settings, info: dict[str, Any]) -> bool:
    """Seeds in a web page only for the local demo: an embedded server, on loopback."""
    return "nats_pid" in info and is_loopback(settings.host) and (settings.insecure or "auth_file" in info)


@contextlib.asynccontextmanager
async def web_client(settings: Settings, info: dict[str, Any]) -> AsyncIterator[None]:
    websocket_url = info.get("websocket_url")
    if not websocket_url:
        log.warning("web client not started: NATS has no WebSocket listener (set ORDERCHAT_WEBSOCKET_URL)")
        yield
        return
    demo = await demo_parties(settings, info) if offers_demo(settings, info) else []
    config = WebConfig(tenant=settings.tenant, websocket_url=websocket_url, auth=not settings.insecure, demo=demo)
    from orderchat.runtime.system import port_or_free

    server = await WebServer(config, settings.host, port_or_free(settings.host, settings.web_port)).start()
    info["web_url"] = server.url
    try:
        yield
    finally:
        await server.stop()
