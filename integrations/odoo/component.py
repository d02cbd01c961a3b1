"""The ERP part of `orderchat up`: with no ERP configured, the demo ERP (Odoo 17 compatible,
SQLite under the home directory) on a free port, its webhook pointed at the connector; with
`--erp odoo://...` (or ORDERCHAT_ERP_URL) that ERP instead. The connector (service `erp`)
reads `settings.erp_url` through the service options."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from orderchat.runtime.nats_server import free_port
from orderchat.runtime.settings import Settings

from .config import parse_erp_url
from .webhook import PATH

DEMO_LOGINS = "admin/admin, buyer/buyer (Lin Wei; API key ocdemo_buyer_3e8a51d07f2c9b64a0d5)"


@contextlib.asynccontextmanager
async def erp_component(settings: Settings, info: dict[str, Any]) -> AsyncIterator[None]:
    if settings.erp_url:
        info["erp_url"] = parse_erp_url(settings.erp_url).redacted()
        yield
        return
    from orderchat.integrations.demo_erp import SEED_USERS, DemoErp

    webhook_url = f"http://{settings.host}:{free_port(settings.host)}{PATH}"
    erp = DemoErp(settings.home / "erp.sqlite3", webhook_url=webhook_url)
    await erp.start(host=settings.host, port=0)
    buyer = next(u for u in SEED_USERS if u.login == "buyer")
    settings.erp_url = f"odoo://buyer:{buyer.api_key}@{settings.host}:{erp.port}/{erp.db_name}"
    info["erp_url"] = erp.url
    info["erp_webhook_url"] = webhook_url
    info["erp_logins"] = DEMO_LOGINS
    try:
        yield
    finally:
        await erp.stop()
