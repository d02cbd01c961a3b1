"""The ERP part of `orderchat up`: with no ERP configured, the demo ERP (Odoo 17 compatible,
SQLite under the home directory) on a free port, its webhook pointed at the connector; with
`--erp odoo://...` (or ORDERCHAT_ERP_URL) that ERP instead. The connector (service `erp`)
reads `settings.erp_url` through the service options."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from orderchat.runtime.nats_server import free_port
from orderchat.runtime.settings import Settings

from .config import parse_erp_url
from .webhook import PATH

DEMO_LOGINS = "admin/admin, buyer/buyer (Lin Wei; API key ocdemo_buyer_3e8a51d07f2c9b64a0d5)"


DEMO_BUYER = "lin"
ERP_DEVICE = "erp"


async def issue_erp_device_key(settings: Settings, info: dict[str, Any], buyer: str) -> Path:
    """`buyer`'s `erp` device key (as `orderchat users creds BUYER --device erp` makes it):
    the seed file the connector signs with."""
    import nats

    from orderchat.security.admin import issue_device
    from orderchat.security.embedded import keystore_of, system_options
    from orderchat.security.keys import ADMIN

    url = str(info["nats_url"])
    nc = await nats.connect(url, name="orderchat-erp-setup", **system_options(settings, ADMIN, url))
    try:
        issued = await issue_device(nc.jetstream(), keystore_of(settings), settings.tenant, buyer, ERP_DEVICE)
    finally:
        await nc.drain()
    assert issued.seed_file is not None
    return issued.seed_file


@contextlib.asynccontextmanager
async def erp_component(settings: Settings, info: dict[str, Any]) -> AsyncIterator[None]:
    if settings.erp_url:
        config = parse_erp_url(settings.erp_url)
        if not settings.insecure and config.signing_key is None:
            # As with the demo ERP: the buyer the ERP stands for signs through its ERP device.
            seed_file = await issue_erp_device_key(settings, info, config.buyer)
            separator = "&" if urlsplit(settings.erp_url).query else "?"
            settings.erp_url += f"{separator}signing_key={quote(str(seed_file), safe='')}"
        info["erp_url"] = config.redacted()
        yield
        return
    from orderchat.integrations.demo_erp import SEED_USERS, DemoErp

    webhook_url = f"http://{settings.host}:{free_port(settings.host)}{PATH}"
    erp = DemoErp(settings.home / "erp.sqlite3", webhook_url=webhook_url)
    await erp.start(host=settings.host, port=0)
    buyer = next(u for u in SEED_USERS if u.login == "buyer")
    settings.erp_url = f"odoo://buyer:{buyer.api_key}@{settings.host}:{erp.port}/{erp.db_name}"
    if not settings.insecure:
        # The connector places and amends orders as `lin`, who has keys: it signs with lin's
        # own ERP device key, like lin's phone or browser signs with theirs.
        seed_file = await issue_erp_device_key(settings, info, DEMO_BUYER)
        settings.erp_url += f"?signing_key={quote(str(seed_file), safe='')}"
    info["erp_url"] = erp.url
    info["erp_webhook_url"] = webhook_url
    info["erp_logins"] = DEMO_LOGINS
    try:
        yield
    finally:
        await erp.stop()
